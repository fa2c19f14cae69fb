"""``orchestra dashboard`` in Chromium: every page shows its own run, however it was built.

The served page's HTML comes from a kept template session (Panel's
``reuse_sessions="warm"``) and each tab's Dashboard is made in a worker thread before
its document (``dashboard/_serving.py``). What a person must never see from that: a
page showing another tab's run (the template's, or the previous page's), a Builder tab
that does not open, an error in the console or a traceback in the server's log.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard._browser import (
    APP,
    ARTIFACTS,
    chromium,
    click_row,
    free_port,
    listening_server,
    model_data,
    requires_chromium,
    wait_for_graph,
)
from tests.dashboard._runs_pair import PairRuns, make_runs

pytestmark = [requires_chromium, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def pair(demo_api_server: Any, tmp_path_factory: pytest.TempPathFactory) -> PairRuns:
    demo_api_server.reset()
    return make_runs(demo_api_server, tmp_path_factory.mktemp("pages"))


@pytest.fixture(scope="module")
def server(pair: PairRuns, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``orchestra dashboard --db-from-url`` (each tab names its run in its URL)."""
    log = tmp_path_factory.mktemp("serve") / "orchestra-dashboard.log"
    port = free_port()
    command = [sys.executable, "-m", "orchestra", "dashboard", "--db", str(pair.path),
               "--port", str(port), "--db-from-url"]  # fmt: skip
    with listening_server(command, port, log, "orchestra dashboard"):
        yield f"http://127.0.0.1:{port}/", log


def requests_of(pair: PairRuns, run_id: str) -> int:
    import duckdb

    with duckdb.connect(str(pair.path), read_only=True) as db:
        row = db.execute("select count(*) from exchanges where run_id = ?", [run_id]).fetchone()
    assert row is not None
    return int(row[0])


def assert_no_server_error(log: Path) -> None:
    text = log.read_text()
    assert "Traceback" not in text and "ERROR" not in text, text[-4000:]


def open_page(browser: Any, url: str, errors: list[str]) -> Any:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            errors.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    page.goto(url, timeout=120_000)
    wait_for_graph(page)
    return page


def shows_run(page: Any, run_id: str, requests: int) -> None:
    from playwright.sync_api import expect

    expect(page.locator(".orchestra-run-summary")).to_contain_text(run_id, timeout=30_000)
    page.wait_for_function(
        """([expected]) => {
          const d = Bokeh.documents[0];
          const nodes = d.get_model_by_name('flow-graph-nodes');
          return nodes && Array.from(nodes.data.requests).reduce((a, b) => a + b, 0) === expected;
        }""",
        arg=[requests],
        timeout=30_000,
    )


def test_pages_one_after_another_each_show_the_run_their_url_names(
    server: tuple[str, Path], pair: PairRuns
) -> None:
    url, log = server
    errors: list[str] = []
    # the first page makes the template session; the next ones are built from it, in the
    # order A, failed, B, A: none may show the run of the page before it
    order = [pair.a, pair.failed, pair.b, pair.a]
    with chromium() as browser:
        for number, run_id in enumerate(order):
            page = open_page(browser, f"{url}?db={pair.path}&run={run_id}", errors)
            shows_run(page, run_id, requests_of(pair, run_id))
            # the page spun (Panel's loading spinner) until its document was drawn
            assert "pn-loading" not in page.evaluate("document.body.className")
            graph = model_data(page, "flow-graph-nodes")
            assert graph is not None  # only the failed run has the failing step
            assert any("broken" in path for path in graph["path"]) == (run_id == pair.failed)
            if number == len(order) - 1:
                page.screenshot(path=str(ARTIFACTS / "orchestra-dashboard-page.png"))
            page.context.close()
    assert errors == []
    assert_no_server_error(log)


def test_the_page_spins_until_its_document_is_drawn(server: tuple[str, Path], pair: PairRuns):
    import httpx

    url, _ = server
    html = httpx.get(url, timeout=60).text
    assert '<body class="pn-loading' in html  # removed by the document's document_ready


