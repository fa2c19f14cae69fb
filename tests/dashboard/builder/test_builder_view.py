"""The builder's view: the playground follows the focused field, "this step only" tries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestra.capture import CaptureStore
from orchestra.dashboard import FlowBuilder


def two_steps(base_url: str = "http://127.0.0.1:1") -> dict[str, Any]:
    return {
        "key": "builder-view-test",
        "config": {"base_url": base_url},
        "steps": [
            {
                "name": "items",
                "url": "{config.base_url}/items",
                "params": {"limit": 3},
                "records": "items",
                "paginate": {"type": "offset", "limit": 3},
            },
            {"name": "one", "url": "{config.base_url}/items/1"},
        ],
    }


def test_the_playground_takes_the_focused_fields_text_and_never_keeps_the_last_one() -> None:
    builder = FlowBuilder(two_steps())
    builder.state.selected = "steps[0]"
    builder._focus("url")
    assert builder.playground.value == "{config.base_url}/items"
    builder._focus("headers")  # no value: the url's text must not stay
    assert builder.state.expression == "" and builder.playground.value == ""
    builder._focus("records")
    assert builder.playground.value == "items"
    builder._focus("params")  # a mapping, not a text
    assert builder.state.expression == "" and builder.playground.value == ""
    assert "field: params (not an expression field" in builder.playground_result.object
    builder._focus("records")
    assert "not an expression field" not in builder.playground_result.object


def steps_run(db: Path, run_id: str) -> set[str]:
    with CaptureStore(db).read() as reader:
        exchanges = reader.exchanges(run_id)
    return set(exchanges["step_path"])


def test_this_step_only_tries_the_selected_step_alone(demo_api: Any, tmp_path: Path) -> None:
    db = tmp_path / "try.duckdb"
    builder = FlowBuilder(two_steps(demo_api.url), db=db)
    state = builder.state
    state.selected = "steps[1]"
    state.try_scope = "this step only"
    alone = builder.try_it()
    assert alone is not None and alone.ok, state.error
    assert alone.requests == 1
    assert steps_run(db, alone.run_id) == {"one"}
    assert state.response == demo_api_item(demo_api.url)

    state.try_scope = "flow up to this step"
    both = builder.try_it()
    assert both is not None and both.ok, state.error
    assert steps_run(db, both.run_id) == {"items", "one"}
    assert both.requests > 1


def demo_api_item(base_url: str) -> Any:
    import httpx

    return httpx.get(f"{base_url}/items/1").json()


def test_export_is_refused_under_the_button_until_the_plan_changes() -> None:
    builder = FlowBuilder(two_steps())
    builder.state.set_value("steps[1]", ("url",), "{config.base_url}/items/{item")
    builder._export()
    assert builder.export_problem.visible and builder.export_text.value == ""
    assert "Export refused" in builder.export_problem.object
    assert "steps[1].url" in builder.export_problem.object
    builder.state.set_value("steps[1]", ("url",), "{config.base_url}/items/1")
    assert not builder.export_problem.visible  # about the plan as it was
    builder._export()
    assert builder.export_text.value.startswith("key: builder-view-test")
    assert not builder.export_problem.visible


def test_the_playground_reads_a_plain_fields_text_as_a_template() -> None:
    from orchestra.dashboard._builder._state import evaluate

    body = {"items": [{"id": 7}]}
    # a header value: plain text is itself (not a JMESPath syntax error), {…} is evaluated
    assert evaluate("builder-kv", body, "headers.X-Client") == '"builder-kv"'
    assert evaluate("id-{response.body.items[0].id}", body, "headers.X-Id") == '"id-7"'
    # an expression field and the unfocused playground still read JMESPath
    assert evaluate("items[0].id", body, "records") == "7"
    assert evaluate("response.body.items[0].id", body, "") == "7"
