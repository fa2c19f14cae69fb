"""Live updates: the dashboard shows a run growing while it executes, here or in another process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import orchestra
from orchestra.capture import CaptureStore
from orchestra.dashboard import DashboardState, LiveFeed
from orchestra.events import EventBus, RunFinished, RunStarted, StepFinished, StepStarted
from orchestra.masking import Masker
from tests.dashboard import _slow_run
from tests.dashboard._browser import chromium, model_data, requires_chromium, serve_dashboard

SLOW_RUN = Path(_slow_run.__file__)


def test_live_feed_tracks_executing_steps():
    feed = LiveFeed()
    bus = EventBus()
    feed.attach(bus)
    bus.emit(RunStarted(run_id="r", at=0, plan_key="k", plan={}, config={}, masker=Masker()))
    for index in range(2):
        bus.emit(StepStarted(run_id="r", at=0, step_path="a.b", execution_id=f"r:{index}"))
    bus.emit(
        StepFinished(
            run_id="r", at=0, step_path="a.b", execution_id="r:0", status="ok", duration_ms=1
        )
    )
    assert feed.running("r") == {"a.b"}  # one of two items still runs
    assert feed.running("other") == set()
    bus.emit(RunFinished(run_id="r", at=0, status="interrupted", duration_ms=1))
    assert feed.running("r") == set()
    assert feed.events == 5


def test_a_run_in_this_process_shows_progress_while_it_runs(demo_api, tmp_path):
    path = tmp_path / "live.duckdb"
    store = CaptureStore(path)
    runner = orchestra.Runner(
        _slow_run.slow_plan(demo_api.url, delay=0.3), subscribers=[store.writer()]
    )
    state = DashboardState(store)
    state.attach(runner.bus)
    worker = threading.Thread(target=lambda: asyncio.run(runner.run()), daemon=True)

    async def watch() -> list[tuple[str | None, int, frozenset[str]]]:
        seen = []
        worker.start()
        while worker.is_alive():
            await state.poll()
            if state.run is not None:
                running = frozenset(
                    p for p, n in state.graph.nodes.items() if n.status == "running"
                )
                seen.append((state.run["status"], state.metrics.totals["requests"], running))
            await asyncio.sleep(0.2)
        await state.poll()
        seen.append((state.run["status"], state.metrics.totals["requests"], frozenset()))
        return seen

    seen = asyncio.run(watch())
    worker.join(10)
    while_running = [
        (requests, running) for status, requests, running in seen if status == "running"
    ]
    counts = [requests for requests, _ in while_running]
    assert len(set(counts)) >= 2 and counts == sorted(counts), seen  # it grew, never shrank
    assert any("items.slow_detail" in running for _, running in while_running), seen
    assert seen[-1][:2] == ("succeeded", _slow_run.TOTAL_REQUESTS)
    assert state.graph.nodes["tail_2"].status == "ok"
    assert state.error == ""


@requires_chromium
@pytest.mark.timeout(240)
def test_the_served_dashboard_follows_a_run_written_by_another_process(demo_api, tmp_path):
    from playwright.sync_api import expect

    db = tmp_path / "live.duckdb"  # nothing there yet: the dashboard waits for the first run
    log = tmp_path / "dashboard-server.log"
    with serve_dashboard(db, log, interval=0.3) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error) + "\n" + str(error.stack)))
        page.goto(url)
        page.wait_for_function(
            "() => window.Bokeh && Bokeh.documents.length > 0"
            " && Bokeh.documents[0].get_model_by_name('flow-graph')",
            timeout=60_000,
        )
        waiting = page.get_by_text("holds no runs yet").or_(page.get_by_text("does not exist yet"))
        expect(waiting).to_be_visible()
        writer = subprocess.Popen(
            [sys.executable, str(SLOW_RUN), demo_api.url, str(db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        samples: list[tuple[str, int, int]] = []
        stamps: list[float] = []
        started = time.monotonic()
        try:
            deadline = time.monotonic() + 120
            while writer.poll() is None and time.monotonic() < deadline:
                samples.append(sample(page))
                stamps.append(round(time.monotonic() - started, 2))
                time.sleep(0.25)
            output = writer.communicate(timeout=30)[0]
        finally:
            if writer.poll() is None:
                writer.kill()
        assert writer.returncode == 0, output
        expect(page.locator(".orchestra-run-status")).to_have_text("succeeded", timeout=15_000)
        page.wait_for_function(  # every node ok (the fanout is one node)
            "() => Bokeh.documents[0].get_model_by_name('flow-graph-nodes').data.status"
            ".every(s => s === 'ok')",
            timeout=15_000,
        )
        final = sample(page)
        assert errors == [], "\n\n".join(errors)

    while_running = [(requests, done) for status, requests, done in samples if status == "running"]
    requests = [r for r, _ in while_running]
    steps_done = [d for _, d in while_running]
    assert len(set(requests)) >= 2, list(zip(stamps, samples, strict=True))  # grew before the end
    assert requests == sorted(requests), samples
    assert len(set(steps_done)) >= 2, samples  # and so did the finished steps
    # seen before every request was done (the last flush may land before the run row says
    # finished, so a sample with all requests and status running is possible too)
    assert min(requests) < _slow_run.TOTAL_REQUESTS, samples
    assert final[1] == _slow_run.TOTAL_REQUESTS
    assert final[2] == 1 + 1 + _slow_run.TAIL_STEPS + 1  # every node ok (the fanout is one)


def sample(page) -> tuple[str, int, int]:
    """(run status, requests in the run summary, graph nodes shown ok) as the page shows them."""
    status = page.locator(".orchestra-run-status")
    if status.count() == 0:
        return ("", 0, 0)
    text = status.text_content() or ""
    requests = int((page.locator(".orchestra-run-requests").text_content() or "0").replace(",", ""))
    nodes = model_data(page, "flow-graph-nodes") or {"status": []}
    return (text.strip(), requests, nodes["status"].count("ok"))


def test_every_view_agrees_on_a_live_run_and_the_run_list_follows_it_to_the_end(demo_api, tmp_path):
    """A run written by another process, polled as the dashboard does: at every moment the
    header (``run``), the run list's row, the step table and the metrics give the same
    request count, and the run list's row ends as the run does (status, requests, time)."""
    db = tmp_path / "live.duckdb"
    orchestra.run({"key": "earlier", "steps": [{"name": "one", "url": f"{demo_api.url}/items/1"}]},
                  db=db)  # fmt: skip
    state = DashboardState(db, refresh_interval=0.1)  # follows the newest run
    writer = subprocess.Popen(
        [sys.executable, str(SLOW_RUN), demo_api.url, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def shown() -> dict[str, object] | None:
        if state.run is None or state.run["plan_key"] != "slow-live":
            return None
        row = state.runs[state.runs["run_id"] == state.run_id].iloc[0]
        return {
            "header": int(state.run["requests"]),
            "run list": int(row["requests"]),
            "step table": int(state.steps["requests"].sum()),
            "metrics": int(state.metrics.totals["requests"]),
            "status": (state.run["status"], row["status"]),
            "errors": (int(state.run["errors"]), int(row["errors"])),
        }

    async def watch() -> list[dict[str, object]]:
        samples = []
        deadline = time.monotonic() + 120
        while writer.poll() is None and time.monotonic() < deadline:
            await state.poll()
            sample = shown()
            if sample is not None and (not samples or sample != samples[-1]):
                samples.append(sample)
            await asyncio.sleep(0.1)
        for _ in range(3):  # the end as it was written
            await state.poll()
        samples.append(shown() or {})
        return samples

    try:
        samples = asyncio.run(watch())
        output = writer.communicate(timeout=30)[0]
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0, output
    assert state.error == ""
    counts = ("header", "run list", "step table", "metrics")
    for sample in samples:  # one snapshot per refresh: the four numbers are one number
        assert len({sample[view] for view in counts}) == 1, samples
        assert sample["status"][0] == sample["status"][1] and sample["errors"] == (0, 0)
    running = [s for s in samples if s["status"] == ("running", "running")]
    assert len({s["header"] for s in running}) >= 3, samples  # seen at several moments
    final = samples[-1]
    assert final["status"] == ("succeeded", "succeeded"), samples
    assert final["run list"] == _slow_run.TOTAL_REQUESTS
    row = state.runs[state.runs["run_id"] == state.run_id].iloc[0]
    with CaptureStore(db).read() as reader:  # the row as the file has it, end included
        run = reader.run(state.run_id)
    assert run is not None and row["duration_ms"] == run["duration_ms"]
    assert row["requests"] == run["requests"] == _slow_run.TOTAL_REQUESTS
