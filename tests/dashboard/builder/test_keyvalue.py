"""Key/value rows for params, headers, form and config: rows → plan, plan → rows, fallback."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from orchestra.dashboard import BuilderState, FlowBuilder
from orchestra.dashboard._builder._keyvalue import (
    is_flat,
    mapping_of,
    parse_value,
    refusal,
    rows_of,
    value_text,
)
from orchestra.dashboard._builder._schema import field_spec, fields_of
from orchestra.dashboard._builder._state import yaml_value


def plan(**step: Any) -> dict[str, Any]:
    return {
        "key": "kv-test",
        "config": {"base_url": "http://127.0.0.1:1", "page_size": 10},
        "steps": [{"name": "items", "url": "{config.base_url}/items", **step}],
    }


def widgets(builder: FlowBuilder, css: str) -> list[Any]:
    return list(builder.form_area.select(lambda w: css in (getattr(w, "css_classes", None) or [])))


def rows(builder: FlowBuilder, key: str) -> list[tuple[Any, Any]]:
    """The (name, value) inputs of a mapping field's rows, in order."""
    names = widgets(builder, f"ob-kv-name:{key}")
    values = [
        w
        for w in builder.form_area.select(
            lambda w: "orchestra-kv-value" in (getattr(w, "css_classes", None) or [])
        )
        if any(str(c).startswith(f"ob-f:{key}") for c in w.css_classes)
    ]
    assert len(names) == len(values)
    return list(zip(names, values, strict=True))


def fill(builder: FlowBuilder, key: str, entries: list[tuple[str, str]]) -> None:
    """Type each entry into the last (empty) row, as a person tabbing through would."""
    for name, text in entries:
        name_input, value_input = rows(builder, key)[-1]
        assert name_input.value == "" and value_input.value == ""
        name_input.value_input = name  # typing: the next empty row appears
        name_input.value = name
        value_input.value_input = text
        value_input.value = text


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "{config.page_size}",
        "Bearer {env: X}",
        10,
        -2.5,
        1e20,
        True,
        False,
        None,
        "10",
        "true",
        "null",
        '"10"',
        '"abc"',
        "{env: TOKEN}",
        {"env": "TOKEN"},
        "",
    ],
)
def test_a_value_shown_as_text_reads_back_the_same(value: Any) -> None:
    assert parse_value(value_text(value)) == value
    assert type(parse_value(value_text(value))) is type(value)


def test_text_typed_into_a_row_is_what_the_yaml_box_gives() -> None:
    typed = [("limit", "10"), ("sort", "-id"), ("debug", "true"), ("q", "{config.page_size}")]
    written, problem = mapping_of(typed)
    assert problem is None
    assert written == yaml_value("limit: 10\nsort: -id\ndebug: true\nq: '{config.page_size}'")
    assert parse_value("{env: API_KEY}") == yaml_value("{env: API_KEY}")
    assert mapping_of([("x", "10")], "string") == ({"x": "10"}, None)  # extract: strings only
    assert mapping_of([("", ""), ("", "")]) == (None, None)
    assert mapping_of([("", "v")])[1] == "row 1 has a value but no name"
    assert "given twice" in str(mapping_of([("a", "1"), ("a", "2")])[1])


def test_the_schema_chooses_rows_for_mappings_of_scalars() -> None:
    kinds = {spec.key: (spec.kind, spec.values) for spec in fields_of("HttpStep")}
    assert kinds["params"] == ("mapping", "any") and kinds["headers"] == ("mapping", "any")
    assert kinds["form"] == ("mapping", "any") and kinds["extract"] == ("mapping", "string")
    assert kinds["body"][0] == "yaml"
    plan_kinds = {spec.key: spec.kind for spec in fields_of("Plan")}
    assert plan_kinds["config"] == "mapping"
    extra = {spec.key: spec.values for spec in fields_of("OAuth2ClientCredentials")}
    assert extra["extra_params"] == "secret"
    # a field added to the schema with scalar values gets rows, without UI code
    node = {"type": "object", "additionalProperties": {"type": "integer"}}
    assert field_spec("new_counts", node).kind == "mapping"
    nested = {"type": "object", "additionalProperties": {"type": "array"}}
    assert field_spec("new_lists", nested).kind == "yaml"


