"""Every field of the builder's forms shows its help as text under it (not a hover "?")."""

from __future__ import annotations

from typing import Any

from orchestra.dashboard import BuilderState, FlowBuilder
from orchestra.dashboard._builder._schema import fields_of


def helps(builder: FlowBuilder) -> dict[str, str]:
    """The help lines drawn in the forms, by field key."""
    found: dict[str, str] = {}
    for pane in builder.form_area.select(
        lambda w: "orchestra-field-help" in (getattr(w, "css_classes", None) or [])
    ):
        (key,) = [c[len("ob-help:") :] for c in pane.css_classes if c.startswith("ob-help:")]
        found[key] = str(pane.object)
    return found


def plan() -> dict[str, Any]:
    return {
        "key": "help-test",
        "auth": {"type": "basic", "username": "u", "password": {"env": "PW"}},
        "steps": [{"name": "items", "url": "http://127.0.0.1:1/items"}],
    }


def test_every_step_field_shows_its_description_as_text() -> None:
    builder = FlowBuilder(plan(), db=":memory:")
    shown = helps(builder)
    for spec in fields_of("HttpStep"):
        if spec.key in ("sub_steps", "compensate"):  # the step tree; a layout's own text
            continue
        assert spec.description, spec.key
        assert spec.key in shown, f"{spec.key} has no help line"
    assert "Seconds to wait for one response" in shown["timeout_seconds"]
    assert "Emit this step" in shown["emit"]  # a checkbox keeps its help too
    texts = [str(getattr(p, "object", "")) for p in builder.form_area.select(lambda w: True)]
    assert any("Saga: the request that undoes this step" in t for t in texts)


def test_plan_settings_and_auth_fields_show_their_help() -> None:
    state = BuilderState(plan(), db=":memory:", selected="")
    builder = FlowBuilder(state=state)
    state.selected = ""
    shown = helps(builder)
    assert "Password: {env: NAME}" in shown["password"]
    assert "Defaults, overridable" in shown["config"]
