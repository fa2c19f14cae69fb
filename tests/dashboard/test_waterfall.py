"""The waterfall of a 100,000-exchange run: an aggregate per time bucket that zooms into bars.

The capture is real: one run of the dashboard test plan against the demo API,
whose exchanges are then copied (in DuckDB, the capture's own schema) into
6,000 later copies of themselves, 108,000 exchanges over about five minutes.
At the state level the aggregate's counts must equal SQL over the file, the
browser must get a bounded number of rows, and a narrow x-range must come
back as the bars of exactly the exchanges in it. In a real browser the big run
shows the aggregate with readable tick labels and no console errors.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pytest
from bokeh.document import Document
from bokeh.embed.util import standalone_docs_json
from bokeh.models import HoverTool

from orchestra.capture._read import WATERFALL_BUCKETS, WATERFALL_LIMIT
from orchestra.dashboard import Dashboard
from orchestra.dashboard._coalesce import LOCAL_AXIS_JS
from orchestra.dashboard._state import DashboardState
from orchestra.dashboard._waterfall import Waterfall
from tests.dashboard._browser import (
    ARTIFACTS,
    chromium,
    model_data,
    requires_chromium,
    serve_dashboard,
    wait_for_graph,
)
from tests.dashboard.conftest import TOTAL_REQUESTS, Captured

pytestmark = pytest.mark.timeout(300)

COPIES = 6_000
SHIFT_MS = 50  # each copy starts this much after the previous one
TOTAL = TOTAL_REQUESTS * COPIES  # 108,000


def multiply_run(path: Path, run_id: str, copies: int, shift_ms: int) -> None:
    """Copy the run's exchanges ``copies - 1`` times, each copy ``shift_ms`` later."""
    with duckdb.connect(str(path)) as db:
        stride = db.execute("SELECT max(exchange_id) + 1 FROM exchanges").fetchone()[0]
        db.execute(
            "INSERT INTO exchanges SELECT e.* REPLACE ("
            " e.exchange_id + k.range * $stride AS exchange_id,"
            " e.started_at + to_milliseconds(k.range * $shift) AS started_at)"
            " FROM exchanges AS e, range(1, $copies) AS k WHERE e.run_id = $run",
            {"stride": stride, "shift": shift_ms, "copies": copies, "run": run_id},
        )
        db.execute(
            "UPDATE runs SET requests = (SELECT count(*) FROM exchanges WHERE run_id = $run)"
            " WHERE run_id = $run",
            {"run": run_id},
        )


@pytest.fixture(scope="module")
def big(captured: Captured, tmp_path_factory: pytest.TempPathFactory) -> Captured:
    path = tmp_path_factory.mktemp("waterfall") / "big.duckdb"
    shutil.copy(captured.path, path)
    multiply_run(path, captured.run_id, COPIES, SHIFT_MS)
    return Captured(path, captured.run_id, captured.base_url)


def sql(path: Path, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(path), read_only=True) as db:
        return db.execute(query, params).fetchall()


def in_window(path: Path, run_id: str, start: float, end: float) -> set[int]:
    rows = sql(
        path,
        "WITH x AS (SELECT exchange_id, date_diff('microsecond',"
        " (SELECT started_at FROM runs WHERE run_id = $run), started_at) / 1000.0 AS s,"
        " coalesce(elapsed_ms, 0) AS d FROM exchanges WHERE run_id = $run)"
        " SELECT exchange_id FROM x WHERE s <= $end AND s + d >= $start",
        {"run": run_id, "start": start, "end": end},
    )
    return {row[0] for row in rows}


def zoom(dashboard: Dashboard, start: float, end: float) -> None:
    """What Bokeh sends when the user's zoom or pan settles on [start, end]."""
    dashboard.waterfall._on_range(SimpleNamespace(x0=start, x1=end))


