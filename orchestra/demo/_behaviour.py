"""Endpoints that misbehave on purpose: rate limits, Retry-After, flaky
failures, slow answers and arbitrary status codes."""

from __future__ import annotations

import asyncio
import math
import time

from aiohttp import web

from orchestra.demo._http import bad_request, error_response, json_response, query_float, query_int
from orchestra.demo._state import STATE, RateWindow

MAX_DELAY_SECONDS = 30.0
NO_BODY_STATUSES = frozenset({204, 205, 304})


async def ratelimited(request: web.Request) -> web.Response:
    """``GET /ratelimited?key=k`` — fixed window of ``rate_limit`` calls per key.

    Headers on every answer: ``X-RateLimit-Limit`` and ``X-RateLimit-Remaining``
    (integers), ``X-RateLimit-Reset`` (whole seconds until the window resets,
    rounded up) and ``X-RateLimit-Reset-After`` (the same as a decimal, 3 places).
    Over the limit: 429 with ``Retry-After`` in whole seconds, at least 1.
    """
    state = request.app[STATE]
    limit = state.settings.rate_limit
    window_seconds = state.settings.rate_window_seconds
    key = request.query.get("key", "default")
    now = time.monotonic()
    window = state.rate_windows.get(key)
    if window is None or now - window.started >= window_seconds:
        window = state.rate_windows[key] = RateWindow(started=now)
    allowed = window.count < limit
    if allowed:
        window.count += 1
    reset_after = max(0.0, window.started + window_seconds - now)
    headers = {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(limit - window.count),
        "X-RateLimit-Reset": str(math.ceil(reset_after)),
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
    }
    if not allowed:
        retry_after = max(1, math.ceil(reset_after))
        headers["Retry-After"] = str(retry_after)
        return error_response(429, "rate limit exceeded", headers, retry_after=retry_after)
    return json_response({"ok": True, "key": key, "remaining": limit - window.count}, 200, headers)


async def retry_after(request: web.Request) -> web.Response:
    """``GET /retry-after?key=k&seconds=1`` — 429 the first time per key, then 200.

    Both answers carry ``hits``: the server's wall-clock time (``time.time()``)
    of every call for the key, so a client can show it waited. The 200 adds
    ``waited`` (seconds since the first call) and ``honoured`` (waited >= seconds).
    """
    state = request.app[STATE]
    key = request.query.get("key", "default")
    seconds = query_int(request, "seconds", 1, minimum=0, maximum=3600)
    hits = state.retry_after_hits[key]
    hits.append(time.time())
    if len(hits) == 1:
        return error_response(
            429,
            "rate limited",
            {"Retry-After": str(seconds)},
            attempt=1,
            retry_after=seconds,
            hits=hits,
        )
    waited = hits[-1] - hits[0]
    return json_response(
        {
            "ok": True,
            "attempt": len(hits),
            "waited": round(waited, 3),
            "honoured": waited >= seconds,
            "hits": hits,
        }
    )


async def flaky(request: web.Request) -> web.Response:
    """``GET|POST /flaky/{key}?fail=2&status=503`` — fails ``fail`` times per key, then succeeds."""
    state = request.app[STATE]
    fail = query_int(request, "fail", 2, minimum=0)
    status = query_int(request, "status", 503, minimum=400, maximum=599)
    key = request.match_info["key"]
    state.flaky_attempts[key] += 1
    attempt = state.flaky_attempts[key]
    if attempt <= fail:
        return error_response(status, "try again", attempt=attempt)
    return json_response({"ok": True, "attempts": attempt})


async def slow(request: web.Request) -> web.Response:
    """``GET /slow?delay=0.5`` — waits (without blocking the loop), at most 30 s."""
    delay = query_float(request, "delay", 0.5, minimum=0.0, maximum=MAX_DELAY_SECONDS)
    await asyncio.sleep(delay)
    return json_response({"delayed": delay})


async def slow_body(request: web.Request) -> web.StreamResponse:
    """``GET /slow-body?delay=0.5`` — status and headers at once, the JSON body ``delay``
    seconds later (at most 30): the time to first byte is short, reading the body is not."""
    delay = query_float(request, "delay", 0.5, minimum=0.0, maximum=MAX_DELAY_SECONDS)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)  # sends the status line and headers now
    await response.write(b'{"delayed": ')
    await asyncio.sleep(delay)
    await response.write(f"{delay}}}".encode())
    await response.write_eof()
    return response


async def status(request: web.Request) -> web.Response:
    """``GET /status/{code}`` — answers with that status (200-599) and ``{"status": code}``."""
    raw = request.match_info["code"]
    if not raw.isascii() or not raw.isdigit() or not 200 <= int(raw) <= 599:
        raise bad_request(f"status code must be an integer from 200 to 599, got {raw!r}")
    code = int(raw)
    if code in NO_BODY_STATUSES:
        return web.Response(status=code)
    return json_response({"status": code}, status=code)
