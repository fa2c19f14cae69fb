"""Hand-made layouts: parallel groups, choices, compensation, flow-auth steps, rate limits,
and step edits (add, duplicate, delete, move) inside nesting."""

from __future__ import annotations

from typing import Any

import yaml

from orchestra.dashboard import BuilderState, FlowBuilder
from orchestra.dashboard._builder._layouts import rate_summary
from orchestra.plan import load_plan


def plan() -> dict[str, Any]:
    return {
        "key": "layouts",
        "config": {"base_url": "http://127.0.0.1:1"},
        "steps": [{"name": "create", "method": "POST", "url": "{config.base_url}/orders"}],
    }


def widgets(builder: FlowBuilder, css: str, *, exact: bool = False) -> list[Any]:
    """Widgets of the drawn forms carrying a CSS class that is (or starts with) ``css``."""

    def has(widget: Any) -> bool:
        classes = [str(c) for c in (getattr(widget, "css_classes", None) or [])]
        return any(c == css if exact else c.startswith(css) for c in classes)

    return list(builder.form_area.select(has))


def click(builder: FlowBuilder, css: str, index: int = 0) -> None:
    found = widgets(builder, css)
    assert found, f"no widget {css!r} drawn"
    found[index].clicks += 1


def test_a_parallel_group_is_a_nested_step_list_edited_in_place() -> None:
    builder = FlowBuilder(plan(), db=":memory:")
    state = builder.state
    state.selected = "steps[0]"
    builder.add_parallel.clicks += 1
    assert state.selected == "steps[1]"
    group = state.plan["steps"][1]
    assert [s["name"] for s in group["parallel"]] == ["step_1", "step_2"]
    # the group's form: its name, its steps as buttons (not YAML), on_error with help
    links = widgets(builder, "ob-step:steps[1].parallel[")
    assert [w.label.split(" ·")[0] for w in links] == ["step_1", "step_2"]
    assert not [s for s in builder.forms.slots if s.keys == ("parallel",) and s.errors.visible]
    assert not any(
        "parallel" in str(w.css_classes) and hasattr(w, "rows") for w in builder.form_area.select()
    )  # no YAML text area for the list
    click(builder, "ob-add:steps[1].parallel")
    assert state.selected == "steps[1].parallel[2]" and not state.issues
    # a link selects the child; duplicate / move / delete act inside the group
    state.selected = "steps[1]"
    links = widgets(builder, "ob-step:steps[1].parallel[0]")
    links[0].clicks += 1
    assert state.selected == "steps[1].parallel[0]"
    assert builder.form_area.objects[0].object.endswith("Step step_1</h3>")
    state.duplicate_step()
    assert [s["name"] for s in state.plan["steps"][1]["parallel"]] == [
        "step_1", "step_1_1", "step_2", "step_3"
    ]  # fmt: skip
    state.move_step(+2)
    assert state.selected == "steps[1].parallel[3]"
    state.delete_step()
    assert state.selected == "steps[1].parallel[2]"
    state.add_sub_step()  # a fanout under a step of the group
    assert state.selected == "steps[1].parallel[2].sub_steps[0]"
    assert not state.issues
    load_plan(state.plan)


def test_a_choice_has_branches_with_conditions_and_step_lists() -> None:
    builder = FlowBuilder(plan(), db=":memory:")
    state = builder.state
    state.selected = "steps[0]"
    builder.add_choice.clicks += 1
    choice = state.selected
    assert choice == "steps[1]" and not state.issues
    click(builder, "ob-add-branch")
    assert state.selected == "steps[1].choice[1].steps[0]"
    state.selected = choice
    when = widgets(builder, "ob-f:choice[1].when")
    assert when and "JMESPath condition" in (when[0].description or "")
    when[0].value = "config.mode == 'b'"
    assert state.plan["steps"][1]["choice"][1]["when"] == "config.mode == 'b'"
    # a bad condition is flagged under that branch's field
    when[0].value = "config.mode =="
    (slot,) = [s for s in builder.forms.slots if s.field == "choice[1].when"]
    assert slot.errors.visible and "choice[1].when" in slot.errors.object
    when[0].value = "config.mode == 'b'"
    assert not state.issues
    # branches move and go as a whole; otherwise gets its own step list
    click(builder, "ob-branch-up:1")
    assert state.plan["steps"][1]["choice"][0]["when"] == "config.mode == 'b'"
    click(builder, "ob-add:steps[1].otherwise")
    assert state.selected == "steps[1].otherwise[0]"
    state.selected = choice
    click(builder, "ob-branch-delete:", 1)
    branches = state.plan["steps"][1]["choice"]
    assert [b["when"] for b in branches] == ["config.mode == 'b'"]
    text = yaml.safe_load(state.yaml_text)["steps"][1]
    assert set(text) == {"name", "choice", "otherwise"} and not state.issues
    labels = list(builder.tree.options)
    assert any("if branch 1:" in label for label in labels)
    assert any("otherwise:" in label for label in labels)


