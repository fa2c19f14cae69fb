"""The exchange list of a big run: every filter, the body search, sorting and page jumps.

One real demo-API run holds a paged list with a fanout, a retried step, an
ignored 404, a transport error, a 1.1 MB JSON body, XML, CSV and binary
bodies. Each read of the list through the capture read API is compared with
plain SQL over the same file (what a user could check with ``duckdb``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

import orchestra
from orchestra.capture import CaptureStore, ExchangeFilter
from orchestra.dashboard._state import DashboardState
from orchestra.demo import DemoAPI
from tests.dashboard._browser import (
    chromium,
    click_row,
    free_port,
    requires_chromium,
    serve_dashboard,
    wait_for_graph,
)

LARGE_KB = 1100  # a JSON body over a megabyte


def mixed_plan(base_url: str, closed_port: int) -> dict[str, Any]:
    return {
        "key": "exchange-list",
        "config": {"base_url": base_url},
        "steps": [
            {
                "name": "items",
                "url": "{config.base_url}/items",
                "params": {"limit": 15, "offset": "{context.next_offset || `0`}"},
                "context_updates": {"next_offset": "response.body.next_offset"},
                "while": "response.body.next_offset != null && response.body.offset < `5`",
                "emit": False,
                "sub_steps": [
                    {
                        "name": "detail",
                        "iterate_over": "response.body.items",
                        "url": "{config.base_url}/items/{item.id}",
                        "concurrency": 3,
                    }
                ],
            },
            {
                "name": "flaky",
                "url": "{config.base_url}/flaky/exchange-list",
                "params": {"fail": 2},
                "retry": {"max_attempts": 4, "base_seconds": 0.05},
            },
            {"name": "gone", "url": "{config.base_url}/status/404", "ignore_on": [404]},
            {
                "name": "down",
                "url": f"http://127.0.0.1:{closed_port}/nothing",
                "retry": {"max_attempts": 1},
                "on_error": "continue",
            },
            {"name": "large", "url": "{config.base_url}/large", "params": {"kb": LARGE_KB}},
            {"name": "xml", "url": "{config.base_url}/xml"},
            {"name": "csv", "url": "{config.base_url}/csv"},
            {"name": "binary", "url": "{config.base_url}/binary"},
        ],
    }


@dataclass
class Mixed:
    path: Path
    run_id: str
    base_url: str


@pytest.fixture(scope="module")
def mixed(demo_api_server: DemoAPI, tmp_path_factory: pytest.TempPathFactory) -> Mixed:
    """A capture of one run of :func:`mixed_plan` (it ends ``failed``: ``down`` fails)."""
    demo_api_server.reset()
    path = tmp_path_factory.mktemp("exchange-list") / "capture.duckdb"
    result = orchestra.run(mixed_plan(demo_api_server.url, free_port()), db=path)
    return Mixed(path, result.run_id, demo_api_server.url)


def sql_ids(mixed: Mixed, where: str, params: list[Any] | None = None) -> list[int]:
    """Exchange ids matching ``where``, by plain SQL on the file, in id order."""
    with duckdb.connect(str(mixed.path), read_only=True) as db:
        rows = db.execute(
            f"SELECT exchange_id FROM exchanges WHERE run_id = ? AND ({where}) "
            "ORDER BY exchange_id",
            [mixed.run_id, *(params or [])],
        ).fetchall()
    return [row[0] for row in rows]


def listed(mixed: Mixed, filters: ExchangeFilter, **kwargs: Any) -> tuple[list[int], int]:
    with CaptureStore(mixed.path).read() as db:
        page, total = db.exchange_page(mixed.run_id, filters=filters, limit=500, **kwargs)
    return page["exchange_id"].tolist(), total


FILTERS = [
    (ExchangeFilter(status_class="2xx"), "status_code BETWEEN 200 AND 299"),
    (ExchangeFilter(status_class="5xx"), "status_code >= 500"),
    (ExchangeFilter(status_class="4xx"), "status_code BETWEEN 400 AND 499"),
    (ExchangeFilter(status_class="none"), "status_code IS NULL"),
    (ExchangeFilter(status_code=404), "status_code = 404"),
    (ExchangeFilter(error_kind="cannot connect"), "error LIKE 'cannot connect%'"),
    (ExchangeFilter(url="/ITEMS/"), "url ILIKE '%/items/%'"),
    (ExchangeFilter(item_index=3), "item_index = 3"),
    (ExchangeFilter(page=2), "page = 2"),
    (ExchangeFilter(attempt=3), "attempt = 3"),
    (ExchangeFilter(text="<CATALOG"), "response_body ILIKE '%<catalog%'"),
    (ExchangeFilter(url="items", attempt=1, page=1), "url LIKE '%items%' AND page = 1"),
]


@pytest.mark.parametrize(("filters", "where"), FILTERS, ids=[w for _, w in FILTERS])
def test_each_filter_lists_what_sql_finds(mixed, filters, where):
    expected = sql_ids(mixed, where)
    assert expected, f"the run has no exchange where {where}: the case proves nothing"
    assert listed(mixed, filters) == (expected, len(expected))


def test_the_run_has_every_kind_of_exchange_the_filters_need(mixed):
    with CaptureStore(mixed.path).read() as db:
        kinds = db.exchange_error_kinds(mixed.run_id)
        assert db.exchange_count(mixed.run_id) == len(sql_ids(mixed, "true"))
        assert db.exchange_count(mixed.run_id, "items.detail") == 30
    assert kinds == {"cannot connect": 1}


def test_a_search_matches_a_body_ignoring_case_and_skips_base64(mixed):
    with duckdb.connect(str(mixed.path), read_only=True) as db:
        name = db.execute(
            "SELECT json_extract_string(response_body, '$.name') FROM exchanges "
            "WHERE run_id = ? AND step_path = 'items.detail' ORDER BY exchange_id LIMIT 1",
            [mixed.run_id],
        ).fetchone()[0]
        encoded = db.execute(
            "SELECT left(response_body, 12) FROM exchanges WHERE run_id = ? "
            "AND response_body_encoding = 'base64'",
            [mixed.run_id],
        ).fetchone()[0]
    expected = sql_ids(mixed, "response_body ILIKE ?", [f"%{name}%"])
    assert listed(mixed, ExchangeFilter(text=name.upper())) == (expected, len(expected))
    assert listed(mixed, ExchangeFilter(text=encoded)) == ([], 0)


def test_user_text_is_a_parameter_not_sql(mixed):
    hostile = "x') OR 1=1 --"
    assert listed(mixed, ExchangeFilter(url=hostile)) == ([], 0)
    assert listed(mixed, ExchangeFilter(text="%")) == ([], 0)  # no LIKE wildcard either


@pytest.mark.parametrize("column", ["elapsed_ms", "status_code", "url", "response_size"])
def test_sorting_by_a_column_both_ways(mixed, column):
    expression = {"url": "regexp_replace(url, '^[a-zA-Z]+://[^/]+', '')"}.get(column, column)
    for descending in (False, True):
        direction = "DESC" if descending else "ASC"
        with duckdb.connect(str(mixed.path), read_only=True) as db:
            expected = [
                row[0]
                for row in db.execute(
                    f"SELECT exchange_id FROM exchanges WHERE run_id = ? ORDER BY {expression} "
                    f"{direction} NULLS LAST, exchange_id {direction}",
                    [mixed.run_id],
                ).fetchall()
            ]
        sort = f"-{column}" if descending else column
        assert listed(mixed, ExchangeFilter(sort=sort))[0] == expected


def test_a_bad_sort_or_status_class_says_what_is_allowed(mixed):
    with pytest.raises(ValueError, match=r"cannot sort exchanges by 'secret; DROP.*elapsed_ms"):
        listed(mixed, ExchangeFilter(sort="secret; DROP TABLE runs"))
    with pytest.raises(ValueError, match="status class must be one of 1xx, 2xx"):
        ExchangeFilter(status_class="6xx")


def test_pages_and_positions_follow_the_filter_and_the_sort(mixed):
    filters = ExchangeFilter(sort="-elapsed_ms", url="/items")
    everything, total = listed(mixed, filters)
    with CaptureStore(mixed.path).read() as db:
        third, same_total = db.exchange_page(
            mixed.run_id, offset=8, limit=4, filters=filters
        )  # the third page of four
        assert same_total == total
        assert third["exchange_id"].tolist() == everything[8:12]
        for position, exchange_id in enumerate(everything):
            assert db.exchange_position(mixed.run_id, None, exchange_id, filters=filters) == (
                position
            )
        outside = sql_ids(mixed, "url NOT LIKE '%/items%'")[0]
        assert db.exchange_position(mixed.run_id, None, outside, filters=filters) is None


def test_the_full_body_downloads_as_captured(mixed):
    with duckdb.connect(str(mixed.path), read_only=True) as db:
        large, binary = (
            db.execute(
                "SELECT exchange_id, response_body FROM exchanges "
                "WHERE run_id = ? AND step_path = ?",
                [mixed.run_id, step],
            ).fetchone()
            for step in ("large", "binary")
        )
    with CaptureStore(mixed.path).read() as db:
        assert db.exchange_body(mixed.run_id, large[0], "response") == large[1].encode()
        assert len(large[1]) == LARGE_KB * 1024
        assert db.exchange_body(mixed.run_id, binary[0], "response") == bytes(
            (i * 167 + 13) % 256 for i in range(256)
        )
        assert db.exchange_body(mixed.run_id, large[0], "request") is None
        with pytest.raises(ValueError, match="side must be 'request' or 'response'"):
            db.exchange_body(mixed.run_id, large[0], "headers")


def test_the_dashboard_state_reads_the_filtered_page_and_both_counts(mixed):
    state = DashboardState(mixed.path, run=mixed.run_id)
    everything = len(sql_ids(mixed, "true"))
    assert (state.exchange_total, state.exchange_scope_total) == (everything, everything)
    assert state.exchange_error_kinds == {"cannot connect": 1}
    state.exchange_page = 1
    state.exchange_filter = ExchangeFilter(status_class="2xx", sort="-elapsed_ms")
    ok = sql_ids(mixed, "status_code BETWEEN 200 AND 299")
    assert state.exchange_page == 0  # a new filter starts at its first page
    assert (state.exchange_total, state.exchange_scope_total) == (len(ok), everything)
    assert set(state.exchanges["exchange_id"]) <= set(ok)
    times = state.exchanges["elapsed_ms"].tolist()
    assert times == sorted(times, reverse=True)
    state.step_path = "flaky"
    assert (state.exchange_total, state.exchange_scope_total) == (1, 3)
    assert state.exchange_filter.status_class == "2xx"  # a filter outlives a step change


def test_inspecting_a_filtered_out_exchange_clears_the_filter_but_keeps_the_sort(mixed):
    state = DashboardState(mixed.path, run=mixed.run_id)
    state.exchange_filter = ExchangeFilter(status_class="5xx", sort="-exchange_id")
    gone = sql_ids(mixed, "status_code = 404")[0]
    state.select_exchange(gone)
    assert state.exchange_filter == ExchangeFilter(sort="-exchange_id")
    assert state.exchange_id == gone
    assert gone in state.exchanges["exchange_id"].tolist()  # on the page turned to


# -- in a real browser -----------------------------------------------------------------------


def in_browser(test: Any) -> Any:
    return requires_chromium(pytest.mark.timeout(300)(test))


@pytest.fixture(scope="module")
def served(mixed: Mixed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The dashboard over :func:`mixed` in Chromium; the page records errors and traffic."""
    folder = tmp_path_factory.mktemp("served")
    log = folder / "dashboard-server.log"
    with serve_dashboard(mixed.path, log) as url, chromium() as browser:
        context = browser.new_context(
            viewport={"width": 1500, "height": 1100}, accept_downloads=True
        )
        page = context.new_page()
        page.errors = []
        page.received = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on(
            "console",
            lambda message: page.errors.append(message.text) if message.type == "error" else None,
        )
        page.on(
            "websocket",
            lambda socket: socket.on(
                "framereceived", lambda frame: page.received.append(len(frame))
            ),
        )
        page.goto(url, timeout=120_000)  # the machine may be busy with other work
        wait_for_graph(page)
        page.folder, page.log = folder, log
        yield page
        context.close()


