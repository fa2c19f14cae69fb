"""A real run of 10,050 exchanges opens without shipping them: SQL aggregates, pages, windows.

The run's waterfall is an aggregate per time bucket (more exchanges than bars
are ever drawn); the lanes per worker of the fanout appear once the view is
zoomed into a window small enough for bars.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from bokeh.document import Document
from bokeh.embed.util import standalone_docs_json

import orchestra
from orchestra.dashboard import Dashboard
from orchestra.demo import start_demo_api

ITEMS = 10_000
PAGE = 200
TOTAL = ITEMS + ITEMS // PAGE  # details plus list pages

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def big_capture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    api = start_demo_api(total_items=ITEMS)
    path = tmp_path_factory.mktemp("large") / "big.duckdb"
    plan = {
        "key": "ten-thousand",
        "config": {"base_url": api.url},
        "steps": [
            {
                "name": "items",
                "url": "{config.base_url}/items",
                "params": {"limit": PAGE, "offset": "{context.next_offset || `0`}"},
                "context_updates": {"next_offset": "response.body.next_offset"},
                "while": "response.body.next_offset != null",
                "emit": False,
                "sub_steps": [
                    {
                        "name": "detail",
                        "iterate_over": "response.body.items",
                        "url": "{config.base_url}/items/{item.id}",
                        "concurrency": 50,
                    }
                ],
            }
        ],
    }
    try:
        result = orchestra.run(plan, db=path, keep_records=False)
    finally:
        api.stop()
    assert result.ok and result.requests == TOTAL, result.error
    yield path


def test_a_ten_thousand_exchange_run_opens_aggregated_and_paged(big_capture):
    dashboard = Dashboard(db=big_capture, live=False)
    state = dashboard.state
    assert state.run["requests"] == TOTAL
    assert state.steps["step_path"].tolist() == ["items", "items.detail"]
    assert state.steps.set_index("step_path")["executions"].to_dict() == {
        "items": 1,
        "items.detail": ITEMS,
    }
    assert len(state.exchanges) == state.page_size and state.exchange_total == TOTAL
    state.step_path = "items.detail"
    state.exchange_page = ITEMS // state.page_size - 1  # the last page
    assert len(state.exchanges) == state.page_size
    assert state.exchange_total == ITEMS
    assert state.metrics.latency["requests"].tolist() == [ITEMS // PAGE, ITEMS]
    assert state.metrics.throughput["requests"].sum() == TOTAL
    waterfall = dashboard.waterfall
    assert state.waterfall.total == TOTAL and state.waterfall.aggregated
    assert sum(waterfall.buckets.data["answered"]) == TOTAL
    assert waterfall.bars.data["exchange_id"] == []
    middle = state.waterfall.span_ms / 2  # zoom into a window of the fanout: its bars
    waterfall._on_range(SimpleNamespace(x0=middle, x1=middle + state.waterfall.span_ms / 100))
    assert 0 < len(waterfall.bars.data["exchange_id"]) == waterfall.shown.in_window
    waterfall.lanes = "worker"
    worker_lanes = waterfall.figure.yaxis.major_label_overrides.values()
    assert 2 < sum(1 for label in worker_lanes if label.startswith("items.detail")) <= 50

    document = Document()
    document.add_root(dashboard.__panel__().get_root(document))
    shipped = json.dumps(standalone_docs_json([document]))
    assert "description" not in shipped  # no detail body went to the browser
    assert len(shipped) < 1_000_000  # buckets and the window's bars, not 10,050 bars