def test_a_big_run_is_drawn_per_time_bucket_with_the_counts_sql_gives(big):
    dashboard = Dashboard(db=big.path, live=False)
    waterfall = dashboard.waterfall
    rows = dashboard.state.waterfall
    assert rows.total == TOTAL and rows.aggregated and rows.exchanges.empty
    buckets = waterfall.buckets.data
    assert len(buckets["answered"]) == WATERFALL_BUCKETS
    assert waterfall.bars.data["exchange_id"] == []  # no bar reaches the browser
    assert waterfall.aggregated and waterfall._latency_pane.visible
    assert waterfall._latency_pane.objects[0].object is waterfall.latency
    # it lays out only itself when its axes resize, once (Dashboard asks for it too)
    callbacks = waterfall.latency.js_property_callbacks["change:inner_width"]
    assert [c.code for c in callbacks].count(LOCAL_AXIS_JS) == 1
    # the stacked columns: one box per bucket and status class, as high as its count
    segments = waterfall.segments.data
    heights = [t - b for b, t in zip(segments["bottom"], segments["top"], strict=True)]
    assert sum(heights) == TOTAL and min(heights) > 0
    # drawn under the in-flight line, with their tooltip; the selection's marks are there
    sources = [r.data_source for r in waterfall.figure.renderers]
    assert sources.index(waterfall.segments) == sources.index(waterfall.buckets) - 1
    hovers = [t for t in waterfall.figure.tools if isinstance(t, HoverTool)]
    assert any(r.data_source is waterfall.segments for t in hovers for r in t.renderers)
    assert {waterfall.selected_start, waterfall.selected_end} <= set(waterfall.figure.center)
    assert waterfall.figure.yaxis[0].axis_label == "requests"
    # every count tick has its label (a lane's label would otherwise stay on tick 0 in
    # BokehJS after a switch from bars)
    ticks = list(waterfall._lanes_ticker.ticks)
    assert waterfall.figure.yaxis[0].major_label_overrides == {t: f"{t:,.0f}" for t in ticks}
    assert waterfall.figure.y_range.end >= max(segments["top"])
    assert "answered 5xx" in waterfall._legend.object and "in flight" in waterfall._legend.object
    by_class = dict(
        sql(
            big.path,
            "SELECT CASE WHEN status_code IS NULL THEN 'none' WHEN status_code >= 500"
            " THEN 's5xx' ELSE 's2xx' END, count(*) FROM exchanges WHERE run_id = $run"
            " GROUP BY 1",
            {"run": big.run_id},
        )
    )
    assert sum(buckets["answered"]) == TOTAL
    assert {c: sum(buckets[c]) for c in by_class} == by_class
    assert all(n >= 0 for n in buckets["in_flight"]) and buckets["in_flight"][-1] == 0
    assert max(buckets["in_flight"]) > 0
    assert all(p50 <= p95 for p50, p95 in zip(buckets["p50"], buckets["p95"], strict=True)
               if p50 == p50)  # fmt: skip
    # the tooltip's text, with the stacked boxes the mouse is over (not in the buckets' source)
    assert "window" not in buckets and "latency" not in buckets
    tooltips = " ".join(segments["window"] + segments["latency"])
    assert re.search(r"\d+(\.\d+)? (ms|s)\b", tooltips) and "e+" not in tooltips
    assert "108,000 of 108,000 exchanges in view" in waterfall._note.object


def test_zooming_in_shows_the_bars_of_exactly_the_window_and_zooming_out_aggregates(big):
    dashboard = Dashboard(db=big.path, live=False)
    waterfall = dashboard.waterfall
    start, end = 120_000.0, 120_400.0  # ~8 copies of the run: well under the limit
    zoom(dashboard, start, end)
    expected = in_window(big.path, big.run_id, start, end)
    assert 0 < len(expected) <= WATERFALL_LIMIT
    assert set(waterfall.bars.data["exchange_id"]) == expected
    assert not waterfall.aggregated and not waterfall._latency_pane.visible
    assert waterfall.buckets.data["answered"] == [] and waterfall.segments.data["top"] == []
    assert waterfall.figure.yaxis[0].axis_label is None  # lanes, labelled by step
    assert "e+" not in " ".join(waterfall.bars.data["timing"])

    waterfall.lanes = "worker"  # lanes per worker, for the window's bars
    labels = list(waterfall.figure.yaxis.major_label_overrides.values())
    assert any(label.startswith("items.detail #") for label in labels)

    index = waterfall.bars.data["exchange_id"].index(min(expected))
    waterfall.bars.selected.indices = [index]  # a tap on a bar of the window
    assert dashboard.state.exchange_id == min(expected)
    # a tap where bars overlap hits them all: the one drawn on top is inspected (the selected
    # bar where it is hit, else the last drawn), and it alone stays highlighted
    ids = waterfall.bars.data["exchange_id"]
    waterfall.bars.selected.indices = [index + 2, index, index + 1]
    assert dashboard.state.exchange_id == ids[index]
    assert list(waterfall.bars.selected.indices) == [index]
    waterfall.bars.selected.indices = [index + 1, index + 2]
    assert dashboard.state.exchange_id == ids[index + 2]
    assert list(waterfall.bars.selected.indices) == [index + 2]

    zoom(dashboard, 1.0, 800.0)  # the original run's waits are kept in its window
    assert "retry wait" in waterfall.waits.data["what"]
    assert set(waterfall.bars.data["exchange_id"]) == in_window(big.path, big.run_id, 1, 800)

    zoom(dashboard, 0, waterfall.shown.span_ms + 1)  # reset: the whole run again
    assert waterfall.shown.aggregated and waterfall.bars.data["exchange_id"] == []
    zoom(dashboard, 100_000.0, 200_000.0)  # a wide window: still an aggregate, of it only
    shown = waterfall.shown
    assert shown.aggregated and shown.in_window == len(
        in_window(big.path, big.run_id, 100_000.0, 200_000.0)
    )
    assert waterfall.buckets.data["left"][0] == pytest.approx(100_000.0)


