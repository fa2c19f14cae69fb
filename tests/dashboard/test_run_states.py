"""Every run state displays in a real browser, the same in every view, and clicks are clean.

One capture file holds a run of every state, each produced for real against
the demo API: succeeded; failed (a step's 500 after its retries); aborted
(``abort_on``); interrupted (``orchestra run`` sent SIGINT mid-request);
compensated and compensation_failed (a saga whose third step fails, its
compensations then succeeding or one failing); stopped (a debug session
stopped at a breakpoint); and running (``orchestra run`` still waiting on a
slow step while the test looks; killed when the module ends).

For each, the run is picked in the run picker as a user does, and the header,
the run picker's row, the flow graph's node statuses and counts, the step
table and the metrics cards must show that run's numbers as the capture's
read API gives them (read again while the running run moves). Then an
exchange row and a graph node are clicked. No console error, no page error
and no traceback in the ``panel serve`` log are allowed. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import orchestra
from orchestra.capture import CaptureStore
from orchestra.debug import Breakpoint, Debugger
from orchestra.demo import DemoAPI
from tests.dashboard._browser import (
    ARTIFACTS,
    chromium,
    model_data,
    panel_serve,
    requires_chromium,
    wait_for_graph,
    wait_for_table,
)
from tests.dashboard.conftest import dashboard_plan

pytestmark = [requires_chromium, pytest.mark.timeout(600)]

STATES = [
    "succeeded",
    "failed",
    "aborted",
    "interrupted",
    "compensated",
    "compensation_failed",
    "stopped",
    "running",
]
# Node statuses a person must see on the graph for each run (beyond the generic checks).
NODE_STATUSES: dict[str, dict[str, str]] = {
    "succeeded": {"route.never": "skipped", "flaky": "ok"},
    "failed": {"first": "ok", "broken": "failed", "never": "skipped"},
    "aborted": {"first": "ok", "gone": "failed"},
    "interrupted": {"first": "ok", "wait_1": "cancelled", "after": "skipped"},
    "compensated": {
        "ship": "failed",
        "charge_payment.compensate": "ok",
        "create_order.compensate": "ok",
    },
    "compensation_failed": {
        "ship": "failed",
        "charge_payment.compensate": "failed",
        "create_order.compensate": "ok",
    },
    "stopped": {"first": "ok", "second": "cancelled"},  # stopped before its request
    "running": {"first": "ok", "after": "pending"},  # and one wait_N running
}


def failing_plan(base_url: str) -> dict[str, Any]:
    """A step answers 500 through its retries: the run fails, the step after never runs."""
    return {
        "key": "run-states-failing",
        "config": {"base_url": base_url},
        "steps": [
            {"name": "first", "url": "{config.base_url}/items/1"},
            {
                "name": "broken",
                "url": "{config.base_url}/status/500",
                "retry": {"max_attempts": 2, "base_seconds": 0.05},
            },
            {"name": "never", "url": "{config.base_url}/items/2"},
        ],
    }


def aborting_plan(base_url: str) -> dict[str, Any]:
    """A 404 listed in ``abort_on`` stops the run."""
    return {
        "key": "run-states-aborting",
        "config": {"base_url": base_url},
        "steps": [
            {"name": "first", "url": "{config.base_url}/items/1"},
            {"name": "gone", "url": "{config.base_url}/status/404", "abort_on": [404]},
        ],
    }


def waiting_plan(base_url: str, key: str, waits: int = 1) -> dict[str, Any]:
    """A quick step, then ``waits`` steps of 25 s each (within their timeout), then one."""
    return {
        "key": key,
        "config": {"base_url": base_url},
        "steps": [
            {"name": "first", "url": "{config.base_url}/items/1"},
            *[
                {
                    "name": f"wait_{i}",
                    "url": "{config.base_url}/slow",
                    "params": {"delay": 25},
                    "timeout_seconds": 60,
                }
                for i in range(1, waits + 1)
            ],
            {"name": "after", "url": "{config.base_url}/items/2"},
        ],
    }


def saga_plan(base_url: str) -> dict[str, Any]:
    """Order, payment (each with a compensation), shipment: a failed shipment rolls back."""
    return {
        "key": "run-states-saga",
        "config": {"base_url": base_url},
        "steps": [
            {
                "name": "create_order",
                "method": "POST",
                "url": "{config.base_url}/orders",
                "body": {"sku": "book", "qty": 1},
                "compensate": {
                    "method": "DELETE",
                    "url": "{config.base_url}/orders/{steps.create_order.body.id}",
                },
            },
            {
                "name": "charge_payment",
                "method": "POST",
                "url": "{config.base_url}/payments",
                "body": {"order": "{steps.create_order.body.id}", "amount": 12.5},
                "compensate": {
                    "method": "DELETE",
                    "url": "{config.base_url}/payments/{response.body.id}",
                    "retry": {"max_attempts": 2, "base_seconds": 0},
                },
            },
            {
                "name": "ship",
                "method": "POST",
                "url": "{config.base_url}/shipments",
                "body": {"order": "{steps.create_order.body.id}"},
                "retry": {"max_attempts": 1},
            },
        ],
    }


def fail_switch(api: DemoAPI, prefix: str, status: int = 500, methods: list[str] | None = None):
    body: dict[str, Any] = {"path_prefix": prefix, "status": status}
    if methods:
        body["methods"] = methods
    assert httpx.post(f"{api.url}/fail-switch", json=body).status_code == 200


def saga_run(api: DemoAPI, path: Path, *, compensation_fails: bool) -> str:
    api.reset()
    fail_switch(api, "/shipments")
    if compensation_fails:
        fail_switch(api, "/payments/", status=503, methods=["DELETE"])
    result = orchestra.run(saga_plan(api.url), db=path)
    api.reset()
    return result.run_id


def stopped_run(api: DemoAPI, path: Path) -> str:
    """A debug session paused at a breakpoint on ``second``, then stopped there."""
    plan = orchestra.load_plan(
        {
            "key": "run-states-debug",
            "config": {"base_url": api.url},
            "steps": [
                {"name": "first", "url": "{config.base_url}/items/1"},
                {"name": "second", "url": "{config.base_url}/items/2"},
            ],
        }
    )

    async def session() -> str:
        paused = asyncio.Event()
        debugger = Debugger(
            [Breakpoint.parse("second")],
            roots=[node.path for node in plan.steps],
            on_pause=lambda _: paused.set(),
        )
        runner = orchestra.Runner(
            plan,
            hooks=[debugger],
            subscribers=[debugger, CaptureStore(path).writer()],
            mode="debug",
        )
        task = asyncio.ensure_future(runner.run())
        await asyncio.wait_for(paused.wait(), 30)
        runner.stop()
        result = await asyncio.wait_for(task, 30)
        return result.run_id

    return asyncio.run(session())


def cli_run(plan: dict[str, Any], path: Path, plan_file: Path) -> subprocess.Popen[str]:
    """``orchestra run PLAN --db PATH`` in its own process, started once its first step is in."""
    plan_file.write_text(json.dumps(plan))
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestra", "run", str(plan_file), "--db", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not captured_first_step(path, plan["key"]):
        if process.poll() is not None:
            raise AssertionError(f"orchestra run ended early: {process.communicate()[0]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("the run's first step did not reach the file in 60 s")
        time.sleep(0.2)
    return process


def captured_first_step(path: Path, plan_key: str) -> bool:
    if not path.exists():
        return False
    with CaptureStore(path).read() as db:
        runs = db.runs(plan_key=plan_key, limit=1)
        if not len(runs):
            return False
        steps = db.step_statistics(str(runs["run_id"].iloc[0]))
    return bool(len(steps)) and "first" in set(steps["step_path"])


def newest_of(path: Path, plan_key: str) -> str:
    with CaptureStore(path).read() as db:
        return str(db.runs(plan_key=plan_key, limit=1)["run_id"].iloc[0])


@dataclass
class Runs:
    path: Path
    ids: dict[str, str]  # run status -> run id


@pytest.fixture(scope="module")
def runs(demo_api_server: DemoAPI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    api = demo_api_server
    api.reset()
    folder = tmp_path_factory.mktemp("run-states")
    path = folder / "capture.duckdb"
    ids: dict[str, str] = {}
    for plan in (dashboard_plan, failing_plan, aborting_plan):
        result = orchestra.run(plan(api.url), db=path)
        ids[str(result.status)] = result.run_id
    interrupted = cli_run(waiting_plan(api.url, "run-states-interrupted"), path,
                          folder / "interrupted.json")  # fmt: skip
    interrupted.send_signal(signal.SIGINT)
    output = interrupted.communicate(timeout=60)[0]
    ids["interrupted"] = newest_of(path, "run-states-interrupted")
    ids["compensated"] = saga_run(api, path, compensation_fails=False)
    ids["compensation_failed"] = saga_run(api, path, compensation_fails=True)
    ids["stopped"] = stopped_run(api, path)
    running = cli_run(  # 30 steps of 25 s: it runs longer than the module's tests
        waiting_plan(api.url, "run-states-running", waits=30), path, folder / "running.json"
    )
    ids["running"] = newest_of(path, "run-states-running")
    try:
        with CaptureStore(path).read() as db:
            statuses = {state: db.run(run_id)["status"] for state, run_id in ids.items()}
        assert statuses == {state: state for state in STATES}, output
        yield Runs(path, ids)
    finally:
        running.kill()
        running.wait(30)


@dataclass
class Served:
    page: Any
    log: Path
    errors: list[str]


@pytest.fixture(scope="module")
def served(runs: Runs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    log = tmp_path_factory.mktemp("serve") / "panel-serve.log"
    with panel_serve(runs.path, log) as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))

        def on_console(message: Any) -> None:
            if message.type == "error":
                errors.append(f"console: {message.text}")

        page.on("console", on_console)
        page.goto(url)
        wait_for_graph(page)
        yield Served(page, log, errors)
        context.close()


# Where a node is drawn, after scrolling it into view as a person would: the graph's own
# scrolling box first (a tall graph scrolls inside its card), then the window.
NODE_IN_VIEW_JS = """(path) => {
  const doc = Bokeh.documents[0];
  const source = doc.get_model_by_name('flow-graph-nodes');
  const view = Bokeh.index.find_one(doc.get_model_by_name('flow-graph'));
  const index = source.data.path.indexOf(path);
  if (index < 0) return null;
  const where = () => {
    const canvas = (view.canvas_view ?? view).el.getBoundingClientRect();
    return {x: canvas.left + view.frame.x_scale.compute(source.data.x[index]),
            y: canvas.top + view.frame.y_scale.compute(source.data.y[index])};
  };
  for (let el = view.el; el; el = el.parentElement ?? el.getRootNode().host ?? null) {
    const overflow = getComputedStyle(el).overflowY;
    if (/(auto|scroll)/.test(overflow) && el.scrollHeight > el.clientHeight) {
      const box = el.getBoundingClientRect();
      el.scrollTop += where().y - (box.top + box.height / 2);
    }
  }
  window.scrollBy(0, where().y - window.innerHeight / 2);
  return where();
}"""


@dataclass
class Expected:
    """What the views must show for a run, read from the file through the read API."""

    run: dict[str, Any]
    steps: dict[str, dict[str, Any]]  # step path -> its statistics row
    records: dict[str, int]  # step path -> records it emitted
    totals: dict[str, Any]
    errors: int

    @property
    def requests(self) -> int:
        return int(self.totals["requests"])


def expected(path: Path, run_id: str) -> Expected:
    with CaptureStore(path).read() as db, db.snapshot():
        run = db.run(run_id)
        stats = db.step_statistics(run_id)
        records = db.records_by_step(run_id)
        totals = db.statistics(run_id).totals
        errors = db.error_counts([run_id])[run_id]
    assert run is not None
    steps = {row["step_path"]: row for row in stats.to_dict("records")}
    return Expected(run, steps, records, totals, errors)


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {timeout} s")
        time.sleep(0.2)


def number(text: str | None) -> int:
    return int((text or "0").strip().replace(",", ""))


def step_table(page: Any) -> dict[str, tuple[str, int, int]]:
    """Step path -> (status, requests, records) as the step table shows them."""
    rows = page.locator(".orchestra-steps .tabulator-row")
    table = {}
    for i in range(rows.count()):
        row = rows.nth(i)

        def text(field: str, row: Any = row) -> str:
            return row.locator(f"[tabulator-field={field}]").text_content() or ""

        table[text("step_path")] = (
            text("status"),
            number(text("requests")),
            number(text("records")),
        )
    return table


def run_list_row(page: Any, run_id: str) -> dict[str, str]:
    row = page.locator(".orchestra-runs .tabulator-row", has_text=run_id).first
    return {
        field: (row.locator(f"[tabulator-field={field}]").text_content() or "").strip()
        for field in ("status", "requests", "errors", "duration")
    }


def metric(page: Any, key: str) -> int:
    return number(page.locator(f".orchestra-metric-{key} .value").text_content())


def node_status_from(row: dict[str, Any] | None, running: bool) -> str:
    """The status a node must show, from its statistics row (worst first)."""
    if row is None:
        return "pending" if running else "skipped"
    if running and row["running"]:
        return "running"
    for column, status in (("failed", "failed"), ("cancelled", "cancelled"), ("ok", "ok"),
                           ("skipped", "skipped")):  # fmt: skip
        if row[column]:
            return status
    return ("running" if running else "cancelled") if row["requests"] else "skipped"


def shows_the_run(page: Any, path: Path, run_id: str, status: str) -> list[str]:
    """What differs between the page and the file for this run (empty when all agree)."""
    want = expected(path, run_id)
    running = status == "running"
    problems = []
    summary = page.locator(".orchestra-run-summary").evaluate(  # its text is in a shadow root
        "e => Array.from((e.shadowRoot ?? e).children)"
        ".filter(c => c.tagName !== 'STYLE').map(c => c.textContent).join('')"
    )
    requests = page.locator(".orchestra-run-summary .orchestra-run-requests").text_content()
    for text in (run_id, status, f"{want.errors:,} errors",
                 f"{int(want.totals['records']):,} records"):  # fmt: skip
        if text not in summary:
            problems.append(f"header lacks {text!r}: {summary!r}")
    if number(requests) != want.requests:
        problems.append(f"header requests {requests} != {want.requests}")
    row = run_list_row(page, run_id)
    if (row["status"], number(row["requests"]), number(row["errors"])) != (
        status,
        want.requests,
        want.errors,
    ):
        problems.append(f"run list row {row} != {status}, {want.requests}, {want.errors}")
    nodes = model_data(page, "flow-graph-nodes") or {"path": [], "requests": [], "status": []}
    graph = {p: (s, r) for p, s, r in zip(nodes["path"], nodes["status"], nodes["requests"],
                                          strict=True)}  # fmt: skip
    for step, stats in want.steps.items():
        if graph.get(step, (None, None))[1] != stats["requests"]:
            problems.append(f"graph node {step}: {graph.get(step)} != {stats['requests']} requests")
    for step, (shown, _) in graph.items():
        must = node_status_from(want.steps.get(step), running)
        if shown != must and not (running and must == "pending" and shown == "running"):
            problems.append(f"graph node {step} is {shown}, the file says {must}")
    table = step_table(page)
    if set(table) != set(graph):
        problems.append(f"step table paths {sorted(table)} != graph {sorted(graph)}")
    for step, (shown_status, shown_requests, shown_records) in table.items():
        stats = want.steps.get(step)
        must = (graph.get(step, ("?",))[0], stats["requests"] if stats else 0,
                want.records.get(step, 0))  # fmt: skip
        if (shown_status, shown_requests, shown_records) != must:
            problems.append(f"step table {step}: {table[step]} != {must}")
    for key in ("requests", "failed_requests", "errors", "records", "retries"):
        value = want.errors if key == "errors" else int(want.totals[key])
        if metric(page, key) != value:
            problems.append(f"metric {key}: {metric(page, key)} != {value}")
    return problems


@pytest.mark.parametrize("status", STATES)
def test_each_run_displays_the_same_in_every_view_and_clicks_are_clean(
    served: Served, runs: Runs, status: str
) -> None:
    from playwright.sync_api import expect

    page, run_id = served.page, runs.ids[status]
    page.locator(".orchestra-runs .tabulator-row", has_text=run_id).click()
    summary = page.locator(".orchestra-run-summary")
    expect(summary).to_contain_text(run_id, timeout=30_000)

    problems: list[str] = []

    def agrees() -> bool:  # read again each time: the running run moves
        problems[:] = shows_the_run(page, runs.path, run_id, status)
        return not problems

    try:
        wait_until(agrees, f"every view of the {status} run agreeing with the file")
    except AssertionError:
        raise AssertionError("\n".join(problems)) from None

    run = expected(runs.path, run_id).run
    if run.get("error"):
        expect(summary).to_contain_text(str(run["error"])[:60])
    nodes = model_data(page, "flow-graph-nodes")
    assert nodes is not None
    shown = dict(zip(nodes["path"], nodes["status"], strict=True))
    assert {p: shown.get(p) for p in NODE_STATUSES[status]} == NODE_STATUSES[status]
    if status == "running":
        assert [s for p, s in shown.items() if p.startswith("wait_")].count("running") == 1
        assert run_list_row(page, run_id)["duration"] != ""  # the time so far
    else:
        assert "pending" not in shown.values() and "running" not in shown.values()
        assert run_list_row(page, run_id)["duration"] != ""
    assert all(isinstance(error, str) for error in nodes["error"])

    # click the first exchange of the run's list (once the list is this run's): the
    # inspector shows it, the waterfall highlights it
    with CaptureStore(runs.path).read() as db:
        first, total = db.exchange_page(run_id, None, offset=0, limit=1)
    exchange_id = int(first["exchange_id"].iloc[0])
    expect(page.locator(".orchestra-page")).to_contain_text(f"of {total:,}", timeout=15_000)
    row = page.locator(".orchestra-exchanges .tabulator-row").first
    expect(row.locator("[tabulator-field=exchange_id]")).to_have_text(str(exchange_id))
    wait_for_table(page, "orchestra-exchanges")  # a click during its row update is ignored
    row.click()
    expect(page.locator(".orchestra-request")).to_contain_text(
        f"Request #{exchange_id}", timeout=15_000
    )

    def waterfall_highlights_it() -> bool:
        bars = model_data(page, "waterfall-bars") or {"exchange_id": []}
        selected = page.evaluate(
            "() => Array.from(Bokeh.documents[0].get_model_by_name('waterfall-bars')"
            ".selected.indices)"
        )
        ids = bars["exchange_id"]
        return exchange_id in ids and selected == [ids.index(exchange_id)]

    wait_until(waterfall_highlights_it, "the waterfall's highlight of the clicked exchange")

    # click the graph node of the (first) step with the most requests: the step table follows
    want = expected(runs.path, run_id)
    busiest = max(want.steps, key=lambda p: want.steps[p]["requests"])  # the first of the most
    position = page.evaluate(NODE_IN_VIEW_JS, busiest)
    assert 0 < position["y"] < page.viewport_size["height"], position
    page.mouse.click(position["x"], position["y"])
    expect(page.locator(".orchestra-steps .tabulator-selected")).to_contain_text(
        busiest, timeout=15_000
    )

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{status}-run.png"), full_page=True)
    assert served.errors == []
    log = served.log.read_text()
    assert "Traceback" not in log and "ERROR" not in log, log[-4000:]
