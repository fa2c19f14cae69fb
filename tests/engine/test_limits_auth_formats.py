"""Limits, static auth and secrets, response formats, the step hook."""

import asyncio
import base64

import httpx
import pytest

import orchestra
from orchestra import ConfigError, RunStatus
from orchestra.engine import StepCall


def one_step(**step):
    return {"key": "p", "config": {"base_url": "http://api"}, "steps": [{"name": "s", **step}]}


def test_response_size_limit_from_content_length(run_mock):
    plan = one_step(url="http://api/big")
    plan["limits"] = {"max_response_bytes": 1000}
    result = run_mock(plan, lambda r: httpx.Response(200, content=b"x" * 5000))
    assert result.status is RunStatus.FAILED
    assert "max_response_bytes" in str(result.error)


def test_response_size_limit_while_streaming(run_mock):
    async def chunks():
        for _ in range(10):
            yield b"y" * 500

    plan = one_step(url="http://api/big")
    plan["limits"] = {"max_response_bytes": 1000}
    result = run_mock(plan, lambda r: httpx.Response(200, content=chunks()))
    assert "exceeded max_response_bytes" in str(result.error)


class SlowTransport(httpx.AsyncBaseTransport):
    def __init__(self, delay: float):
        self.delay = delay
        self.calls = 0

    async def handle_async_request(self, request):
        self.calls += 1
        await asyncio.sleep(self.delay)
        return httpx.Response(200, json={})


def test_timeout_is_retried_then_reported():
    transport = SlowTransport(5)
    plan = one_step(
        url="http://api/slow", timeout_seconds=0.05, retry={"max_attempts": 2, "base_seconds": 0}
    )
    result = orchestra.run(plan, transport=transport)
    assert result.status is RunStatus.FAILED
    assert "timed out after 0.05s" in str(result.error)
    assert transport.calls == 2


def test_max_execution_time_stops_the_run():
    plan = one_step(url="http://api/slow", timeout_seconds=10)
    plan["limits"] = {"max_execution_seconds": 0.1}
    result = orchestra.run(plan, transport=SlowTransport(5))
    assert result.status is RunStatus.FAILED
    assert "max_execution_seconds" in str(result.error)
    assert result.duration_ms < 2000


def echo_auth(request):
    return httpx.Response(
        200,
        json={
            "authorization": request.headers.get("authorization"),
            "x-api-key": request.headers.get("x-api-key"),
            "query": dict(request.url.params),
        },
    )


def test_bearer_from_env_is_secret_and_in_the_auth_scope(run_mock):
    plan = one_step(url="http://api/me", headers={"X-Echo": "{auth.token}"})
    plan["auth"] = {"type": "bearer", "token": {"env": "DEMO_TOKEN"}}
    runner = orchestra.Runner(
        plan,
        transport=httpx.MockTransport(echo_auth),
        environ={"DEMO_TOKEN": "canary-secret-123"},
    )
    result = asyncio.run(runner.run())
    assert result.ok, result.error
    assert result.records[0].data["authorization"] == "Bearer canary-secret-123"
    assert runner.masker.text("x canary-secret-123 y") == "x ${DEMO_TOKEN} y"


def test_basic_and_api_key_auth(run_mock):
    plan = one_step(url="http://api/me")
    plan["auth"] = {"type": "basic", "username": "u", "password": "{config.pw}"}
    result = run_mock(plan, echo_auth, config={"pw": "p4ss"})
    expected = "Basic " + base64.b64encode(b"u:p4ss").decode()
    assert result.records[0].data["authorization"] == expected

    plan["auth"] = {"type": "api_key", "name": "api_key", "in": "query", "value": "k-123"}
    result = run_mock(plan, echo_auth)
    assert result.records[0].data["query"] == {"api_key": "k-123"}

    plan["auth"] = {"type": "api_key", "value": "k-456"}
    result = run_mock(plan, echo_auth)
    assert result.records[0].data["x-api-key"] == "k-456"


def test_auth_override_at_run_time(run_mock):
    result = run_mock(
        one_step(url="http://api/me", headers={"Authorization": "Bearer {auth.token}"}),
        echo_auth,
        auth={"type": "bearer", "token": "tok-789"},
    )
    assert result.records[0].data["authorization"] == "Bearer tok-789"


