"""``steps_from_har``: a HAR's entries become steps that make the same requests.

The round trip uses a real HAR: a run against the demo API is captured and
exported with ``export_har`` (what ``orchestra export --format har`` writes),
imported back, and the imported plan's run must get the same records.
"""

from __future__ import annotations

import json
import os

import pytest

import orchestra
from orchestra.capture import CaptureStore, export_har
from orchestra.demo import DemoAPI
from orchestra.errors import RequestImportError
from orchestra.plan import combined_plan, load_plan, steps_from_har


def captured_har(api: DemoAPI, tmp_path) -> tuple[dict, orchestra.RunResult]:
    plan = {
        "key": "har-source",
        "steps": [
            {"name": "items", "url": "{config.base_url}/items", "params": {"limit": 3}},
            {"name": "create", "url": "{config.base_url}/echo/orders", "method": "POST",
             "body": {"sku": "{steps.items.body.items[0].name}", "qty": 2}},
        ],
    }  # fmt: skip
    db = str(tmp_path / "har.duckdb")
    result = orchestra.run(plan, {"base_url": api.url}, db=db)
    assert result.ok, result.error
    return export_har(CaptureStore(db), result.run_id), result


def test_a_captured_run_exported_as_har_imports_and_runs_the_same(demo_api, tmp_path):
    har, original = captured_har(demo_api, tmp_path)
    imports = steps_from_har(json.dumps(har))
    assert [i.step["name"] for i in imports] == ["items", "orders"]
    assert imports[0].step["params"] == {"limit": "3"}
    assert imports[1].step["method"] == "POST"
    assert imports[1].step["body"] == {"sku": "item-1", "qty": 2}
    combined = combined_plan(imports, key="from-har")
    load_plan(combined.plan)
    again = orchestra.run(combined.plan, db=None)
    assert again.ok, again.error
    assert [r.data for r in again.records] == [r.data for r in original.records]


def test_one_entry_by_index(demo_api, tmp_path):
    har, _ = captured_har(demo_api, tmp_path)
    (only,) = steps_from_har(har, entry=1)
    assert only.step["url"] == f"{demo_api.url}/echo/orders"
    (last,) = steps_from_har(har, entry=-1)
    assert last.step == only.step


BROWSER_HAR = {
    "log": {
        "version": "1.2",
        "entries": [
            {"_resourceType": "document", "request": {"method": "GET",
             "url": "https://app.test/", "headers": []}},
            {"_resourceType": "fetch", "request": {
                "method": "POST", "url": "https://api.test/v2/user-search?page=2",
                "headers": [{"name": ":authority", "value": "api.test"},
                            {"name": "authorization", "value": "Bearer t-1"},
                            {"name": "content-type", "value": "application/json"},
                            {"name": "cookie", "value": "sid=1"}],
                "postData": {"mimeType": "application/json", "text": "{\"q\": \"ann\"}"}}},
            {"_resourceType": "xhr", "request": {
                "method": "POST", "url": "https://api.test/v2/login",
                "headers": [{"name": "authorization", "value": "Bearer t-2"},
                            {"name": "cookie", "value": "sid=2"}],
                "postData": {"mimeType": "application/x-www-form-urlencoded",
                             "params": [{"name": "user", "value": "ann"}]}}},
            {"_resourceType": "fetch", "request": {
                "method": "POST", "url": "https://api.test/upload",
                "headers": [], "postData": {"mimeType": "multipart/form-data; boundary=x"}}},
        ],
    }
}  # fmt: skip


