"""The served dashboard in a real browser: graph, tables, inspector, a click on a graph node.

One ``orchestra dashboard`` and one Chromium serve every test of this module (the
machines have two cores). The page is read as a user sees it: Tabulator cells,
the run summary and the Bokeh models the browser holds; the node is clicked on
the canvas at the pixel the figure's scales give for it. A full-page
screenshot is saved to ``test-artifacts/dashboard.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dashboard._browser import (
    ARTIFACTS,
    NODE_POSITION_JS,
    chromium,
    model_data,
    requires_chromium,
    serve_dashboard,
    wait_for_graph,
)
from tests.dashboard.conftest import STEP_REQUESTS, TOTAL_REQUESTS, Captured

pytestmark = [requires_chromium, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def page(captured: Captured, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    log = tmp_path_factory.mktemp("serve") / "dashboard-server.log"
    with serve_dashboard(captured.path, log) as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)
        wait_for_graph(page)
        page.errors = errors
        yield page
        context.close()


def cell(page: Any, table: str, row_text: str, field: str) -> str:
    row = page.locator(f".{table} .tabulator-row", has_text=row_text).first
    return row.locator(f"[tabulator-field={field}]").text_content().strip()


def test_graph_tables_and_metrics_render_with_the_run_numbers(page, captured):
    from playwright.sync_api import expect

    expect(page.locator(".orchestra-runs .tabulator-row")).to_have_count(1)
    assert cell(page, "orchestra-runs", captured.run_id, "status") == "succeeded"
    assert cell(page, "orchestra-runs", captured.run_id, "requests") == str(TOTAL_REQUESTS)
    expect(page.locator(".orchestra-run-summary")).to_contain_text(f"{TOTAL_REQUESTS} requests")

    nodes = model_data(page, "flow-graph-nodes")
    assert nodes["path"] == list(STEP_REQUESTS)
    assert dict(zip(nodes["path"], nodes["requests"], strict=True)) == STEP_REQUESTS
    assert nodes["status"][nodes["path"].index("route.never")] == "skipped"
    assert nodes["subtitle"][nodes["path"].index("items.detail")].startswith("10 req")

    expect(page.locator(".orchestra-steps .tabulator-row")).to_have_count(len(STEP_REQUESTS))
    for path, requests in STEP_REQUESTS.items():
        row = page.locator(".orchestra-steps .tabulator-row").nth(list(STEP_REQUESTS).index(path))
        assert row.locator("[tabulator-field=step_path]").text_content() == path
        assert row.locator("[tabulator-field=requests]").text_content() == str(requests)
    assert cell(page, "orchestra-steps", "flaky", "retries") == "2"

    expect(page.locator(".orchestra-page")).to_contain_text(f"1-18 of {TOTAL_REQUESTS}")
    bars = model_data(page, "waterfall-bars")
    assert len(bars["exchange_id"]) == TOTAL_REQUESTS
    assert bars["cls"].count("5xx") == 2
    expect(page.locator(".orchestra-metric-requests")).to_contain_text(str(TOTAL_REQUESTS))
    expect(page.locator(".orchestra-metric-retries")).to_contain_text("2")
    expect(page.locator(".orchestra-latency tbody tr")).to_have_count(
        sum(1 for n in STEP_REQUESTS.values() if n)
    )
    assert page.errors == []


def test_clicking_a_graph_node_makes_the_inspector_follow(page, captured):
    from playwright.sync_api import expect

    position = page.evaluate(NODE_POSITION_JS, "flaky")
    page.mouse.click(position["x"], position["y"])  # on the canvas, where the node is drawn
    expect(page.locator(".orchestra-page")).to_contain_text("1-3 of 3", timeout=15_000)
    expect(page.locator(".orchestra-steps .tabulator-selected")).to_contain_text("flaky")
    selected = page.evaluate(
        "() => Array.from(Bokeh.documents[0].get_model_by_name('flow-graph-nodes')"
        ".selected.indices)"
    )
    assert selected == [list(STEP_REQUESTS).index("flaky")]
    attempts = page.locator(".orchestra-exchanges .tabulator-row [tabulator-field=attempt]")
    expect(attempts).to_have_text(["1", "2", "3"])

    page.locator(".orchestra-exchanges .tabulator-row", has_text="503").nth(1).click()
    expect(page.locator(".orchestra-response-status")).to_contain_text("503")
    expect(page.locator(".orchestra-request-line")).to_contain_text("attempt 2")
    curl = page.locator(".orchestra-curl textarea")
    expect(curl).to_have_value(re.compile(r"^# flaky page 1 attempt 2 -> 503\ncurl -X GET "))
    assert f"'{captured.base_url}/flaky/dashboard?fail=2'" in curl.input_value()
    page.locator(".orchestra-copy-curl button").click()
    expect(page.locator(".orchestra-copy-curl button")).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == curl.input_value()

    position = page.evaluate(NODE_POSITION_JS, "items.detail")
    page.mouse.click(position["x"], position["y"])
    expect(page.locator(".orchestra-page")).to_contain_text("1-10 of 10", timeout=15_000)
    page.locator(".orchestra-exchanges .tabulator-row").first.click()
    # the JSON tree; a click may take seconds on a loaded machine
    expect(page.locator(".orchestra-response")).to_contain_text("detail", timeout=15_000)
    expect(page.locator(".orchestra-response")).to_contain_text("200")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 50_000
    assert page.errors == []


# Three layout requests in one task (as one patch message makes them) cost one whole-page
# layout, run before the task ends; without dashboard/_coalesce.py each costs one.
LAYOUTS_JS = """async () => {
  const roots = Bokeh.index.roots.filter((root) => root._orchestra_coalesced);
  if (roots.length !== 1) return {coalesced: roots.length};
  const root = roots[0], compute = root.compute_layout;
  let layouts = 0;
  root.compute_layout = function () { layouts += 1; return compute.call(this); };
  try {
    root.invalidate_layout(); root.invalidate_layout(); root.invalidate_layout();
    const before = layouts;
    await Promise.resolve();
    return {coalesced: 1, before, after: layouts};
  } finally { root.compute_layout = compute; }
}"""


def test_the_page_lays_itself_out_once_per_batch_of_updates(page):
    assert page.evaluate(LAYOUTS_JS) == {"coalesced": 1, "before": 0, "after": 1}
    assert page.errors == []
