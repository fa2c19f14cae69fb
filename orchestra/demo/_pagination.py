"""Paginated collections and detail endpoints: items (offset, page, cursor and
Link-header styles) and the seed-compatible contacts API."""

from __future__ import annotations

import base64
import binascii
import math

from aiohttp import web

from orchestra.demo import _data
from orchestra.demo._http import bad_request, error_response, json_response, query_int
from orchestra.demo._state import STATE, DemoState

MAX_LIMIT = 1000


def offset_page(request: web.Request) -> tuple[int, int]:
    """Validated ``(offset, limit)`` from the query string."""
    offset = query_int(request, "offset", 0, minimum=0)
    limit = query_int(request, "limit", 10, minimum=1, maximum=MAX_LIMIT)
    return offset, limit


def offset_body(state: DemoState, offset: int, limit: int) -> dict[str, object]:
    """The body shared by ``/items`` and ``/protected/items``."""
    total = state.settings.total_items
    stop = max(offset, min(offset + limit, total))
    return {
        "items": state.items_json(offset + 1, stop + 1),
        "total": total,
        "offset": offset,
        "limit": limit,
        "next_offset": offset + limit if offset + limit < total else None,
    }


async def list_items(request: web.Request) -> web.Response:
    """``GET /items?offset=0&limit=10`` — offset pagination."""
    offset, limit = offset_page(request)
    return json_response(offset_body(request.app[STATE], offset, limit))


async def item_detail(request: web.Request) -> web.Response:
    """``GET /items/{id}`` — every id from 1 to 2**53 answers, whatever total_items is."""
    raw = request.match_info["id"]
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= _data.MAX_ITEM_ID:
        return error_response(404, "not found")
    return json_response(_data.item_detail(int(raw)))


async def list_pages(request: web.Request) -> web.Response:
    """``GET /pages?page=1&per_page=10`` — 1-based page-number pagination."""
    state = request.app[STATE]
    total = state.settings.total_items
    page = query_int(request, "page", 1, minimum=1)
    per_page = query_int(request, "per_page", 10, minimum=1, maximum=MAX_LIMIT)
    start = (page - 1) * per_page
    return json_response(
        {
            "items": state.items_json(start + 1, max(start, min(start + per_page, total)) + 1),
            "page": page,
            "per_page": per_page,
            "total_pages": math.ceil(total / per_page),
        }
    )


def encode_cursor(offset: int) -> str:
    """Opaque cursor: urlsafe base64 of the offset, without ``=`` padding."""
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The offset inside a cursor from :func:`encode_cursor`; 400 if malformed."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        offset = int(text)
    except (binascii.Error, ValueError):
        raise bad_request(f"invalid cursor {cursor!r}") from None
    if offset < 0:
        raise bad_request(f"invalid cursor {cursor!r}")
    return offset


async def list_cursor(request: web.Request) -> web.Response:
    """``GET /cursor?limit=10&cursor=<opaque>`` — cursor pagination."""
    state = request.app[STATE]
    total = state.settings.total_items
    limit = query_int(request, "limit", 10, minimum=1, maximum=MAX_LIMIT)
    cursor = request.query.get("cursor")
    offset = decode_cursor(cursor) if cursor else 0
    stop = max(offset, min(offset + limit, total))
    return json_response(
        {
            "items": state.items_json(offset + 1, stop + 1),
            "next_cursor": encode_cursor(stop) if stop < total else None,
        }
    )


async def list_link(request: web.Request) -> web.Response:
    """``GET /link?page=1&per_page=10`` — a bare JSON list plus an RFC 8288 Link header."""
    state = request.app[STATE]
    total = state.settings.total_items
    page = query_int(request, "page", 1, minimum=1)
    per_page = query_int(request, "per_page", 10, minimum=1, maximum=MAX_LIMIT)
    last = max(1, math.ceil(total / per_page))
    start = (page - 1) * per_page

    def page_url(number: int) -> str:
        return str(request.url.with_query({"page": number, "per_page": per_page}))

    links = [f'<{page_url(page + 1)}>; rel="next"'] if page < last else []
    links.append(f'<{page_url(last)}>; rel="last"')
    return json_response(
        state.items_json(start + 1, max(start, min(start + per_page, total)) + 1),
        headers={"Link": ", ".join(links)},
    )


DEFAULT_CONTACTS_PAGE = 50


async def list_contacts(request: web.Request) -> web.Response:
    """``GET /api/contacts?limit=100&offset=0`` — the shape used by the spec's plan example.

    Without ``limit`` a page holds 50 contacts, so the seed-002 fanout example (its
    rate limit is 100 requests per 60 s) fetches one page and 50 details unthrottled.
    """
    total = request.app[STATE].settings.total_contacts
    offset = query_int(request, "offset", 0, minimum=0)
    limit = query_int(request, "limit", DEFAULT_CONTACTS_PAGE, minimum=1, maximum=MAX_LIMIT)
    stop = max(offset, min(offset + limit, total))
    return json_response(
        {
            "contacts": [_data.contact(i) for i in range(offset + 1, stop + 1)],
            "has_more": stop < total,
            "next_offset": stop,
        }
    )


async def contact_details(request: web.Request) -> web.Response:
    """``GET /api/contacts/{id}/details`` — ids ``c-1`` … ``c-<total_contacts>``."""
    raw = request.match_info["id"]
    number = raw.removeprefix("c-")
    total = request.app[STATE].settings.total_contacts
    if not raw.startswith("c-") or not number.isascii() or not number.isdigit():
        return error_response(404, "not found")
    if not 1 <= int(number) <= total:
        return error_response(404, "not found")
    return json_response(_data.contact_details(int(number)))
