"""State-level tests: drive DashboardState's selections over a real capture, check its data."""

from __future__ import annotations

import asyncio
import logging
import shutil

import pytest

import orchestra
from orchestra.capture import CaptureReader
from orchestra.dashboard import DashboardState
from orchestra.dashboard._waterfall import lay_out
from tests.dashboard.conftest import STEP_REQUESTS, TOTAL_REQUESTS, Captured


@pytest.fixture
def state(captured: Captured) -> DashboardState:
    return DashboardState(captured.path)


def test_opens_on_the_newest_run_with_every_step_of_the_plan_in_the_graph(state, captured):
    assert state.run_id == captured.run_id
    assert state.run["status"] == "succeeded"
    assert state.runs["run_id"].tolist() == [captured.run_id]
    graph = state.graph
    assert list(graph.nodes) == list(STEP_REQUESTS)
    kinds = {path: node.kind for path, node in graph.nodes.items()}
    assert kinds["items.detail"] == "fanout"
    assert kinds["formats"] == "parallel"
    assert kinds["route"] == "choice"
    statuses = {path: node.status for path, node in graph.nodes.items()}
    assert statuses["route.never"] == statuses["route.fallback"] == "skipped"
    assert {statuses[p] for p in STEP_REQUESTS if p not in ("route.never", "route.fallback")} == {
        "ok"
    }
    assert {path: node.requests for path, node in graph.nodes.items()} == STEP_REQUESTS
    edges = {(e.source, e.target, e.kind) for e in graph.edges}
    assert ("items", "items.detail", "fanout") in edges
    assert ("items.detail", "formats", "next") in edges  # the fanout ends before the group
    assert {("formats", "formats.xml", "branch"), ("formats", "formats.csv", "branch")} <= edges
    assert {("formats.xml", "route", "next"), ("formats.csv", "route", "next")} <= edges
    assert {("route.never", "flaky", "next"), ("route.chosen", "flaky", "next")} <= edges
    assert graph.nodes["route.fallback"].branch == "otherwise"
    assert graph.nodes["route.chosen"].branch == "when[1]"


def test_step_table_has_one_row_per_step_with_its_counts(state):
    steps = state.steps.set_index("step_path")
    assert list(steps.index) == list(STEP_REQUESTS)
    assert steps["requests"].to_dict() == STEP_REQUESTS
    assert steps.loc["items", "pages"] == 2
    assert steps.loc["items", "items"] == 10
    assert steps.loc["items.detail", "executions"] == 10
    assert steps.loc["flaky", "retries"] == 2
    assert steps.loc["flaky", "max_attempt"] == 3
    assert steps.loc["formats.xml", "bytes"] > 0
    assert steps.loc["flaky", "duration_ms"] > 0
    assert steps.loc["route.never", "status"] == "skipped"


def test_selecting_a_step_lists_its_exchanges_a_page_at_a_time(state):
    state.page_size = 4
    state.step_path = "items.detail"
    assert state.exchange_total == 10
    first = state.exchanges["exchange_id"].tolist()
    assert len(first) == 4 and first == sorted(first)
    state.exchange_page = 2
    last = state.exchanges["exchange_id"].tolist()
    assert len(last) == 2 and min(last) > max(first)
    assert "response_body" not in state.exchanges.columns  # lists never carry bodies
    state.step_path = "flaky"  # a new step starts on its first page, nothing inspected
    assert state.exchange_page == 0
    assert state.exchanges["attempt"].tolist() == [1, 2, 3]
    assert state.exchanges["status_code"].tolist() == [503, 503, 200]
    state.errors_only = True
    assert state.exchange_total == 2
    assert state.exchanges["status_code"].tolist() == [503, 503]
    state.step_path = None
    assert state.exchange_total == 2  # errors of every step
    state.errors_only = False
    assert state.exchange_total == TOTAL_REQUESTS


def test_selecting_an_exchange_shows_request_response_and_curl(state, captured):
    state.step_path = "items.detail"
    exchange_id = int(state.exchanges["exchange_id"].iloc[0])
    state.exchange_id = exchange_id
    view = state.exchange
    assert view.exchange_id == exchange_id
    assert view.row["method"] == "GET"
    assert view.row["url"].startswith(f"{captured.base_url}/items/")
    assert view.response_body.kind == "json"
    item_id = int(view.row["url"].rsplit("/", 1)[1])
    assert view.response_body.value["id"] == item_id
    assert view.response_body.value["detail"]["description"] == f"Item {item_id} description"
    assert view.response_headers["content-type"].startswith("application/json")
    assert view.curl.startswith("# items.detail page 1 attempt 1 -> 200")
    assert f"curl -X GET {view.row['url']}" in view.curl

    state.step_path = "formats.xml"
    state.exchange_id = int(state.exchanges["exchange_id"].iloc[0])
    assert state.exchange.response_body.kind == "xml"
    assert state.exchange.response_body.text.lstrip().startswith("<")
    state.step_path = "formats.csv"
    state.exchange_id = int(state.exchanges["exchange_id"].iloc[0])
    body = state.exchange.response_body
    assert body.kind == "csv" and len(body.value[0]) > 1


