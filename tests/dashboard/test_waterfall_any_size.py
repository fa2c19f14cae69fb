"""The waterfall at any size: an extreme zoom keeps the view, the selection shows in the
aggregate, and a click on a bar in a real browser inspects its exchange.

The big run is the dashboard test plan's real demo-API run copied 200 times
(3,600 exchanges, above the bar limit: drawn per time bucket). Expected
numbers come from plain SQL over the capture file.
"""

from __future__ import annotations

import math
import re
import shutil
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from playwright.sync_api import expect

from orchestra.capture._read import WATERFALL_LIMIT
from orchestra.dashboard import Dashboard
from orchestra.dashboard._style import STATUS_CLASS_COLORS, status_class
from orchestra.dashboard._waterfall import MIN_WINDOW_MS, SELECTED_COLOR
from tests.dashboard._browser import (
    ARTIFACTS,
    BAR_POSITION_JS,
    chromium,
    model_data,
    requires_chromium,
    serve_dashboard,
    wait_for_graph,
    wait_for_table,
)
from tests.dashboard.conftest import TOTAL_REQUESTS, Captured
from tests.dashboard.test_waterfall import in_window, multiply_run, sql

pytestmark = pytest.mark.timeout(300)

COPIES = 200
TOTAL = TOTAL_REQUESTS * COPIES  # 3,600: above the bar limit
NAN = float("nan")


@pytest.fixture(scope="module")
def big(captured: Captured, tmp_path_factory: pytest.TempPathFactory) -> Captured:
    path = tmp_path_factory.mktemp("waterfall-any-size") / "big.duckdb"
    shutil.copy(captured.path, path)
    multiply_run(path, captured.run_id, COPIES, 50)
    assert TOTAL > WATERFALL_LIMIT
    return Captured(path, captured.run_id, captured.base_url)


def zoom(dashboard: Dashboard, start: float, end: float) -> None:
    """What Bokeh sends when the user's zoom or pan settles on [start, end]."""
    event: Any = SimpleNamespace(x0=start, x1=end)  # a RangesUpdate's fields
    dashboard.waterfall._on_range(event)


def exchange_times(path: Path, run_id: str, exchange_id: int) -> tuple[float, float, int | None]:
    """An exchange's start and end in ms on the run's clock, and its status, by plain SQL."""
    ((start, took, status),) = sql(
        path,
        "SELECT date_diff('microsecond', (SELECT started_at FROM runs WHERE run_id = $run),"
        " started_at) / 1000.0, coalesce(elapsed_ms, 0), status_code"
        " FROM exchanges WHERE run_id = $run AND exchange_id = $id",
        {"run": run_id, "id": exchange_id},
    )
    return start, start + took, status


# -- on the server -----------------------------------------------------------------------------


def test_a_range_that_is_not_a_number_keeps_the_view(big):
    dashboard = Dashboard(db=big.path, live=False)
    waterfall = dashboard.waterfall
    whole, note = waterfall.shown, waterfall._note.object
    assert whole.aggregated and f"{TOTAL:,} of {TOTAL:,} exchanges in view" in note
    zoom(dashboard, NAN, NAN)  # what BokehJS sent after a fast wheel-zoom
    assert waterfall.shown is whole and waterfall._note.object == note
    assert not any(math.isnan(x) for x in waterfall.buckets.data["left"])
    assert sum(waterfall.buckets.data["answered"]) == TOTAL
    assert dashboard.state.error in (None, "")

    start, end = 2_000.0, 2_100.0  # a window of bars, then NaN again: the bars stay
    zoom(dashboard, start, end)
    bars = list(waterfall.bars.data["exchange_id"])
    assert set(bars) == in_window(big.path, big.run_id, start, end) and bars
    zoom(dashboard, 0.0, NAN)
    assert list(waterfall.bars.data["exchange_id"]) == bars
    assert (waterfall.x_range.start, waterfall.x_range.end) == (start, end)  # put back
    assert waterfall.x_range.min_interval == MIN_WINDOW_MS  # the wheel stops at 1 ms


