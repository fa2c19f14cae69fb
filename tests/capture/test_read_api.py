"""The capture's read API: each named read over a file written by real demo-API runs.

One module-scoped capture holds two runs: a paged, fanned-out, retried run with
an ignored 404 (every table filled), and a run that failed. The last test
proves that no package outside ``orchestra/capture`` writes SQL of its own.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

import orchestra
from orchestra.capture import EXCHANGE_LIST_COLUMNS, CaptureStore, RunNotFound
from orchestra.demo import DemoAPI

# requests per step of the good run: 2 pages, 10 details, a 404, a 503 then a 200
STEP_REQUESTS = {"items": 2, "items.detail": 10, "missing": 1, "flaky": 2}


def good_plan(base_url: str) -> dict:
    return {
        "key": "read-api",
        "config": {"base_url": base_url},
        "rate_limits": [{"requests": 6, "window_secs": 0.2}],
        "steps": [
            {
                "name": "items",
                "url": "{config.base_url}/items",
                "params": {"limit": 5, "offset": "{context.next || `0`}"},
                "context_updates": {"next": "response.body.next_offset"},
                "while": "response.body.offset < `5`",
                "sub_steps": [
                    {
                        "name": "detail",
                        "iterate_over": "response.body.items",
                        "url": "{config.base_url}/items/{item.id}",
                        "concurrency": 3,
                    }
                ],
            },
            {"name": "missing", "url": "{config.base_url}/status/404", "ignore_on": [404]},
            {
                "name": "flaky",
                "url": "{config.base_url}/flaky/read-api?fail=1",
                "retry": {"base_seconds": 0.01},
            },
        ],
    }


@dataclass
class Capture:
    store: CaptureStore
    good: str  # run ids
    failed: str
    plan: dict


@pytest.fixture(scope="module")
def capture(demo_api_server: DemoAPI, tmp_path_factory: pytest.TempPathFactory) -> Capture:
    demo_api_server.reset()
    path = tmp_path_factory.mktemp("read-api") / "capture.duckdb"
    plan = good_plan(demo_api_server.url)
    good = orchestra.run(plan, db=path)
    assert good.ok, good.error
    boom = {
        "key": "read-api-failing",
        "steps": [
            {
                "name": "boom",
                "url": f"{demo_api_server.url}/status/500",
                "retry": {"max_attempts": 1},
            }
        ],
    }
    failed = orchestra.run(boom, db=path)
    assert failed.status == "failed"
    return Capture(CaptureStore(path), good.run_id, failed.run_id, plan)


def test_runs_newest_first_with_filters_limit_and_columns(capture):
    with capture.store.read() as reader:
        assert reader.runs()["run_id"].tolist() == [capture.failed, capture.good]
        assert reader.runs(status="failed")["run_id"].tolist() == [capture.failed]
        assert reader.runs(plan_key="read-api")["run_id"].tolist() == [capture.good]
        assert reader.runs(plan_key="read-api", status="failed").empty
        assert reader.runs(plan_key="", status="")["run_id"].tolist() == [
            capture.failed,
            capture.good,
        ]  # empty filters (the dashboard's "all") match every run
        newest = reader.runs(limit=1, columns=["run_id", "status"])
        assert newest.columns.tolist() == ["run_id", "status"]
        assert newest.to_dict("records") == [{"run_id": capture.failed, "status": "failed"}]
        assert reader.run_count() == 2
        assert reader.plan_keys() == ["read-api", "read-api-failing"]


def test_one_run_its_plan_and_run_resolution(capture):
    with capture.store.read() as reader:
        run = reader.run(capture.good)
        assert run is not None
        assert (run["status"], run["requests"], run["errors"]) == ("succeeded", 15, 1)
        assert reader.run("no-such-run") is None
        assert reader.plan(capture.good) == capture.plan
        assert reader.plan("no-such-run") is None
        assert reader.resolve_run("last") == reader.resolve_run(None) == capture.failed
        assert reader.resolve_run(capture.good[:-2]) == capture.good
        with pytest.raises(RunNotFound, match="orchestra runs"):
            reader.resolve_run("nope")
    assert capture.store.run("last")["run_id"] == capture.failed
    assert capture.store.plan(capture.good) == capture.plan


def test_the_tables_of_a_run_in_the_order_things_happened(capture):
    with capture.store.read() as reader:
        steps = reader.steps(capture.good)
        assert len(steps[steps.step_path == "items.detail"]) == 10
        assert reader.steps(capture.good, step_path="items")["pages"].tolist() == [2]
        exchanges = reader.exchanges(capture.good)
        assert exchanges.groupby("step_path").size().to_dict() == STEP_REQUESTS
        assert exchanges["exchange_id"].is_monotonic_increasing
        flaky = reader.exchanges(capture.good, step_path="flaky")
        assert flaky[["attempt", "status_code"]].values.tolist() == [[1, 503], [2, 200]]
        records = reader.records(capture.good, step_path="items.detail")
        assert len(records) == 10 and records["seq"].is_monotonic_increasing
        values = reader.record_values(capture.good, step_path="items.detail")
        assert sorted(value["id"] for value in values) == list(range(1, 11))
        assert reader.errors(capture.good)["kind"].tolist() == ["ignored"]
        events = reader.events(capture.good)
        assert events["seq"].is_monotonic_increasing
        assert {"retry_scheduled", "rate_limit_wait"} <= set(events["type"])
        assert set(reader.events(capture.good, step_path="flaky")["step_path"]) == {"flaky"}
        executions = reader.executions(capture.failed)
        assert [(e["step_path"], e["status"]) for e in executions] == [("boom", "failed")]


def test_table_rows_page_by_key_and_refuse_unknown_tables(capture):
    with capture.store.read() as reader:
        every = reader.table_rows("exchanges", capture.good)
        assert [row["exchange_id"] for row in every] == sorted(r["exchange_id"] for r in every)
        pages, last = [], -1
        while True:
            page = reader.table_rows("exchanges", capture.good, after=last, limit=4)
            pages.append(page)
            if len(page) < 4:
                break
            last = page[-1]["exchange_id"]
        assert [row for page in pages for row in page] == every
        assert [len(page) for page in pages] == [4, 4, 4, 3]
        assert isinstance(every[0]["response_body"], str)  # plain values, bodies included
        with pytest.raises(ValueError, match="table must be one of"):
            reader.table_rows("plans; DROP TABLE runs", capture.good)


def test_exchange_list_filters_pages_and_finds_an_exchange(capture):
    with capture.store.read() as reader:
        page, total = reader.exchange_page(capture.good, "items.detail", offset=8, limit=5)
        assert total == 10 and len(page) == 2
        assert page.columns.tolist() == EXCHANGE_LIST_COLUMNS  # ids and sizes, never bodies
        assert all(url.startswith("/items/") for url in page["url"])  # path and query only
        failed, total = reader.exchange_page(capture.good, errors_only=True)
        assert total == 2 and sorted(failed["status_code"].tolist()) == [404, 503]
        empty, total = reader.exchange_page(capture.good, "no-such-step")
        assert total == 0 and empty.columns.tolist() == EXCHANGE_LIST_COLUMNS
        flaky = reader.exchanges(capture.good, step_path="flaky")["exchange_id"].tolist()
        assert reader.exchange_position(capture.good, "flaky", flaky[1]) == 1
        assert reader.exchange_position(capture.good, "flaky", flaky[1], errors_only=True) is None
        assert reader.exchange_position(capture.good, None, flaky[0], errors_only=True) == 1
        one = reader.exchange(capture.good, flaky[1])
        assert one is not None and one["status_code"] == 200 and one["response_body"]
        assert reader.exchange(capture.good, 10_000) is None
        last = reader.last_response(capture.good, "flaky")
        assert last == {
            "status_code": 200,
            "response_body": one["response_body"],
            "response_body_encoding": one["response_body_encoding"],
            "body": json.loads(one["response_body"]),
        }
        assert reader.last_response(capture.good, "no-such-step") is None


def test_statistics_steps_waterfall_and_signature(capture):
    with capture.store.read() as reader:
        stats = reader.step_statistics(capture.good).set_index("step_path")
        assert stats["requests"].to_dict() == STEP_REQUESTS
        assert stats.loc["items.detail", "executions"] == 10
        assert (stats.loc["flaky", "retries"], stats.loc["flaky", "max_attempt"]) == (1, 2)
        numbers = reader.statistics(capture.good)
        totals = numbers.totals
        assert (totals["requests"], totals["failed_requests"], totals["retries"]) == (15, 2, 1)
        assert totals["retries_scheduled"] == 1 and totals["errors"] == 1
        assert totals["rate_limit_waits"] >= 1 and totals["requests_per_second"] > 0
        by_status = dict(
            zip(numbers.by_status["status"], numbers.by_status["requests"], strict=True)
        )
        assert by_status == {"200": 13, "404": 1, "503": 1}
        assert numbers.latency.set_index("step_path")["requests"].to_dict() == STEP_REQUESTS
        assert numbers.throughput["requests"].sum() == 15
        waterfall = reader.waterfall(capture.good)
        assert waterfall.total == 15 and len(waterfall.exchanges) == 15
        assert (waterfall.exchanges["start_ms"] >= 0).all()
        aggregated = reader.waterfall(capture.good, limit=5)  # more than 5: per time bucket
        assert aggregated.aggregated and aggregated.exchanges.empty
        assert aggregated.buckets["answered"].sum() == 15
        # 15.07 / (15.07 / 120) is 120.00000000000001 in floats: still exactly 120 buckets
        awkward = reader.waterfall(capture.good, limit=0, start_ms=0.0, end_ms=15.07)
        assert len(awkward.buckets) == 120
        waits = waterfall.waits.groupby("type").size().to_dict()
        assert waits["retry_scheduled"] == 1 and waits["rate_limit_wait"] >= 1
        signature = reader.signature(capture.good)
        assert (signature.runs, signature.newest_run) == (2, capture.failed)
        assert (signature.run_status, signature.run_requests, signature.exchanges) == (
            "succeeded",
            15,
            15,
        )
        nothing = reader.signature(None)
        assert (nothing.runs, nothing.run_status, nothing.exchanges) == (2, None, 0)


def test_a_waterfall_window_that_is_not_a_number_is_refused_and_infinities_are_the_run(capture):
    # DuckDB orders NaN above every number: a NaN window counted the whole run as "in view"
    # and drew its buckets at NaN (what a browser sent after a fast wheel-zoom)
    nan = float("nan")
    with capture.store.read() as reader:
        whole = reader.waterfall(capture.good, limit=5)
        for bounds in ({"start_ms": nan, "end_ms": nan}, {"start_ms": 0.0, "end_ms": nan}):
            with pytest.raises(ValueError, match="needs numbers"):
                reader.waterfall(capture.good, limit=5, **bounds)
        edges = reader.waterfall(capture.good, limit=5, start_ms=float("-inf"), end_ms=float("inf"))
        assert (edges.start_ms, edges.end_ms) == (0.0, whole.span_ms)
        assert edges.in_window == 15 and edges.buckets["answered"].sum() == 15
        assert edges.buckets["start_ms"].notna().all() and edges.buckets["end_ms"].notna().all()


def test_a_reader_is_read_only_and_a_missing_file_is_not_created(capture, tmp_path):
    with capture.store.read() as reader, pytest.raises(duckdb.Error, match="read-only"):
        reader.connection.execute("DELETE FROM runs")
    missing = CaptureStore(tmp_path / "missing.duckdb")
    with pytest.raises(FileNotFoundError), missing.read():
        pass
    assert not (tmp_path / "missing.duckdb").exists()


# -- no SQL over the capture tables outside orchestra/capture ----------------------------------

PACKAGE = Path(orchestra.__file__).parent
CAPTURE_TABLES = "runs|plans|steps|exchanges|records|errors|events|contexts|meta"
SQL = re.compile(
    rf"\b(SELECT\b.*\bFROM|INSERT\s+INTO|UPDATE|DELETE\s+FROM|JOIN)\s+({CAPTURE_TABLES})\b",
    re.DOTALL,  # SQL keywords in capitals, as this code base writes them
)


# Modules outside capture that may call ``.execute`` on a database that is not the capture.
NOT_THE_CAPTURE = {
    "notebook/_history.py": "IPython's own history.sqlite (a pasted secret is rewritten there)",
}


def sql_outside_capture(package: Path) -> list[str]:
    """Strings holding SQL over the capture tables, and ``.execute(...)`` calls, outside capture.

    Allowed: what the user types into ``%flow sql`` (its help and usage examples), and
    the ``.execute`` calls of :data:`NOT_THE_CAPTURE`.
    """
    found: dict[str, str] = {}  # location -> what is there (an f-string's parts share it)
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.parts[0] == "capture":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{relative}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                # Panel's `pn.state.execute` schedules a callback: not a query
                if (
                    node.func.attr == "execute"
                    and ast.unparse(node.func.value) != "pn.state"
                    and relative.as_posix() not in NOT_THE_CAPTURE
                ):
                    found.setdefault(where, ".execute(...)")
            elif isinstance(node, ast.JoinedStr | ast.Constant):
                text = _text(node)
                if text and SQL.search(text) and "%flow sql" not in text:
                    found.setdefault(where, repr(text.strip()[:60]))
    return [f"{where}: {what}" for where, what in found.items()]


def _text(node: ast.AST) -> str:
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else ""
    assert isinstance(node, ast.JoinedStr)
    return "".join(_text(part) if isinstance(part, ast.Constant) else " x " for part in node.values)


def test_no_sql_outside_capture():
    assert sql_outside_capture(PACKAGE) == []


def test_the_sql_finder_finds_sql(tmp_path):
    (tmp_path / "capture").mkdir()
    (tmp_path / "capture" / "ok.py").write_text('Q = "SELECT * FROM runs"\n')
    (tmp_path / "surface.py").write_text(
        'A = "SELECT status FROM runs WHERE run_id = ?"\n'
        'B = (f"SELECT count(*) FROM exchanges WHERE {w}")\n'
        'C = ("SELECT p.plan FROM runs r "\n     "JOIN plans p USING (plan_hash)")\n'
        "connection.execute(query)\n"
        'HELP = "%flow sql SELECT * FROM runs"\n'
        'PROSE = "select the run from the list"\n'
    )
    found = sql_outside_capture(tmp_path)
    assert [line.split(":")[1] for line in found] == ["1", "2", "3", "5"]
