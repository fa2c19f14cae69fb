"""Saga compensation: reverse order, own retries, recorded failures, run statuses."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import orchestra
from orchestra import RunStatus
from orchestra.events import (
    CompensationFinished,
    CompensationStarted,
    RequestSent,
    StepFinished,
    StepStarted,
)


def saga_plan(**third):
    return {
        "key": "order-saga",
        "steps": [
            {
                "name": "create_order",
                "method": "POST",
                "url": "{config.base_url}/orders",
                "body": {"sku": "book", "qty": 1},
                "compensate": {
                    "method": "DELETE",
                    "url": "{config.base_url}/orders/{steps.create_order.body.id}",
                },
            },
            {
                "name": "charge_payment",
                "method": "POST",
                "url": "{config.base_url}/payments",
                "body": {"order": "{steps.create_order.body.id}", "amount": 12.5},
                "compensate": {
                    "method": "DELETE",
                    "url": "{config.base_url}/payments/{response.body.id}",
                    "retry": {"max_attempts": 2, "base_seconds": 0},
                },
            },
            {
                "name": "ship",
                "method": "POST",
                "url": "{config.base_url}/shipments",
                "body": {"order": "{steps.create_order.body.id}"},
                "retry": {"max_attempts": 1},
                **third,
            },
        ],
    }


def listing(api, name):
    return httpx.get(f"{api.url}/{name}").json()[name]


def run(plan, api, **options):
    events: list = []
    result = orchestra.run(plan, {"base_url": api.url}, subscribers=[events.append], **options)
    return result, events


def fail(api, prefix, status=500, methods=None):
    body = {"path_prefix": prefix, "status": status}
    if methods:
        body["methods"] = methods
    assert httpx.post(f"{api.url}/fail-switch", json=body).status_code == 200


def test_a_saga_whose_third_step_fails_leaves_the_api_as_before(demo_api):
    httpx.post(f"{demo_api.url}/orders", json={"sku": "earlier"})  # state from before the run
    httpx.post(f"{demo_api.url}/payments", json={"amount": 1})
    before = (listing(demo_api, "orders"), listing(demo_api, "payments"))
    fail(demo_api, "/shipments")

    result, events = run(saga_plan(), demo_api)

    assert result.status is RunStatus.COMPENSATED
    assert result.error.step_path == "ship"  # the error that caused the rollback is kept
    assert (listing(demo_api, "orders"), listing(demo_api, "payments")) == before
    deletes = [
        (e.step_path, e.url.rsplit("/", 1)[1])
        for e in events
        if isinstance(e, RequestSent) and e.method == "DELETE"
    ]
    assert deletes == [("charge_payment.compensate", "pay-2"), ("create_order.compensate", "ord-2")]
    (started,) = [e for e in events if isinstance(e, CompensationStarted)]
    assert (started.count, started.run_status, started.failed_step) == (2, "failed", "ship")
    (finished,) = [e for e in events if isinstance(e, CompensationFinished)]
    assert (finished.status, finished.succeeded, finished.failed) == ("compensated", 2, 0)
    comp = [e for e in events if isinstance(e, StepStarted) and e.kind == "compensation"]
    originals = {e.step_path: e.execution_id for e in events if isinstance(e, StepStarted)}
    assert [e.parent_execution_id for e in comp] == [
        originals["charge_payment"],
        originals["create_order"],
    ]


def test_a_failing_compensation_is_retried_recorded_and_the_rest_still_run(demo_api):
    fail(demo_api, "/shipments")
    fail(demo_api, "/payments/", status=503, methods=["DELETE"])

    result, events = run(saga_plan(), demo_api)

    assert result.status is RunStatus.COMPENSATION_FAILED
    assert result.compensations_failed == 1
    assert listing(demo_api, "orders") == []  # the order compensation still ran
    assert len(listing(demo_api, "payments")) == 1  # the payment could not be undone
    assert demo_api.stats()["by_path"]["/payments/pay-1"] == 2  # its own retry policy: 2 attempts
    failed = [e for e in events if isinstance(e, StepFinished) and e.status == "failed"]
    assert [e.step_path for e in failed] == ["ship", "charge_payment.compensate"]
    assert "503" in failed[1].error


def test_a_successful_saga_compensates_nothing(demo_api):
    result, events = run(saga_plan(), demo_api)
    assert result.status is RunStatus.SUCCEEDED
    assert len(listing(demo_api, "orders")) == 1
    assert not [e for e in events if isinstance(e, CompensationStarted)]


def test_an_abort_is_compensated_too(demo_api):
    result, _ = run(saga_plan(abort_when="response.status_code == `201`"), demo_api)
    assert result.status is RunStatus.COMPENSATED
    assert listing(demo_api, "orders") == [] and listing(demo_api, "payments") == []
    assert listing(demo_api, "shipments") != []  # ship had no compensation


def test_fanout_items_register_one_compensation_each_with_their_item(demo_api):
    plan = {
        "key": "fanout-saga",
        "steps": [
            {
                "name": "list",
                "url": "{config.base_url}/items?limit=3",
                "emit": False,
                "sub_steps": [
                    {
                        "name": "pay",
                        "iterate_over": "response.body.items",
                        "method": "POST",
                        "url": "{config.base_url}/payments",
                        "body": {"item": "{item.id}"},
                        "concurrency": 1,
                        "compensate": {
                            "method": "DELETE",
                            "url": "{config.base_url}/payments/{response.body.id}",
                            "headers": {"X-Item": "{item.id}"},
                        },
                    }
                ],
            },
            {"name": "boom", "url": "{config.base_url}/status/500", "retry": {"max_attempts": 1}},
        ],
    }
    result, events = run(plan, demo_api)
    assert result.status is RunStatus.COMPENSATED
    assert listing(demo_api, "payments") == []
    undone = [
        e.headers["x-item"] for e in events if isinstance(e, RequestSent) and e.method == "DELETE"
    ]
    assert undone == ["3", "2", "1"]


def test_ignored_steps_register_no_compensation(run_mock):
    calls = []

    def handler(request):
        calls.append((request.method, request.url.path))
        if request.url.path == "/gone":
            return httpx.Response(404)
        if request.url.path == "/boom":
            return httpx.Response(500)
        return httpx.Response(201, json={"id": 1})

    plan = {
        "key": "p",
        "steps": [
            {
                "name": "a",
                "url": "http://api/gone",
                "ignore_on": [404],
                "compensate": {"method": "DELETE", "url": "http://api/a"},
            },
            {
                "name": "b",
                "url": "http://api/b",
                "compensate": {"method": "DELETE", "url": "http://api/b"},
            },
            {"name": "c", "url": "http://api/boom", "retry": {"max_attempts": 1}},
        ],
    }
    result = run_mock(plan, handler)
    assert result.status is RunStatus.COMPENSATED
    assert [c for c in calls if c[0] == "DELETE"] == [("DELETE", "/b")]


def test_a_failure_under_on_error_continue_is_compensated_at_the_end(run_mock):
    calls = []

    def handler(request):
        calls.append((request.method, request.url.path))
        return httpx.Response(500 if request.url.path == "/boom" else 200, json={})

    plan = {
        "key": "p",
        "steps": [
            {
                "name": "a",
                "url": "http://api/a",
                "compensate": {"method": "DELETE", "url": "http://api/a"},
            },
            {
                "name": "b",
                "url": "http://api/boom",
                "retry": {"max_attempts": 1},
                "on_error": "continue",
            },
            {"name": "c", "url": "http://api/c"},
        ],
    }
    result = run_mock(plan, handler)
    assert calls == [("GET", "/a"), ("GET", "/boom"), ("GET", "/c"), ("DELETE", "/a")]
    assert result.status is RunStatus.COMPENSATED


def test_an_interrupted_run_is_not_compensated():
    calls = []
    reached = asyncio.Event()

    class Hook:
        async def before_step(self, call):
            if call.step.name == "b":
                reached.set()
                await asyncio.Event().wait()  # paused until cancelled

    def handler(request):
        calls.append(request.method)
        return httpx.Response(200, json={})

    plan = {
        "key": "p",
        "steps": [
            {
                "name": "a",
                "url": "http://api/a",
                "compensate": {"method": "DELETE", "url": "http://api/a"},
            },
            {"name": "b", "url": "http://api/b"},
        ],
    }

    async def main():
        runner = orchestra.Runner(plan, transport=httpx.MockTransport(handler), hooks=[Hook()])
        task = asyncio.create_task(runner.run())
        await reached.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return runner.result

    result = asyncio.run(main())
    assert result.status is RunStatus.INTERRUPTED
    assert calls == ["GET"]