def test_the_builder_tab_is_made_when_first_opened(server: tuple[str, Path], pair: PairRuns):
    url, log = server
    errors: list[str] = []
    with chromium() as browser:
        page = open_page(browser, f"{url}?db={pair.path}&run={pair.b}", errors)
        assert page.locator(".orchestra-builder").count() == 0  # not made with the page
        page.get_by_text("Builder", exact=True).first.click()
        page.locator(".orchestra-builder").wait_for(timeout=60_000)
        page.locator(".orchestra-builder-tree select").wait_for(timeout=30_000)
        page.get_by_text("Runs", exact=True).first.click()
        shows_run(page, pair.b, requests_of(pair, pair.b))
        page.screenshot(path=str(ARTIFACTS / "orchestra-dashboard-builder-tab.png"))
        page.context.close()
    assert errors == []
    assert_no_server_error(log)


def test_a_page_naming_a_run_that_is_not_there_says_so(server: tuple[str, Path], pair: PairRuns):
    from playwright.sync_api import expect

    url, log = server
    errors: list[str] = []
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
        page.goto(f"{url}?db={pair.path}&run=no-such-run", timeout=120_000)
        alert = page.locator(".alert-danger", has_text="no-such-run")
        expect(alert).to_contain_text("Could not open the run", timeout=60_000)
        context.close()
    assert errors == []
    assert "Traceback" not in log.read_text()


def test_panel_serve_with_reused_sessions_loads_nothing_from_outside(
    pair: PairRuns, tmp_path: Path
) -> None:
    """``panel serve app.py --reuse-sessions warm --warm``: a reused session's stylesheets
    come from this server (Panel would name cdn.holoviz.org: a console error offline)."""
    log = tmp_path / "dashboard-server.log"
    port = free_port()
    command = [sys.executable, "-m", "panel", "serve", str(APP), "--address", "127.0.0.1",
               "--port", str(port), "--allow-websocket-origin", f"127.0.0.1:{port}",
               "--reuse-sessions", "warm", "--warm", "--args", "--db", str(pair.path)]  # fmt: skip
    errors: list[str] = []
    outside: list[str] = []  # requests to anywhere but this server
    ours = (f"http://127.0.0.1:{port}/", f"ws://127.0.0.1:{port}/", "blob:", "data:")
    with listening_server(command, port, log, "panel serve"), chromium() as browser:
        for _ in range(2):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.on("request", lambda request: outside.append(request.url))
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"http://127.0.0.1:{port}/app", timeout=120_000)
            wait_for_graph(page)
            shows_run(page, pair.failed, requests_of(pair, pair.failed))  # the newest run
            context.close()
    assert [url for url in outside if not url.startswith(ours)] == [] and errors == []
    assert "Traceback" not in log.read_text()


# Each model's stylesheet models (their ids), by the model's id.
STYLESHEETS_JS = """() => Object.fromEntries([...Bokeh.documents[0]._all_models.values()]
  .filter((m) => Array.isArray(m.stylesheets))
  .map((m) => [m.id, m.stylesheets.filter((s) => typeof s !== 'string').map((s) => s.id)]))"""


def test_a_run_switch_keeps_each_panes_stylesheets(server: tuple[str, Path], pair: PairRuns):
    """Once the browser reported its address, Panel dropped the session's stylesheet
    models, and each pane's next update sent new ones (Bokeh walking the whole document
    after each, the browser restyling the pane): a page's first run switch did that for
    every pane it changed. The page gets its models back once drawn (_serving)."""
    from playwright.sync_api import expect

    url, log = server
    errors: list[str] = []
    with chromium() as browser:
        page = open_page(browser, f"{url}?db={pair.path}&run={pair.a}", errors)
        shows_run(page, pair.a, requests_of(pair, pair.a))
        before = page.evaluate(STYLESHEETS_JS)
        assert sum(map(len, before.values())) > 50, before  # the page's panes have some
        summary = page.locator(".orchestra-run-summary")
        click_row(
            page,
            page.locator(".orchestra-runs .tabulator-row", has_text=pair.failed),
            "orchestra-runs",
            lambda ms: expect(summary).to_contain_text(pair.failed, timeout=ms),
        )
        shows_run(page, pair.failed, requests_of(pair, pair.failed))
        after = page.evaluate(STYLESHEETS_JS)
        assert [m for m in before if m in after and after[m] != before[m]] == []
        page.context.close()
    assert errors == []
    assert_no_server_error(log)
