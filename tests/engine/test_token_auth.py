"""OAuth2 client credentials / refresh tokens and auth flows: one fetch shared by
concurrent requests, cached on the run's clock, one refresh on 401, masked."""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import parse_qs

import httpx
import orjson
import pytest

import orchestra
from orchestra import AuthError, RunStatus
from orchestra.events import RequestSent, ResponseReceived, RunStarted, TokenRefreshed


def oauth(**extra):
    return {
        "type": "oauth2_client_credentials",
        "token_url": "{config.base_url}/oauth/token",
        "client_id": "demo-client",
        "client_secret": {"env": "CLIENT_SECRET"},
        **extra,
    }


ENV = {"CLIENT_SECRET": "demo-secret"}


def fanout(n, url="{config.base_url}/protected/items?limit=1", name="list"):
    return {
        "name": name,
        "url": f"{{config.base_url}}/items?limit={n}",
        "emit": False,
        "sub_steps": [
            {"name": "get", "iterate_over": "response.body.items", "url": url, "concurrency": n}
        ],
    }


class Recorder(list):
    """Keeps events and checks, as each arrives, that no token reaches it unmasked."""

    def __init__(self):
        super().__init__()
        self.masker = None
        self.leaks: list[str] = []

    def __call__(self, event):
        self.append(event)
        if isinstance(event, RunStarted):
            self.masker = event.masker
        elif isinstance(event, ResponseReceived) and event.step_path.startswith("auth"):
            body = orjson.loads(event.body) if event.body else {}
            for token in _tokens(body):
                if token not in self.masker.secrets:
                    self.leaks.append(token)
        elif isinstance(event, RequestSent):
            auth = event.headers.get("authorization", "")
            if auth.startswith("Bearer ") and auth[7:] not in self.masker.secrets:
                self.leaks.append(auth[7:])

    def of(self, kind, path=None):
        return [e for e in self if isinstance(e, kind) and (path is None or e.step_path == path)]


def _tokens(body):
    if isinstance(body, dict):
        for key, value in body.items():
            if key in ("access_token", "refresh_token", "token") and isinstance(value, str):
                yield value
            else:
                yield from _tokens(value)


def run(plan, api, **options):
    events = Recorder()
    options.setdefault("environ", ENV)
    result = orchestra.run(plan, {"base_url": api.url}, subscribers=[events], **options)
    return result, events


def test_fifty_concurrent_requests_cause_one_token_fetch(demo_api):
    plan = {"key": "o", "auth": oauth(), "steps": [fanout(50)]}
    result, events = run(plan, demo_api)
    assert result.ok, result.error
    assert demo_api.stats()["token_requests"] == 1
    assert len(events.of(ResponseReceived, "list.get")) == 50
    assert {e.status_code for e in events.of(ResponseReceived, "list.get")} == {200}
    (fetched,) = events.of(TokenRefreshed)
    assert (fetched.reason, fetched.expires_in, fetched.auth_type) == (
        "initial",
        3600,
        "oauth2_client_credentials",
    )
    assert len(events.of(RequestSent, "auth")) == 1  # the token request is an exchange
    assert not events.leaks


def test_an_expired_token_is_refreshed_once_on_401_then_the_request_is_sent_again(demo_api):
    plan = {
        "key": "o",
        "auth": oauth(),
        "steps": [
            {"name": "first", "url": "{config.base_url}/protected/items?limit=1"},
            {"name": "expire", "method": "POST", "url": "{config.base_url}/oauth/expire"},
            {"name": "again", "url": "{config.base_url}/protected/items?limit=1"},
        ],
    }
    result, events = run(plan, demo_api)
    assert result.ok, result.error
    assert [e.status_code for e in events.of(ResponseReceived, "again")] == [401, 200]
    assert [e.reason for e in events.of(TokenRefreshed)] == ["initial", "unauthorized"]
    assert demo_api.stats()["token_requests"] == 2
    assert result.retries == 1
    assert not events.leaks


def test_fifty_requests_refused_at_once_share_one_refresh(demo_api):
    plan = {
        "key": "o",
        "auth": oauth(),
        "steps": [
            {"name": "first", "url": "{config.base_url}/protected/items?limit=1"},
            {"name": "expire", "method": "POST", "url": "{config.base_url}/oauth/expire"},
            fanout(50),
        ],
    }
    result, events = run(plan, demo_api)
    assert result.ok, result.error
    assert demo_api.stats()["token_requests"] == 2
    statuses = [e.status_code for e in events.of(ResponseReceived, "list.get")]
    assert statuses.count(200) == 50 and statuses.count(401) == 50


