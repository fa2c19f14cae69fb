"""Waterfall bars split into waiting for the first byte and reading the body.

A real run against the demo API: ``/slow-body`` sends its headers at once and
its body later (short wait, long read), ``/slow`` waits before it answers at
all (long wait, short read). The bars' data must put the split where the
capture's ``first_byte_ms`` says, the tooltip must name both parts, and a bar
without a recorded first byte stays whole. In Chromium the bars arrive with
their split and nothing errs.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

import orchestra
from orchestra import RunStatus
from orchestra.capture import CaptureStore
from orchestra.dashboard import Dashboard
from orchestra.dashboard._style import format_ms
from orchestra.dashboard._waterfall import lay_out
from tests.dashboard._browser import chromium, model_data, requires_chromium, serve_dashboard

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def capture(demo_api_server, tmp_path_factory) -> tuple[Path, str]:
    demo_api_server.reset()
    path = tmp_path_factory.mktemp("first-byte") / "capture.duckdb"
    plan = {
        "key": "first-byte",
        "config": {"base_url": demo_api_server.url},
        "steps": [
            {"name": "body", "url": "{config.base_url}/slow-body?delay=0.3"},
            {"name": "wait", "url": "{config.base_url}/slow?delay=0.3"},
        ],
    }
    result = orchestra.run(plan, db=path)
    assert result.status is RunStatus.SUCCEEDED, result.error
    return path, result.run_id


def captured(path: Path, run_id: str) -> dict[str, tuple[float, float, float]]:
    """Per step: (start offset, first byte, elapsed) in ms, straight from SQL."""
    with duckdb.connect(str(path), read_only=True) as db:
        rows = db.execute(
            "SELECT step_path, date_diff('microsecond', (SELECT started_at FROM runs "
            "WHERE run_id = $run), started_at) / 1000.0, first_byte_ms, elapsed_ms "
            "FROM exchanges WHERE run_id = $run",
            {"run": run_id},
        ).fetchall()
    return {step: (start, first, elapsed) for step, start, first, elapsed in rows}


def test_bars_split_where_the_first_byte_came(capture):
    path, run_id = capture
    expected = captured(path, run_id)
    with CaptureStore(path).read() as reader:
        rows = reader.waterfall(run_id)
    bars = lay_out(rows, ["body", "wait"], "step")["bars"]
    by_step = {step: i for i, step in enumerate(bars["step"])}
    for step, (start, first, _elapsed) in expected.items():
        i = by_step[step]
        assert bars["left"][i] == pytest.approx(start)
        assert bars["body_left"][i] == pytest.approx(start + first)
        assert bars["left"][i] < bars["body_left"][i] <= bars["right"][i]
        assert bars["phases"][i].startswith("waiting ") and " · reading body " in bars["phases"][i]
    _body_start, body_first, body_elapsed = expected["body"]
    _wait_start, wait_first, wait_elapsed = expected["wait"]
    assert body_first < body_elapsed / 2  # headers at once, the body 300 ms later
    assert wait_first > wait_elapsed / 2  # 300 ms before any answer, read at once


def test_a_bar_without_a_first_byte_is_whole(capture):
    path, run_id = capture
    with CaptureStore(path).read() as reader:
        rows = reader.waterfall(run_id)
    rows.exchanges["first_byte_ms"] = float("nan")  # as an older capture reads
    bars = lay_out(rows, [], "step")["bars"]
    assert bars["body_left"] == bars["left"]
    assert set(bars["phases"]) == {"first byte not recorded"}


def test_the_dashboard_draws_the_split(capture):
    path, run_id = capture
    dashboard = Dashboard(db=path, run=run_id)
    bars = dashboard.waterfall.bars.data
    assert len(bars["exchange_id"]) == 2
    assert all(a < b for a, b in zip(bars["left"], bars["body_left"], strict=True))
    assert "pale: waiting for the first byte" in dashboard.waterfall._note.object
    # the inspector names it too
    body = int(bars["exchange_id"][bars["step"].index("body")])
    dashboard.state.select_exchange(body)
    summary = dashboard.inspector._detail.objects[1].objects[0].object
    first = captured(path, run_id)["body"][1]
    assert f"first byte after {format_ms(first)}" in summary


def cell_colour(page, selector: str) -> list[str]:
    """The text and computed colour of the first cell matching ``selector`` (a table may
    redraw its rows meanwhile: read again until the cell is in the page)."""
    deadline = time.monotonic() + 30
    while True:
        found = page.locator(selector).first.evaluate(
            "(e) => [e.textContent, e.isConnected ? getComputedStyle(e).color : '']"
        )
        if found[1] or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@requires_chromium
def test_the_browser_gets_the_split_bars(capture, tmp_path):
    path, run_id = capture
    expected = captured(path, run_id)
    log = tmp_path / "dashboard-server.log"
    with serve_dashboard(path, log) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        page.wait_for_function(
            "() => { const d = window.Bokeh && Bokeh.documents.length ? Bokeh.documents[0] : null;"
            " const s = d ? d.get_model_by_name('waterfall-bars') : null;"
            " return !!s && s.data.exchange_id.length === 2; }",
            timeout=60_000,
        )
        bars = model_data(page, "waterfall-bars")
        # status cells are coloured in the browser from their value (no per-cell styles sent)
        colours = {
            table: cell_colour(page, f".orchestra-{table} [tabulator-field={field}] span")
            for table, field in (("runs", "status"), ("steps", "status"),
                                 ("exchanges", "status_code"))
        }  # fmt: skip
    green = "rgb(39, 165, 103)"  # ok, succeeded, 2xx
    assert colours == {
        "runs": ["succeeded", green],
        "steps": ["ok", green],
        "exchanges": ["200", green],
    }
    assert bars is not None
    for i, step in enumerate(bars["step"]):
        start, first, _ = expected[step]
        assert bars["body_left"][i] == pytest.approx(start + first)
        assert bars["phases"][i].startswith("waiting ")
    assert errors == []
    assert "Traceback" not in log.read_text()
