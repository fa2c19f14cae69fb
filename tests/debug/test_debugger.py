"""The debugger hook and the engine's hook points, on ``httpx.MockTransport``.

The notebook tests drive the debugger through a real kernel; these check the
parts that are hard to see from there: the order of hook points, stopping
the runner, and one stop at a time when fanout workers or parallel children
run concurrently.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import orchestra
from orchestra.debug import Breakpoint, Debugger, Target, captured_run
from orchestra.engine import Runner, StepCall
from orchestra.engine._step import StepRunner
from orchestra.events import RunFinished
from orchestra.types import RunStatus


def items_api(request: httpx.Request) -> httpx.Response:
    """``/items?offset=`` pages of two items (three pages), ``/items/<id>`` details."""
    if request.url.path == "/items":
        offset = int(request.url.params.get("offset", 0))
        ids = [offset + 1, offset + 2]
        next_offset = offset + 2 if offset < 4 else None
        return httpx.Response(200, json={"items": [{"id": i} for i in ids], "offset": offset,
                                         "next_offset": next_offset})  # fmt: skip
    return httpx.Response(200, json={"id": int(request.url.path.rsplit("/", 1)[1])})


PAGED = {
    "name": "pages",
    "url": "http://api/items",
    "params": {"offset": "{context.next_offset || `0`}"},
    "context_updates": {"next_offset": "response.body.next_offset"},
    "while": "response.body.next_offset != null",
}


def fanout(concurrency: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": "fan",
        "url": "http://api/items",
        "params": {"offset": 0},
        "sub_steps": [
            {
                "name": "detail",
                "iterate_over": "response.body.items",
                "url": "http://api/items/{item.id}",
                "concurrency": concurrency,
                **extra,
            }
        ],
    }


class Session:
    """A run under a debugger on the test's own loop, resumed by the test.

    ``sent`` lists the requests answered so far; with ``latency`` each answer
    takes that long, so requests are really in flight while others wait.
    """

    def __init__(
        self, plan: dict[str, Any], handler=items_api, *, latency: float = 0.0, **debugger: Any
    ) -> None:
        self.sent: list[str] = []

        async def counting(request: httpx.Request) -> httpx.Response:
            if latency:
                await asyncio.sleep(latency)
            self.sent.append(str(request.url.copy_with(scheme="http")).split("//api")[1])
            return handler(request)

        self.paused = asyncio.Event()
        compiled = orchestra.load_plan(plan)
        self.debugger = Debugger(
            roots=[n.path for n in compiled.steps], on_pause=lambda _: self.paused.set(),
            **debugger,
        )  # fmt: skip
        self.runner = Runner(
            compiled,
            transport=httpx.MockTransport(counting),
            hooks=[self.debugger],
            subscribers=[self.debugger],
            mode="debug",
        )
        self.task = asyncio.ensure_future(self.runner.run())

    async def settle(self) -> str | None:
        """Wait until the run pauses (returns where) or ends (returns None)."""
        waiter = asyncio.ensure_future(self.paused.wait())
        await asyncio.wait({self.task, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        stop = self.debugger.current
        if stop is None:
            assert self.task.done(), "the run neither paused nor ended"
            return None
        return stop.position.describe()

    async def resume(self, command: str) -> str | None:
        self.paused.clear()
        self.debugger.resume(command)
        return await self.settle()


def on_a_loop(test):
    """Run an ``async def`` test on a fresh event loop (``asyncio.run``)."""

    def run() -> None:
        asyncio.run(test())

    run.__name__, run.__doc__ = test.__name__, test.__doc__
    return run


def plan_of(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"key": "debug-test", "steps": list(steps)}


@on_a_loop
async def test_next_page_and_next_item_send_exactly_one_request_each():
    session = Session(plan_of(PAGED, fanout(concurrency=4)), start="start")
    assert await session.settle() == "pages · before the step"
    seen = []
    for command in ["next-page", "next-page", "next-page", "next-item", "next-item"]:
        seen.append((await session.resume(command), len(session.sent)))
    assert seen == [
        ("pages · page 2 · before the request", 1),
        ("pages · page 3 · before the request", 2),
        ("fan · before the step", 3),
        ("fan.detail · item 0 · before the step", 4),
        ("fan.detail · item 1 · before the step", 5),
    ]
    assert await session.resume("next-item") is None
    assert session.runner.result.status is RunStatus.SUCCEEDED
    assert len(session.sent) == 6


@on_a_loop
async def test_items_of_a_concurrent_fanout_stop_one_at_a_time_in_order():
    plan = plan_of(fanout(concurrency=4, params={"n": "{item.id}"}))
    handler_items = {"items": [{"id": i} for i in range(1, 6)]}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/items":
            return httpx.Response(200, json=handler_items)
        return httpx.Response(200, json={})

    session = Session(plan, handler, breakpoints=[Breakpoint.parse("detail")])
    assert await session.settle() == "fan.detail · item 0 · before the step"
    assert len(session.sent) == 1  # the other workers wait at their items: all-stop
    order = []
    for _ in range(4):
        order.append((await session.resume("next-item"), len(session.sent)))
    assert order == [(f"fan.detail · item {i} · before the step", i + 1) for i in range(1, 5)]
    assert await session.resume("continue") is None
    assert len(session.sent) == 6


@on_a_loop
async def test_after_a_pause_with_requests_in_flight_next_item_still_runs_one_item():
    items = {"items": [{"id": i} for i in range(1, 6)]}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=items if request.url.path == "/items" else {})

    session = Session(
        plan_of(fanout(concurrency=3)),
        handler,
        latency=0.02,
        breakpoints=[Breakpoint.parse("detail", "item.id == `2`")],
    )
    assert await session.settle() == "fan.detail · item 1 · page 1 · before the request"
    await asyncio.sleep(0.1)  # item 0 was in flight: it ends, its worker waits at item 3
    assert session.sent == ["/items?offset=0", "/items/1"]
    assert await session.resume("next-item") == "fan.detail · item 2 · before the step"
    assert session.sent[1:] == ["/items/1", "/items/2"]  # item 1 answered, nothing else
    assert await session.resume("next-item") == "fan.detail · item 3 · before the step"
    assert session.sent[-1] == "/items/3" and len(session.sent) == 4
    assert await session.resume("continue") is None
    assert len(session.sent) == 6


@on_a_loop
async def test_continue_does_not_stop_at_items_that_were_queued_for_next_item():
    session = Session(
        plan_of(fanout(concurrency=2)),
        breakpoints=[Breakpoint.parse("detail", "item.id == `1`")],
    )
    assert await session.settle() == "fan.detail · item 0 · page 1 · before the request"
    assert await session.resume("continue") is None
    assert session.runner.result.ok and len(session.sent) == 3


@on_a_loop
async def test_stepping_into_a_parallel_group_presents_each_child_in_turn():
    group = {
        "name": "g",
        "parallel": [
            {"name": "a", "url": "http://api/items/1"},
            {"name": "b", "url": "http://api/items/2"},
        ],
    }
    plan = plan_of({"name": "first", "url": "http://api/items/9"}, group,
                   {"name": "last", "url": "http://api/items/3"})  # fmt: skip
    session = Session(plan, start="start")
    assert await session.settle() == "first · before the step"
    assert await session.resume("step") == "g.a · before the step"
    assert len(session.sent) == 1  # the group's children both wait; neither has sent
    assert await session.resume("step") == "g.b · before the step"
    assert session.sent == ["/items/9", "/items/1"]
    assert await session.resume("step") == "last · before the step"
    assert await session.resume("step") is None
    assert session.sent == ["/items/9", "/items/1", "/items/2", "/items/3"]


@on_a_loop
async def test_a_response_condition_stops_after_the_response_and_edits_reach_the_checks():
    step = {"name": "one", "url": "http://api/items/5", "extract": {"id": "response.body.id"}}
    session = Session(
        plan_of(step), breakpoints=[Breakpoint.parse("one", "response.status_code == `200`")]
    )
    assert await session.settle() == "one · page 1 · after the response"
    stop = session.debugger.current
    assert stop.attempt == 1
    stop.call.scope["response"] = {**stop.call.scope["response"], "body": {"id": 42}}
    assert await session.resume("continue") is None
    assert session.runner.result.steps["one"].statuses == {"ok": 1}
    assert session.runner.context.steps["one"]["extract"] == {"id": 42}


@on_a_loop
async def test_stop_ends_the_run_as_stopped_and_run_returns():
    session = Session(plan_of(PAGED), start="start")
    await session.settle()
    finished: list[RunFinished] = []
    session.runner.bus.subscribe(lambda e: finished.append(e) if isinstance(e, RunFinished) else 0)
    session.runner.stop()
    result = await asyncio.wait_for(session.task, 5)  # returns: no CancelledError
    assert result.status is RunStatus.STOPPED
    assert [e.status for e in finished] == ["stopped"]
    assert session.sent == []


class PageRecorder:
    """A hook with both optional page hooks; it also changes the scope of page 2."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int | None, int | None]] = []

    async def before_step(self, call: StepCall) -> None:
        self.calls.append(("step", call.step.path, call.page, call.item_index))

    async def before_page(self, call: StepCall) -> None:
        self.calls.append(("page", call.step.path, call.page, call.item_index))
        if call.step.path == "pages" and call.page == 2:
            call.scope = {**call.scope, "context": {"next_offset": 4}}

    async def after_response(self, call: StepCall) -> None:
        self.calls.append(("response", call.step.path, call.page, call.item_index))
        assert call.scope["response"]["status_code"] == 200


