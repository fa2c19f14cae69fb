"""Parallel groups and choices (seed 000) on MockTransport and against the demo API."""

from __future__ import annotations

import asyncio

import httpx
import pytest

import orchestra
from orchestra import RunStatus
from orchestra.events import RequestSent, ResponseReceived, StepFinished, StepStarted


class Events(list):
    def of(self, kind, path=None):
        return [e for e in self if isinstance(e, kind) and (path is None or e.step_path == path)]

    def finished(self, path):
        (event,) = self.of(StepFinished, path)
        return event


class BarrierTransport(httpx.AsyncBaseTransport):
    """Answers ``/wait/<n>`` only once ``n`` such requests are in flight together."""

    def __init__(self, fail: frozenset[str] = frozenset()):
        self.in_flight = 0
        self.peak = 0
        self.waiting: list[asyncio.Future] = []
        self.fail = fail
        self.seen: list[str] = []

    async def handle_async_request(self, request):
        path = request.url.path
        self.seen.append(path)
        if path in self.fail:
            return httpx.Response(500, json={"error": "boom"})
        if path.startswith("/wait/"):
            needed = int(path.rsplit("/", 1)[1])
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            future = asyncio.get_running_loop().create_future()
            self.waiting.append(future)
            if len(self.waiting) >= needed:
                for waiter in self.waiting:
                    if not waiter.done():
                        waiter.set_result(None)
            try:  # sequential requests would never meet: fail instead of hanging
                await asyncio.wait_for(future, 5)
            except TimeoutError:
                return httpx.Response(504, json={"error": "the others never came"})
            finally:
                self.in_flight -= 1
        if path.startswith("/hang"):
            await asyncio.Event().wait()  # only a cancellation ends it
        return httpx.Response(200, json={"path": path})


def run(plan, transport, **options):
    events = Events()
    result = orchestra.run(plan, transport=transport, subscribers=[events.append], **options)
    return result, events


def group(on_error=None, *children):
    node = {"name": "g", "parallel": list(children)}
    if on_error:
        node["on_error"] = on_error
    return node


NO_RETRY = {"max_attempts": 1}


def test_children_are_in_flight_together_and_joined_before_the_next_step():
    plan = {
        "key": "p",
        "steps": [
            group(
                None,
                {"name": "a", "url": "http://api/wait/2"},
                {"name": "b", "url": "http://api/wait/2"},
            ),
            {
                "name": "after",
                "url": "http://api/x/{steps.a.body.path}/{steps.b.status}/{steps.g.status}",
            },
        ],
    }
    transport = BarrierTransport()
    result, events = run(plan, transport)
    assert result.ok, result.error
    assert transport.peak == 2  # would deadlock (and time out) if run one after the other
    assert transport.seen[-1] == "/x//wait/2/ok/ok"  # (paths are seen decoded)
    group_started = events.of(StepStarted, "g")[0]
    children = [e for e in events.of(StepStarted) if e.step_path in ("g.a", "g.b")]
    assert {e.parent_execution_id for e in children} == {group_started.execution_id}
    assert group_started.kind == "parallel"
    after = events.of(StepStarted, "after")[0]
    assert after.at >= max(events.finished("g.a").at, events.finished("g.b").at)


def test_wait_lets_the_others_finish_then_fails_the_group():
    plan = {
        "key": "p",
        "steps": [
            group(
                None,
                {"name": "bad", "url": "http://api/boom", "retry": NO_RETRY},
                {"name": "slow", "url": "http://api/wait/1"},
            ),
            {"name": "never", "url": "http://api/never"},
        ],
    }
    result, events = run(plan, BarrierTransport(fail=frozenset({"/boom"})))
    assert result.status is RunStatus.FAILED
    assert result.error.step_path == "g.bad"
    assert events.finished("g.slow").status == "ok"
    assert events.finished("g.bad").status == "failed"
    assert events.finished("g").status == "failed"
    assert not events.of(StepStarted, "never")


