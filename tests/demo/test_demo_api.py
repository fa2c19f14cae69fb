"""The demo API over real sockets: every endpoint, the server lifecycle and the CLI.

Uses the ``demo_api`` fixture from ``orchestra.demo.pytest_plugin`` (loaded by
its ``pytest11`` entry point once installed, or with
``-p orchestra.demo.pytest_plugin``).
"""

from __future__ import annotations

import asyncio
import csv
import gc
import io
import logging
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import pytest
from aiohttp import web

import orchestra.demo
from orchestra.demo import DemoAPI, DemoSettings, DemoState, build_app, start_demo_api

TOTAL = DemoSettings().total_items


@pytest.fixture
def client(demo_api: DemoAPI) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo_api.url, timeout=10) as http:
        yield http


def expected_item(i: int) -> dict[str, Any]:
    hours = i * 3600
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1_704_067_200 + hours))
    return {
        "id": i,
        "name": f"item-{i}",
        "category": ["alpha", "beta", "gamma"][i % 3],
        "price": round(i * 1.25, 2),
        "updated_at": stamp,
    }


def parse_link_header(value: str) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>;\s*rel="([^"]+)"', value)}


# -- public API --------------------------------------------------------------


def test_public_names_are_pinned_and_sorted() -> None:
    assert orchestra.demo.__all__ == [
        "DemoAPI",
        "DemoSettings",
        "DemoState",
        "build_app",
        "serve_forever",
        "start_demo_api",
    ]


def test_health_and_index(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"ok": True}
    index = client.get("/").json()
    assert "GET /items" in index["endpoints"]
    assert "POST /oauth/token" in index["endpoints"]


def test_unknown_route_is_json_404(client: httpx.Client) -> None:
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"error": "not found"}


# -- items and pagination ----------------------------------------------------


MAX_CALLS = 100  # a walk that has not ended by then never will


def walk_offset(client: httpx.Client) -> tuple[list[int], int]:
    ids: list[int] = []
    offset: int | None = 0
    for calls in range(1, MAX_CALLS):
        body = client.get("/items", params={"offset": offset, "limit": 37}).json()
        assert body["total"] == TOTAL and body["limit"] == 37 and body["offset"] == offset
        ids += [item["id"] for item in body["items"]]
        offset = body["next_offset"]
        if offset is None:
            return ids, calls
    pytest.fail("offset pagination never ended")


def walk_pages(client: httpx.Client) -> tuple[list[int], int]:
    ids: list[int] = []
    for page in range(1, MAX_CALLS):
        body = client.get("/pages", params={"page": page, "per_page": 37}).json()
        assert body["page"] == page and body["per_page"] == 37
        assert body["total_pages"] == math.ceil(TOTAL / 37)
        ids += [item["id"] for item in body["items"]]
        if page >= body["total_pages"]:
            return ids, page
    pytest.fail("page pagination never ended")


def walk_cursor(client: httpx.Client) -> tuple[list[int], int]:
    ids: list[int] = []
    params: dict[str, Any] = {"limit": 37}
    for calls in range(1, MAX_CALLS):
        body = client.get("/cursor", params=params).json()
        ids += [item["id"] for item in body["items"]]
        if body["next_cursor"] is None:
            return ids, calls
        assert isinstance(body["next_cursor"], str)
        params["cursor"] = body["next_cursor"]
    pytest.fail("cursor pagination never ended")


def walk_link(client: httpx.Client) -> tuple[list[int], int]:
    ids: list[int] = []
    url: str | None = "/link?page=1&per_page=37"
    for calls in range(1, MAX_CALLS):
        assert url is not None
        response = client.get(url)
        ids += [item["id"] for item in response.json()]
        links = parse_link_header(response.headers["link"])
        assert links["last"].endswith("page=28&per_page=37")
        url = links.get("next")
        if url is None:
            return ids, calls
        assert url.startswith(str(client.base_url).rstrip("/") + "/link?")
    pytest.fail("Link-header pagination never ended")


@pytest.mark.parametrize("walk", [walk_offset, walk_pages, walk_cursor, walk_link])
def test_pagination_walk_yields_every_item_once(
    client: httpx.Client, walk: Callable[[httpx.Client], tuple[list[int], int]]
) -> None:
    ids, calls = walk(client)
    assert ids == list(range(1, TOTAL + 1))
    assert calls == math.ceil(TOTAL / 37)


