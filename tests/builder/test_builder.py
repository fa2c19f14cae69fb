"""The Python builder makes the same plans as their JSON twins, and they run."""

from __future__ import annotations

import json

import httpx
import pytest

import orchestra
from orchestra import Flow, PlanError, RunStatus, load_plan
from orchestra.builder import DELETE, GET, POST, Request, step

B = "{config.base_url}"

SEED_000_JSON = {
    "key": "user-stats",
    "config": {"base_url": "http://127.0.0.1:8765"},
    "steps": [
        {"name": "fetch_user", "url": f"{B}/items/1"},
        {
            "name": "check_user_type",
            "choice": [
                {
                    "when": "steps.fetch_user.body.category == 'alpha'",
                    "steps": [
                        {"name": "fetch_admin", "url": f"{B}/items/{{steps.fetch_user.body.id}}"}
                    ],
                }
            ],
            "otherwise": [{"name": "fetch_user_stats", "url": f"{B}/items/2"}],
        },
        {
            "name": "extras",
            "parallel": [
                {"name": "notifs", "url": f"{B}/items/3"},
                {"name": "tasks", "url": f"{B}/items/4"},
            ],
        },
    ],
}


def seed_000_flow() -> Flow:
    return (
        Flow("user-stats", config={"base_url": "http://127.0.0.1:8765"})
        .step("fetch_user", GET(f"{B}/items/1"))
        .choice("check_user_type")
        .when(
            "steps.fetch_user.body.category == 'alpha'",
            step("fetch_admin", GET(f"{B}/items/{{steps.fetch_user.body.id}}")),
        )
        .otherwise(step("fetch_user_stats", GET(f"{B}/items/2")))
        .end()
        .parallel("extras")
        .step("notifs", GET(f"{B}/items/3"))
        .step("tasks", GET(f"{B}/items/4"))
        .end()
    )


def test_the_seed_000_flow_equals_its_json_twin():
    flow = seed_000_flow()
    assert flow.to_dict() == SEED_000_JSON
    assert json.loads(flow.to_json()) == SEED_000_JSON
    assert load_plan(flow).to_dict() == load_plan(SEED_000_JSON).to_dict()
    assert flow.to_plan() == load_plan(SEED_000_JSON).model


def test_fluent_and_argument_styles_build_the_same_plan():
    fluent = (
        Flow("f")
        .choice("c")
        .when("config.a")
        .step("a1", GET("http://x/1"))
        .step("a2", GET("http://x/2"))
        .when("config.b")
        .step("b1", GET("http://x/3"))
        .otherwise()
        .step("o1", GET("http://x/4"))
        .end()
        .parallel("p", on_error="cancel")
        .step("p1", GET("http://x/5"))
        .end()
    )
    arguments = (
        Flow("f")
        .choice("c")
        .when("config.a", step("a1", GET("http://x/1")), step("a2", GET("http://x/2")))
        .when("config.b", step("b1", GET("http://x/3")))
        .otherwise(step("o1", GET("http://x/4")))
        .end()
        .parallel("p", step("p1", GET("http://x/5")), on_error="cancel")
        .end()
    )
    assert fluent.to_dict() == arguments.to_dict()
    assert fluent.to_dict()["steps"][1] == {
        "name": "p",
        "parallel": [{"name": "p1", "url": "http://x/5"}],
        "on_error": "cancel",
    }


def test_nested_containers():
    flow = (
        Flow("n")
        .parallel("outer")
        .choice("inner")
        .when("`true`", step("x", GET("http://x/x")))
        .end()
        .parallel("deeper")
        .step("y", GET("http://x/y"))
        .end()
        .end()
    )
    assert [node.path for node in load_plan(flow).walk()] == [
        "outer",
        "outer.inner",
        "outer.inner.x",
        "outer.deeper",
        "outer.deeper.y",
    ]