@in_browser
def test_filters_in_the_browser_change_the_counts_to_the_sql_numbers(served, mixed):
    from playwright.sync_api import expect

    page = served
    everything = len(sql_ids(mixed, "true"))
    match = page.locator(".orchestra-match")
    expect(match).to_have_text(f"{everything} exchanges", timeout=20_000)

    page.locator(".orchestra-status select").select_option(label="5xx")
    failed = sql_ids(mixed, "status_code BETWEEN 500 AND 599")
    expect(match).to_have_text(f"{len(failed)} of {everything} exchanges match")
    ids = page.locator(".orchestra-exchanges .tabulator-row [tabulator-field=exchange_id]")
    expect(ids).to_have_text([str(i) for i in failed])

    page.locator(".orchestra-status select").select_option(label="any status")
    url = page.locator(".orchestra-url input")
    url.fill("/items/")
    url.press("Enter")
    details = sql_ids(mixed, "url LIKE '%/items/%'")
    expect(match).to_have_text(f"{len(details)} of {everything} exchanges match")
    url.fill("")
    url.press("Enter")
    expect(match).to_have_text(f"{everything} exchanges")
    assert page.errors == []


# The titles of a table's columns cut (shown with an ellipsis): the columns have fixed
# widths (dashboard/_tables.py), which must hold each title and Tabulator's sort arrow.
# (Tabulator's 1 px filler column has no title.)
CUT_TITLES_JS = """els => els.filter(e => e.textContent.trim() && e.scrollWidth > e.clientWidth)
  .map(e => e.textContent)"""