def test_selecting_an_exchange_elsewhere_turns_the_list_to_its_step_and_page(state):
    with state.store.read() as db:
        detail = db.exchange_page(state.run_id, "items.detail", offset=0, limit=10)[0]
        flaky = db.exchange_page(state.run_id, "flaky", offset=0, limit=10)[0]
    state.page_size = 3
    state.step_path = "items.detail"
    last_detail = int(detail["exchange_id"].iloc[9])
    state.select_exchange(last_detail)
    assert state.step_path == "items.detail"
    assert state.exchange_page == 3  # the 10th exchange, 3 a page
    assert state.exchange_id == last_detail
    assert last_detail in state.exchanges["exchange_id"].tolist()
    state.select_exchange(int(flaky["exchange_id"].iloc[1]))
    assert state.step_path == "flaky"
    assert state.exchange.row["attempt"] == 2
    assert state.exchange.row["status_code"] == 503


def test_secrets_are_masked_in_the_inspector_and_curl(demo_api, tmp_path, monkeypatch):
    monkeypatch.setenv("DASHBOARD_SECRET", "s3cr3t-value")
    plan = {
        "key": "masked",
        "config": {"base_url": demo_api.url, "key": {"env": "DASHBOARD_SECRET"}},
        "steps": [
            {
                "name": "echo",
                "url": "{config.base_url}/echo",
                "method": "POST",
                "headers": {"X-Api-Key": "{config.key}"},
                "body": {"password": "{config.key}"},
            }
        ],
    }
    result = orchestra.run(plan, db=tmp_path / "masked.duckdb")
    assert result.ok, result.error
    state = DashboardState(tmp_path / "masked.duckdb")
    state.step_path = "echo"
    state.exchange_id = int(state.exchanges["exchange_id"].iloc[0])
    view = state.exchange
    shown = " ".join(
        [
            str(view.request_headers),
            view.request_body.text,
            str(view.request_body.value),
            str(view.response_body.value),
            view.response_body.text,
            view.curl,
        ]
    )
    assert "s3cr3t-value" not in shown
    assert "${DASHBOARD_SECRET}" in view.request_headers["x-api-key"]
    assert "${DASHBOARD_SECRET}" in view.curl


def test_waterfall_and_metrics_hold_retries_rate_limit_waits_and_latency(state):
    rows = state.waterfall
    assert rows.total == len(rows.exchanges) == TOTAL_REQUESTS
    assert (rows.exchanges["start_ms"] >= 0).all()
    retries = rows.waits[rows.waits["type"] == "retry_scheduled"]
    assert len(retries) == 2 and (retries["delay_ms"] > 0).all()
    assert (rows.waits["type"] == "rate_limit_wait").any()
    metrics = state.metrics
    assert metrics.totals["requests"] == TOTAL_REQUESTS
    assert metrics.totals["retries"] == 2
    assert metrics.totals["failed_requests"] == 2
    assert metrics.totals["rate_limit_waits"] == int(
        (rows.waits["type"] == "rate_limit_wait").sum()
    )
    assert dict(zip(metrics.by_status["status"], metrics.by_status["requests"], strict=True)) == {
        "200": 16,
        "503": 2,
    }
    latency = metrics.latency.set_index("step_path")
    assert latency["requests"].to_dict() == {p: n for p, n in STEP_REQUESTS.items() if n}
    assert (latency["p50_ms"] <= latency["p95_ms"]).all()
    assert (latency["p95_ms"] <= latency["p99_ms"]).all()
    assert (latency["p99_ms"] <= latency["max_ms"] + 1e-9).all()
    assert metrics.throughput["requests"].sum() == TOTAL_REQUESTS


def test_worker_lanes_never_exceed_the_fanout_concurrency(state):
    per_step = lay_out(state.waterfall, state.graph.paths, "step")
    assert per_step["labels"] == [p for p, n in STEP_REQUESTS.items() if n]
    per_worker = lay_out(state.waterfall, state.graph.paths, "worker")
    detail_lanes = [label for label in per_worker["labels"] if label.startswith("items.detail")]
    assert 2 <= len(detail_lanes) <= 3  # concurrency 3
    retry_waits = [w for w in per_worker["waits"]["what"] if w == "retry wait"]
    assert len(retry_waits) == 2