def test_item_shape_in_lists_and_detail(client: httpx.Client) -> None:
    listed = client.get("/items", params={"offset": 2, "limit": 3}).json()["items"]
    assert listed == [expected_item(3), expected_item(4), expected_item(5)]
    assert listed[0]["updated_at"] == "2024-01-01T03:00:00Z"
    detail = client.get("/items/100000").json()  # far beyond total_items
    assert {k: v for k, v in detail.items() if k != "detail"} == expected_item(100000)
    assert detail["detail"]["description"] == "Item 100000 description"
    assert isinstance(detail["detail"]["tags"], list) and detail["detail"]["tags"]


def test_item_detail_accepts_ids_up_to_2_pow_53(client: httpx.Client) -> None:
    assert client.get(f"/items/{2**53}").json()["id"] == 2**53


@pytest.mark.parametrize("bad_id", ["0", "-1", "abc", "1.5", str(2**53 + 1)])
def test_item_detail_404(client: httpx.Client, bad_id: str) -> None:
    response = client.get(f"/items/{bad_id}")
    assert response.status_code == 404
    assert response.json() == {"error": "not found"}


@pytest.mark.parametrize(
    "url",
    [
        "/items?limit=0",
        "/items?limit=1001",
        "/items?offset=-1",
        "/items?offset=x",
        "/pages?page=0",
        "/pages?per_page=abc",
        "/cursor?cursor=not-a-cursor!",
        "/link?per_page=2000",
    ],
)
def test_pagination_rejects_bad_parameters(client: httpx.Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert "error" in response.json()


def test_pages_and_offsets_beyond_the_end_are_empty(client: httpx.Client) -> None:
    assert client.get("/pages", params={"page": 999, "per_page": 10}).json()["items"] == []
    body = client.get("/items", params={"offset": TOTAL + 5, "limit": 10}).json()
    assert body["items"] == [] and body["next_offset"] is None
    last = client.get("/link", params={"page": 100, "per_page": 10})
    assert set(parse_link_header(last.headers["link"])) == {"last"}


# -- contacts (the seed's plan example) --------------------------------------


def test_contacts_walk_like_the_seed_plan(client: httpx.Client) -> None:
    contacts: list[dict[str, Any]] = []
    context: dict[str, Any] = {}
    for _ in range(MAX_CALLS):
        offset = str(context.get("next_offset") or "0")
        body = client.get("/api/contacts", params={"limit": "100", "offset": offset}).json()
        contacts += body["contacts"]
        context["next_offset"] = body["next_offset"]
        assert isinstance(body["next_offset"], int)
        if body["has_more"] is not True:
            break
    else:
        pytest.fail("contacts pagination never ended")
    assert [c["id"] for c in contacts] == [f"c-{i}" for i in range(1, 251)]
    assert set(contacts[0]) == {"id", "first_name", "last_name", "email"}
    details = client.get(f"/api/contacts/{contacts[-1]['id']}/details").json()
    assert details["id"] == "c-250" and details["phone"] and details["company"]


@pytest.mark.parametrize("contact_id", ["c-0", "c-251", "250", "x"])
def test_unknown_contact_is_404(client: httpx.Client, contact_id: str) -> None:
    assert client.get(f"/api/contacts/{contact_id}/details").status_code == 404


# -- OAuth2 and protected endpoints ------------------------------------------

CLIENT = ("demo-client", "demo-secret")


def test_client_credentials_then_protected_call(client: httpx.Client, demo_api: DemoAPI) -> None:
    via_basic = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=CLIENT)
    via_body = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT[0],
            "client_secret": CLIENT[1],
            "scope": "items:read",
        },
    )
    for response in (via_basic, via_body):
        assert response.status_code == 200
        token = response.json()
        assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
        assert token["access_token"] and token["refresh_token"]
    assert via_basic.json()["access_token"] != via_body.json()["access_token"]
    assert via_body.json()["scope"] == "items:read"
    bearer = {"Authorization": f"Bearer {via_basic.json()['access_token']}"}
    items = client.get("/protected/items", params={"offset": 10, "limit": 5}, headers=bearer)
    assert items.status_code == 200
    assert [item["id"] for item in items.json()["items"]] == [11, 12, 13, 14, 15]
    assert demo_api.stats()["token_requests"] == 2