def test_a_401_is_retried_only_once(run_mock):
    calls = {"token": 0, "api": 0}

    def handler(request):
        if request.url.path == "/token":
            calls["token"] += 1
            return httpx.Response(200, json={"access_token": f"tok-{calls['token']}"})
        calls["api"] += 1
        return httpx.Response(401, json={"error": "no"})

    plan = {
        "key": "o",
        "config": {"base_url": "http://api"},
        "auth": oauth(token_url="http://api/token"),
        "steps": [{"name": "a", "url": "http://api/a"}],
    }
    result = run_mock(plan, handler, environ=ENV)
    assert result.status is RunStatus.FAILED
    assert result.error.status_code == 401
    assert calls == {"token": 2, "api": 2}


def test_the_token_is_refreshed_before_it_expires_on_the_runs_clock(demo_api, sleeps):
    plan = {
        "key": "o",
        "auth": oauth(expiry_skew_seconds=60),
        "steps": [
            {"name": "first", "url": "{config.base_url}/protected/items?limit=1"},
            {
                "name": "soon",
                "url": "{config.base_url}/protected/items?limit=1",
                "delay_seconds": 3500,
            },
            {
                "name": "later",
                "url": "{config.base_url}/protected/items?limit=1",
                "delay_seconds": 60,
            },
        ],
    }
    result, events = run(plan, demo_api, sleep=sleeps, clock=sleeps.clock)
    assert result.ok, result.error
    # 3500 s in: still inside lifetime minus skew (3540); 3560 s in: refreshed first
    assert [e.reason for e in events.of(TokenRefreshed)] == ["initial", "expired"]
    assert all(e.status_code == 200 for e in events.of(ResponseReceived) if e.step_path != "auth")
    assert demo_api.stats()["token_requests"] == 2


def test_refresh_token_grant_keeps_the_rotated_refresh_token(demo_api):
    first = httpx.post(
        f"{demo_api.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("demo-client", "demo-secret"),
    ).json()
    plan = {
        "key": "o",
        "auth": {
            "type": "oauth2_refresh_token",
            "token_url": "{config.base_url}/oauth/token",
            "client_id": "demo-client",
            "client_secret": {"env": "CLIENT_SECRET"},
            "refresh_token": {"env": "REFRESH"},
            "client_auth": "body",
        },
        "steps": [
            {"name": "first", "url": "{config.base_url}/protected/items?limit=1"},
            {"name": "expire", "method": "POST", "url": "{config.base_url}/oauth/expire"},
            {"name": "again", "url": "{config.base_url}/protected/items?limit=1"},
        ],
    }
    result, events = run(plan, demo_api, environ={**ENV, "REFRESH": first["refresh_token"]})
    assert result.ok, result.error  # the demo burns each refresh token: the 2nd needs the new one
    assert demo_api.stats()["token_grants"] == {"client_credentials": 1, "refresh_token": 2}
    assert not events.leaks
    masker = events.masker
    sent = [e for e in events.of(RequestSent, "auth")]
    assert all(first["refresh_token"] not in masker.text(e.body.decode()) for e in sent)


def test_flow_auth_takes_the_token_from_its_steps(demo_api):
    plan = {
        "key": "f",
        "config": {"user": "demo"},
        "auth": {
            "type": "flow",
            "steps": [
                {
                    "name": "login",
                    "method": "POST",
                    "url": "{config.base_url}/auth/login",
                    "body": {"username": "{config.user}", "password": "{config.password}"},
                }
            ],
            "token_path": "steps.login.body.data.session.token",
            "expires_in_path": "response.body.data.session.ttl",
        },
        "steps": [
            fanout(20),
            {
                "name": "echo",
                "url": "{config.base_url}/echo",
                "headers": {"X-Token-Length": "{length(auth.token)}"},
            },
        ],
    }
    events = Recorder()
    result = orchestra.run(
        plan,
        {"base_url": demo_api.url, "password": "demo-password"},
        subscribers=[events],
    )
    assert result.ok, result.error
    assert demo_api.stats()["logins"] == 1
    (fetched,) = events.of(TokenRefreshed)
    assert (fetched.auth_type, fetched.expires_in, fetched.step_path) == ("flow", 3600, "auth")
    assert [e.step_path for e in events.of(RequestSent) if "login" in e.url] == ["auth.login"]
    assert not result.records_of("auth.login")  # token answers are never records
    echoed = result.records_of("echo")[0]["headers"]
    assert echoed["x-token-length"] == "32"
    assert not events.leaks