@in_browser
def test_every_column_title_of_the_tables_is_shown_whole(served):
    page = served
    for css in ("orchestra-runs", "orchestra-steps", "orchestra-exchanges"):
        page.locator(f".{css} .tabulator-row").first.wait_for(timeout=20_000)
        titles = page.locator(f".{css} .tabulator-col-title")
        assert titles.count() > 5
        assert titles.evaluate_all(CUT_TITLES_JS) == [], css
    assert page.errors == []


@in_browser
def test_jumping_to_a_page(served, mixed):
    from playwright.sync_api import expect

    page = served
    everything = sql_ids(mixed, "true")
    assert len(everything) > 25, "one page only: nothing to jump to"
    jump = page.locator(".orchestra-jump input")
    jump.fill("2")
    jump.press("Enter")
    expect(page.locator(".orchestra-page")).to_have_text(
        f"26-{len(everything)} of {len(everything)}"
    )
    ids = page.locator(".orchestra-exchanges .tabulator-row [tabulator-field=exchange_id]")
    expect(ids).to_have_text([str(i) for i in everything[25:]])
    jump.fill("1")
    jump.press("Enter")
    expect(page.locator(".orchestra-page")).to_have_text(f"1-25 of {len(everything)}")
    assert page.errors == []


@in_browser
def test_a_large_json_body_opens_node_by_node_and_downloads_as_captured(served, mixed):
    from playwright.sync_api import expect

    page = served
    with duckdb.connect(str(mixed.path), read_only=True) as db:
        exchange_id, captured, items = db.execute(
            "SELECT exchange_id, response_body, json_array_length(response_body, '$.items') "
            "FROM exchanges WHERE run_id = ? AND step_path = 'large'",
            [mixed.run_id],
        ).fetchone()
    assert len(captured) > 1024 * 1024
    url = page.locator(".orchestra-url input")
    url.fill("/large")
    url.press("Enter")
    expect(page.locator(".orchestra-match")).to_contain_text("1 of ")
    before = sum(page.received)
    response = page.locator(".orchestra-response")
    items_node = response.locator(".orchestra-json-node", has_text=f"items: [{items:,} items]")
    click_row(  # the filter has just replaced the rows: a click while they land is lost
        page,
        page.locator(".orchestra-exchanges .tabulator-row").first,
        "orchestra-exchanges",
        lambda ms: expect(items_node).to_be_visible(timeout=ms),
        last_wait_ms=20_000,
    )
    shipped = sum(page.received) - before
    assert shipped < 200_000, f"{shipped:,} bytes sent for a {len(captured):,}-byte body"
    assert "item-1" not in response.inner_text()  # the items are not in the page yet

    items_node.click()
    first = response.locator(".orchestra-json-node", has_text="[0]: {")
    expect(first).to_be_visible(timeout=20_000)
    expect(response.locator(".orchestra-json-more")).to_have_text(
        f"show 100 more of {items - 100:,}"
    )
    first.click()
    expect(response.locator(".orchestra-json-leaf", has_text='name: "item-1"')).to_be_visible()
    assert sum(page.received) - before < 400_000

    with page.expect_download() as download:
        page.locator(".orchestra-download-response button").click()
    saved = page.folder / "downloaded.json"
    download.value.save_as(saved)
    assert saved.read_bytes() == captured.encode()
    assert download.value.suggested_filename == f"response-{exchange_id}.json"
    page.screenshot(path=str(page.folder / "large-body.png"), full_page=True)
    assert page.errors == []
    assert "Traceback" not in page.log.read_text()