@pytest.mark.parametrize(
    ("data", "auth", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, ("demo-client", "wrong"), 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "nobody"}, None, 401, "invalid_client"),
        ({"grant_type": "password"}, CLIENT, 400, "unsupported_grant_type"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, CLIENT, 400, "invalid_grant"),
    ],
)
def test_token_errors(
    client: httpx.Client,
    data: dict[str, str],
    auth: tuple[str, str] | None,
    status: int,
    error: str,
) -> None:
    response = client.post("/oauth/token", data=data, auth=auth)
    assert response.status_code == status
    assert response.json()["error"] == error


def test_refresh_token_grant_rotates(client: httpx.Client) -> None:
    first = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=CLIENT)
    refresh = first.json()["refresh_token"]
    data = {"grant_type": "refresh_token", "refresh_token": refresh}
    second = client.post("/oauth/token", data=data, auth=CLIENT)
    assert second.status_code == 200
    new_token = second.json()["access_token"]
    assert new_token != first.json()["access_token"]
    headers = {"Authorization": f"Bearer {new_token}"}
    assert client.get("/protected/items", headers=headers).status_code == 200
    reused = client.post("/oauth/token", data=data, auth=CLIENT)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}]
)
def test_protected_items_refuse_bad_tokens(client: httpx.Client, headers: dict[str, str]) -> None:
    response = client.get("/protected/items", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["error"] == "invalid_token"


def test_static_token_is_accepted(client: httpx.Client) -> None:
    headers = {"Authorization": "Bearer demo-static-token"}
    assert client.get("/protected/items", headers=headers).json()["total"] == TOTAL


def test_expired_token_gets_401() -> None:
    with DemoAPI(token_ttl_seconds=0.4) as api, httpx.Client(base_url=api.url) as http:
        token = http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=CLIENT)
        assert token.json()["expires_in"] == 0.4
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert http.get("/protected/items", headers=headers).status_code == 200
        time.sleep(0.5)
        expired = http.get("/protected/items", headers=headers)
        assert expired.status_code == 401
        assert expired.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert expired.json()["error_description"] == "token expired"


