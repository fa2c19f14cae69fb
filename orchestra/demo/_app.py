"""The demo API's aiohttp application: the route table, the middleware that
counts requests and applies fail switches, and the index/health/stats handlers."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from orchestra.demo import _auth, _behaviour, _formats, _pagination, _resources, _shapes
from orchestra.demo._http import JSON, error_response, json_response
from orchestra.demo._state import STATE, DemoState

UNCOUNTED_PATHS = frozenset({"/_stats", "/_reset"})
NEVER_FAILED_PREFIXES = ("/_stats", "/_reset", "/fail-switch")

ENDPOINTS: dict[str, str] = {
    "GET /": "this index",
    "GET /health": '{"ok": true}',
    "GET /items": "offset pagination: ?offset=0&limit=10 (limit <= 1000)",
    "GET /items/{id}": "item detail for any positive integer id",
    "GET /pages": "page-number pagination: ?page=1&per_page=10",
    "GET /cursor": "cursor pagination: ?limit=10&cursor=<next_cursor>",
    "GET /link": "RFC 8288 Link-header pagination: ?page=1&per_page=10",
    **_shapes.ENDPOINTS,
    "GET /api/contacts": "contacts: ?limit=100&offset=0 -> contacts, has_more, next_offset",
    "GET /api/contacts/{id}/details": "contact details for ids c-1 .. c-<total_contacts>",
    "POST /oauth/token": "OAuth2 client_credentials and refresh_token grants",
    "POST /oauth/expire": "expire every issued access token now (refresh tokens stay valid)",
    "POST /auth/login": 'custom login: {"username", "password"} -> data.session.token/ttl',
    "GET /protected/items": "/items behind 'Authorization: Bearer <token>'",
    "GET /protected/apikey": "needs X-API-Key header or ?api_key=",
    "GET /protected/basic": "needs HTTP Basic authentication",
    "GET /ratelimited": "fixed-window rate limit per ?key=, 429 with Retry-After",
    "GET /retry-after": "429 with Retry-After=?seconds the first time per ?key=, then 200",
    "GET|POST /flaky/{key}": "fails ?fail=2 times with ?status=503, then succeeds",
    "GET /slow": "answers after ?delay=0.5 seconds (max 30)",
    "GET /slow-body": "headers at once, the JSON body after ?delay=0.5 seconds (max 30)",
    "GET /status/{code}": "answers with that status code",
    "GET /xml": "an XML document",
    "GET /csv": "a CSV document",
    "GET /text": "plain text",
    "GET /binary": "256 bytes of application/octet-stream",
    "GET /large": "a JSON body of ?kb=1024 kilobytes",
    "* /echo/{tail}": "the request reflected back as JSON",
    "POST|GET /orders, GET|DELETE /orders/{id}": "orders for saga tests",
    "POST|GET /payments, GET|DELETE /payments/{id}": "payments for saga tests",
    "POST|GET /shipments, GET|DELETE /shipments/{id}": "shipments for saga tests",
    "POST|GET|DELETE /fail-switch": "make paths under a prefix fail with a status",
    "GET /_stats": "request counters (not counted themselves)",
    "POST /_reset": "reset counters, windows, tokens, resources, tickets and fail switches",
}


@web.middleware
async def demo_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count the request, apply any matching fail switch, and turn HTTP errors into JSON."""
    state = request.app[STATE]
    path = request.path
    if path not in UNCOUNTED_PATHS:
        state.count_request(path)
    if state.fail_switches and not path.startswith(NEVER_FAILED_PREFIXES):
        for switch in state.fail_switches.values():
            if switch.matches(request.method, path):
                return error_response(switch.status, "fail switch", path_prefix=switch.path_prefix)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == JSON:
            raise
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return error_response(exc.status, (exc.reason or "error").lower(), headers)


async def index(request: web.Request) -> web.Response:
    """``GET /`` — the endpoint list."""
    return json_response({"name": "Orchestra demo API", "endpoints": ENDPOINTS})


async def health(request: web.Request) -> web.Response:
    """``GET /health``."""
    return json_response({"ok": True})


async def stats(request: web.Request) -> web.Response:
    """``GET /_stats`` — request counters."""
    return json_response(request.app[STATE].stats())


async def reset(request: web.Request) -> web.Response:
    """``POST /_reset`` — forget everything the server has remembered."""
    request.app[STATE].reset()
    return json_response({"ok": True})


def build_app(state: DemoState | None = None) -> web.Application:
    """The demo API as an aiohttp application serving ``state`` (a fresh one by default)."""
    app = web.Application(middlewares=[demo_middleware], client_max_size=16 * 1024 * 1024)
    app[STATE] = state if state is not None else DemoState()
    app.add_routes(
        [
            web.get("/", index),
            web.get("/health", health),
            web.get("/_stats", stats),
            web.post("/_reset", reset),
            web.get("/items", _pagination.list_items),
            web.get("/items/{id}", _pagination.item_detail),
            web.get("/pages", _pagination.list_pages),
            web.get("/cursor", _pagination.list_cursor),
            web.get("/link", _pagination.list_link),
            *_shapes.ROUTES,
            web.get("/api/contacts", _pagination.list_contacts),
            web.get("/api/contacts/{id}/details", _pagination.contact_details),
            web.post("/oauth/token", _auth.token),
            web.post("/oauth/expire", _auth.expire),
            web.post("/auth/login", _auth.login),
            web.get("/protected/items", _auth.protected_items),
            web.get("/protected/apikey", _auth.protected_apikey),
            web.get("/protected/basic", _auth.protected_basic),
            web.get("/ratelimited", _behaviour.ratelimited),
            web.get("/retry-after", _behaviour.retry_after),
            web.get("/flaky/{key}", _behaviour.flaky),
            web.post("/flaky/{key}", _behaviour.flaky),
            web.get("/slow", _behaviour.slow),
            web.get("/slow-body", _behaviour.slow_body),
            web.get("/status/{code}", _behaviour.status),
            web.get("/xml", _formats.xml),
            web.get("/csv", _formats.csv),
            web.get("/text", _formats.text),
            web.get("/binary", _formats.binary),
            web.get("/large", _formats.large),
            web.route("*", "/echo", _formats.echo),
            web.route("*", "/echo/{tail:.*}", _formats.echo),
            *_resources.resource_routes("orders", lambda s: s.orders),
            *_resources.resource_routes("payments", lambda s: s.payments),
            *_resources.resource_routes("shipments", lambda s: s.shipments),
            web.post("/fail-switch", _resources.add_fail_switch),
            web.get("/fail-switch", _resources.list_fail_switches),
            web.delete("/fail-switch", _resources.remove_fail_switch),
        ]
    )
    return app
