"""Small response and query-string helpers shared by the demo handlers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

JSON = "application/json"


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A JSON response serialised with orjson."""
    return web.Response(body=orjson.dumps(data), status=status, headers=headers, content_type=JSON)


def error_response(
    status: int, error: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> web.Response:
    """A JSON error response ``{"error": error, **extra}``."""
    return json_response({"error": error, **extra}, status=status, headers=headers)


def bad_request(message: str) -> web.HTTPBadRequest:
    """A 400 exception with a JSON ``{"error": message}`` body, ready to raise."""
    return web.HTTPBadRequest(text=orjson.dumps({"error": message}).decode(), content_type=JSON)


def query_int(
    request: web.Request, name: str, default: int, minimum: int, maximum: int | None = None
) -> int:
    """Integer query parameter ``name`` within bounds; raises a 400 otherwise."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise bad_request(f"{name} must be at least {minimum}{upper}, got {value}")
    return value


def query_float(
    request: web.Request, name: str, default: float, minimum: float, maximum: float
) -> float:
    """Finite float query parameter ``name`` within bounds; raises a 400 otherwise."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise bad_request(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or not minimum <= value <= maximum:
        raise bad_request(f"{name} must be between {minimum} and {maximum}, got {raw}")
    return value