def test_cancel_stops_the_others_and_marks_them_cancelled():
    plan = {
        "key": "p",
        "steps": [
            group(
                "cancel",
                {"name": "hang", "url": "http://api/hang"},
                {"name": "bad", "url": "http://api/boom", "retry": NO_RETRY},
            )
        ],
    }
    result, events = run(plan, BarrierTransport(fail=frozenset({"/boom"})))
    assert result.status is RunStatus.FAILED
    hang = events.finished("g.hang")
    assert hang.status == "cancelled"
    assert "'bad' failed in parallel group 'g'" in hang.reason
    (cut,) = events.of(ResponseReceived, "g.hang")
    assert cut.cancelled and cut.status_code is None  # the in-flight exchange is recorded
    assert result.transport_errors == 0
    assert result.steps["g.hang"].status == "cancelled"


def test_continue_records_the_failure_and_goes_on():
    plan = {
        "key": "p",
        "steps": [
            group(
                "continue",
                {"name": "ok", "url": "http://api/fine"},
                {"name": "bad", "url": "http://api/boom", "retry": NO_RETRY},
            ),
            {"name": "after", "url": "http://api/after/{steps.g.failed[0]}"},
        ],
    }
    transport = BarrierTransport(fail=frozenset({"/boom"}))
    result, events = run(plan, transport)
    assert events.finished("g").status == "failed"
    assert transport.seen[-1] == "/after/bad"
    assert result.status is RunStatus.FAILED  # the run still tells the truth


def test_nested_groups_and_choices_inside_parallel():
    plan = {
        "key": "p",
        "steps": [
            group(
                None,
                {
                    "name": "inner",
                    "parallel": [
                        {"name": "x", "url": "http://api/wait/3"},
                        {"name": "y", "url": "http://api/wait/3"},
                    ],
                },
                {
                    "name": "c",
                    "choice": [
                        {"when": "`true`", "steps": [{"name": "z", "url": "http://api/wait/3"}]}
                    ],
                },
            )
        ],
    }
    transport = BarrierTransport()
    result, _ = run(plan, transport)
    assert result.ok, result.error
    assert transport.peak == 3


def choice_plan(kind):
    return {
        "key": "c",
        "config": {"kind": kind},
        "steps": [
            {
                "name": "route",
                "choice": [
                    {
                        "when": "config.kind == 'admin'",
                        "steps": [{"name": "admin", "url": "http://api/admin"}],
                    },
                    {
                        "when": "config.kind == 'user'",
                        "steps": [
                            {"name": "user", "url": "http://api/user"},
                            {"name": "user2", "url": "http://api/user2/{steps.user.body.path}"},
                        ],
                    },
                ],
                "otherwise": [
                    {
                        "name": "guest",
                        "url": "http://api/guest",
                        "sub_steps": [{"name": "d", "url": "http://api/d"}],
                    }
                ],
            },
            {"name": "after", "url": "http://api/after/{steps.route.branch}/{steps.admin.status}"},
        ],
    }


@pytest.mark.parametrize(
    ("kind", "taken", "skipped", "branch"),
    [
        (
            "admin",
            ["route.admin"],
            ["route.user", "route.user2", "route.guest", "route.guest.d"],
            "when[0]",
        ),
        (
            "user",
            ["route.user", "route.user2"],
            ["route.admin", "route.guest", "route.guest.d"],
            "when[1]",
        ),
        (
            "x",
            ["route.guest", "route.guest.d"],
            ["route.admin", "route.user", "route.user2"],
            "otherwise",
        ),
    ],
)
def test_choice_takes_the_first_true_branch_and_records_the_others_skipped(
    kind, taken, skipped, branch
):
    transport = BarrierTransport()
    result, events = run(choice_plan(kind), transport)
    assert result.ok, result.error
    for path in taken:
        assert events.finished(path).status == "ok"
    for path in skipped:
        event = events.finished(path)
        assert event.status == "skipped"
        assert event.reason == f"choice 'route' took {branch}"
        assert result.steps[path].status == "skipped"
    choice_id = events.of(StepStarted, "route")[0].execution_id
    assert {e.parent_execution_id for e in events.of(StepStarted) if e.step_path in skipped} == {
        choice_id
    }
    admin_status = "ok" if kind == "admin" else "skipped"
    assert transport.seen[-1] == f"/after/{branch}/{admin_status}"


