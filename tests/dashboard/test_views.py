"""The views hold what the state selects, and selecting in one view selects everywhere."""

from __future__ import annotations

import json
import re

import pytest
from bokeh.document import Document
from bokeh.embed.util import standalone_docs_json

from orchestra.dashboard import Dashboard
from tests.dashboard.conftest import STEP_REQUESTS, TOTAL_REQUESTS, Captured


@pytest.fixture
def dashboard(captured: Captured) -> Dashboard:
    return Dashboard(db=captured.path, live=False)


def test_graph_view_draws_every_node_with_status_colour_and_label(dashboard):
    data = dashboard.flow_graph.nodes.data
    assert data["path"] == list(STEP_REQUESTS)
    colors = dict(zip(data["path"], data["color"], strict=True))
    assert colors["items"] == colors["flaky"] != colors["route.never"]
    subtitles = dict(zip(data["path"], data["subtitle"], strict=True))
    assert subtitles["items.detail"].startswith("10 req · ")
    assert subtitles["items.detail"].endswith("10x")
    assert subtitles["formats"].startswith("parallel")
    plot = dashboard.flow_graph.figure
    graph = dashboard.state.graph
    assert (plot.width, plot.height) == (round(graph.width), round(graph.height))
    assert (plot.x_range.start, plot.x_range.end) == (0, round(graph.width))
    assert len(dashboard.flow_graph.edges.data["xs"]) == len(graph.edges)


def test_tapping_a_node_selects_the_step_in_every_view(dashboard):
    graph = dashboard.flow_graph
    graph.nodes.selected.indices = [graph.nodes.data["path"].index("flaky")]  # what a tap does
    state = dashboard.state
    assert state.step_path == "flaky"
    table = dashboard.step_table._table
    assert table.value["step_path"].iloc[table.selection[0]] == "flaky"
    inspector = dashboard.inspector
    assert inspector._table.value["attempt"].tolist() == [1, 2, 3]
    assert "Exchanges of `flaky`" in inspector._title.object
    assert inspector._position.object == "1-3 of 3"

    table.selection = [table.value["step_path"].tolist().index("items.detail")]  # a row click
    assert state.step_path == "items.detail"
    assert graph.nodes.selected.indices == [graph.nodes.data["path"].index("items.detail")]


def test_inspector_shows_the_selected_exchange_and_its_curl(dashboard, captured):
    dashboard.state.step_path = "flaky"
    inspector = dashboard.inspector
    inspector._table.selection = [1]  # the second attempt, a 503
    view = dashboard.state.exchange
    assert view.row["attempt"] == 2 and view.row["status_code"] == 503
    assert inspector._curl.value == view.curl
    assert f"{captured.base_url}/flaky/dashboard?fail=2" in inspector._curl.value
    request, response = inspector._detail.objects[:2]
    assert request.title == f"Request #{view.exchange_id}"
    assert "503" in response.objects[0].object
    bars = dashboard.waterfall.bars
    assert bars.selected.indices == [bars.data["exchange_id"].index(view.exchange_id)]


def test_tapping_a_waterfall_bar_inspects_that_exchange(dashboard):
    bars = dashboard.waterfall.bars
    index = bars.data["step"].index("formats.xml")
    bars.selected.indices = [index]
    state = dashboard.state
    assert state.exchange_id == bars.data["exchange_id"][index]
    assert state.step_path is None  # the list showed every step; it still does
    assert state.exchange.response_body.kind == "xml"


def test_waterfall_and_metrics_views_hold_the_run(dashboard):
    bars = dashboard.waterfall.bars.data
    assert len(bars["exchange_id"]) == TOTAL_REQUESTS
    assert bars["cls"].count("5xx") == 2
    waits = dashboard.waterfall.waits.data
    assert waits["what"].count("retry wait") == 2
    assert "rate-limit wait" in waits["what"]
    assert dashboard.waterfall.figure.yaxis.major_label_overrides[0] == "items"
    dashboard.waterfall.lanes = "worker"
    labels = dashboard.waterfall.figure.yaxis.major_label_overrides.values()
    assert "items.detail #2" in labels
    cards = dashboard.metrics.cards.object
    assert (
        f"requests</div><div class='value' style='font-size:22px;font-weight:600'>{TOTAL_REQUESTS}<"
        in cards
    )
    assert "retries</div><div class='value' style='font-size:22px;font-weight:600'>2<" in cards
    steps = re.findall(
        r"<td data-column='step_path'[^>]*>([^<]*)</td>", dashboard.metrics.tables.object
    )
    assert steps[0] == "items"
    assert sum(dashboard.metrics.throughput.data["ok"]) == TOTAL_REQUESTS - 2


