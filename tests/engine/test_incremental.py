"""``incremental`` in the engine: ``row_order: desc`` stops paging at the previous cursor,
values that cannot be compared fail with a fix, and the plan errors name path, step and fix.

The endpoint here ignores the cursor parameter on purpose (many APIs sort but
cannot filter): only ``row_order`` keeps the second run from reading every page.
"""

from __future__ import annotations

import httpx
import pytest

from orchestra import load_plan
from orchestra.engine import InMemoryContextStore
from orchestra.errors import PlanError
from orchestra.plan import expand_plan_data

PAGE = 10


def events_plan(**incremental: object) -> dict:
    return {
        "key": "events",
        "steps": [
            {
                "name": "events",
                "url": "http://api/events",
                "paginate": {"type": "page_number", "size_param": "per_page", "size": PAGE},
                "records": "items",
                "incremental": {"cursor_path": "seq", "param": "since", **incremental},
            }
        ],
    }


class NewestFirst:
    """``/events?page=N``: events ``newest`` … 1, newest first, ``PAGE`` a page."""

    def __init__(self, newest: int):
        self.newest = newest
        self.requests: list[httpx.URL] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.url)
        page = int(request.url.params["page"])
        top = self.newest - (page - 1) * PAGE
        items = [{"seq": seq} for seq in range(top, max(top - PAGE, 0), -1)]
        return httpx.Response(200, json={"items": items})


def test_desc_stops_at_the_page_that_reaches_the_previous_cursor(run_mock):
    store = InMemoryContextStore()
    server = NewestFirst(newest=30)
    first = run_mock(events_plan(row_order="desc"), server, context_store=store)
    assert first.ok, first.error
    assert first.steps["events"].pages == 4  # three full pages, then an empty one
    assert first.context["incremental.events"] == 30
    assert "since" not in server.requests[0].params  # no initial_value: not sent

    server.newest, server.requests = 35, []
    second = run_mock(events_plan(row_order="desc"), server, context_store=store)
    assert second.ok, second.error
    assert server.requests[0].params["since"] == "30"
    assert second.steps["events"].pages == 1  # 35…26 holds 30: nothing newer further on
    assert second.context["incremental.events"] == 35


def test_without_row_order_every_page_is_read(run_mock):
    store = InMemoryContextStore()
    server = NewestFirst(newest=30)
    assert run_mock(events_plan(), server, context_store=store).ok
    again = run_mock(events_plan(), server, context_store=store)
    assert again.steps["events"].pages == 4
    assert again.context["incremental.events"] == 30  # never moves back


def test_a_cursor_of_another_type_than_the_initial_value_fails_with_a_fix(run_mock):
    result = run_mock(events_plan(initial_value="yesterday"), NewestFirst(newest=5))
    assert not result.ok
    text = str(result.error)
    assert "cursor_path 'seq' gave 5, which cannot be compared with 'yesterday'" in text
    assert "initial_value/end_value of that type" in text


def problems(plan: dict) -> str:
    with pytest.raises(PlanError) as caught:
        load_plan(plan)
    return str(caught.value)


def test_incremental_needs_records():
    plan = events_plan()
    del plan["steps"][0]["records"], plan["steps"][0]["paginate"]
    text = problems(plan)
    assert "steps[0].incremental (step 'events')" in text
    assert "the step has no 'records'" in text and "add records:" in text


def test_incremental_on_a_fanout_sub_step_is_refused():
    plan = events_plan()
    sub = {**plan["steps"][0], "name": "detail"}
    plan["steps"][0] = {"name": "parent", "url": "http://api/p", "sub_steps": [sub]}
    text = problems(plan)
    assert "steps[0].sub_steps[0].incremental (step 'detail')" in text
    assert "incremental works on a top-level step" in text


def test_a_param_the_step_already_sets_is_refused():
    plan = events_plan()
    plan["steps"][0]["params"] = {"since": "x"}
    assert "params already set 'since'" in problems(plan)


def test_the_expanded_plan_shows_the_parameter_reading_the_context():
    expanded = expand_plan_data(events_plan(end_value=99, end_param="until"))
    params = expanded["steps"][0]["params"]
    assert params["since"] == '{context."incremental.events"}'
    assert params["until"] == 99


def test_the_debugger_shows_and_edits_the_cursor_like_any_context_value():
    from tests.debug.test_debugger import Session, on_a_loop

    @on_a_loop
    async def debug() -> None:
        server = NewestFirst(newest=30)
        session = Session(events_plan(initial_value=3), handler=server, start="start")
        assert await session.settle() == "events · before the step"
        context = session.debugger.current.call.scope["context"]
        assert context["incremental.events"] == 3
        context["incremental.events"] = 25
        assert await session.resume("continue") is None
        assert server.requests[0].params["since"] == "25"
        assert session.runner.context.context["incremental.events"] == 30

    debug()
