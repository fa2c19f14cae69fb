"""The builder's state: edits, YAML both ways, live validation, drafts, try-it and picking paths."""

from __future__ import annotations

import copy
import html
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestra.dashboard import BuilderState, FlowBuilder
from orchestra.dashboard._builder import ExportBlocked, _schema
from orchestra.dashboard._builder._schema import fields_of
from orchestra.dashboard._builder._state import evaluate


def items_plan(base_url: str = "http://127.0.0.1:1") -> dict[str, Any]:
    return {
        "key": "builder-test",
        "config": {"base_url": base_url},
        "steps": [
            {
                "name": "items",
                "url": "{config.base_url}/items",
                "paginate": {"type": "offset", "limit": 10},
                "records": "items",
            }
        ],
    }


def test_every_schema_field_has_a_form_field() -> None:
    """Forms come from the schema: each property of a step is drawn, new ones included."""
    builder = FlowBuilder(items_plan(), db=":memory:")
    drawn = {slot.keys[0] for slot in builder.forms.slots}
    expected = {spec.key for spec in fields_of("HttpStep")} - {"sub_steps"}
    assert expected <= drawn
    kinds = {spec.key: spec.kind for spec in fields_of("HttpStep")}
    assert kinds["method"] == "choice" and kinds["paginate"] == "union"
    assert kinds["retry"] == "object" and kinds["emit"] == "bool"
    assert {spec.key: spec.kind for spec in fields_of("BearerAuth")}["token"] == "secret"


def test_form_edits_update_yaml_and_yaml_edits_update_forms() -> None:
    state = BuilderState(items_plan(), db=":memory:")
    state.set_value("steps[0]", ("params",), {"sort": "id"})
    assert yaml.safe_load(state.yaml_text)["steps"][0]["params"] == {"sort": "id"}
    text = state.yaml_text.replace("limit: 10", "limit: 20")
    revision = state.revision
    state.set_yaml(text)
    assert state.plan["steps"][0]["paginate"]["limit"] == 20
    assert state.revision == revision + 1  # the forms redraw from the new plan
    state.set_yaml("key: [unclosed")
    assert state.yaml_error and state.plan["steps"][0]["paginate"]["limit"] == 20


def test_live_validation_names_the_field_and_blocks_export_not_save(tmp_path: Path) -> None:
    builder = FlowBuilder(items_plan(), db=":memory:")
    state = builder.state
    state.set_value("steps[0]", ("while",), "response.body.next[")
    (issue,) = state.issues
    assert issue.path == "steps[0].while" and "^" in issue.message
    builder.forms.refresh_errors()
    shown = [slot for slot in builder.forms.slots if slot.errors.visible]
    assert [slot.keys for slot in shown] == [("while",)]
    assert html.escape(issue.message.splitlines()[0]) in shown[0].errors.object
    with pytest.raises(ExportBlocked, match="1 problem"):
        state.export("yaml")
    draft = tmp_path / "draft.yaml"
    state.save(draft)
    assert "draft" in state.message and "next[" in draft.read_text()
    state.set_value("steps[0]", ("while",), None)
    assert not state.issues
    assert yaml.safe_load(state.export("yaml")) == state.plan


def test_a_number_typed_wrong_is_flagged_by_the_loader() -> None:
    state = BuilderState(items_plan(), db=":memory:")
    builder = FlowBuilder(state=state)
    (timeout,) = [s for s in builder.forms.slots if s.keys == ("timeout_seconds",)]
    state.set_value("steps[0]", ("timeout_seconds",), "5x")
    assert state.issues_at("steps[0]", "timeout_seconds")
    assert timeout.errors.visible


def test_step_structure_edits() -> None:
    state = BuilderState(items_plan(), db=":memory:")
    state.add_sub_step()
    assert state.selected == "steps[0].sub_steps[0]"
    state.selected = "steps[0]"
    state.add_step()
    assert state.selected == "steps[1]"
    state.duplicate_step()
    names = [step["name"] for step in state.plan["steps"]]
    assert names == ["items", "step_1", "step_1_1"]
    state.move_step(-2)
    assert [s["name"] for s in state.plan["steps"]] == ["step_1_1", "items", "step_1"]
    state.delete_step()
    assert [s["name"] for s in state.plan["steps"]] == ["items", "step_1"]
    state.selected = "steps[0].sub_steps[0]"
    state.delete_step()
    assert "sub_steps" not in state.plan["steps"][0] and state.selected == "steps[0]"
    assert not state.issues