def test_page_hooks_are_awaited_around_every_request_in_order(run_mock):
    hook = PageRecorder()
    plan = plan_of(PAGED, fanout(concurrency=1))
    result = run_mock(plan, items_api, hooks=[hook], db=None)
    assert result.ok, result.error
    assert hook.calls == [
        ("step", "pages", None, None),
        ("page", "pages", 1, None), ("response", "pages", 1, None),
        ("page", "pages", 2, None), ("response", "pages", 2, None),  # asked for offset 4: last
        ("step", "fan", None, None), ("page", "fan", 1, None), ("response", "fan", 1, None),
        ("step", "fan.detail", None, 0), ("page", "fan.detail", 1, 0),
        ("response", "fan.detail", 1, 0),
        ("step", "fan.detail", None, 1), ("page", "fan.detail", 1, 1),
        ("response", "fan.detail", 1, 1),
    ]  # fmt: skip


def test_without_page_hooks_the_runner_keeps_no_page_work():
    class StepOnly:
        async def before_step(self, call: StepCall) -> None: ...

    runner = StepRunner(None, [StepOnly()])  # type: ignore[arg-type]
    assert runner.page_hooks == [] and runner.response_hooks == []
    both = StepRunner(None, [StepOnly(), PageRecorder()])  # type: ignore[arg-type]
    assert len(both.page_hooks) == 1 and len(both.response_hooks) == 1


def test_the_capture_names_where_a_run_failed(tmp_path, run_mock):
    step = {**PAGED, "expect": {"that": ["response.body.offset < `4`"]}}
    db = tmp_path / "capture.duckdb"
    result = run_mock(plan_of({"name": "first", "url": "http://api/items/1"}, step), items_api,
                      db=str(db))  # fmt: skip
    assert result.status is RunStatus.FAILED
    captured = captured_run(orchestra.CaptureStore(db), "last")
    assert captured.target == Target("pages", 1, 3, captured.target.error)
    assert "expectation failed" in captured.target.error
    assert captured.plan["steps"][1]["name"] == "pages"
    assert captured.describe().startswith(f"run {captured.run_id} failed at pages page 3")


@pytest.mark.parametrize(
    ("when", "checked"),
    [(None, "step"), ("item.id == `2`", "page"), ("response.status_code != `200`", "response"),
     ("length(response.body.items) > `0`", "response")],
)  # fmt: skip
def test_a_breakpoint_is_checked_where_its_condition_can_be_true(when, checked):
    assert Breakpoint.parse("s", when).checkpoint == checked
