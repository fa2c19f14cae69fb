"""abort_on → ignore_on → retry → abort_when → expect, backoff and Retry-After."""

import httpx
import pytest

from orchestra import RunStatus
from orchestra.engine._backoff import backoff_seconds, parse_retry_after
from orchestra.errors import AbortError, ExpectationFailed, HTTPStatusError, RequestError
from orchestra.plan import Retry


def failing_then_ok(failures: int, status: int = 503, headers=None):
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) <= failures:
            return httpx.Response(status, json={"error": "nope"}, headers=headers or {})
        return httpx.Response(200, json={"ok": True, "calls": len(calls)})

    handler.calls = calls
    return handler


def plan_with(**step):
    return {"key": "p", "steps": [{"name": "s", "url": "http://api/x", **step}]}


def test_fibonacci_backoff_sequence_without_jitter():
    policy = Retry(base_seconds=1, jitter=0)
    assert [backoff_seconds(policy, n, cap=60) for n in range(1, 12)] == [
        1,
        1,
        2,
        3,
        5,
        8,
        13,
        21,
        34,
        55,
        60,
    ]


@pytest.mark.parametrize(
    ("backoff", "expected"), [("exponential", [1, 2, 4, 8, 10]), ("constant", [1, 1, 1, 1, 1])]
)
def test_other_backoffs_are_capped(backoff, expected):
    policy = Retry(backoff=backoff, jitter=0)
    assert [backoff_seconds(policy, n, cap=10) for n in range(1, 6)] == expected


def test_jitter_stays_within_its_fraction():
    policy = Retry(base_seconds=1, jitter=0.2)
    assert backoff_seconds(policy, 5, cap=60, rng=lambda: 0.0) == pytest.approx(4.0)
    assert backoff_seconds(policy, 5, cap=60, rng=lambda: 1.0) == pytest.approx(6.0)


def test_retry_after_formats():
    assert parse_retry_after("3") == 3
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10
    assert parse_retry_after("soon") is None


def test_retryable_status_is_retried_with_fibonacci_waits(run_mock, sleeps):
    handler = failing_then_ok(3)
    result = run_mock(plan_with(retry={"max_attempts": 4, "jitter": 0}), handler)
    assert result.ok, result.error
    assert len(handler.calls) == 4
    assert sleeps == [1, 1, 2]
    assert result.retries == 3


def test_retries_exhausted_fail_with_the_status(run_mock):
    handler = failing_then_ok(5)
    result = run_mock(plan_with(retry={"max_attempts": 2}), handler)
    assert result.status is RunStatus.FAILED
    assert isinstance(result.error, HTTPStatusError)
    assert result.error.status_code == 503
    assert "after 2 attempts" in str(result.error)
    assert len(handler.calls) == 2


def test_retry_after_is_honoured(run_mock, sleeps):
    handler = failing_then_ok(1, status=429, headers={"Retry-After": "7"})
    result = run_mock(plan_with(), handler)
    assert result.ok
    assert 7 in sleeps


def test_retry_when_condition(run_mock, sleeps):
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(200, json={"state": "pending" if len(calls) < 3 else "done"})

    result = run_mock(
        plan_with(retry_when="response.body.state == 'pending'", retry={"base_seconds": 0.5}),
        handler,
    )
    assert result.ok
    assert len(calls) == 3
    assert len(sleeps) == 2


def test_transport_errors_are_retried_then_reported(run_mock):
    calls = []

    def handler(request):
        calls.append(1)
        raise httpx.ConnectError("connection refused", request=request)

    result = run_mock(plan_with(retry={"max_attempts": 3}), handler)
    assert result.status is RunStatus.FAILED
    assert isinstance(result.error, RequestError)
    assert "after 3 attempts" in str(result.error)
    assert len(calls) == 3


def test_abort_on_wins_over_retry(run_mock):
    handler = failing_then_ok(5, status=503)
    result = run_mock(plan_with(abort_on=[503]), handler)
    assert result.status is RunStatus.ABORTED
    assert isinstance(result.error, AbortError)
    assert len(handler.calls) == 1


def test_ignore_on_skips_the_response_and_continues(run_mock):
    def handler(request):
        if request.url.path == "/x":
            return httpx.Response(404, json={})
        return httpx.Response(200, json={"second": True})

    plan = {
        "key": "p",
        "steps": [
            {"name": "s", "url": "http://api/x", "ignore_on": [404]},
            {"name": "t", "url": "http://api/y"},
        ],
    }
    result = run_mock(plan, handler)
    assert result.ok
    assert result.steps["s"].status == "ignored"
    assert result.records_of("s") == []
    assert result.records_of("t") == [{"second": True}]


def test_abort_when(run_mock):
    result = run_mock(
        plan_with(abort_when="response.body.ok == `true`"),
        lambda r: httpx.Response(200, json={"ok": True}),
    )
    assert result.status is RunStatus.ABORTED
    assert "abort_when" in str(result.error)


def test_unhandled_error_status_fails_the_step(run_mock):
    result = run_mock(plan_with(), lambda r: httpx.Response(404, json={}))
    assert result.status is RunStatus.FAILED
    assert isinstance(result.error, HTTPStatusError)
    assert result.error.step_path == "s"


def test_expect_status_and_predicates_and_schema(run_mock):
    body = {"items": [1, 2], "total": 2}
    ok = plan_with(
        expect={
            "status": 200,
            "that": ["length(response.body.items) == response.body.total"],
            "body_schema": {"type": "object", "required": ["items"]},
        }
    )
    assert run_mock(ok, lambda r: httpx.Response(200, json=body)).ok

    bad = plan_with(
        expect={
            "that": ["length(response.body.items) == `3`"],
            "body_schema": {"type": "object", "required": ["missing"]},
        },
        on_error="continue",
    )
    result = run_mock(bad, lambda r: httpx.Response(200, json=body))
    assert result.status is RunStatus.FAILED
    messages = [a.message for a in result.assertion_failures]
    assert len(messages) == 2
    assert "length(response.body.items) == `3`" in messages[0]
    assert "missing" in messages[1]


def test_expect_status_accepts_an_error_status(run_mock):
    result = run_mock(plan_with(expect={"status": [404]}), lambda r: httpx.Response(404))
    assert result.ok


def test_expect_failure_aborts_by_default(run_mock):
    plan = {
        "key": "p",
        "steps": [
            {"name": "a", "url": "http://api/a", "expect": {"status": [201]}},
            {"name": "b", "url": "http://api/b"},
        ],
    }
    result = run_mock(plan, lambda r: httpx.Response(200, json={}))
    assert isinstance(result.error, ExpectationFailed)
    assert "b" not in result.steps


def test_on_error_continue_runs_later_steps_but_the_run_fails(run_mock):
    plan = {
        "key": "p",
        "steps": [
            {"name": "a", "url": "http://api/a", "on_error": "continue"},
            {"name": "b", "url": "http://api/b"},
        ],
    }
    result = run_mock(plan, lambda r: httpx.Response(500 if r.url.path == "/a" else 200, json={}))
    assert result.status is RunStatus.FAILED
    assert result.steps["a"].status == "failed"
    assert result.steps["b"].status == "ok"