def test_missing_env_secret_is_a_config_error(run_mock):
    plan = one_step(url="http://api/me")
    plan["config"]["key"] = {"env": "ORCHESTRA_TEST_UNSET_VARIABLE"}
    with pytest.raises(ConfigError, match="ORCHESTRA_TEST_UNSET_VARIABLE"):
        run_mock(plan, echo_auth)


def test_secrets_are_masked_in_error_messages(run_mock):
    plan = one_step(url="http://api/x?api_key={config.key}")
    plan["config"]["key"] = {"env": "ORCH_KEY"}
    runner = orchestra.Runner(
        plan,
        transport=httpx.MockTransport(lambda r: httpx.Response(500)),
        environ={"ORCH_KEY": "canary-key-555"},
        sleep=_no_sleep,
    )
    result = asyncio.run(runner.run())
    assert result.status is RunStatus.FAILED
    assert "canary-key-555" not in str(result.error)
    assert "api_key=${ORCH_KEY}" in str(result.error)


async def _no_sleep(_seconds):
    return None


@pytest.mark.parametrize(
    ("content_type", "content", "fmt", "expected"),
    [
        ("application/json", b'{"a": 1}', "auto", {"a": 1}),
        (
            "application/xml",
            b"<r><i id='1'>x</i></r>",
            "auto",
            {"r": {"i": {"@id": "1", "#text": "x"}}},
        ),
        (
            "text/csv",
            b"id,name\n1,a\n2,b\n",
            "auto",
            [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}],
        ),
        ("text/plain", b"hello", "auto", "hello"),
        ("application/octet-stream", b"\x00\x01", "auto", "AAE="),
        ("text/plain", b'{"forced": true}', "json", {"forced": True}),
        ("application/json", b"raw text", "text", "raw text"),
    ],
)
def test_response_formats(run_mock, content_type, content, fmt, expected):
    plan = one_step(url="http://api/x", response_format=fmt)
    result = run_mock(
        plan, lambda r: httpx.Response(200, content=content, headers={"content-type": content_type})
    )
    assert result.ok, result.error
    assert result.records[0].data == expected


def test_invalid_json_is_a_clear_error(run_mock):
    plan = one_step(url="http://api/x", response_format="json")
    result = run_mock(plan, lambda r: httpx.Response(200, content=b"<html>"))
    assert "not valid json" in str(result.error)
    assert "response_format" in str(result.error)


def test_request_body_form_and_params(run_mock):
    seen = {}

    def handler(request):
        seen["content"] = request.content
        seen["type"] = request.headers.get("content-type")
        seen["params"] = dict(request.url.params)
        return httpx.Response(200, json={})

    plan = one_step(
        url="http://api/x",
        method="post",
        params={"skip": "{context.none}", "n": "{config.n}", "tags": ["a", "b"]},
        body={"name": "{config.name}", "count": "{config.n}", "missing": "{context.none}"},
    )
    run_mock(plan, handler, config={"n": 3, "name": "x y"})
    assert seen["content"] == b'{"name":"x y","count":3}'
    assert seen["type"] == "application/json"
    assert seen["params"] == {"n": "3", "tags": "b"} or seen["params"]["n"] == "3"

    plan = one_step(url="http://api/x", method="POST", form={"a": "{config.n}"})
    run_mock(plan, handler, config={"n": 3})
    assert seen["content"] == b"a=3"
    assert seen["type"] == "application/x-www-form-urlencoded"


def test_null_in_url_string_fails_naming_expression_and_step(run_mock):
    plan = one_step(url="http://api/users/{context.user_id}")
    result = run_mock(plan, lambda r: httpx.Response(200))
    assert result.status is RunStatus.FAILED
    assert "context.user_id" in str(result.error)
    assert "'s'" in str(result.error)
    assert result.requests == 0


class RecordingHook:
    def __init__(self):
        self.calls: list[tuple[str, int | None]] = []

    async def before_step(self, call: StepCall) -> None:
        self.calls.append((call.step.path, call.item_index))
        if call.step.name == "s":
            call.scope = {**call.scope, "context": {"user_id": 99}}


def test_step_hook_sees_every_execution_and_can_change_the_scope(run_mock):
    hook = RecordingHook()
    plan = one_step(url="http://api/users/{context.user_id}")
    result = run_mock(plan, lambda r: httpx.Response(200, json={"path": r.url.path}), hooks=[hook])
    assert result.ok, result.error
    assert hook.calls == [("s", None)]
    assert result.records[0].data == {"path": "/users/99"}
