"""The demo API's GitHub-, Graph-, Stripe-, Slack- and HAL-shaped collections, the
``/search`` shape no preset knows, and ``/tickets`` with ``updated_since``, over
real sockets: each walk follows the API's own next-page mechanism to the end."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from orchestra.demo import DemoAPI, DemoSettings

TOTAL = DemoSettings().total_items
TICKETS = DemoSettings().total_tickets
PAGE = 37
MAX_CALLS = 100  # a walk that has not ended by then never will


@pytest.fixture
def client(demo_api: DemoAPI) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo_api.url, timeout=10) as http:
        yield http


def links_of(response: httpx.Response) -> dict[str, str]:
    header = response.headers.get("link", "")
    return {rel: url for url, rel in re.findall(r'<([^>]+)>;\s*rel="([^"]+)"', header)}


def ids_of(records: list[dict[str, Any]]) -> list[int]:
    return [int(str(record["id"]).removeprefix("item_")) for record in records]


Walk = Callable[[httpx.Client], tuple[list[int], int]]


def walk_github(client: httpx.Client) -> tuple[list[int], int]:
    ids: list[int] = []
    url: str | None = f"/github/items?per_page={PAGE}"
    for calls in range(1, MAX_CALLS):
        assert url is not None
        response = client.get(url)
        ids += ids_of(response.json())
        links = links_of(response)
        if calls > 1:
            assert links["first"].endswith(f"page=1&per_page={PAGE}")
        url = links.get("next")
        if url is None:
            assert "last" not in links
            return ids, calls
        assert links["last"].endswith(f"page={math.ceil(TOTAL / PAGE)}&per_page={PAGE}")
        assert url.startswith(str(client.base_url).rstrip("/") + "/github/items?")
    pytest.fail("GitHub-style pagination never ended")


def walk_graph(client: httpx.Client) -> tuple[list[int], int]:
    ids: list[int] = []
    url: str | None = f"/graph/items?$top={PAGE}"
    for calls in range(1, MAX_CALLS):
        assert url is not None
        body = client.get(url).json()
        assert body["@odata.context"].endswith("/graph/$metadata#items")
        ids += ids_of(body["value"])
        url = body.get("@odata.nextLink")
        if url is None:
            return ids, calls
        assert url.startswith("http://") and "$skiptoken=" in url
    pytest.fail("Graph-style pagination never ended")


def walk_stripe(client: httpx.Client) -> tuple[list[int], int]:
    ids: list[int] = []
    params: dict[str, Any] = {"limit": PAGE}
    for calls in range(1, MAX_CALLS):
        body = client.get("/stripe/items", params=params).json()
        assert body["object"] == "list" and body["url"] == "/stripe/items"
        assert all(record["object"] == "item" for record in body["data"])
        ids += ids_of(body["data"])
        if not body["has_more"]:
            return ids, calls
        params["starting_after"] = body["data"][-1]["id"]
    pytest.fail("Stripe-style pagination never ended")


def walk_slack(client: httpx.Client) -> tuple[list[int], int]:
    ids: list[int] = []
    params: dict[str, Any] = {"limit": PAGE}
    for calls in range(1, MAX_CALLS):
        body = client.get("/slack/members", params=params).json()
        assert body["ok"] is True
        ids += ids_of(body["members"])
        cursor = body["response_metadata"]["next_cursor"]
        if cursor == "":
            return ids, calls
        params["cursor"] = cursor
    pytest.fail("Slack-style pagination never ended")


def walk_hal(client: httpx.Client) -> tuple[list[int], int]:
    ids: list[int] = []
    url = f"/hal/items?size={PAGE}"
    for calls in range(1, MAX_CALLS):
        body = client.get(url).json()
        assert body["page"]["totalElements"] == TOTAL
        assert body["page"]["totalPages"] == math.ceil(TOTAL / PAGE)
        ids += ids_of(body["_embedded"]["items"])
        following = body["_links"].get("next")
        if following is None:
            return ids, calls
        assert following["href"].startswith("/hal/items?")  # relative, as HAL allows
        url = urljoin(url, following["href"])
    pytest.fail("HAL pagination never ended")


def walk_search(client: httpx.Client) -> tuple[list[int], int]:
    ids: list[int] = []
    params: dict[str, Any] = {"size": PAGE}
    for calls in range(1, MAX_CALLS):
        body = client.get("/search", params=params).json()
        assert body["total"] == TOTAL
        ids += ids_of(body["results"])
        if body["nxt"] is None:
            return ids, calls
        params["from"] = body["nxt"]
    pytest.fail("/search pagination never ended")


@pytest.mark.parametrize(
    "walk", [walk_github, walk_graph, walk_stripe, walk_slack, walk_hal, walk_search]
)
def test_each_api_shape_walks_every_item_once(client: httpx.Client, walk: Walk) -> None:
    ids, calls = walk(client)
    assert ids == list(range(1, TOTAL + 1))
    assert calls == math.ceil(TOTAL / PAGE)


@pytest.mark.parametrize(
    "path", ["/github/items", "/graph/items", "/stripe/items", "/slack/members", "/hal/items"]
)
def test_first_page_without_parameters_holds_ten_items(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    body = response.json()
    records = {
        "/github/items": lambda: body,
        "/graph/items": lambda: body["value"],
        "/stripe/items": lambda: body["data"],
        "/slack/members": lambda: body["members"],
        "/hal/items": lambda: body["_embedded"]["items"],
    }[path]()
    assert ids_of(records) == list(range(1, 11))


def test_a_single_github_page_has_no_link_header() -> None:
    with DemoAPI(total_items=5) as api:
        response = httpx.get(f"{api.url}/github/items")
    assert [item["id"] for item in response.json()] == [1, 2, 3, 4, 5]
    assert "link" not in response.headers


@pytest.mark.parametrize(
    "url",
    [
        "/github/items?per_page=0",
        "/graph/items?$skiptoken=not-a-token!",
        "/graph/items?$top=1001",
        "/stripe/items?limit=101",
        "/stripe/items?starting_after=item_0",
        "/stripe/items?starting_after=item_1001",
        "/stripe/items?starting_after=7",
        "/slack/members?cursor=***",
        "/hal/items?page=0",
        "/search?from=%%%",
        "/tickets?updated_since=yesterday",
        "/tickets?limit=0",
    ],
)
def test_bad_parameters_are_json_400(client: httpx.Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert "error" in response.json()


def test_stripe_unknown_id_names_it(client: httpx.Client) -> None:
    body = client.get("/stripe/items", params={"starting_after": "item_0"}).json()
    assert body == {"error": "No such item: 'item_0'"}


def test_index_lists_the_new_endpoints(client: httpx.Client) -> None:
    endpoints = client.get("/").json()["endpoints"]
    for name in ("/github/items", "/graph/items", "/stripe/items", "/slack/members", "/hal/items"):
        assert f"GET {name}" in endpoints
    assert "GET /search" in endpoints and "GET /tickets" in endpoints


# -- /tickets and updated_since ----------------------------------------------


def all_tickets(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    tickets: list[dict[str, Any]] = []
    for _ in range(MAX_CALLS):
        body = client.get("/tickets", params={**params, "offset": len(tickets), "limit": 7}).json()
        tickets += body["data"]
        if len(tickets) >= body["total"]:
            return tickets
    pytest.fail("/tickets pagination never ended")


def test_tickets_are_sorted_by_change_and_filtered_strictly_after(client: httpx.Client) -> None:
    tickets = all_tickets(client)
    assert [t["id"] for t in tickets] == list(range(1, TICKETS + 1))
    assert tickets[0] == {
        "id": 1,
        "subject": "ticket-1",
        "status": "pending",
        "updated_at": "2024-01-01T01:00:00Z",
    }
    since = tickets[89]["updated_at"]
    assert [t["id"] for t in all_tickets(client, updated_since=since)] == list(range(91, 101))


@pytest.mark.parametrize(
    "since", ["2024-01-04T18:00:00Z", "2024-01-04T18:00:00+00:00", "2024-01-04T19:00:00+01:00"]
)
def test_updated_since_accepts_iso_forms(client: httpx.Client, since: str) -> None:
    body = client.get("/tickets", params={"updated_since": since, "limit": 100}).json()
    assert [t["id"] for t in body["data"]] == list(range(91, 101))
    assert body["total"] == 10


def test_changes_between_runs_are_the_only_ones_after_the_last_cursor(
    client: httpx.Client, demo_api: DemoAPI
) -> None:
    first_run = all_tickets(client)
    cursor = max(t["updated_at"] for t in first_run)
    assert all_tickets(client, updated_since=cursor) == []

    created = client.post("/tickets", json={"subject": "printer on fire", "id": 7}).json()
    updated = client.patch("/tickets/5", json={"status": "solved"}).json()
    added = demo_api.add_tickets({"subject": "via python"})[0]
    changed = demo_api.update_ticket(9, status="open")

    assert created["id"] == TICKETS + 1 and created["subject"] == "printer on fire"
    assert updated["id"] == 5 and updated["status"] == "solved"
    second_run = all_tickets(client, updated_since=cursor)
    assert [t["id"] for t in second_run] == [TICKETS + 1, 5, TICKETS + 2, 9]
    stamps = [t["updated_at"] for t in second_run]
    assert stamps == sorted(stamps) and stamps[0] > cursor
    assert second_run == [created, updated, added, changed]
    assert client.get("/tickets/5").json() == updated


def test_ticket_errors_and_reset(client: httpx.Client, demo_api: DemoAPI) -> None:
    assert client.get("/tickets/999").status_code == 404
    assert client.patch("/tickets/999", json={"status": "x"}).status_code == 404
    assert client.patch("/tickets/abc", json={}).status_code == 404
    assert client.post("/tickets", content=b"[1]").status_code == 400
    with pytest.raises(KeyError, match="no ticket 999"):
        demo_api.update_ticket(999, status="x")
    demo_api.add_tickets({"subject": "gone after reset"})
    demo_api.reset()
    assert client.get("/tickets", params={"limit": 1}).json()["total"] == TICKETS