def test_basic_and_body_client_auth_scopes_and_extra_params(run_mock):
    seen = []

    def handler(request):
        if request.url.path == "/token":
            seen.append((request.headers.get("authorization"), parse_qs(request.content.decode())))
            return httpx.Response(200, json={"access_token": "t0k3n-value", "expires_in": 60})
        return httpx.Response(200, json={"auth": request.headers.get("authorization")})

    base = {
        "key": "o",
        "config": {"base_url": "http://api"},
        "steps": [{"name": "a", "url": "http://api/a"}],
    }
    extra = {
        "token_url": "http://api/token",
        "scopes": ["read", "write"],
        "extra_params": {"audience": "{config.base_url}"},
    }
    basic = run_mock({**base, "auth": oauth(**extra)}, handler, environ=ENV)
    body = run_mock({**base, "auth": oauth(client_auth="body", **extra)}, handler, environ=ENV)
    assert basic.ok and body.ok
    (basic_header, basic_form), (body_header, body_form) = seen
    assert basic_header == "Basic " + base64.b64encode(b"demo-client:demo-secret").decode()
    assert basic_form == {
        "grant_type": ["client_credentials"],
        "scope": ["read write"],
        "audience": ["http://api"],
    }
    assert body_header is None
    assert body_form["client_id"] == ["demo-client"] and body_form["client_secret"] == [
        "demo-secret"
    ]
    assert basic.records_of("a") == [{"auth": "Bearer t0k3n-value"}]


def test_a_failed_token_fetch_is_shared_not_repeated(run_mock):
    calls = []

    async def handler(request):
        calls.append(request.url.path)
        await asyncio.sleep(0)  # let the other requests queue up for the token
        if request.url.path == "/token":
            return httpx.Response(400, json={"error": "invalid_client"})
        return httpx.Response(200, json={})

    children = [{"name": f"c{i}", "url": f"http://api/c{i}"} for i in range(10)]
    plan = {
        "key": "o",
        "config": {"base_url": "http://api"},
        "auth": oauth(token_url="http://api/token"),
        "steps": [{"name": "all", "parallel": children}],
    }
    result = run_mock(plan, handler, environ=ENV)
    assert result.status is RunStatus.FAILED
    assert isinstance(result.error, AuthError)
    assert "getting a token (oauth2_client_credentials) failed" in str(result.error)
    assert "400" in str(result.error)
    assert calls == ["/token"]  # ten requests waited for one fetch and got its error
    assert result.steps["all.c9"].status == "failed"


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        ({"token": "x"}, "gave null"),
        ({"access_token": ""}, "gave str"),
        ({"access_token": True}, "gave bool"),
    ],
)
def test_an_answer_without_a_token_is_a_clear_auth_error(run_mock, answer, fragment):
    def handler(request):
        if request.url.path == "/token":
            return httpx.Response(200, json=answer)
        return httpx.Response(200, json={})

    plan = {
        "key": "o",
        "config": {"base_url": "http://api"},
        "auth": oauth(token_url="http://api/token"),
        "steps": [{"name": "a", "url": "http://api/a"}],
    }
    result = run_mock(plan, handler, environ=ENV)
    assert isinstance(result.error, AuthError)
    assert "token_path 'response.body.access_token'" in str(result.error)
    assert fragment in str(result.error)


def test_a_step_with_its_own_authorization_header_is_not_refreshed(run_mock):
    calls = []

    def handler(request):
        calls.append(request.url.path)
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "abcdef"})
        return httpx.Response(401)

    plan = {
        "key": "o",
        "config": {"base_url": "http://api"},
        "auth": oauth(token_url="http://api/token"),
        "steps": [
            {"name": "a", "url": "http://api/a", "headers": {"Authorization": "Bearer mine"}}
        ],
    }
    result = run_mock(plan, handler, environ=ENV)
    assert result.error.status_code == 401
    assert calls == ["/token", "/a"]


def test_lifetime_skew_is_at_most_half_the_lifetime(run_mock, sleeps):
    tokens = []

    def handler(request):
        if request.url.path == "/token":
            tokens.append(f"token-{len(tokens)}")
            return httpx.Response(200, json={"access_token": tokens[-1], "expires_in": 10})
        return httpx.Response(200, json={})

    plan = {
        "key": "o",
        "config": {"base_url": "http://api"},
        "auth": oauth(token_url="http://api/token"),  # skew 30 s > lifetime: 5 s is used
        "steps": [
            {"name": "a", "url": "http://api/a"},
            {"name": "b", "url": "http://api/b", "delay_seconds": 4},
            {"name": "c", "url": "http://api/c", "delay_seconds": 1},
        ],
    }
    assert run_mock(plan, handler, environ=ENV).ok
    assert tokens == ["token-0", "token-1"]


def test_an_auth_override_can_be_oauth2(run_mock):
    def handler(request):
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "override-token"})
        return httpx.Response(200, json={"auth": request.headers.get("authorization")})

    plan = {"key": "o", "steps": [{"name": "a", "url": "http://api/a"}]}
    override = {**oauth(token_url="http://api/token"), "client_secret": "inline-secret"}
    result = run_mock(plan, handler, auth=override)
    assert result.records_of("a") == [{"auth": "Bearer override-token"}]
    with pytest.raises(orchestra.PlanError, match="auth override"):
        run_mock(plan, handler, auth={**override, "token_url": "{config.x"})