def test_the_selected_exchange_is_marked_in_the_aggregate_and_follows_the_selection(big):
    dashboard = Dashboard(db=big.path, live=False)
    waterfall, state = dashboard.waterfall, dashboard.state
    marks = (waterfall.selected_start, waterfall.selected_end)
    assert waterfall.aggregated and not any(mark.visible for mark in marks)
    ((failed,),) = sql(
        big.path,
        "SELECT max(exchange_id) FROM exchanges WHERE run_id = $run AND status_code = 503",
        {"run": big.run_id},
    )
    ((late,),) = sql(
        big.path,
        "SELECT max(exchange_id) FROM exchanges WHERE run_id = $run AND status_code = 200",
        {"run": big.run_id},
    )
    for exchange_id in (failed, late):  # moved on every selection
        state.select_exchange(exchange_id)
        start, end, status = exchange_times(big.path, big.run_id, exchange_id)
        assert all(mark.visible for mark in marks)
        assert waterfall.selected_start.location == pytest.approx(start, abs=1e-3)
        assert waterfall.selected_end.location == pytest.approx(end, abs=1e-3)
        assert f"exchange #{exchange_id} ({status})" in waterfall._note.object
        assert f"background:{STATUS_CLASS_COLORS[status_class(status)]}" in waterfall._note.object
    assert waterfall.selected_start.location > 5_000  # a late copy: the marks really moved

    start, end, _ = exchange_times(big.path, big.run_id, late)
    zoom(dashboard, start - 20, end + 20)  # bars: the bar is highlighted, no lines
    bars = waterfall.bars
    assert bars.selected.indices == [bars.data["exchange_id"].index(late)]
    assert not any(mark.visible for mark in marks)
    zoom(dashboard, 0, waterfall.shown.span_ms + 1)  # the aggregate again: the lines again
    assert all(mark.visible for mark in marks)

    state.select_exchange(None)  # cleared when none
    assert not any(mark.visible for mark in marks) and "#" not in waterfall._note.object


# -- in a real browser -------------------------------------------------------------------------

FRAME_CENTRE_JS = """() => {
  const doc = Bokeh.documents[0];
  const view = Bokeh.index.find_one(doc.get_model_by_name('waterfall'));
  view.el.scrollIntoView({block: 'center'});
  const canvas = (view.canvas_view ?? view).el.getBoundingClientRect();
  const frame = view.frame.bbox;
  return {x: canvas.left + frame.x + frame.width * 0.4, y: canvas.top + frame.y + frame.height / 2};
}"""

# The time axis's tick labels as the browser draws them now.
TIME_LABELS_JS = """() => {
  const plot = Bokeh.documents[0].get_model_by_name('waterfall');
  const axis = plot.below[0];
  const ticks = Bokeh.index.find_one(axis).tick_coords.major[0];
  return axis.formatter.format_graphics(Array.from(ticks), {loc: 0})
    .map((label) => label.text ?? String(label));
}"""

# The server has answered the zoom with bars (no buckets) and some are in view.
BARS_SHOWN_JS = """() => {
  const doc = Bokeh.documents[0];
  return doc.get_model_by_name('waterfall-buckets').data.answered.length === 0
    && doc.get_model_by_name('waterfall-bars').data.exchange_id.length > 0;
}"""

X_RANGE_JS = """() => {
  const range = Bokeh.documents[0].get_model_by_name('waterfall').x_range;
  return [range.start, range.end];
}"""

MARKS_JS = """() => {
  const doc = Bokeh.documents[0];
  return ['start', 'end'].map((edge) => {
    const mark = doc.get_model_by_name(`waterfall-selected-${edge}`);
    return {location: mark.location, visible: mark.visible, color: mark.line_color};
  });
}"""


def note_text(page: Any) -> str:
    """The waterfall's note, as a person reads it (its text is in a shadow root)."""
    return page.locator(".orchestra-waterfall-note").evaluate(
        "e => Array.from((e.shadowRoot ?? e).children)"
        ".filter(c => c.tagName !== 'STYLE').map(c => c.textContent).join('')"
    )


def note_html(page: Any) -> str:
    """The waterfall's note as HTML (in a shadow root)."""
    return page.locator(".orchestra-waterfall-note").evaluate(
        "e => Array.from((e.shadowRoot ?? e).children)"
        ".filter(c => c.tagName !== 'STYLE').map(c => c.innerHTML).join('')"
    )


