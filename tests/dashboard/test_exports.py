"""Every download of the Export section, clicked in a real browser and loaded back.

``panel serve`` and Debian's Chromium (see _browser.py) over the capture of
_runs_pair.py. Each button is clicked as a user does; the file Playwright
receives is parsed and compared with the capture's read API: the plan (JSON
and YAML) equals the plan that ran, the HAR has one entry per exchange of the
run, the curl files hold one command per exchange of the selection, the
records CSV (pandas) and Parquet (DuckDB) hold the run's and the step's
records. The secret sent by the run appears in no file. The capture-side
exporters are also checked directly (columns per field, selections).
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

from orchestra.capture import CaptureStore, TableNotFound, export_curl, export_records
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
    return data


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
