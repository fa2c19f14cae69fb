"""OAuth2 token endpoint and the endpoints protected by bearer token, API key
and HTTP Basic authentication."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

import orjson
from aiohttp import BasicAuth, hdrs, web

from orchestra.demo._http import error_response, json_response
from orchestra.demo._pagination import offset_body, offset_page
from orchestra.demo._state import STATE, DemoState

INVALID_TOKEN = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="orchestra-demo"'}


def _same(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode(), b.encode())


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    """``(user, password)`` from an HTTP Basic ``Authorization`` header, if any."""
    header = request.headers.get(hdrs.AUTHORIZATION, "")
    if not header.lower().startswith("basic "):
        return None
    try:
        auth = BasicAuth.decode(header)
    except ValueError:
        return None
    return auth.login, auth.password


async def _token_form(request: web.Request) -> Mapping[str, str]:
    """The token request parameters: form-encoded (standard) or a JSON object."""
    if request.content_type == "application/json":
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return {}
        return {k: str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _client_ok(request: web.Request, form: Mapping[str, str], state: DemoState) -> str | None:
    """The authenticated client id (Basic header or body credentials), or None."""
    credentials = basic_credentials(request) or (
        form.get("client_id", ""),
        form.get("client_secret", ""),
    )
    client_id, secret = credentials
    settings = state.settings
    if _same(client_id, settings.client_id) and _same(secret, settings.client_secret):
        return client_id
    return None


async def token(request: web.Request) -> web.Response:
    """``POST /oauth/token`` — grants ``client_credentials`` and ``refresh_token``."""
    state = request.app[STATE]
    state.token_requests += 1
    form = await _token_form(request)
    client_id = _client_ok(request, form, state)
    if client_id is None:
        return error_response(401, "invalid_client", headers=BASIC_CHALLENGE)
    grant_type = form.get("grant_type")
    state.token_grants[grant_type or "none"] += 1
    if grant_type == "refresh_token":
        owner = state.refresh_tokens.pop(form.get("refresh_token", ""), None)
        if owner != client_id:
            return error_response(400, "invalid_grant")
    elif not grant_type:
        return error_response(400, "invalid_request", error_description="grant_type missing")
    elif grant_type != "client_credentials":
        return error_response(400, "unsupported_grant_type")
    access, refresh = state.issue_tokens(client_id)
    ttl = state.settings.token_ttl_seconds
    return json_response(
        {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(ttl) if float(ttl).is_integer() else ttl,
            "refresh_token": refresh,
            "scope": form.get("scope") or "read",
        },
        headers={"Cache-Control": "no-store"},
    )


async def expire(request: web.Request) -> web.Response:
    """``POST /oauth/expire`` — every issued access token expires now (for 401 tests)."""
    return json_response({"ok": True, "expired": request.app[STATE].expire_tokens()})


async def login(request: web.Request) -> web.Response:
    """``POST /auth/login`` ``{"username", "password"}`` — a custom (non-OAuth) login.

    Answers ``{"data": {"session": {"token": …, "ttl": …}}}``: the token works
    on ``/protected/items`` and expires like OAuth tokens. For ``flow`` auth.
    """
    state = request.app[STATE]
    state.logins += 1
    try:
        body = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        return error_response(400, "invalid_request", error_description="JSON object expected")
    settings = state.settings
    user, password = str(body.get("username", "")), str(body.get("password", ""))
    if not (_same(user, settings.basic_username) and _same(password, settings.basic_password)):
        return error_response(401, "invalid_credentials")
    access, _ = state.issue_tokens(user)
    ttl = settings.token_ttl_seconds
    lifetime = int(ttl) if float(ttl).is_integer() else ttl
    return json_response({"data": {"session": {"token": access, "ttl": lifetime}}})


async def protected_items(request: web.Request) -> web.Response:
    """``GET /protected/items`` — ``/items`` behind a bearer token."""
    state = request.app[STATE]
    scheme, _, credential = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        return error_response(
            401, "invalid_token", INVALID_TOKEN, error_description="missing bearer token"
        )
    problem = state.token_problem(credential)
    if problem is not None:
        return error_response(
            401, "invalid_token", INVALID_TOKEN, error_description=f"token {problem}"
        )
    offset, limit = offset_page(request)
    return json_response(offset_body(state, offset, limit))


async def protected_apikey(request: web.Request) -> web.Response:
    """``GET /protected/apikey`` — needs ``X-API-Key`` header or ``api_key`` query."""
    expected = request.app[STATE].settings.api_key
    given = request.headers.get("X-API-Key") or request.query.get("api_key") or ""
    if not _same(given, expected):
        return error_response(401, "invalid_api_key")
    return json_response({"ok": True, "auth": "api_key"})


async def protected_basic(request: web.Request) -> web.Response:
    """``GET /protected/basic`` — needs HTTP Basic with the configured user/password."""
    settings = request.app[STATE].settings
    credentials = basic_credentials(request)
    if credentials is None or not (
        _same(credentials[0], settings.basic_username)
        and _same(credentials[1], settings.basic_password)
    ):
        return error_response(401, "invalid_credentials", headers=BASIC_CHALLENGE)
    return json_response({"ok": True, "auth": "basic", "user": credentials[0]})