def open_page(browser: Any, url: str, console: list[str]) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: console.append(str(error)))
    page.goto(url)
    wait_for_graph(page)
    return page


def wait_for_buckets(page: Any) -> None:
    page.wait_for_function(
        "() => { const s = Bokeh.documents[0].get_model_by_name('waterfall-buckets');"
        " return s && s.data.answered.length > 0; }",
        timeout=60_000,
    )


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def served_log_is_clean(log: Path) -> None:
    text = log.read_text()
    assert "Traceback" not in text and "ERROR" not in text, text[-3000:]


@requires_chromium
def test_a_fast_wheel_zoom_into_the_aggregate_keeps_counting_the_right_exchanges(big, tmp_path):
    log = tmp_path / "dashboard-server.log"
    console: list[str] = []
    with serve_dashboard(big.path, log) as url, chromium() as browser:
        page = open_page(browser, url, console)
        wait_for_buckets(page)
        assert sum(model_data(page, "waterfall-buckets")["answered"]) == TOTAL
        where = page.evaluate(FRAME_CENTRE_JS)
        page.mouse.move(where["x"], where["y"])
        for _ in range(20):  # zoom in until the window holds few enough exchanges for bars
            page.mouse.wheel(0, -400)
            time.sleep(0.3)
            held = len(in_window(big.path, big.run_id, *page.evaluate(X_RANGE_JS)))
            if 0 < held <= WATERFALL_LIMIT:
                break
        page.wait_for_function(BARS_SHOWN_JS, timeout=60_000)
        # then, with the mouse on a bar in view (the window keeps the time under the mouse),
        # fast wheel ticks far past 1 ms: each zooms in as far as Bokeh lets it
        shown = model_data(page, "waterfall-bars")["exchange_id"]
        where = page.evaluate(BAR_POSITION_JS, shown[len(shown) // 2])
        page.mouse.move(where["x"], where["y"])
        for _ in range(60):
            page.mouse.wheel(0, -400)
            time.sleep(0.05)
        # settled: the narrow window came back as bars (a NaN range stayed 120 NaN buckets)
        page.wait_for_function(
            "() => Bokeh.documents[0].get_model_by_name('waterfall-buckets')"
            ".data.answered.length === 0",
            timeout=60_000,
        )
        # a last range update may still be on its way (more so on a busy machine): read until
        # the window and its bars agree and stay the same for a second
        deadline, seen = time.monotonic() + 30, None
        while True:
            start, end = page.evaluate(X_RANGE_JS)
            bars = model_data(page, "waterfall-bars")["exchange_id"]
            now = (start, end, sorted(bars))
            if now == seen or time.monotonic() > deadline:
                break
            seen = now
            time.sleep(1.0)
        buckets = model_data(page, "waterfall-buckets")
        note = note_text(page)
        labels = page.evaluate(TIME_LABELS_JS)
        shot(page, "waterfall-extreme-zoom.png")
    assert math.isfinite(start) and math.isfinite(end)
    assert end - start == pytest.approx(MIN_WINDOW_MS, rel=0.05)  # the floor, not beyond
    assert all(v is not None and v == v for column in buckets.values() for v in column)
    expected = in_window(big.path, big.run_id, start, end)
    assert set(bars) == expected and 0 < len(expected) < TOTAL
    assert f"{len(expected):,} of {TOTAL:,} exchanges in view" in note
    # readable at 1 ms: every tick its own label, in seconds this far into the run
    assert len(labels) >= 3 and len(set(labels)) == len(labels), labels
    assert all(re.fullmatch(r"\d+\.\d+ s", label) for label in labels), labels
    assert console == []
    served_log_is_clean(log)


@requires_chromium
def test_clicking_an_exchange_row_of_a_big_run_marks_it_in_the_aggregate(big, tmp_path):
    log = tmp_path / "dashboard-server.log"
    console: list[str] = []
    with serve_dashboard(big.path, log) as url, chromium() as browser:
        page = open_page(browser, url, console)
        wait_for_buckets(page)
        marked: list[tuple[int, list[dict[str, Any]], str]] = []
        for last_page in (False, True):  # an early exchange, then one of the last sent
            if last_page:
                jump = page.locator(".orchestra-jump input")
                jump.fill(str(TOTAL // 25))
                jump.press("Enter")
                expect(page.locator(".orchestra-page")).to_have_text(
                    f"{TOTAL - 24:,}-{TOTAL:,} of {TOTAL:,}", timeout=30_000
                )
            wait_for_table(page, "orchestra-exchanges")
            row = page.locator(".orchestra-exchanges .tabulator-row").nth(3)
            exchange_id = int(
                row.locator("[tabulator-field=exchange_id]").text_content().replace(",", "")
            )
            row.click()
            expect(page.locator(".orchestra-request")).to_contain_text(
                f"Request #{exchange_id}", timeout=30_000
            )
            page.wait_for_function(
                "(at) => { const m = Bokeh.documents[0]"
                ".get_model_by_name('waterfall-selected-start');"
                " return m.visible && Math.abs(m.location - at) < 1e-3; }",
                arg=exchange_times(big.path, big.run_id, exchange_id)[0],
                timeout=30_000,
            )
            marked.append((exchange_id, page.evaluate(MARKS_JS), note_html(page)))
            shot(page, f"waterfall-aggregate-selection-{len(marked)}.png")
    assert marked[0][0] != marked[1][0]
    for exchange_id, (first, last), note in marked:
        start, end, status = exchange_times(big.path, big.run_id, exchange_id)
        assert first["visible"] and last["visible"]
        assert first["location"] == pytest.approx(start, abs=1e-3)
        assert last["location"] == pytest.approx(end, abs=1e-3)
        assert first["color"] == last["color"] == SELECTED_COLOR
        assert f"exchange #{exchange_id} ({status})" in note
        assert f"background:{STATUS_CLASS_COLORS[status_class(status)]}" in note
    assert marked[1][1][0]["location"] > 9_000  # the last exchange: near the run's end
    assert console == []
    served_log_is_clean(log)


SELECTED_BARS_JS = """() => {
  const source = Bokeh.documents[0].get_model_by_name('waterfall-bars');
  return Array.from(source.selected.indices).map((i) => source.data.exchange_id[i]);
}"""


@requires_chromium
def test_clicking_a_waterfall_bar_in_a_browser_inspects_that_exchange(captured, tmp_path):
    """A bar click goes browser -> server -> inspector; a row click back -> the bar's highlight
    (the path where a change outside Bokeh's lock once raised "_pending_writes")."""
    log = tmp_path / "dashboard-server.log"
    console: list[str] = []
    with serve_dashboard(captured.path, log) as url, chromium() as browser:
        page = open_page(browser, url, console)
        page.wait_for_function(
            "() => Bokeh.documents[0].get_model_by_name('waterfall-bars')"
            f".data.exchange_id.length === {TOTAL_REQUESTS}",
            timeout=60_000,
        )
        bars = model_data(page, "waterfall-bars")
        target = bars["exchange_id"][bars["step"].index("formats.xml")]
        where = page.evaluate(BAR_POSITION_JS, target)
        page.mouse.click(where["x"], where["y"])  # a person's click on the bar
        expect(page.locator(".orchestra-request")).to_contain_text(
            f"Request #{target}", timeout=30_000
        )
        expect(page.locator(".orchestra-exchange")).to_contain_text("/xml")
        clicked = page.evaluate(SELECTED_BARS_JS)
        shot(page, "waterfall-bar-click.png")

        wait_for_table(page, "orchestra-exchanges")  # and back: a row click highlights its bar
        row = page.locator(".orchestra-exchanges .tabulator-row").nth(2)
        other = int(row.locator("[tabulator-field=exchange_id]").text_content())
        row.click()
        expect(page.locator(".orchestra-request")).to_contain_text(
            f"Request #{other}", timeout=30_000
        )
        page.wait_for_function(f"() => ({SELECTED_BARS_JS})()[0] === {other}", timeout=30_000)
        highlighted = page.evaluate(SELECTED_BARS_JS)
    assert clicked == [target] and highlighted == [other] != clicked
    assert console == []
    served_log_is_clean(log)
