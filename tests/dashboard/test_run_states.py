"""Every run state displays in a real browser, and a click on an exchange is clean.

One capture file holds a succeeded, a failed (a step's 500 after its retries)
and an aborted (``abort_on``) run of the demo API. For each, the run is
picked in the run picker as a user does, and the header, the step table and
the flow graph must show that run's numbers as the capture's read API gives
them; then an exchange row is clicked and the waterfall must highlight that
exchange. No console error, no page error and no traceback in the
``panel serve`` log are allowed. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import orchestra
from orchestra.capture import CaptureStore
from orchestra.demo import DemoAPI
from tests.dashboard._browser import (
    ARTIFACTS,
    chromium,
    model_data,
    panel_serve,
    requires_chromium,
    wait_for_graph,
)
from tests.dashboard.conftest import dashboard_plan

pytestmark = [requires_chromium, pytest.mark.timeout(300)]

STATES = ["succeeded", "failed", "aborted"]


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


@dataclass
class Runs:
    path: Path
    ids: dict[str, str]  # run status -> run id


@pytest.fixture(scope="module")
def runs(demo_api_server: DemoAPI, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    demo_api_server.reset()
    path = tmp_path_factory.mktemp("run-states") / "capture.duckdb"
    ids: dict[str, str] = {}
    for plan in (dashboard_plan, failing_plan, aborting_plan):  # the aborted run is the newest
        result = orchestra.run(plan(demo_api_server.url), db=path)
        ids[str(result.status)] = result.run_id
    assert sorted(ids) == sorted(STATES)
    return Runs(path, ids)


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


def expected(path: Path, run_id: str) -> tuple[dict[str, Any], dict[str, int]]:
    """The run's row and its requests per step path, from the file through the read API."""
    with CaptureStore(path).read() as db:
        run = db.run(run_id)
        stats = db.step_statistics(run_id)
    assert run is not None
    requests = dict(zip(stats["step_path"], stats["requests"].astype(int), strict=True))
    return run, requests


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {timeout} s")
        time.sleep(0.2)


def step_rows(page: Any) -> dict[str, int]:
    rows = page.locator(".orchestra-steps .tabulator-row")
    return {
        rows.nth(i).locator("[tabulator-field=step_path]").text_content(): int(
            rows.nth(i).locator("[tabulator-field=requests]").text_content()
        )
        for i in range(rows.count())
    }


@pytest.mark.parametrize("status", STATES)
def test_each_run_displays_and_an_exchange_click_is_clean(
    served: Served, runs: Runs, status: str
) -> None:
    from playwright.sync_api import expect

    page, run_id = served.page, runs.ids[status]
    run, requests = expected(runs.path, run_id)
    page.locator(".orchestra-runs .tabulator-row", has_text=run_id).click()

    summary = page.locator(".orchestra-run-summary")
    expect(summary).to_contain_text(run_id, timeout=30_000)
    expect(summary).to_contain_text(status)
    expect(summary).to_contain_text(f"{run['requests']} requests")
    if run.get("error"):
        expect(summary).to_contain_text(str(run["error"])[:60])

    def graph_is_this_run() -> bool:
        nodes = model_data(page, "flow-graph-nodes") or {"path": [], "requests": []}
        shown = dict(zip(nodes["path"], nodes["requests"], strict=True))
        return set(requests) <= set(shown) and all(shown[p] == n for p, n in requests.items())

    wait_until(graph_is_this_run, f"the graph of the {status} run")
    nodes, edges = model_data(page, "flow-graph-nodes"), model_data(page, "flow-graph-edges")
    assert nodes is not None and edges is not None
    assert len(edges["xs"]) == len(nodes["path"]) - 1 or status == "succeeded"
    if status != "succeeded":
        failed = nodes["path"].index("broken" if status == "failed" else "gone")
        assert nodes["status"][failed] == "failed"
        assert nodes["error"][failed].startswith("step '")
        assert all(isinstance(error, str) for error in nodes["error"])

    wait_until(lambda: set(step_rows(page)) == set(nodes["path"]), "the step table")
    shown = step_rows(page)
    assert {path: shown[path] for path in requests} == requests
    assert all(shown[path] == 0 for path in set(shown) - set(requests))

    row = page.locator(".orchestra-exchanges .tabulator-row").first
    exchange_id = int(row.locator("[tabulator-field=exchange_id]").text_content())
    row.click()
    expect(page.locator(".orchestra-request")).to_contain_text(f"Request #{exchange_id}")

    def waterfall_highlights_it() -> bool:
        bars = model_data(page, "waterfall-bars") or {"exchange_id": []}
        selected = page.evaluate(
            "() => Array.from(Bokeh.documents[0].get_model_by_name('waterfall-bars')"
            ".selected.indices)"
        )
        ids = bars["exchange_id"]
        return exchange_id in ids and selected == [ids.index(exchange_id)]

    wait_until(waterfall_highlights_it, "the waterfall's highlight of the clicked exchange")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{status}-run.png"), full_page=True)
    assert served.errors == []
    log = served.log.read_text()
    assert "Traceback" not in log and "ERROR" not in log, log[-4000:]
