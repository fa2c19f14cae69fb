"""Circuit breaker per host: closed → open → half-open with one probe, on an injected clock."""

from __future__ import annotations

import httpx
import pytest

import orchestra
from orchestra import CircuitOpenError, RunStatus
from orchestra.engine import Breakers
from orchestra.events import (
    BreakerRejected,
    BreakerStateChanged,
    EventBus,
    RequestSent,
    ResponseReceived,
)
from orchestra.plan import CircuitBreaker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def breaker():
    clock = Clock()
    events: list = []
    settings = CircuitBreaker(failure_threshold=3, window_seconds=10, cooldown_seconds=30)
    breakers = Breakers(settings, bus=EventBus([events.append]), run_id="r", clock=clock)
    return breakers, clock, events


def fail_once(breakers, host="h:1"):
    ticket = breakers.acquire(host, "s", "GET", "http://h/x")
    breakers.record(ticket, failed=True, step_path="s")


def changes(events):
    return [(e.old_state, e.new_state) for e in events if isinstance(e, BreakerStateChanged)]


def test_opens_after_the_threshold_within_the_window(breaker):
    breakers, clock, events = breaker
    fail_once(breakers)
    clock.now += 11  # the first failure leaves the window
    fail_once(breakers)
    fail_once(breakers)
    assert breakers.state("h:1") == "closed"
    fail_once(breakers)
    assert breakers.state("h:1") == "open"
    assert changes(events) == [("closed", "open")]
    assert "3 failures within 10s" in events[-1].reason


def test_open_fails_fast_until_the_cool_down_then_lets_one_probe(breaker):
    breakers, clock, events = breaker
    for _ in range(3):
        fail_once(breakers)
    clock.now += 29.5
    with pytest.raises(CircuitOpenError) as info:
        breakers.acquire("h:1", "s", "GET", "http://h/x")
    assert info.value.retry_in_seconds == pytest.approx(0.5)
    assert "h:1" in str(info.value) and "not sent" in str(info.value)
    rejected = [e for e in events if isinstance(e, BreakerRejected)]
    assert [(e.state, e.host) for e in rejected] == [("open", "h:1")]
    assert breakers.state("h:1") == "open"
    clock.now += 0.5
    assert breakers.state("h:1") == "half_open"
    probe = breakers.acquire("h:1", "s", "GET", "http://h/x")
    assert probe.probe
    with pytest.raises(CircuitOpenError, match="probe request is in flight"):
        breakers.acquire("h:1", "s", "GET", "http://h/x")  # exactly one probe
    breakers.record(probe, failed=False, step_path="s")
    assert breakers.state("h:1") == "closed"
    assert changes(events) == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert not breakers.acquire("h:1", "s", "GET", "http://h/x").probe


def test_a_failed_probe_opens_the_circuit_for_a_new_cool_down(breaker):
    breakers, clock, events = breaker
    for _ in range(3):
        fail_once(breakers)
    clock.now += 30
    fail_once(breakers)  # the probe fails
    assert breakers.state("h:1") == "open"
    clock.now += 29
    with pytest.raises(CircuitOpenError):
        breakers.acquire("h:1", "s", "GET", "http://h/x")
    clock.now += 1
    assert breakers.acquire("h:1", "s", "GET", "http://h/x").probe
    assert changes(events)[-2:] == [("half_open", "open"), ("open", "half_open")]


def test_a_cancelled_probe_frees_the_probe_slot(breaker):
    breakers, clock, _ = breaker
    for _ in range(3):
        fail_once(breakers)
    clock.now += 30
    breakers.release(breakers.acquire("h:1", "s", "GET", "u"))
    assert breakers.acquire("h:1", "s", "GET", "u").probe


def test_circuits_are_per_host_and_only_failures_count(breaker):
    breakers, _, _ = breaker
    for _ in range(3):
        fail_once(breakers, "a:1")
    assert breakers.state("a:1") == "open"
    assert breakers.state("b:1") == "closed"
    assert breakers.is_failure(503) and breakers.is_failure(None)
    assert not breakers.is_failure(404) and not breakers.is_failure(429)


