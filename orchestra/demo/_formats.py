"""Non-JSON and odd-sized bodies (XML, CSV, text, binary, large JSON) and the
echo endpoint that reflects a request back as JSON."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from orchestra.demo import _data
from orchestra.demo._http import json_response, query_int

MAX_LARGE_KB = 16 * 1024


async def xml(request: web.Request) -> web.Response:
    """``GET /xml`` — a small catalogue with attributes and nested elements."""
    return web.Response(text=_data.xml_document(), content_type="application/xml")


async def csv(request: web.Request) -> web.Response:
    """``GET /csv`` — header ``id,name,category,price`` and 10 item rows."""
    return web.Response(text=_data.csv_document(), content_type="text/csv")


async def text(request: web.Request) -> web.Response:
    """``GET /text`` — ten lines of plain text."""
    return web.Response(text=_data.text_document(), content_type="text/plain")


async def binary(request: web.Request) -> web.Response:
    """``GET /binary`` — 256 deterministic bytes."""
    return web.Response(body=_data.binary_document(), content_type="application/octet-stream")


async def large(request: web.Request) -> web.Response:
    """``GET /large?kb=1024`` — a JSON object of exactly ``kb * 1024`` bytes."""
    kb = query_int(request, "kb", 1024, minimum=1, maximum=MAX_LARGE_KB)
    return web.Response(body=_data.large_document(kb), content_type="application/json")


def _collapse(pairs: Iterable[tuple[str, str]]) -> dict[str, str | list[str]]:
    """``{key: value}``, or ``{key: [values...]}`` for keys given more than once."""
    result: dict[str, str | list[str]] = {}
    for key, value in pairs:
        if key not in result:
            result[key] = value
        elif isinstance(existing := result[key], list):
            existing.append(value)
        else:
            result[key] = [existing, value]
    return result


async def echo(request: web.Request) -> web.Response:
    """Any method on ``/echo`` or ``/echo/{tail}`` — the request reflected as JSON.

    ``body`` is the parsed JSON for JSON content types, otherwise the text
    (``null`` when empty); ``form`` is present only for form-encoded bodies.
    """
    raw = await request.read()
    content_type = request.content_type
    body: Any = None
    if raw:
        body = raw.decode("utf-8", errors="replace")
        if content_type == "application/json" or content_type.endswith("+json"):
            with contextlib.suppress(orjson.JSONDecodeError):
                body = orjson.loads(raw)
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    result: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "query": _collapse(request.query.items()),
        "headers": headers,
        "body": body,
    }
    if content_type == "application/x-www-form-urlencoded":
        result["form"] = _collapse(parse_qsl(body or "", keep_blank_values=True))
    return json_response(result)