def test_the_browser_never_gets_response_bodies_until_one_is_inspected(dashboard):
    document = Document()
    document.add_root(dashboard.__panel__().get_root(document))
    shipped = json.dumps(standalone_docs_json([document]))
    assert "Item 3 description" not in shipped  # a detail body
    dashboard.state.step_path = "items.detail"
    dashboard.inspector._table.selection = [0]
    shipped = json.dumps(standalone_docs_json([document]))
    assert "item-" in shipped  # now one body's first level is in the page
    assert "description" not in shipped  # its deeper levels only when opened


def test_live_data_updates_the_tables_in_place(captured, tmp_path):
    """The first rows of a run change each table's data, never its columns or configuration.

    Panel's Tabulator derives a column's configuration from its dtype; a change makes
    the browser destroy and rebuild the table while live updates keep arriving, and a
    redraw of the half-built table throws (``Cannot read properties of null (reading
    'offsetWidth')``) on a loaded machine.
    """
    import asyncio
    import shutil

    from bokeh.document.events import ModelChangedEvent
    from panel.models.tabulator import DataTabulator

    from orchestra.capture import EXCHANGE_LIST_COLUMNS
    from orchestra.dashboard._state import EXCHANGE_LIST_DTYPES

    assert list(EXCHANGE_LIST_DTYPES) == EXCHANGE_LIST_COLUMNS
    path = tmp_path / "live.duckdb"  # nothing there yet: every table starts empty
    dashboard = Dashboard(db=path, live=False)
    document = Document()
    document.add_root(dashboard.__panel__().get_root(document))
    tables = list(document.select({"type": DataTabulator}))
    assert len(tables) == 3  # runs, steps, exchanges (the metrics' small tables are HTML)
    before = [(table.configuration, [c.field for c in table.columns]) for table in tables]
    changed: list[tuple[str, str]] = []

    def record(event: object) -> None:
        if isinstance(event, ModelChangedEvent):
            changed.append((type(event.model).__name__, event.attr))

    document.on_change(record)

    shutil.copy(captured.path, path)  # the run arrives
    asyncio.run(dashboard.state.poll())

    assert dashboard.state.run["run_id"] == captured.run_id
    assert all(len(table.source.data["index"]) > 0 for table in tables)
    assert [(table.configuration, [c.field for c in table.columns]) for table in tables] == before
    assert not {attr for kind, attr in changed if kind == "DataTabulator"} & {
        "configuration",
        "columns",
    }, changed


def test_the_collapsed_sections_are_built_when_first_opened(dashboard):
    """Export and Compare runs start collapsed: a page load makes and sends none of their
    widgets; opening one builds it for the run shown."""
    view = dashboard.__panel__()
    doc = Document()
    doc.add_root(view.get_root(doc))
    sent = {type(model).__name__ for model in doc.models}
    assert "FileDownload" not in sent  # the Export buttons
    assert len(dashboard._export_card) == 0 and dashboard._exports is None
    assert len(dashboard.diff_view.card) == 0
    dashboard._export_card.collapsed = False
    assert len(dashboard._export_card) == 1 and dashboard._exports is not None
    downloads = [m for m in doc.models if type(m).__name__ == "FileDownload"]
    assert len(downloads) == len(dashboard.exports.downloads) == 8
    run_id = dashboard.state.run_id
    assert dashboard.exports.downloads["har"].filename == f"{run_id}.har"
    assert not dashboard.exports.downloads["har"].disabled
    dashboard._export_card.collapsed = True
    dashboard._export_card.collapsed = False
    assert len(dashboard._export_card) == 1  # built once