def test_a_literal_secret_is_refused_and_never_stored() -> None:
    plan = {**items_plan(), "auth": {"type": "bearer", "token": {"env": "DEMO_TOKEN"}}}
    state = BuilderState(plan, db=":memory:", selected="")
    builder = FlowBuilder(state=state)
    state.selected = ""
    token = [
        widget
        for column in builder.form_area.objects
        for widget in column.select(lambda w: "ob-f:@plan.auth.token" in (w.css_classes or []))
    ]
    assert token and token[0].value == "DEMO_TOKEN"
    mode = builder.form_area.select(lambda w: "orchestra-secret-mode" in (w.css_classes or []))[0]
    mode.value = "template"
    token[0].value = "s3cr3t-value"
    assert "s3cr3t-value" not in state.yaml_text
    assert token[0].value == ""
    token[0].value = "{config.token}"
    assert state.plan["auth"]["token"] == "{config.token}"
    mode.value = "env"
    token[0].value = "OTHER_TOKEN"
    assert state.plan["auth"]["token"] == {"env": "OTHER_TOKEN"}


def test_path_for_a_clicked_field() -> None:
    state = BuilderState(items_plan(), db=":memory:")
    state.focused = "iterate_over"
    assert state.path_for(["items", 0, "id"]) == "response.body.items[].id"
    state.focused = "records"
    assert state.path_for(["items"]) == "items"
    assert state.path_for(["odd key", 2]) == 'response.body."odd key"[]'.replace(
        "response.body.", ""
    )
    assert evaluate("items[].id", {"items": [{"id": 1}, {"id": 2}]}, "records") == "[\n 1,\n 2\n]"
    assert evaluate("response.body.n", {"n": 3}) == "3"
    assert evaluate("response.body.n[", {"n": 3}).startswith("error:")


def test_try_it_with_caps_then_click_to_fan_out(demo_api: Any, tmp_path: Path) -> None:
    """A try against the demo API stops at the caps, flags it, and its response builds the
    fanout's iterate_over by a click."""
    builder = FlowBuilder(items_plan(demo_api.url), db=tmp_path / "try.duckdb")
    state = builder.state
    state.max_pages = 2
    result = builder.try_it()
    assert result is not None and result.ok, state.error
    assert state.partial == "partial: stopped at 2 pages in step 'items'"
    assert len(state.records) == 20
    assert state.response["items"][0]["id"] == 11  # the last page's response
    state.add_sub_step()
    state.focused = "iterate_over"
    assert state.insert_path(["items", 0, "id"]) == "response.body.items[].id"
    state.set_value(state.selected, ("url",), "{config.base_url}/items/{item}")
    assert not state.issues
    state.max_fanout_items = 3
    result = builder.try_it()
    assert result is not None and result.ok
    detail = [r for r in result.records if r.step_path == "items.detail_1"]
    assert len(detail) == 2 * 3
    assert len(state.records) == 6  # the selected sub-step's records
    state.focused = "url"
    assert state.response_label.startswith("last response of items.detail_1")
    state.focused = "iterate_over"  # read on the parent's response: the tree shows that
    assert state.response_label.startswith("last response of items ")
    assert evaluate(state.expression, state.response, state.focused).startswith("[")
    full = builder.try_it(full=True)
    assert full is not None and full.ok and state.partial == ""


def test_import_curl_with_headers_query_and_json_body(demo_api: Any, tmp_path: Path) -> None:
    """A curl command as a browser copies it becomes a step; its token stays out of the plan
    and still authenticates the try."""
    builder = FlowBuilder(items_plan(demo_api.url), db=tmp_path / "try.duckdb")
    state = builder.state
    secret = "tok-123456789"
    builder.import_text.value = (
        f"curl '{demo_api.url}/echo/orders?limit=5&sort=id' -X POST "
        "-H 'Accept: application/json' -H 'X-Trace: builder' "
        f"-H 'Authorization: Bearer {secret}' "
        '-H \'Content-Type: application/json\' --data-raw \'{"item": 7, "tags": ["a"]}\''
    )
    builder._import()
    assert not state.error, state.error
    step = state.plan["steps"][-1]
    assert step["method"] == "POST"
    assert step["params"] == {"limit": "5", "sort": "id"}
    assert step["headers"]["X-Trace"] == "builder"
    assert step["body"] == {"item": 7, "tags": ["a"]}
    assert secret not in state.yaml_text
    assert state.selected == f"steps[{len(state.plan['steps']) - 1}]"
    assert not state.issues, state.issues
    result = builder.try_it()
    assert result is not None and result.ok, state.error
    echoed = state.response
    assert echoed["method"] == "POST" and echoed["body"] == {"item": 7, "tags": ["a"]}
    assert echoed["query"] == {"limit": "5", "sort": "id"}
    assert echoed["headers"]["x-trace"] == "builder"
    assert echoed["headers"]["authorization"] != f"Bearer {secret}"  # masked in the capture
    assert secret not in str(state.records.to_dict())


