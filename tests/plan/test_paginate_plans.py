"""``paginate:`` and ``records:`` in plans: the models, their errors (plan path, step, fix)
and the expansion into ``page_state`` / ``next_url`` / ``while`` at load time."""

from __future__ import annotations

import pytest

from orchestra import load_plan
from orchestra.errors import PlanError
from orchestra.plan import expand_plan_data


def plan_with(**step: object) -> dict:
    return {"key": "p", "steps": [{"name": "users", "url": "http://api/users", **step}]}


def problems(plan: dict) -> str:
    with pytest.raises(PlanError) as caught:
        load_plan(plan)
    return str(caught.value)


def test_the_string_shorthand_is_the_preset_of_that_type():
    step = load_plan(plan_with(paginate="link_header")).steps[0]
    assert step.next_url is not None and step.next_url.source == "response.links.next"
    assert step.while_ is not None and step.while_.source == "response.links.next"


def test_an_unknown_preset_names_the_step_and_suggests_the_closest():
    text = problems(plan_with(paginate={"type": "curser", "cursor_path": "next"}))
    assert "steps[0].paginate (step 'users'): unknown paginate preset 'curser'" in text
    assert "did you mean 'cursor'?" in text and "page_number" in text


def test_a_preset_without_type_lists_the_presets():
    text = problems(plan_with(paginate={"cursor_path": "next"}))
    assert "paginate needs a 'type'" in text and "link_header, json_link" in text


def test_a_missing_preset_field_is_reported_at_its_path():
    text = problems(plan_with(paginate={"type": "cursor"}))
    assert "steps[0].paginate.cursor_path (step 'users'): required field 'cursor_path'" in text
    assert "fix: add 'cursor_path'" in text


def test_an_unknown_preset_field_lists_the_valid_ones():
    text = problems(plan_with(paginate={"type": "offset", "limit": 10, "totl_path": "t"}))
    assert "steps[0].paginate.totl_path (step 'users'): unknown field 'totl_path'" in text
    assert "did you mean 'total_path'?" in text


def test_offset_needs_records_or_a_total_to_know_the_last_page():
    text = problems(plan_with(paginate={"type": "offset", "limit": 10}))
    assert "steps[0].paginate (step 'users'): offset pagination cannot tell the last page" in text
    assert "fix: add records" in text
    load_plan(plan_with(paginate={"type": "offset", "limit": 10, "total_path": "total"}))
    load_plan(plan_with(paginate={"type": "offset", "limit": 10}, records="data"))


def test_page_number_size_param_needs_a_size():
    text = problems(
        plan_with(paginate={"type": "page_number", "size_param": "per_page"}, records="data")
    )
    assert "steps[0].paginate.size (step 'users'): size_param is set but size is not" in text


def test_a_cursor_in_the_body_needs_an_object_body():
    text = problems(
        plan_with(
            method="POST",
            body="{config.raw}",
            paginate={"type": "cursor", "cursor_path": "next", "in": "body"},
        )
    )
    assert "steps[0].paginate.in (step 'users')" in text and "not a JSON object" in text


def test_a_syntax_error_in_a_preset_path_points_at_the_users_text():
    text = problems(plan_with(paginate={"type": "json_link", "next_path": "links.next ||"}))
    assert "steps[0].paginate.next_path: invalid expression" in text
    assert "\n      links.next ||\n" in text
    text = problems(plan_with(paginate="link_header", records="data["))
    assert "steps[0].records: invalid expression" in text and "\n      data[\n" in text


def test_a_field_name_that_is_not_jmespath_is_read_as_one_key():
    step = load_plan(plan_with(paginate={"type": "json_link", "next_path": "@odata.nextLink"}))
    assert step.steps[0].next_url.source == 'response.body | ("@odata.nextLink")'


def test_the_steps_while_is_kept_and_combined():
    plan = plan_with(
        paginate={"type": "cursor", "cursor_path": "meta.next"},
        **{"while": "{response.status_code == `200`}"},
    )
    expanded = expand_plan_data(plan)["steps"][0]
    assert expanded["while"] == "(response.body.meta.next) && (response.status_code == `200`)"
    assert expanded["params"] == {"cursor": "{page_state.cursor}"}
    assert expanded["page_state"] == {"cursor": None}
    assert expanded["page_state_updates"] == {"cursor": "response.body.meta.next"}
    load_plan({**plan, "steps": [expanded]})


def test_paginate_in_a_sub_step_is_expanded_too():
    plan = plan_with(
        sub_steps=[
            {
                "name": "repos",
                "iterate_over": "response.body",
                "url": "http://api/users/{item.id}/repos",
                "paginate": {"type": "page_number", "total_pages_path": "pages"},
            }
        ]
    )
    compiled = load_plan(plan)
    sub = compiled.steps[0].sub_steps[0]
    assert sub.page_state is not None and sub.page_state_updates
    assert "page" in sub.model.params
    expanded = expand_plan_data(plan)["steps"][0]["sub_steps"][0]
    assert "paginate" not in expanded and expanded["params"] == {"page": "{page_state.page}"}


def test_auto_is_accepted_and_kept_for_the_engine():
    compiled = load_plan(plan_with(paginate="auto"))
    assert compiled.steps[0].paginate_auto
    assert expand_plan_data(plan_with(paginate="auto"))["steps"][0]["paginate"] == "auto"


def test_a_plan_without_paginate_is_unchanged_by_expansion():
    plan = plan_with(params={"a": 1}, **{"while": "response.body.more"})
    assert expand_plan_data(plan) == plan


# -- records as a DuckDB JSON path (capture stores such pages by reference) ----------------


@pytest.mark.parametrize(
    ("records", "path"),
    [
        ("data", '$."data"'),
        ("@", "$"),
        ("result.items", '$."result"."items"'),
        ("@odata.value", '$."@odata.value"'),  # read as one field name
        ('"@odata.value"', '$."@odata.value"'),
        ('"a.b"', '$."a.b"'),
        ('"ключ"', '$."ключ"'),
        ("data[*]", None),
        ("data[0]", None),
        ("data[?id > `1`]", None),
        ("a | b", None),
        ("@.data", None),
        ("to_array(data)", None),
        ('"a\\"b"', None),  # a quote in the key
        ('"a\\\\b"', None),  # a backslash
        ('""', None),
    ],
)
def test_records_has_a_duckdb_json_path_only_for_a_chain_of_fields(records, path):
    from orchestra.plan._paginate import records_json_path

    assert records_json_path(records) == path
    step = load_plan({"key": "k", "steps": [{"name": "s", "url": "http://x/", "records": records}]})
    assert step.steps[0].records_json_path == path


def test_records_detected_by_paginate_auto_have_a_json_path_too():
    from orchestra.plan import compile_detected

    plan = load_plan({"key": "k", "steps": [{"name": "s", "url": "http://x/", "paginate": "auto"}]})
    detected = compile_detected(plan.steps[0], None, "value")
    assert detected.records_json_path == '$."value"'