def test_expire_makes_issued_tokens_answer_401_and_refresh_still_works(
    client: httpx.Client, demo_api: DemoAPI
) -> None:
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=CLIENT)
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert client.get("/protected/items", headers=headers).status_code == 200
    assert client.post("/oauth/expire").json() == {"ok": True, "expired": 1}
    expired = client.get("/protected/items", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["error_description"] == "token expired"
    static = {"Authorization": "Bearer demo-static-token"}
    assert client.get("/protected/items", headers=static).status_code == 200
    data = {"grant_type": "refresh_token", "refresh_token": token.json()["refresh_token"]}
    fresh = client.post("/oauth/token", data=data, auth=CLIENT).json()["access_token"]
    fresh_headers = {"Authorization": f"Bearer {fresh}"}
    assert client.get("/protected/items", headers=fresh_headers).status_code == 200
    assert demo_api.stats()["token_grants"] == {"client_credentials": 1, "refresh_token": 1}


def test_login_gives_a_session_token_for_protected_items(
    client: httpx.Client, demo_api: DemoAPI
) -> None:
    good = client.post("/auth/login", json={"username": "demo", "password": "demo-password"})
    assert good.status_code == 200
    session = good.json()["data"]["session"]
    assert session["ttl"] == 3600
    headers = {"Authorization": f"Bearer {session['token']}"}
    assert client.get("/protected/items", headers=headers).status_code == 200
    bad = client.post("/auth/login", json={"username": "demo", "password": "nope"})
    assert bad.status_code == 401
    assert client.post("/auth/login", content=b"[1]").status_code == 400
    assert demo_api.stats()["logins"] == 3


def test_api_key_auth(client: httpx.Client) -> None:
    assert client.get("/protected/apikey", headers={"X-API-Key": "demo-api-key"}).json()["ok"]
    assert client.get("/protected/apikey", params={"api_key": "demo-api-key"}).status_code == 200
    assert client.get("/protected/apikey").status_code == 401
    assert client.get("/protected/apikey", headers={"X-API-Key": "wrong"}).status_code == 401


def test_basic_auth(client: httpx.Client) -> None:
    assert client.get("/protected/basic", auth=("demo", "demo-password")).status_code == 200
    refused = client.get("/protected/basic", auth=("demo", "wrong"))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Basic")
    assert client.get("/protected/basic").status_code == 401


# -- rate limits, Retry-After, flaky, slow, status ---------------------------


def test_rate_limit_window(client: httpx.Client) -> None:
    remaining = []
    for _ in range(5):
        response = client.get("/ratelimited", params={"key": "rl"})
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "5"
        remaining.append(int(response.headers["x-ratelimit-remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    limited = client.get("/ratelimited", params={"key": "rl"})
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate limit exceeded"
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert limited.headers["x-ratelimit-reset"] in {"0", "1"}
    reset_after = float(limited.headers["x-ratelimit-reset-after"])
    assert 0 <= reset_after <= 1.0
    other_key = client.get("/ratelimited", params={"key": "someone-else"})
    assert other_key.status_code == 200
    time.sleep(reset_after + 0.05)
    assert client.get("/ratelimited", params={"key": "rl"}).status_code == 200


def test_retry_after_is_honoured_only_after_waiting(client: httpx.Client) -> None:
    first = client.get("/retry-after", params={"key": "patient", "seconds": 1})
    assert first.status_code == 429
    assert first.headers["retry-after"] == "1"
    time.sleep(int(first.headers["retry-after"]))
    second = client.get("/retry-after", params={"key": "patient", "seconds": 1})
    assert second.status_code == 200
    body = second.json()
    assert body["ok"] is True and body["attempt"] == 2
    assert body["honoured"] is True and body["waited"] >= 1
    assert len(body["hits"]) == 2 and body["hits"][1] - body["hits"][0] >= 1

    client.get("/retry-after", params={"key": "impatient", "seconds": 1})
    hasty = client.get("/retry-after", params={"key": "impatient", "seconds": 1}).json()
    assert hasty["honoured"] is False


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_flaky_fails_then_succeeds(client: httpx.Client, method: str) -> None:
    url = "/flaky/job?fail=2&status=500"
    first, second, third = (client.request(method, url) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (500, 500, 200)
    assert first.json() == {"error": "try again", "attempt": 1}
    assert second.json()["attempt"] == 2
    assert third.json() == {"ok": True, "attempts": 3}
    assert client.get("/flaky/other?fail=1").status_code == 503  # separate key, default status


def test_slow_waits_without_blocking_the_server(client: httpx.Client, demo_api: DemoAPI) -> None:
    started = time.perf_counter()
    assert client.get("/slow", params={"delay": 0.3}).json() == {"delayed": 0.3}
    assert time.perf_counter() - started >= 0.3
    url = f"{demo_api.url}/slow?delay=0.5"
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _: httpx.get(url, timeout=10).status_code, range(6)))
    elapsed = time.perf_counter() - started
    assert statuses == [200] * 6
    assert 0.5 <= elapsed < 1.5  # six concurrent 0.5 s sleeps overlap
    assert client.get("/slow", params={"delay": 31}).status_code == 400


@pytest.mark.parametrize("code", [200, 201, 404, 418, 503])
def test_status_endpoint(client: httpx.Client, code: int) -> None:
    response = client.get(f"/status/{code}")
    assert response.status_code == code
    assert response.json() == {"status": code}


def test_status_204_has_no_body(client: httpx.Client) -> None:
    response = client.get("/status/204")
    assert response.status_code == 204 and response.content == b""


# -- formats and echo ----------------------------------------------------------


def test_xml(client: httpx.Client) -> None:
    response = client.get("/xml")
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "catalog"
    items = root.findall("item")
    assert [item.get("id") for item in items] == ["1", "2", "3", "4", "5"]
    assert items[0].findtext("name") == "item-1"
    assert items[0].find("price").get("currency") == "EUR"  # type: ignore[union-attr]
    assert len(items[0].findall("tags/tag")) == 3


def test_csv(client: httpx.Client) -> None:
    response = client.get("/csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["id", "name", "category", "price"]
    assert [row["id"] for row in rows] == [str(i) for i in range(1, 11)]
    assert rows[1] == {"id": "2", "name": "item-2", "category": "gamma", "price": "2.5"}


def test_text_and_binary(client: httpx.Client) -> None:
    text = client.get("/text")
    assert text.headers["content-type"].startswith("text/plain")
    assert text.text.startswith("line 1: item-1\n")
    binary = client.get("/binary")
    assert binary.headers["content-type"] == "application/octet-stream"
    assert len(binary.content) == 256
    assert sorted(binary.content) == list(range(256))
    assert binary.content != bytes(range(256))
    assert client.get("/binary").content == binary.content


@pytest.mark.parametrize("kb", [1, 64, 1024])
def test_large_body_has_the_requested_size(client: httpx.Client, kb: int) -> None:
    response = client.get("/large", params={"kb": kb})
    assert response.headers["content-type"].startswith("application/json")
    assert len(response.content) == kb * 1024
    body = orjson.loads(response.content)
    assert body["kb"] == kb and body["items"][0] == expected_item(1)


def test_echo_json_query_and_headers(client: httpx.Client) -> None:
    response = client.post(
        "/echo/some/path",
        params=[("a", "1"), ("a", "2"), ("b", "3")],
        json={"hello": ["world"]},
        headers={"X-Custom": "Value"},
    )
    body = response.json()
    assert body["method"] == "POST" and body["path"] == "/echo/some/path"
    assert body["query"] == {"a": ["1", "2"], "b": "3"}
    assert body["headers"]["x-custom"] == "Value"
    assert body["body"] == {"hello": ["world"]}
    assert "form" not in body


def test_echo_form_text_and_methods(client: httpx.Client) -> None:
    form = client.put("/echo", data={"x": "1", "y": "two"}).json()
    assert form["method"] == "PUT" and form["form"] == {"x": "1", "y": "two"}
    assert form["body"] == "x=1&y=two"
    text = client.request("PATCH", "/echo", content=b"plain words").json()
    assert text["body"] == "plain words"
    assert client.delete("/echo").json() == client.delete("/echo").json()
    assert client.delete("/echo").json()["body"] is None


# -- saga resources and the fail switch --------------------------------------


@pytest.mark.parametrize(
    ("name", "prefix"), [("orders", "ord"), ("payments", "pay"), ("shipments", "shp")]
)
def test_resources_create_list_get_delete(client: httpx.Client, name: str, prefix: str) -> None:
    first = client.post(f"/{name}", json={"amount": 10, "id": "ignored"})
    second = client.post(f"/{name}", json={"amount": 20})
    assert first.status_code == 201
    assert first.json() == {"id": f"{prefix}-1", "amount": 10}
    assert second.json()["id"] == f"{prefix}-2"
    assert [r["id"] for r in client.get(f"/{name}").json()[name]] == [f"{prefix}-1", f"{prefix}-2"]
    assert client.get(f"/{name}/{prefix}-2").json() == {"id": f"{prefix}-2", "amount": 20}
    deleted = client.delete(f"/{name}/{prefix}-1")
    assert deleted.status_code == 204
    assert client.delete(f"/{name}/{prefix}-1").status_code == 404
    assert client.get(f"/{name}/{prefix}-1").status_code == 404
    assert [r["id"] for r in client.get(f"/{name}").json()[name]] == [f"{prefix}-2"]
    assert client.post(f"/{name}", json=[1, 2]).status_code == 400


def test_fail_switch(client: httpx.Client) -> None:
    switch = client.post("/fail-switch", json={"path_prefix": "/payments", "status": 500})
    assert switch.status_code == 200
    failed = client.post("/payments", json={"amount": 1})
    assert failed.status_code == 500
    assert failed.json()["error"] == "fail switch"
    assert client.post("/orders", json={"amount": 1}).status_code == 201
    listed = client.get("/fail-switch").json()["fail_switches"]
    assert listed == [{"path_prefix": "/payments", "status": 500, "methods": None}]
    assert client.delete("/fail-switch").json() == {"ok": True, "removed": 1}
    assert client.post("/payments", json={"amount": 1}).status_code == 201


def test_fail_switch_limited_to_methods(client: httpx.Client) -> None:
    client.post("/fail-switch", json={"path_prefix": "/orders", "status": 503, "methods": ["post"]})
    assert client.post("/orders", json={}).status_code == 503
    assert client.get("/orders").status_code == 200
    assert client.post("/fail-switch", json={"path_prefix": "orders"}).status_code == 400
    assert client.post("/fail-switch", json={"path_prefix": "/x", "status": 200}).status_code == 400


# -- stats and reset ---------------------------------------------------------


def test_stats_count_requests_but_not_themselves(client: httpx.Client, demo_api: DemoAPI) -> None:
    assert client.get("/_stats").json() == {
        "requests_total": 0,
        "by_path": {},
        "token_requests": 0,
        "token_grants": {},
        "logins": 0,
    }
    client.get("/items")
    client.get("/items")
    client.get("/items/7")
    client.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=CLIENT)
    stats = client.get("/_stats").json()
    assert stats == {
        "requests_total": 4,
        "by_path": {"/items": 2, "/items/7": 1, "/oauth/token": 1},
        "token_requests": 1,
        "token_grants": {"client_credentials": 1},
        "logins": 0,
    }
    assert demo_api.stats() == stats


def test_reset_forgets_state(client: httpx.Client, demo_api: DemoAPI) -> None:
    client.post("/orders", json={})
    client.get("/flaky/r?fail=1")
    client.post("/fail-switch", json={"path_prefix": "/health"})
    for _ in range(6):
        client.get("/ratelimited", params={"key": "reset"})
    assert client.post("/_reset").json() == {"ok": True}
    assert client.get("/_stats").json()["requests_total"] == 0
    assert client.get("/orders").json() == {"orders": []}
    assert client.get("/flaky/r?fail=1").status_code == 503
    assert client.get("/health").status_code == 200
    assert client.get("/ratelimited", params={"key": "reset"}).status_code == 200
    client.post("/orders", json={})
    demo_api.reset()  # the thread-safe Python helper does the same
    assert client.get("/orders").json() == {"orders": []}
    assert demo_api.stats()["by_path"] == {"/orders": 1}


def test_servers_do_not_share_state(demo_api: DemoAPI) -> None:
    with DemoAPI(total_items=7) as other:
        httpx.post(f"{other.url}/orders", json={})
        assert httpx.get(f"{other.url}/items").json()["total"] == 7
        assert httpx.get(f"{demo_api.url}/orders").json() == {"orders": []}
        assert other.stats()["requests_total"] == 2
    assert demo_api.stats()["requests_total"] == 1


# -- lifecycle, in-process app and CLI ---------------------------------------


def test_start_stop_is_clean(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api = start_demo_api(total_items=3)
        url = api.url
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(httpx.get, f"{url}/slow?delay=10", timeout=20)
            time.sleep(0.2)  # let the slow request reach the server
            started = time.perf_counter()
            api.stop()
            assert time.perf_counter() - started < 5
            with pytest.raises(httpx.HTTPError):
                pending.result()
        gc.collect()
    assert [str(w.message) for w in caught] == []
    assert not api.running
    with pytest.raises(RuntimeError):
        _ = api.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health")
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == []


def test_start_fails_when_port_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        api = DemoAPI(port=port)
        with pytest.raises(OSError):
            api.start()
        assert not api.running


def test_build_app_serves_in_process() -> None:
    async def scenario() -> tuple[int, str]:
        runner = web.AppRunner(build_app(DemoState(DemoSettings(total_items=3))))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/items?limit=100") as response,
            ):
                body = await response.json()
                return body["total"], response.headers["Content-Type"]
        finally:
            await runner.cleanup()

    total, content_type = asyncio.run(scenario())
    assert total == 3
    assert content_type.startswith("application/json")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_module_cli_prints_url_serves_and_stops_on_signal(stop_signal: signal.Signals) -> None:
    repo_root = Path(orchestra.demo.__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(repo_root), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestra.demo", "--port", "0", "--total-items", "12"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        with ThreadPoolExecutor(max_workers=1) as pool:
            line = pool.submit(process.stdout.readline).result(timeout=20)
        match = re.fullmatch(r"Orchestra demo API listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        url = match.group(1)
        assert httpx.get(f"{url}/health").json() == {"ok": True}
        assert httpx.get(f"{url}/items").json()["total"] == 12
        process.send_signal(stop_signal)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert stderr == ""


def test_module_cli_reports_a_taken_port(capsys: pytest.CaptureFixture[str]) -> None:
    from orchestra.demo.__main__ import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port)]) == 1
    assert f"Cannot serve the demo API on 127.0.0.1:{port}" in capsys.readouterr().err