def test_rows_write_the_plan_and_the_yaml_view() -> None:
    builder = FlowBuilder(plan(), db=":memory:")
    state = builder.state
    fill(builder, "params", [("limit", "10"), ("sort", "{config.page_size}")])
    fill(builder, "headers", [("Accept", "application/json"), ("X-Api-Key", "{env: DEMO_KEY}")])
    step = yaml.safe_load(state.yaml_text)["steps"][0]
    assert step["params"] == {"limit": 10, "sort": "{config.page_size}"}
    assert step["headers"] == {"Accept": "application/json", "X-Api-Key": {"env": "DEMO_KEY"}}
    assert len(rows(builder, "params")) == 3  # two entries and the empty row
    assert not state.issues
    # delete a row: the entry goes; the last one gone, the field goes
    (delete_limit, delete_sort, _) = widgets(builder, "ob-kv-delete:params")
    delete_limit.clicks += 1
    assert state.plan["steps"][0]["params"] == {"sort": "{config.page_size}"}
    delete_sort.clicks += 1
    assert "params" not in state.plan["steps"][0]
    assert [n.value for n, _ in rows(builder, "params")] == [""]
    # "+ Row" adds an empty row before itself
    (add,) = widgets(builder, "ob-kv-add:params")
    add.clicks += 1
    assert len(rows(builder, "params")) == 2


def test_plan_shown_as_rows_and_written_back_is_unchanged() -> None:
    params = {"limit": 10, "code": "10", "flag": True, "key": {"env": "K"}, "q": "{x}"}
    builder = FlowBuilder(plan(params=params), db=":memory:")
    shown = [(n.value, v.value) for n, v in rows(builder, "params")]
    assert shown == [*rows_of(params), ("", "")]
    assert shown[:2] == [("limit", "10"), ("code", '"10"')]
    _name, value = rows(builder, "params")[0]
    value.value = "10 "  # an edit and back: a string now, as the YAML box would give
    assert builder.state.plan["steps"][0]["params"]["limit"] == "10 "
    value.value = "10"
    assert builder.state.plan["steps"][0]["params"] == params
    # the playground follows the focused row's value as it is typed
    builder.state.focused = "params.q"
    rows(builder, "params")[4][1].value_input = "{config.page_size}"
    assert builder.state.expression == "{config.page_size}"
    # YAML edits redraw the rows
    builder.state.set_yaml(builder.state.yaml_text.replace("limit: 10", "limit: 25"))
    assert rows(builder, "params")[0][1].value == "25"


def test_config_of_the_plan_settings_is_rows_too() -> None:
    state = BuilderState(plan(), db=":memory:", selected="")
    builder = FlowBuilder(state=state)
    state.selected = ""
    shown = [(n.value, v.value) for n, v in rows(builder, "@plan.config")]
    assert shown[:2] == [("base_url", "http://127.0.0.1:1"), ("page_size", "10")]
    fill(builder, "@plan.config", [("region", "eu")])
    assert state.plan["config"]["region"] == "eu"


def test_a_nested_value_falls_back_to_the_yaml_box() -> None:
    params = {"filter": {"status": ["a", "b"]}, "limit": 5}
    assert not is_flat(params)
    builder = FlowBuilder(plan(params=params), db=":memory:")
    (switch,) = widgets(builder, "ob-kv-yaml:params")
    assert switch.value is True and rows(builder, "params") == []
    (box,) = widgets(builder, "orchestra-kv-text")
    assert yaml.safe_load(box.value) == params
    switch.value = False  # rows cannot hold it: refused, stays YAML
    assert switch.value is True
    assert "nested" in builder.forms.local_errors["params"]
    box.value = "limit: 7\nsort: id"
    assert builder.state.plan["steps"][0]["params"] == {"limit": 7, "sort": "id"}
    switch.value = False  # now flat: rows again, from the plan
    assert [(n.value, v.value) for n, v in rows(builder, "params")][:2] == [
        ("limit", "7"),
        ("sort", "id"),
    ]


def test_a_literal_credential_is_refused_and_not_kept() -> None:
    assert refusal("Authorization", "Bearer abc12345")
    assert refusal("api_key", "abc12345") and refusal("X-Api-Key", "abc12345")
    assert refusal("Authorization", "Bearer {env: TOKEN}") is None
    assert refusal("Authorization", "{env: TOKEN}") is None
    assert refusal("Accept", "application/json") is None
    builder = FlowBuilder(plan(), db=":memory:")
    state = builder.state
    fill(builder, "headers", [("Authorization", "Bearer s3cr3t-literal")])
    assert "s3cr3t-literal" not in state.yaml_text
    assert "s3cr3t-literal" not in str(state.plan)
    _name, value = rows(builder, "headers")[0]
    assert value.value == "" and value.value_input == ""
    assert "secret is not stored" in builder.forms.local_errors["headers"]
    builder.forms.refresh_errors()
    shown = [s for s in builder.forms.slots if s.keys == ("headers",) and s.errors.visible]
    assert shown and "{env: NAME}" in shown[0].errors.object
    value.value = "Bearer {env: DEMO_TOKEN}"
    assert state.plan["steps"][0]["headers"] == {"Authorization": "Bearer {env: DEMO_TOKEN}"}
    assert "headers" not in builder.forms.local_errors