def test_a_browser_har_keeps_its_api_calls_and_their_secrets_apart():
    imports = steps_from_har(BROWSER_HAR, entry=1)
    (search,) = imports
    assert search.step == {
        "name": "user_search",
        "url": "https://api.test/v2/user-search",
        "method": "POST",
        "params": {"page": "2"},
        "headers": {"cookie": "{config.cookie}"},
        "body": {"q": "ann"},
    }
    assert search.secrets == {"API_TOKEN": "t-1", "COOKIE": "sid=1"}
    (login,) = steps_from_har(BROWSER_HAR, entry=2)
    assert login.step["form"] == {"user": "ann"}
    two = combined_plan([search, login])
    assert two.plan["config"] == {"cookie": {"env": "COOKIE"}, "cookie_2": {"env": "COOKIE_2"}}
    assert two.plan["steps"][1]["headers"] == {"cookie": "{config.cookie_2}"}
    assert two.secrets == {"COOKIE": "sid=1", "COOKIE_2": "sid=2", "API_TOKEN": "t-1"}
    assert any("other credentials" in note for note in two.notes)
    assert "t-2" not in json.dumps(two.plan) and "sid=2" not in json.dumps(two.plan)


def test_all_entries_of_a_browser_har_are_its_api_calls():
    with pytest.raises(RequestImportError, match="entry 3 sends a multipart form"):
        steps_from_har(BROWSER_HAR)
    trimmed = {"log": {"entries": BROWSER_HAR["log"]["entries"][:3]}}
    assert [i.step["name"] for i in steps_from_har(trimmed)] == ["user_search", "login"]


@pytest.mark.parametrize(
    ("har", "entry", "message"),
    [
        ("{not json", None, "not JSON"),
        ({"log": {"entries": []}}, None, "no log.entries"),
        (
            {"log": {"entries": [{"request": {"method": "GET"}}]}},
            None,
            "entry 0 has no request.url",
        ),
        (BROWSER_HAR, 7, "entry 7 does not exist: the file has 4 entries (0 to 3)"),
    ],
)
def test_what_cannot_be_read_is_named(har, entry, message):
    with pytest.raises(RequestImportError) as caught:
        steps_from_har(har, entry=entry)
    assert message in caught.value.message and caught.value.fix
    assert str(caught.value).startswith("HAR file: ")


def test_imported_secrets_run_from_the_environment(demo_api: DemoAPI):
    authorization = {"name": "Authorization", "value": "Bearer demo-static-token"}
    request = {"method": "GET", "url": f"{demo_api.url}/protected/items?limit=2",
               "headers": [authorization]}  # fmt: skip
    har = {"log": {"entries": [{"request": request}]}}
    (imported,) = steps_from_har(har)
    assert "demo-static-token" not in json.dumps(imported.plan())
    result = orchestra.run(imported.plan(), db=None, environ={**os.environ, **imported.secrets})
    assert result.ok, result.error


def test_form_params_that_are_not_objects_are_passed_over():
    har = {"log": {"entries": [{"request": {
        "url": "https://a.test/login", "method": "POST",
        "postData": {"mimeType": "application/x-www-form-urlencoded",
                     "params": ["stray", {"name": "user", "value": "ann"}]},
    }}]}}  # fmt: skip
    (imported,) = steps_from_har(har)
    assert imported.step["form"] == {"user": "ann"}


def test_a_query_secret_and_the_auth_token_never_share_a_variable(demo_api: DemoAPI):
    har = {"log": {"entries": [
        {"request": {"url": f"{demo_api.url}/echo/me",
                     "headers": [{"name": "Authorization", "value": "Bearer B1-token"}]}},
        {"request": {"url": f"{demo_api.url}/echo/search?api_token=Q2-token", "headers": []}},
    ]}}  # fmt: skip
    imported = combined_plan(steps_from_har(har))
    assert imported.plan["auth"] == {"type": "bearer", "token": {"env": "API_TOKEN"}}
    assert imported.plan["config"] == {"api_token": {"env": "API_TOKEN_2"}}
    assert imported.secrets == {"API_TOKEN": "B1-token", "API_TOKEN_2": "Q2-token"}
    result = orchestra.run(imported.plan, db=None, environ={**os.environ, **imported.secrets})
    assert result.ok, result.error
    assert result.records_of("search")[0]["query"] == {"api_token": "Q2-token"}
