"""Every download of the Export section, clicked in a real browser and loaded back.

``orchestra dashboard`` and Debian's Chromium (see _browser.py) over the capture of
_runs_pair.py. Each button is clicked as a user does; the file Playwright
receives is parsed and compared with the capture's read API: the plan (JSON
and YAML) equals the plan that ran, the HAR has one entry per exchange of the
run, the curl files hold one command per exchange of the selection, the
records CSV (pandas) and Parquet (DuckDB) hold the run's and the step's
records. The secret sent by the run appears in no file. "Records of" offers
exactly the steps with records in the run (plain SQL), each downloading a file
that loads back; the exchange list's curl holds exactly the filtered list. The
capture-side exporters are also checked directly (columns per field, selections).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
import yaml

import orchestra
from orchestra.capture import (
    CaptureStore,
    ExchangeFilter,
    TableNotFound,
    export_curl,
    export_records,
)
from orchestra.dashboard import Dashboard
from orchestra.dashboard._exports import WHOLE_RUN, list_name
from orchestra.demo import DemoAPI
from tests.dashboard._browser import ARTIFACTS, requires_chromium
from tests.dashboard._runs_pair import (
    SECRET,
    PairRuns,
    Served,
    assert_clean,
    make_runs,
    open_card,
    pick_run,
    serve,
    wait_until,
)
from tests.dashboard.conftest import Captured

COMMAND = re.compile(r"^curl ", re.MULTILINE)


@pytest.fixture(scope="module")
def pair(demo_api_server: DemoAPI, tmp_path_factory: pytest.TempPathFactory) -> PairRuns:
    demo_api_server.reset()
    return make_runs(demo_api_server, tmp_path_factory.mktemp("pair"))


@pytest.fixture(scope="module")
def served(pair: PairRuns, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(pair.path, tmp_path_factory.mktemp("serve")) as served:
        yield served


def download(served: Served, key: str) -> bytes:
    """Click the ``key`` download button and return the bytes of the file received."""
    return download_named(served, key)[1]


def download_named(served: Served, key: str) -> tuple[str, bytes]:
    """Click the ``key`` download button: the name and the bytes of the file received."""
    page = served.page
    button = page.locator(f".orchestra-export-{key} button")
    button.scroll_into_view_if_needed()
    with page.expect_download(timeout=30_000) as info:
        button.click()
    received = info.value
    target = served.downloads / received.suggested_filename
    received.save_as(target)
    data = target.read_bytes()
    assert SECRET.encode() not in data, f"the secret leaked into {received.suggested_filename}"
    return received.suggested_filename, data


def read_api(path: Path, run_id: str) -> dict[str, Any]:
    with CaptureStore(path).read() as db:
        exchanges = db.exchanges(run_id)
        records = db.records(run_id)
        return {
            "plan": db.plan(run_id),
            "exchanges": exchanges,
            "records": records,
        }


@requires_chromium
@pytest.mark.timeout(300)
def test_each_download_loads_back_with_the_run_numbers(served: Served, pair: PairRuns) -> None:
    from playwright.sync_api import expect

    page, run_id = served.page, pair.b
    truth = read_api(pair.path, run_id)
    pick_run(page, run_id)
    open_card(page, "Export")
    expect(page.locator(".orchestra-export-har button")).to_be_visible()

    assert json.loads(download(served, "plan-json")) == truth["plan"]
    assert yaml.safe_load(download(served, "plan-yaml")) == truth["plan"]
    assert truth["plan"]["config"]["key"] == {"env": "ORCH_DASHBOARD_EXPORT_KEY"}

    har = json.loads(download(served, "har"))
    entries = har["log"]["entries"]
    assert len(entries) == len(truth["exchanges"])
    assert [e["_orchestra"]["exchange_id"] for e in entries] == list(
        truth["exchanges"]["exchange_id"]
    )

    # whole run: every record, one row each
    csv_path = served.downloads / "whole.csv"
    csv_path.write_bytes(download(served, "records-csv"))
    frame = pd.read_csv(csv_path)
    assert list(frame.columns) == ["seq", "step_path", "page", "item_index", "data"]
    assert list(frame["seq"]) == list(truth["records"]["seq"])
    parquet_path = served.downloads / "whole.parquet"
    parquet_path.write_bytes(download(served, "records-parquet"))
    count = duckdb.connect().execute(f"SELECT count(*) FROM '{parquet_path}'").fetchone()
    assert count is not None and count[0] == len(truth["records"])

    # one step: a click in the step table scopes curl and records to it
    step = "page.tag"
    page.locator(".orchestra-steps .tabulator-row", has_text=step).first.click()
    expect(page.locator(".orchestra-exports select")).to_have_value(step, timeout=30_000)
    tag_exchanges = truth["exchanges"][truth["exchanges"]["step_path"] == step]
    tag_records = truth["records"][truth["records"]["step_path"] == step]
    step_curl = download(served, "curl-step").decode()
    assert len(COMMAND.findall(step_curl)) == len(tag_exchanges) == 3
    assert all(url in step_curl for url in tag_exchanges["url"])
    assert "${ORCH_DASHBOARD_EXPORT_KEY}" in step_curl
    list_curl = download(served, "curl-list").decode()  # the list is filtered to the step
    assert len(COMMAND.findall(list_curl)) == len(tag_exchanges)
    csv_path = served.downloads / "tag.csv"
    csv_path.write_bytes(download(served, "records-csv"))
    tags = pd.read_csv(csv_path)
    assert list(tags["id"]) == [json.loads(d)["id"] for d in tag_records["data"]] == [2, 3, 4]
    assert "tag" in tags.columns and json.loads(tags["tag"][0])["query"]["tier"] == "silver"
    parquet_path = served.downloads / "tag.parquet"
    parquet_path.write_bytes(download(served, "records-parquet"))
    ids = duckdb.connect().execute(f"SELECT id FROM '{parquet_path}' ORDER BY id").fetchall()
    assert [row[0] for row in ids] == [2, 3, 4]

    # one exchange: a click in the exchange list
    row = page.locator(".orchestra-exchanges .tabulator-row").first
    exchange_id = int(row.locator("[tabulator-field=exchange_id]").text_content())
    row.click()
    expect(page.locator(".orchestra-request")).to_contain_text(f"Request #{exchange_id}")
    wait_until(lambda: not page.locator(".orchestra-export-curl-exchange button").is_disabled(),
               "the curl · exchange button to be enabled")  # fmt: skip
    one = download(served, "curl-exchange").decode()
    assert len(COMMAND.findall(one)) == 1
    url = tag_exchanges.set_index("exchange_id")["url"][exchange_id]
    assert url in one and f"# {step} page 1 attempt 1 -> 200" in one

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(served.downloads / "exports.png"), full_page=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-exports.png"), full_page=True)
    assert_clean(served)


def test_exporters_select_exchanges_and_write_a_column_per_field(
    pair: PairRuns, tmp_path: Path
) -> None:
    store = CaptureStore(pair.path)
    failed_only = export_curl(store, pair.failed, errors_only=True)
    assert len(COMMAND.findall(failed_only)) == 2  # the 500 and its retry
    assert "/status/500" in failed_only and "/items" not in failed_only
    assert len(COMMAND.findall(export_curl(store, pair.failed, exchange_ids=[1, 2]))) == 2

    target = tmp_path / "detail.parquet"
    assert (
        export_records(store, target, pair.a, file_format="parquet", step_path="page.detail") == 3
    )
    columns = [c[0] for c in duckdb.connect().execute(f"SELECT * FROM '{target}'").description]
    assert columns[:4] == ["run_id", "id", "name", "category"]
    # one code path with `orchestra export --format parquet --step`: the same typed table
    typed = tmp_path / "typed.parquet"
    assert store.export_table("page.detail", typed, pair.a) == (pair.a, 3)
    read = duckdb.connect()
    assert (
        read.execute(f"SELECT * FROM '{target}'").fetchall()
        == read.execute(f"SELECT * FROM '{typed}'").fetchall()
    )
    assert (
        read.execute(f"DESCRIBE SELECT * FROM '{target}'").fetchall()
        == read.execute(f"DESCRIBE SELECT * FROM '{typed}'").fetchall()
    )
    as_csv = tmp_path / "detail.csv"
    assert export_records(store, as_csv, pair.a, step_path="page.detail") == 3
    assert list(pd.read_csv(as_csv).columns) == columns
    with pytest.raises(TableNotFound, match=r"steps with records.*page\.detail"):
        export_records(store, tmp_path / "none.csv", pair.a, step_path="nothing")
    with pytest.raises(ValueError, match="csv, parquet"):
        export_records(store, tmp_path / "x.xlsx", pair.a, file_format="xlsx")


def sql(path: Path, query: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """Plain SQL on the capture file (read-only), the numbers the page must agree with."""
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(query, params).fetchall()


def record_steps_sql(path: Path, run_id: str) -> set[str]:
    rows = sql(path, "SELECT DISTINCT step_path FROM records WHERE run_id = ?", [run_id])
    return {row[0] for row in rows}


def export_open(page: Any) -> None:
    """Open the Export section unless an earlier test of the page left it open."""
    from playwright.sync_api import expect

    buttons = page.locator(".orchestra-export-har button")
    if not buttons.count() or not buttons.first.is_visible():
        open_card(page, "Export")
    expect(buttons).to_be_visible()


def test_records_of_offers_only_the_steps_with_records_in_the_run(
    pair: PairRuns, captured: Captured
) -> None:
    # the graph's nodes without records: a parent with emit: false, a parallel group, a
    # choice and its branches not taken, a failed step; none of them is offered
    runs = [
        (pair.path, pair.a, set()),
        (pair.path, pair.failed, {"broken"}),
        (captured.path, captured.run_id, {"items", "formats", "route"}),
    ]
    for path, run_id, without in runs:
        dashboard = Dashboard(db=path, run=run_id, live=False)
        offered = dashboard.exports._records_of.options
        assert offered[0] == WHOLE_RUN
        assert len(offered) == len(set(offered))
        assert set(offered[1:]) == record_steps_sql(path, run_id)
        steps = dashboard.state.steps
        assert steps is not None
        nodes = set(steps["step_path"])
        assert without <= nodes - set(offered)


@requires_chromium
@pytest.mark.timeout(300)
def test_every_records_choice_downloads_a_file_that_loads_back(
    served: Served, pair: PairRuns
) -> None:
    from playwright.sync_api import expect

    page, run_id = served.page, pair.failed
    pick_run(page, run_id)
    export_open(page)
    select = page.locator(".orchestra-exports select")
    expect(select.locator("option")).to_have_count(1 + len(record_steps_sql(pair.path, run_id)))
    values = [v for v in select.locator("option").evaluate_all("os => os.map(o => o.value)")]
    assert set(values) == {WHOLE_RUN, *record_steps_sql(pair.path, run_id)}
    read = duckdb.connect()
    for value in values:
        select.select_option(value)
        if value == WHOLE_RUN:
            count = sql(pair.path, "SELECT count(*) FROM records WHERE run_id = ?", [run_id])
            expected, name = count[0][0], f"{run_id}.records"
        else:
            count = sql(pair.path, "SELECT count(*) FROM records WHERE run_id = ? AND "
                        "step_path = ?", [run_id, value])  # fmt: skip
            expected, name = count[0][0], f"{run_id}.records.{value}"
        assert expected > 0
        csv_name, data = download_named(served, "records-csv")
        assert csv_name == f"{name}.csv"
        csv_path = served.downloads / f"choice-{value}.csv"
        csv_path.write_bytes(data)
        assert len(pd.read_csv(csv_path)) == expected, value
        parquet_name, data = download_named(served, "records-parquet")
        assert parquet_name == f"{name}.parquet"
        parquet_path = served.downloads / f"choice-{value}.parquet"
        parquet_path.write_bytes(data)
        loaded = read.execute(f"SELECT count(*) FROM '{parquet_path}'").fetchone()
        assert loaded is not None and loaded[0] == expected, value
    assert_clean(served)


@requires_chromium
@pytest.mark.timeout(300)
def test_the_list_curl_holds_the_filtered_list(served: Served, pair: PairRuns) -> None:
    from playwright.sync_api import expect

    page, run_id = served.page, pair.failed
    pick_run(page, run_id)
    export_open(page)
    page.locator(".orchestra-status select").select_option(label="2xx")
    url = page.locator(".orchestra-url input")
    url.fill("/echo")
    url.press("Enter")
    wanted = sql(
        pair.path,
        "SELECT exchange_id, url FROM exchanges WHERE run_id = ? AND status_code BETWEEN 200 "
        "AND 299 AND contains(lower(url), '/echo') ORDER BY exchange_id",
        [run_id],
    )
    everything = sql(pair.path, "SELECT count(*) FROM exchanges WHERE run_id = ?", [run_id])[0][0]
    # the list's filter leaves a part of the run: the tag step's exchanges, not the 500s
    assert 0 < len(wanted) < everything
    expect(page.locator(".orchestra-match")).to_have_text(
        f"{len(wanted)} of {everything} exchanges match", timeout=30_000
    )
    name, data = download_named(served, "curl-list")
    text = data.decode()
    blocks = text.split("\n\n")[1:]  # after the header: one block per exchange
    assert len(COMMAND.findall(text)) == len(blocks) == len(wanted)
    assert f": {len(wanted)} exchanges" in text.splitlines()[0]
    for block, (_, exchange_url) in zip(blocks, wanted, strict=True):
        assert exchange_url in block and "-> 200" in block
    assert "/status/500" not in text and "/items" not in text
    assert name == f"{run_id}.exchanges.2xx.url-_echo.curl.sh"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-exports-filtered.png"), full_page=True)
    # the filters cleared: the whole run again
    page.locator(".orchestra-status select").select_option(label="any status")
    url.fill("")
    url.press("Enter")
    expect(page.locator(".orchestra-match")).to_have_text(f"{everything} exchanges", timeout=30_000)
    assert len(COMMAND.findall(download(served, "curl-list").decode())) == everything
    assert_clean(served)


def test_list_curl_follows_every_filter_and_the_sort(pair: PairRuns) -> None:
    store = CaptureStore(pair.path)
    filters = ExchangeFilter(status_class="2xx", url="/echo", sort="-exchange_id")
    text = export_curl(store, pair.failed, filters=filters)
    wanted = sql(
        pair.path,
        "SELECT exchange_id, url FROM exchanges WHERE run_id = ? AND status_code BETWEEN 200 "
        "AND 299 AND contains(url, '/echo') ORDER BY exchange_id DESC",
        [pair.failed],
    )
    blocks = text.split("\n\n")[1:]
    assert len(blocks) == len(wanted) == 3
    assert [url for _, url in wanted] == [
        next(u for _, u in wanted if u in block) for block in blocks
    ]
    assert len(COMMAND.findall(export_curl(store, pair.failed, filters=ExchangeFilter(
        status_class="5xx", attempt=2)))) == 1  # fmt: skip
    assert list_name("page.tag", True, filters) == (
        "page.tag.exchanges.errors.2xx.url-_echo.by-exchange_id-desc"
    )
    assert list_name(None, False, ExchangeFilter()) == "exchanges"
    every = ExchangeFilter(status_class="none", status_code=404, error_kind="timeout", url="x",
                           item_index=3, page=2, attempt=1, text="a b")  # fmt: skip
    assert list_name(None, False, every) == (
        "exchanges.no-status.status-404.error-timeout.url-x.item-3.page-2.attempt-1.text-a_b"
    )


def test_a_step_without_records_names_only_the_run_s_steps(
    pair: PairRuns, demo_api_server: DemoAPI, tmp_path: Path
) -> None:
    path = tmp_path / "capture.duckdb"
    path.write_bytes(pair.path.read_bytes())
    # another plan's run in the same file, with a step the pair's runs do not have
    step = {"name": "elsewhere", "url": f"{demo_api_server.url}/items"}
    result = orchestra.run({"key": "other", "steps": [step]}, db=path)
    assert result.status == "succeeded" and record_steps_sql(path, result.run_id) == {"elsewhere"}
    with pytest.raises(TableNotFound) as raised:
        export_records(CaptureStore(path), tmp_path / "x.csv", pair.failed, step_path="broken")
    message = str(raised.value)
    listed = ", ".join(sorted(record_steps_sql(path, pair.failed)))
    assert f"run {pair.failed} (steps with records in that run: {listed})" in message
    assert "elsewhere" not in message