def test_choice_without_a_true_branch_and_without_otherwise_runs_nothing():
    plan = {
        "key": "c",
        "steps": [
            {
                "name": "route",
                "choice": [{"when": "`false`", "steps": [{"name": "a", "url": "http://api/a"}]}],
            },
            {"name": "after", "url": "http://api/after", "params": {"b": "{steps.route.branch}"}},
        ],
    }
    transport = BarrierTransport()
    result, events = run(plan, transport)
    assert result.ok
    assert transport.seen == ["/after"]
    assert events.finished("route.a").reason == "choice 'route' took no branch"


def test_a_failing_branch_fails_the_choice_and_the_run():
    plan = {
        "key": "c",
        "steps": [
            {
                "name": "route",
                "choice": [
                    {
                        "when": "`true`",
                        "steps": [{"name": "a", "url": "http://api/boom", "retry": NO_RETRY}],
                    }
                ],
            },
            {"name": "after", "url": "http://api/after"},
        ],
    }
    result, events = run(plan, BarrierTransport(fail=frozenset({"/boom"})))
    assert result.status is RunStatus.FAILED
    assert events.finished("route").status == "failed"
    assert not events.of(StepStarted, "after")


# -- against the demo API -----------------------------------------------------


def test_parallel_requests_overlap_on_the_demo_api(demo_api):
    events = Events()
    plan = {
        "key": "overlap",
        "config": {"base_url": demo_api.url},
        "steps": [
            {
                "name": "extras",
                "parallel": [
                    {"name": "notifs", "url": "{config.base_url}/slow?delay=0.4&n=1"},
                    {"name": "tasks", "url": "{config.base_url}/slow?delay=0.4&n=2"},
                    {"name": "more", "url": "{config.base_url}/slow?delay=0.4&n=3"},
                ],
            },
            {"name": "after", "url": "{config.base_url}/echo/{steps.notifs.body.delayed}"},
        ],
    }
    result = orchestra.run(plan, subscribers=[events.append])
    assert result.ok, result.error
    sent = {e.step_path: e.at for e in events.of(RequestSent)}
    received = {e.step_path: e.at for e in events.of(ResponseReceived)}
    children = ["extras.notifs", "extras.tasks", "extras.more"]
    # every child was sent before any child got its answer: they really overlapped
    assert max(sent[c] for c in children) < min(received[c] for c in children)
    assert sent["after"] >= max(received[c] for c in children)
    assert demo_api.stats()["by_path"]["/slow"] == 3


def test_choice_on_demo_data_picks_a_branch_and_records_skips(demo_api):
    events = Events()
    plan = {
        "key": "route",
        "config": {"base_url": demo_api.url},
        "steps": [
            {"name": "item", "url": "{config.base_url}/items/2"},
            {
                "name": "by_category",
                "choice": [
                    {
                        "when": "steps.item.body.category == 'alpha'",
                        "steps": [{"name": "alpha", "url": "{config.base_url}/items/10"}],
                    },
                    {
                        "when": "steps.item.body.category == 'gamma'",
                        "steps": [{"name": "gamma", "url": "{config.base_url}/items/20"}],
                    },
                ],
                "otherwise": [{"name": "other", "url": "{config.base_url}/items/30"}],
            },
        ],
    }
    result = orchestra.run(plan, subscribers=[events.append])
    assert result.ok, result.error
    assert result.records_of("by_category.gamma")[0]["id"] == 20  # item 2 is gamma (2 % 3)
    assert events.finished("by_category.alpha").status == "skipped"
    assert events.finished("by_category.other").status == "skipped"
    assert set(demo_api.stats()["by_path"]) == {"/items/2", "/items/20"}