def test_requests_build_every_step_field():
    order = (
        POST(f"{B}/orders")
        .json({"sku": "book"})
        .header("X-Trace", "1")
        .param("dry", "false")
        .retry(max_attempts=2)
        .expect(status=[201])
        .extract(id="response.body.id")
        .update_context(last_order="response.body.id")
        .compensate(DELETE(f"{B}/orders/{{steps.order.body.id}}"))
        .on_error("continue")
    )
    listing = (
        GET(f"{B}/cursor", params={"cursor": "{prev.body.next_cursor}"})
        .paginate(
            "response.body.next_cursor != null", break_when="length(response.body.items) == `0`"
        )
        .fanout("detail", GET(f"{B}/items/{{item.id}}"), "response.body.items", concurrency=5)
        .with_(emit=False, timeout_seconds=5)
    )
    flow = Flow("r", config={"base_url": "http://x"}).step("order", order).step("list", listing)
    assert flow.to_dict()["steps"] == [
        {
            "name": "order",
            "url": f"{B}/orders",
            "method": "POST",
            "body": {"sku": "book"},
            "headers": {"X-Trace": "1"},
            "params": {"dry": "false"},
            "retry": {"max_attempts": 2},
            "expect": {"status": [201]},
            "extract": {"id": "response.body.id"},
            "context_updates": {"last_order": "response.body.id"},
            "compensate": {"url": f"{B}/orders/{{steps.order.body.id}}", "method": "DELETE"},
            "on_error": "continue",
        },
        {
            "name": "list",
            "url": f"{B}/cursor",
            "params": {"cursor": "{prev.body.next_cursor}"},
            "while": "response.body.next_cursor != null",
            "break_when": "length(response.body.items) == `0`",
            "sub_steps": [
                {
                    "name": "detail",
                    "url": f"{B}/items/{{item.id}}",
                    "concurrency": 5,
                    "iterate_over": "response.body.items",
                }
            ],
            "emit": False,
            "timeout_seconds": 5,
        },
    ]
    assert json.loads(flow.to_json()) == load_plan(flow.to_dict()).to_dict()


def test_requests_are_immutable():
    base = GET("http://x/a")
    with_header = base.header("A", "1")
    assert base.fields == {"url": "http://x/a"}
    assert with_header.fields["headers"] == {"A": "1"}
    assert with_header.header("B", "2").fields["headers"] == {"A": "1", "B": "2"}
    assert with_header.fields["headers"] == {"A": "1"}
    assert GET("http://x/a") == base and isinstance(base, Request)


def test_mistakes_are_reported_as_plan_errors_with_paths():
    flow = (
        Flow("bad")
        .step("a", GET("http://x/{steps.b.body}"))
        .step("b", GET("http://x", metod="GET"))
    )
    with pytest.raises(PlanError) as info:
        flow.to_plan()
    assert "steps[1].metod" in str(info.value) and "did you mean 'method'" in str(info.value)
    fixed = Flow("bad").step("a", GET("http://x/{steps.b.body}")).step("b", GET("http://x"))
    with pytest.raises(PlanError, match="'b' runs later"):
        orchestra.load_plan(fixed)
    with pytest.raises(ValueError, match="otherwise must be the last branch"):
        Flow("x").choice().otherwise().when("a")
    with pytest.raises(TypeError, match=r"step\(name, request\)"):
        Flow("x").parallel("p", GET("http://x"))


def test_orchestra_run_runs_a_flow_against_the_demo_api(demo_api):
    flow = (
        Flow("shop", config={"base_url": demo_api.url})
        .step("item", GET(f"{B}/items/3"))
        .choice("route")
        .when("steps.item.body.category == 'alpha'", step("alpha", GET(f"{B}/items/30")))
        .otherwise(step("other", GET(f"{B}/items/31")))
        .end()
        .parallel("both")
        .step(
            "order",
            POST(f"{B}/orders")
            .json({"item": "{steps.item.body.id}"})
            .compensate(DELETE(f"{B}/orders/{{steps.order.body.id}}")),
        )
        .step(
            "payment",
            POST(f"{B}/payments")
            .json({"amount": 1})
            .compensate(DELETE(f"{B}/payments/{{response.body.id}}")),
        )
        .end()
        .step("ship", GET(f"{B}/status/503").retry(max_attempts=1))
    )
    result = orchestra.run(flow)
    assert result.status is RunStatus.COMPENSATED
    assert result.steps["route.alpha"].status == "ok"  # item 3 is alpha
    assert result.steps["route.other"].status == "skipped"
    assert httpx.get(f"{demo_api.url}/orders").json() == {"orders": []}
    assert httpx.get(f"{demo_api.url}/payments").json() == {"payments": []}
    assert flow.run().status is RunStatus.COMPENSATED
