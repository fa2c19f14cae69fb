"""Create/read/delete resources for saga tests (orders, payments, shipments) and the
fail switch that makes chosen paths fail until it is removed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from orchestra.demo._http import bad_request, error_response, json_response
from orchestra.demo._state import STATE, DemoState, FailSwitch, ResourceStore

StoreGetter = Callable[[DemoState], ResourceStore]


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object (an empty body counts as ``{}``); 400 otherwise."""
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad_request("body must be JSON") from None
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    return body


def resource_routes(name: str, store_of: StoreGetter) -> list[web.RouteDef]:
    """``POST/GET /{name}`` and ``GET/DELETE /{name}/{id}`` backed by one store."""

    async def create(request: web.Request) -> web.Response:
        record = store_of(request.app[STATE]).create(await json_object(request))
        return json_response(record, status=201)

    async def list_all(request: web.Request) -> web.Response:
        return json_response({name: list(store_of(request.app[STATE]).records.values())})

    async def get_one(request: web.Request) -> web.Response:
        record = store_of(request.app[STATE]).records.get(request.match_info["id"])
        return json_response(record) if record else error_response(404, "not found")

    async def delete_one(request: web.Request) -> web.Response:
        removed = store_of(request.app[STATE]).records.pop(request.match_info["id"], None)
        return web.Response(status=204) if removed else error_response(404, "not found")

    return [
        web.post(f"/{name}", create),
        web.get(f"/{name}", list_all),
        web.get(f"/{name}/{{id}}", get_one),
        web.delete(f"/{name}/{{id}}", delete_one),
    ]


def _switch_body(switch: FailSwitch) -> dict[str, Any]:
    methods = sorted(switch.methods) if switch.methods is not None else None
    return {"path_prefix": switch.path_prefix, "status": switch.status, "methods": methods}


async def add_fail_switch(request: web.Request) -> web.Response:
    """``POST /fail-switch`` ``{"path_prefix": "/payments", "status": 500, "methods": [...]}``.

    ``status`` defaults to 500 and ``methods`` (optional) limits which methods fail.
    """
    body = await json_object(request)
    prefix = body.get("path_prefix")
    status = body.get("status", 500)
    methods = body.get("methods")
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise bad_request("path_prefix must be a string starting with '/'")
    if not isinstance(status, int) or not 400 <= status <= 599:
        raise bad_request("status must be an integer from 400 to 599")
    if methods is not None and not (
        isinstance(methods, list) and all(isinstance(m, str) for m in methods)
    ):
        raise bad_request("methods must be a list of strings")
    switch = FailSwitch(
        path_prefix=prefix,
        status=status,
        methods=frozenset(m.upper() for m in methods) if methods is not None else None,
    )
    request.app[STATE].fail_switches[prefix] = switch
    return json_response({"ok": True, "fail_switch": _switch_body(switch)})


async def list_fail_switches(request: web.Request) -> web.Response:
    """``GET /fail-switch`` — the active switches."""
    switches = request.app[STATE].fail_switches.values()
    return json_response({"fail_switches": [_switch_body(s) for s in switches]})


async def remove_fail_switch(request: web.Request) -> web.Response:
    """``DELETE /fail-switch[?path_prefix=/x]`` — removes one switch, or all of them."""
    switches = request.app[STATE].fail_switches
    prefix = request.query.get("path_prefix")
    if prefix is None:
        removed = len(switches)
        switches.clear()
    else:
        removed = 1 if switches.pop(prefix, None) else 0
    return json_response({"ok": True, "removed": removed})
