"""The progress bars and the records file, fed with synthetic events."""

from __future__ import annotations

import io
import json
from pathlib import Path

from orchestra.cli._progress import ProgressDisplay, RecordsWriter
from orchestra.events import (
    FanoutItemFinished,
    FanoutStarted,
    PageFinished,
    RecordEmitted,
    RunFinished,
    RunStarted,
)
from orchestra.masking import Masker

RUN = {"run_id": "r1", "at": 1_700_000_000.0}


def run_started(masker: Masker) -> RunStarted:
    return RunStarted(**RUN, plan_key="plan", plan={}, config={}, masker=masker)


def page(path: str, number: int) -> PageFinished:
    return PageFinished(**RUN, step_path=path, execution_id="e1", page=number, status_code=200)


def test_bars_count_pages_and_fanout_items_with_growing_totals() -> None:
    out = io.StringIO()
    display = ProgressDisplay(enabled=True, file=out, mininterval=0)
    display(run_started(Masker()))

    for number in (1, 2):
        display(page("items", number))
        display(FanoutStarted(**RUN, step_path="items.detail", execution_id="e1", total_items=3))
        for index in range(3):
            status = "failed" if (number, index) == (2, 1) else "ok"
            display(
                FanoutItemFinished(**RUN, step_path="items.detail", item_index=index, status=status)
            )
            display(page("items.detail", 1))  # paginated fanout steps get no pages bar

    assert set(display.page_bars) == {"items"}
    assert display.page_bars["items"].n == 2
    bar = display.fanout_bars["items.detail"]
    assert (bar.n, bar.total) == (6, 6)
    assert display.failed_items == {"items.detail": 1}

    display(RunFinished(**RUN, status="succeeded", duration_ms=1.0))

    assert display.page_bars == {} and display.fanout_bars == {}
    text = out.getvalue()
    assert "items.detail" in text and "6/6" in text
    assert "1 not ok" in text
    display.close()  # closing twice is harmless


def test_disabled_display_draws_nothing() -> None:
    out = io.StringIO()
    display = ProgressDisplay(enabled=False, file=out)
    display(page("items", 1))
    display(FanoutStarted(**RUN, step_path="s", execution_id="e", total_items=4))
    assert display.page_bars == {} and display.fanout_bars == {}
    assert out.getvalue() == ""


def test_bar_labels_are_masked() -> None:
    out = io.StringIO()
    display = ProgressDisplay(enabled=True, file=out, mininterval=0)
    display(run_started(Masker(["s3cr3t-name"])))
    display(page("step-s3cr3t-name", 1))
    display.close()
    assert "s3cr3t-name" not in out.getvalue()
    assert "step-***" in out.getvalue()


def test_records_writer_streams_masked_lines(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "records.jsonl"
    writer = RecordsWriter(path)
    writer(run_started(Masker(["hunter2-secret"])))
    writer(RecordEmitted(**RUN, step_path="a", record={"token": "hunter2-secret", "n": 1}, page=1))
    writer(RecordEmitted(**RUN, step_path="a.b", record=[1, "x"], item_index=4))
    writer(RecordEmitted(**RUN, step_path="big", record={"n": 2**70, 5: b"hunter2-secret!"}))

    writer.close()
    writer.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]

    assert writer.written == 3 and writer.error is None
    assert lines[0]["data"] == {"token": "***", "n": 1}
    assert (lines[0]["step_path"], lines[0]["page"], lines[0]["item_index"]) == ("a", 1, None)
    assert lines[1]["data"] == [1, "x"] and lines[1]["item_index"] == 4
    assert lines[2]["data"] == {"n": str(2**70), "5": "***!"}  # as capture stores it
    assert {line["plan_key"] for line in lines} == {"plan"}
    assert "hunter2" not in path.read_text()


def test_records_writer_keeps_a_write_error(tmp_path: Path) -> None:
    writer = RecordsWriter(tmp_path / "r.jsonl")

    class Broken(io.BytesIO):
        def write(self, data: bytes) -> int:  # type: ignore[override]
            raise OSError(28, "No space left on device")

    assert writer._file is not None
    writer._file.close()
    writer._file = Broken()
    writer(RecordEmitted(**RUN, step_path="a", record={}))
    writer(RecordEmitted(**RUN, step_path="a", record={}))

    assert isinstance(writer.error, OSError)
    assert writer.written == 0