def test_compensation_is_a_form_with_a_switch() -> None:
    builder = FlowBuilder(plan(), db=":memory:")
    state = builder.state
    state.selected = "steps[0]"
    (switch,) = widgets(builder, "ob-f:compensate", exact=True)
    assert "later step fails" in switch.label
    switch.value = True
    assert state.plan["steps"][0]["compensate"] == {
        "method": "DELETE",
        "url": "{config.base_url}/orders",
    }
    (url,) = widgets(builder, "ob-f:compensate.url")
    url.value = "{config.base_url}/orders/{response.body.id}"
    assert state.plan["steps"][0]["compensate"]["url"].endswith("{response.body.id}")
    assert widgets(builder, "ob-f:compensate.retry.max_attempts")  # generated, in "More"
    assert not state.issues
    (switch,) = widgets(builder, "ob-f:compensate", exact=True)
    switch.value = False
    assert "compensate" not in state.plan["steps"][0]


def test_flow_auth_steps_are_steps_of_the_tree() -> None:
    builder = FlowBuilder(plan(), db=":memory:")
    state = builder.state
    state.selected = ""
    (kind,) = widgets(builder, "ob-f:@plan.auth.type")
    kind.value = "flow"
    click(builder, "ob-add:auth.steps")
    assert state.selected == "auth.steps[0]"
    assert any("🔑 auth:" in label for label in builder.tree.options)
    (url,) = widgets(builder, "ob-f:url", exact=True)  # an auth step's own HTTP form
    url.value = "{config.base_url}/auth/login"
    state.set_value("", ("auth", "token_path"), "steps.step_1.body.data.session.token")
    assert not state.issues, state.issues
    state.add_step()  # a sibling auth step
    assert state.selected == "auth.steps[1]"
    state.delete_step()
    assert state.selected == "auth.steps[0]"
    state.selected = ""
    links = widgets(builder, "ob-step:auth.steps[0]")
    assert links and links[0].label.startswith("step_1 · GET")


def test_rate_limits_are_rule_cards_with_units() -> None:
    builder = FlowBuilder(plan(), db=":memory:")
    state = builder.state
    state.selected = ""
    click(builder, "ob-add-rate")
    assert state.plan["rate_limits"] == [{"requests": 10, "window_secs": 1, "scope": "per_config"}]
    (window,) = widgets(builder, "ob-f:@plan.rate_limits[0].window_secs")
    assert window.label.startswith("Window (seconds)") and "seconds" in window.description
    (scope,) = widgets(builder, "ob-f:@plan.rate_limits[0].scope")
    assert "per_endpoint" in scope.options.values()
    window.value = "60"
    (summary,) = [
        pane
        for card in widgets(builder, "ob-rate:0")
        for pane in card.objects
        if "requests per" in str(getattr(pane, "object", ""))
    ]
    assert "10 requests per 60 s (10/min)" in summary.object  # follows the fields
    (requests,) = widgets(builder, "ob-f:@plan.rate_limits[0].requests")
    requests.value = "0"
    assert state.issues_at("", "rate_limits[0].requests")
    requests.value = "100"
    rule = {"requests": 100, "window_secs": 60, "scope": "per_config"}
    assert state.plan["rate_limits"][0] == rule
    assert rate_summary(state.plan["rate_limits"][0]).startswith("100 requests per 60 s (100/min)")
    click(builder, "ob-add-rate")
    click(builder, "ob-rate-delete:0")
    assert state.plan["rate_limits"] == [{"requests": 10, "window_secs": 1, "scope": "per_config"}]
    click(builder, "ob-rate-delete:0")
    assert "rate_limits" not in state.plan and not state.issues


def test_the_schema_still_draws_fields_without_a_layout() -> None:
    """Hand-made layouts replace list editors only: every other field stays generated."""
    state = BuilderState(plan(), db=":memory:", selected="")
    builder = FlowBuilder(state=state)
    state.selected = ""
    drawn = {slot.keys[0] for slot in builder.forms.slots}
    assert {"key", "config", "auth", "rate_limits", "limits", "persistent_context"} <= drawn