def test_run_filters_and_following_new_runs(captured, demo_api, tmp_path):
    state = DashboardState(captured.path)
    state.select_run(captured.run_id)
    assert state.follow_latest  # it is the newest
    failing = {
        "key": "failing",
        "steps": [
            {"name": "boom", "url": f"{demo_api.url}/status/500", "retry": {"max_attempts": 1}}
        ],
    }
    result = orchestra.run(failing, db=captured.path)
    assert result.status == "failed"
    asyncio.run(state.poll())  # the poller sees the new run and follows it
    assert state.run_id == result.run_id
    assert state.graph.nodes["boom"].status == "failed"
    assert state.runs["run_id"].tolist() == [result.run_id, captured.run_id]
    assert state.plan_keys == ["dashboard-test", "failing"]
    state.plan_filter = "dashboard-test"
    assert state.runs["run_id"].tolist() == [captured.run_id]
    state.plan_filter = ""
    state.status_filter = "failed"
    assert state.runs["run_id"].tolist() == [result.run_id]
    state.status_filter = ""
    state.select_run(captured.run_id)  # picking an older run stops following
    assert not state.follow_latest
    asyncio.run(state.poll())
    assert state.run_id == captured.run_id


def test_a_run_that_is_not_there_stays_said_until_the_person_picks_a_run(
    captured, demo_api, tmp_path
):
    db = tmp_path / "copy.duckdb"
    shutil.copy(captured.path, db)
    state = DashboardState(db, run="no-such-run")
    assert state.run_id is None and "Could not open the run" in state.error
    assert not state.follow_latest  # the newest run is not swapped in behind the error
    plan = {"key": "later", "steps": [{"name": "one", "url": f"{demo_api.url}/items"}]}
    later = orchestra.run(plan, db=db)
    asyncio.run(state.poll())  # the poll sees the new run: the list shows it, the error stays
    assert later.run_id in state.runs["run_id"].tolist()
    assert state.run_id is None and "no-such-run" in state.error
    state.select_run(later.run_id)  # a run picked: shown, the error gone
    assert state.run_id == later.run_id and state.error == ""


def test_a_failing_refresh_is_logged_and_shown_not_swallowed(state, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(CaptureReader, "signature", broken)
    state._signature = None  # a poll that reads (the page's first read saw the file as it is)
    with caplog.at_level(logging.ERROR, logger="orchestra.dashboard"):
        asyncio.run(state.poll())
    assert "disk on fire" in state.error
    assert any(r.exc_info and "disk on fire" in str(r.exc_info[1]) for r in caplog.records)
    monkeypatch.undo()
    state._signature = None
    asyncio.run(state.poll())
    assert state.error == ""


def test_a_file_without_runs_waits_for_one(tmp_path):
    state = DashboardState(tmp_path / "nothing-yet.duckdb")
    assert state.run_id is None
    assert "does not exist yet" in state.message
    assert state.error == ""
    asyncio.run(state.poll())
    assert state.error == ""


def test_records_give_none_for_every_missing_value():
    import pandas as pd

    from orchestra.dashboard._state import records

    frame = pd.DataFrame(
        {
            "error": ["boom", None],
            "n": pd.array([1, None], dtype="Int64"),
            "ms": [1.5, float("nan")],
        }
    )
    frame.loc[1, "error"] = float("nan")  # how a missing text reaches a merged frame
    assert records(frame) == [
        {"error": "boom", "n": 1, "ms": 1.5},
        {"error": None, "n": None, "ms": None},
    ]


def test_a_failed_run_is_drawn_with_its_error_on_the_failed_step(demo_api_server, tmp_path):
    from orchestra.dashboard import Dashboard
    from tests.dashboard.test_run_states import failing_plan

    path = tmp_path / "failed.duckdb"
    result = orchestra.run(failing_plan(demo_api_server.url), db=path)
    assert result.status == "failed"
    dashboard = Dashboard(db=path, live=False)  # the graph draws on construction
    assert dashboard.state.error == ""
    nodes = dashboard.flow_graph.nodes.data
    assert nodes["status"] == ["ok", "failed", "skipped"]  # never pending once over
    assert nodes["error"][0] == nodes["error"][2] == ""
    assert nodes["error"][1].startswith("step 'broken'")
    assert list(dashboard.state.steps["requests"]) == [1, 2, 0]