def test_export_as_json_cells_and_curl() -> None:
    plan = {
        **items_plan("http://api.test"),
        "auth": {"type": "bearer", "token": {"env": "API_TOKEN"}},
    }
    state = BuilderState(plan, db=":memory:")
    assert json.loads(state.export("json")) == state.plan
    cells = state.export("cells").split("\n\n%%flow")
    assert cells[0].startswith("%%flow\n") and "key: builder-test" in cells[0]
    assert cells[1].startswith(" items\n") and "paginate:" in cells[1]
    curl = state.export("curl")
    assert "curl" in curl and "http://api.test/items" in curl and "API_TOKEN" in curl
    state.selected = ""
    with pytest.raises(ValueError, match="select the step"):
        state.export("curl")
    assert (state.max_pages, state.max_fanout_items, state.max_records) == (5, 5, 100)


def test_a_field_added_to_the_schema_appears_without_ui_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    grown = copy.deepcopy(_schema.schema())
    grown["$defs"]["HttpStep"]["properties"]["sample_rate"] = {
        "type": "number",
        "title": "Sample rate",
        "description": "A field the UI code has never heard of.",
    }
    monkeypatch.setattr(_schema, "schema", lambda: grown)
    builder = FlowBuilder(items_plan(), db=":memory:")
    (slot,) = [s for s in builder.forms.slots if s.keys == ("sample_rate",)]
    widget = builder.form_area.select(
        lambda w: "ob-f:sample_rate" in (getattr(w, "css_classes", None) or [])
    )[0]
    assert widget.label == "Sample rate" and "never heard" in widget.description
    widget.value = "0.5"
    assert builder.state.plan["steps"][0]["sample_rate"] == 0.5
    assert slot.errors.visible  # the real loader does not know it: flagged at the field


def test_every_auth_type_gets_its_fields() -> None:
    state = BuilderState(items_plan(), db=":memory:", selected="")
    builder = FlowBuilder(state=state)
    state.selected = ""
    auth = _schema.field_spec("auth", _schema.definition("Plan")["properties"]["auth"])
    for tag, model in auth.variants.items():
        chooser = builder.form_area.select(
            lambda w: "ob-f:@plan.auth.type" in (getattr(w, "css_classes", None) or [])
        )[0]
        chooser.value = tag
        drawn = {slot.keys for slot in builder.forms.slots if slot.keys[:1] == ("auth",)}
        wanted = {("auth", spec.key) for spec in _schema.fields_of(model, skip=("type",))}
        assert wanted <= drawn, tag
    assert state.plan["auth"]["type"] == tag


def test_open_save_and_start_from_a_template(tmp_path: Path) -> None:
    builder = FlowBuilder(tmp_path / "new.yaml", db=":memory:")
    state = builder.state
    assert state.plan["steps"] and not state.issues  # a new file starts from an empty plan
    assert "quickstart.yaml" in builder.template.options
    builder._start(builder.template.options["quickstart.yaml"])
    assert state.plan["key"] == "demo-quickstart" and not state.issues
    state.save()  # the template is not overwritten: a new plan needs a file
    assert "Save as" in state.error
    target = tmp_path / "mine.json"
    state.set_value("steps[0]", ("name",), "all_items")
    state.save(target)
    assert json.loads(target.read_text())["steps"][0]["name"] == "all_items"
    other = FlowBuilder(target, db=":memory:").state
    assert other.plan == state.plan and not other.dirty
    other.open(tmp_path / "missing.yaml")
    assert "does not exist" in other.error