def test_a_run_drawn_only_as_bars_never_makes_the_latency_figure(captured):
    # outside a served page (a notebook output, a saved page) the latency bands' figure joins
    # with the first aggregate, and is made then (a served page gets it once drawn:
    # test_scripts)
    waterfall = Dashboard(db=captured.path, live=False).waterfall
    assert not waterfall.aggregated and len(waterfall.bars.data["exchange_id"]) == TOTAL_REQUESTS
    doc = Document()
    doc.add_root(waterfall.figure)
    # the latency figure never reaches the page (its pane holds a Spacer until then)
    assert [type(o).__name__ for o in waterfall._latency_pane] == ["Spacer"]
    alone = Waterfall(state=DashboardState(captured.path))
    assert alone._latency is None and not alone.aggregated  # nor is it made
    # the in-flight line's source is sent: bench/dashboard.py finds it by name
    assert doc.get_model_by_name("waterfall-buckets") is waterfall.buckets


def test_what_the_browser_gets_does_not_grow_with_the_run(big, captured):
    def shipped(path: Path) -> int:
        dashboard = Dashboard(db=path, live=False)
        document = Document()
        document.add_root(dashboard.__panel__().get_root(document))
        return len(json.dumps(standalone_docs_json([document])))

    small, large = shipped(captured.path), shipped(big.path)
    assert large < small + 200_000  # 120 buckets instead of 18 bars, not 108,000 bars


# -- in a real browser -------------------------------------------------------------------------

TICK_LABELS_JS = """() => {
  const doc = Bokeh.documents[0];
  const labels = [];
  for (const name of ['waterfall', 'waterfall-latency']) {
    const plot = doc.get_model_by_name(name);
    const view = Bokeh.index.find_one(plot);
    for (const axis of [...plot.below, ...plot.left]) {
      const axis_view = Bokeh.index.find_one(axis);
      const ticks = axis_view.tick_coords.major[axis_view.dimension];
      labels.push(...axis.formatter.format_graphics(Array.from(ticks), {loc: 0})
                      .map((label) => label.text ?? String(label)));
    }
  }
  return labels;
}"""


@requires_chromium
def test_a_big_run_shows_the_aggregate_in_a_browser_with_readable_ticks(big, tmp_path):
    log = tmp_path / "dashboard-server.log"
    with serve_dashboard(big.path, log) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        console: list[str] = []
        page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: console.append(str(error)))
        page.goto(url)
        wait_for_graph(page)
        page.wait_for_function(
            "() => { const s = Bokeh.documents[0].get_model_by_name('waterfall-buckets');"
            " return s && s.data.answered.length > 0; }",
            timeout=60_000,
        )
        buckets = model_data(page, "waterfall-buckets")
        assert sum(buckets["answered"]) == TOTAL
        assert model_data(page, "waterfall-bars")["exchange_id"] == []
        page.locator(".bk-Plot").first.scroll_into_view_if_needed()
        page.get_by_text("in flight").first.scroll_into_view_if_needed()
        labels = page.evaluate(TICK_LABELS_JS)
        shot = tmp_path / "waterfall-aggregate.png"
        page.screenshot(path=str(shot), full_page=True)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, ARTIFACTS / "waterfall-aggregate.png")
    assert labels and not [label for label in labels if "e+" in label or "e-" in label]
    assert any(re.fullmatch(r"\d+(\.\d+)? (ms|s)|\d+ min( \d+ s)?", x) for x in labels)
    assert console == []
    assert "Traceback" not in log.read_text()