def test_engine_fails_fast_once_open_without_sending(run_mock, sleeps):
    sent = []

    def handler(request):
        sent.append(request.url.host)
        return httpx.Response(503 if request.url.host == "down" else 200, json={})

    plan = {
        "key": "b",
        "circuit_breaker": {"failure_threshold": 2, "cooldown_seconds": 60},
        "steps": [
            {"name": "a", "url": "http://down/x", "retry": {"max_attempts": 5, "base_seconds": 1}},
            {"name": "other", "url": "http://up/x"},
        ],
    }
    events: list = []
    result = run_mock(plan, handler, subscribers=[events.append])
    assert result.status is RunStatus.FAILED
    assert isinstance(result.error, CircuitOpenError)
    assert sent == ["down", "down"]  # the third attempt was refused by the breaker
    assert result.breaker_rejections == 1
    assert "circuit breaker for down is open" in str(result.error)


def test_the_breaker_opens_and_half_opens_on_schedule_against_the_demo_api(demo_api, sleeps):
    """/flaky fails 3 times then answers; the run's clock is fake (delays advance it)."""
    plan = {
        "key": "breaker",
        "config": {"base_url": demo_api.url},
        "circuit_breaker": {"failure_threshold": 3, "window_seconds": 60, "cooldown_seconds": 30},
        "steps": [
            {
                "name": "hammer",
                "url": "{config.base_url}/items?limit=6",
                "emit": False,
                "sub_steps": [
                    {
                        "name": "call",
                        "iterate_over": "response.body.items",
                        "url": "{config.base_url}/flaky/brk?fail=3",
                        "concurrency": 1,
                        "retry": {"max_attempts": 1},
                        "on_error": "continue",
                    }
                ],
            },
            {
                "name": "too_soon",
                "url": "{config.base_url}/flaky/brk",
                "delay_seconds": 10,
                "on_error": "continue",
            },
            {"name": "probe", "url": "{config.base_url}/flaky/brk", "delay_seconds": 20},
            {"name": "after", "url": "{config.base_url}/flaky/brk"},
        ],
    }
    timeline = []

    def watch(event):
        if isinstance(event, BreakerStateChanged):
            timeline.append((sleeps.now, event.old_state, event.new_state, event.step_path))
        elif isinstance(event, BreakerRejected):
            timeline.append((sleeps.now, "rejected", event.state, event.step_path))
        elif isinstance(event, RequestSent) and "flaky" in event.url:
            timeline.append((sleeps.now, "sent", event.attempt, event.step_path))

    start = sleeps.now
    result = orchestra.run(plan, subscribers=[watch], sleep=sleeps, clock=sleeps.clock)
    assert result.status is RunStatus.FAILED  # the continued failures still count
    assert [(t - start, *rest) for t, *rest in timeline] == [
        (0, "sent", 1, "hammer.call"),
        (0, "sent", 1, "hammer.call"),
        (0, "sent", 1, "hammer.call"),
        (0, "closed", "open", "hammer.call"),
        (0, "rejected", "open", "hammer.call"),
        (0, "rejected", "open", "hammer.call"),
        (0, "rejected", "open", "hammer.call"),
        (10, "rejected", "open", "too_soon"),
        (30, "open", "half_open", "probe"),
        (30, "sent", 1, "probe"),
        (30, "half_open", "closed", "probe"),
        (30, "sent", 1, "after"),
    ]
    assert demo_api.stats()["by_path"]["/flaky/brk"] == 5  # rejected requests never left
    assert result.steps["probe"].status == "ok" and result.steps["after"].status == "ok"
    assert sleeps == [10, 20]  # no real sleeping: the fake clock moved


def test_a_probe_that_breaks_a_limit_gives_its_slot_back(run_mock, sleeps):
    answers = iter([httpx.Response(503), httpx.Response(200, content=b"x" * 5000)])

    def handler(request):
        return next(answers, httpx.Response(200, json={"ok": True}))

    plan = {
        "key": "b",
        "circuit_breaker": {"failure_threshold": 1, "cooldown_seconds": 10},
        "limits": {"max_response_bytes": 1000},
        "steps": [
            {
                "name": "a",
                "url": "http://h/a",
                "retry": {"max_attempts": 1},
                "on_error": "continue",
            },
            {"name": "b", "url": "http://h/b", "delay_seconds": 10, "on_error": "continue"},
            {"name": "c", "url": "http://h/c"},
        ],
    }
    events: list = []
    result = run_mock(plan, handler, subscribers=[events.append])
    assert result.steps["b"].status == "failed" and result.steps["c"].status == "ok"
    assert changes(events) == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    limit = [e for e in events if isinstance(e, ResponseReceived) and e.step_path == "b"]
    assert "max_response_bytes" in limit[0].error  # the exchange still ends with an event
