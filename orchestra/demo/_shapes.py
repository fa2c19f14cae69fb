"""Collections shaped like well-known public APIs, for pagination presets and
auto-detection, plus the ``/tickets`` collection for incremental sync.

Every collection serves the items ``1`` .. ``total_items`` (as in ``/items``)
10 per page by default, in the envelope of the API it imitates:

* ``GET /github/items?page=1&per_page=10`` (GitHub) — a bare JSON list;
  ``Link: <…>; rel="next", <…>; rel="last"`` (plus ``first``/``prev`` after
  page 1; no header at all when everything fits on one page).
* ``GET /graph/items?$top=10&$skiptoken=<opaque>`` (Microsoft Graph) —
  ``{"@odata.context", "value": [...], "@odata.nextLink": <absolute URL>}``;
  no ``@odata.nextLink`` on the last page.
* ``GET /stripe/items?limit=10&starting_after=<id>`` (Stripe) —
  ``{"object": "list", "url", "has_more": bool, "data": [...]}``; records have
  string ids ``item_<n>`` and ``"object": "item"``; an unknown id answers 400.
* ``GET /slack/members?limit=10&cursor=<opaque>`` (Slack) —
  ``{"ok": true, "members": [...], "response_metadata": {"next_cursor": "…"}}``;
  ``next_cursor`` is ``""`` on the last page.
* ``GET /hal/items?page=1&size=10`` (HAL / Spring Data REST) —
  ``{"_embedded": {"items": [...]}, "_links": {"self": {"href"}, "next":
  {"href": <relative URL>}}, "page": {"size", "totalElements", "totalPages",
  "number"}}``; no ``_links.next`` on the last page.
* ``GET /search?size=10&from=<nxt>`` — paginated in a way no preset knows:
  ``{"results": [...], "total": total_items, "nxt": <opaque or null>}``, the
  token going back as ``from`` (what auto-detection must warn about).
* ``GET /tickets?updated_since=<ISO 8601>&offset=0&limit=10`` —
  ``{"data": [...], "total", "offset", "limit"}``: tickets ``{"id", "subject",
  "status", "updated_at"}`` changed strictly after ``updated_since`` (all
  without it), oldest change first. ``POST /tickets`` creates one and
  ``PATCH /tickets/{id}`` changes one; both stamp ``updated_at`` later than any
  earlier change (``DemoAPI.add_tickets``/``update_ticket`` do the same).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from orchestra.demo import _data
from orchestra.demo._http import bad_request, error_response, json_response, query_int
from orchestra.demo._pagination import MAX_LIMIT, decode_cursor, encode_cursor
from orchestra.demo._resources import json_object
from orchestra.demo._state import STATE

DEFAULT_PAGE = 10
STRIPE_MAX_LIMIT = 100
STRIPE_PREFIX = "item_"


def _item_range(request: web.Request, start: int, size: int) -> tuple[orjson.Fragment, int]:
    """Items after offset ``start`` (``size`` at most), serialised, and the offset that follows.

    The serialised ranges are cached by the server state, like ``/items`` pages.
    """
    state = request.app[STATE]
    stop = max(start, min(start + size, state.settings.total_items))
    return state.items_json(start + 1, stop + 1), stop


def _total(request: web.Request) -> int:
    return request.app[STATE].settings.total_items


async def github_items(request: web.Request) -> web.Response:
    """``GET /github/items?page=1&per_page=10`` — a list and a GitHub-style Link header."""
    page = query_int(request, "page", 1, minimum=1)
    per_page = query_int(request, "per_page", DEFAULT_PAGE, minimum=1, maximum=MAX_LIMIT)
    last = max(1, math.ceil(_total(request) / per_page))
    records, _ = _item_range(request, (page - 1) * per_page, per_page)

    def link(number: int, rel: str) -> str:
        url = request.url.with_query({"page": number, "per_page": per_page})
        return f'<{url}>; rel="{rel}"'

    links = []
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(min(page - 1, last), "prev")]
    return json_response(records, headers={"Link": ", ".join(links)} if links else None)


async def graph_items(request: web.Request) -> web.Response:
    """``GET /graph/items?$top=10&$skiptoken=…`` — ``value`` and an absolute ``@odata.nextLink``."""
    top = query_int(request, "$top", DEFAULT_PAGE, minimum=1, maximum=MAX_LIMIT)
    token = request.query.get("$skiptoken")
    records, stop = _item_range(request, decode_cursor(token) if token else 0, top)
    body: dict[str, Any] = {
        "@odata.context": f"{request.url.origin()}/graph/$metadata#items",
        "value": records,
    }
    if stop < _total(request):
        next_query = {"$top": str(top), "$skiptoken": encode_cursor(stop)}
        body["@odata.nextLink"] = str(request.url.with_query(next_query))
    return json_response(body)


def stripe_item(i: int) -> dict[str, Any]:
    """Item ``i`` as a Stripe-style object: id ``item_<i>`` and ``"object": "item"``."""
    fields = {key: value for key, value in _data.item(i).items() if key != "id"}
    return {"id": f"{STRIPE_PREFIX}{i}", "object": "item", **fields}


def _stripe_position(request: web.Request) -> int:
    """The offset after ``starting_after`` (0 without it); 400 for an unknown id."""
    after = request.query.get("starting_after")
    if not after:
        return 0
    number = after.removeprefix(STRIPE_PREFIX)
    if after == number or not number.isascii() or not number.isdigit():
        raise bad_request(f"No such item: {after!r}")
    if not 1 <= int(number) <= _total(request):
        raise bad_request(f"No such item: {after!r}")
    return int(number)


async def stripe_items(request: web.Request) -> web.Response:
    """``GET /stripe/items?limit=10&starting_after=item_10`` — ``data`` and ``has_more``."""
    limit = query_int(request, "limit", DEFAULT_PAGE, minimum=1, maximum=STRIPE_MAX_LIMIT)
    start = _stripe_position(request)
    stop = max(start, min(start + limit, _total(request)))
    return json_response(
        {
            "object": "list",
            "url": "/stripe/items",
            "has_more": stop < _total(request),
            "data": [stripe_item(i) for i in range(start + 1, stop + 1)],
        }
    )


async def slack_members(request: web.Request) -> web.Response:
    """``GET /slack/members?limit=10&cursor=…`` — ``response_metadata.next_cursor``."""
    limit = query_int(request, "limit", DEFAULT_PAGE, minimum=1, maximum=MAX_LIMIT)
    cursor = request.query.get("cursor")
    records, stop = _item_range(request, decode_cursor(cursor) if cursor else 0, limit)
    next_cursor = encode_cursor(stop) if stop < _total(request) else ""
    return json_response(
        {"ok": True, "members": records, "response_metadata": {"next_cursor": next_cursor}}
    )


async def hal_items(request: web.Request) -> web.Response:
    """``GET /hal/items?page=1&size=10`` — ``_embedded.items`` and a relative ``_links.next``."""
    page = query_int(request, "page", 1, minimum=1)
    size = query_int(request, "size", DEFAULT_PAGE, minimum=1, maximum=MAX_LIMIT)
    total = _total(request)
    pages = math.ceil(total / size)
    records, _ = _item_range(request, (page - 1) * size, size)
    links = {"self": {"href": f"/hal/items?page={page}&size={size}"}}
    if page < pages:
        links["next"] = {"href": f"/hal/items?page={page + 1}&size={size}"}
    return json_response(
        {
            "_embedded": {"items": records},
            "_links": links,
            "page": {"size": size, "totalElements": total, "totalPages": pages, "number": page},
        }
    )


async def search(request: web.Request) -> web.Response:
    """``GET /search?size=10&from=…`` — ``results``, ``total`` and an ``nxt`` token."""
    size = query_int(request, "size", DEFAULT_PAGE, minimum=1, maximum=MAX_LIMIT)
    token = request.query.get("from")
    records, stop = _item_range(request, decode_cursor(token) if token else 0, size)
    nxt = encode_cursor(stop) if stop < _total(request) else None
    return json_response({"results": records, "total": _total(request), "nxt": nxt})


def _since(request: web.Request) -> datetime | None:
    raw = request.query.get("updated_since")
    if not raw:
        return None
    try:
        return _data.parse_time(raw)
    except ValueError:
        raise bad_request(
            f"updated_since must be an ISO 8601 timestamp such as 2024-01-01T00:00:00Z, got {raw!r}"
        ) from None


async def list_tickets(request: web.Request) -> web.Response:
    """``GET /tickets?updated_since=…&offset=0&limit=10`` — changes after a time, oldest first."""
    offset = query_int(request, "offset", 0, minimum=0)
    limit = query_int(request, "limit", DEFAULT_PAGE, minimum=1, maximum=MAX_LIMIT)
    chosen = request.app[STATE].tickets.updated_after(_since(request))
    return json_response(
        {
            "data": chosen[offset : offset + limit],
            "total": len(chosen),
            "offset": offset,
            "limit": limit,
        }
    )


def _ticket_number(request: web.Request) -> int | None:
    raw = request.match_info["id"]
    return int(raw) if raw.isascii() and raw.isdigit() else None


async def create_ticket(request: web.Request) -> web.Response:
    """``POST /tickets`` ``{"subject": …}`` — a new ticket (201), newer than every change."""
    record = request.app[STATE].tickets.create(await json_object(request))
    return json_response(record, status=201)


async def get_ticket(request: web.Request) -> web.Response:
    """``GET /tickets/{id}``."""
    number = _ticket_number(request)
    record = request.app[STATE].tickets.records.get(number) if number is not None else None
    return json_response(record) if record else error_response(404, "not found")


async def update_ticket(request: web.Request) -> web.Response:
    """``PATCH /tickets/{id}`` ``{"status": …}`` — merge the fields and restamp ``updated_at``."""
    number = _ticket_number(request)
    changes = await json_object(request)
    record = request.app[STATE].tickets.update(number, changes) if number is not None else None
    return json_response(record) if record else error_response(404, "not found")


ROUTES = [
    web.get("/github/items", github_items),
    web.get("/graph/items", graph_items),
    web.get("/stripe/items", stripe_items),
    web.get("/slack/members", slack_members),
    web.get("/hal/items", hal_items),
    web.get("/search", search),
    web.get("/tickets", list_tickets),
    web.post("/tickets", create_ticket),
    web.get("/tickets/{id}", get_ticket),
    web.patch("/tickets/{id}", update_ticket),
]

ENDPOINTS: dict[str, str] = {
    "GET /github/items": "GitHub-style: ?page=1&per_page=10 -> list + Link rel=next/last",
    "GET /graph/items": "Graph-style: ?$top=10&$skiptoken= -> value + @odata.nextLink",
    "GET /stripe/items": "Stripe-style: ?limit=10&starting_after=<id> -> data + has_more",
    "GET /slack/members": "Slack-style: ?limit=10&cursor= -> response_metadata.next_cursor",
    "GET /hal/items": "HAL: ?page=1&size=10 -> _embedded.items + _links.next.href",
    "GET /search": "no known preset: ?size=10&from=<nxt> -> results, total, nxt",
    "GET /tickets": "?updated_since=<ISO>&offset=0&limit=10 -> data, total (oldest first)",
    "POST /tickets, GET|PATCH /tickets/{id}": "create/change tickets (restamps updated_at)",
}
