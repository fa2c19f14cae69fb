"""Form fields built from the plan's JSON Schema, each bound to one field of the edited plan.

:func:`field_editor` turns a :class:`~._schema.FieldSpec` into Panel widgets
(label and help from the schema's title and description), writes every change
into the :class:`~._state.BuilderState` and shows the loader's messages for
that field underneath it. A value the user types is kept as typed when it
does not convert (``"5x"`` for a number), so the loader itself says what is
wrong with it. Secrets are only ever ``{env: NAME}`` references or templates:
a literal secret typed into a secret field is refused, never stored or shown.

Help is text under the field (``.orchestra-field-help``), not only a hover
tooltip: it is read in order after the field, by keyboard and screen-reader
users too. A mapping field (``params``, ``headers``…) is key/value rows
(:mod:`._keyvalue`).

Each field's outer element carries the CSS class ``ob-f:<key path>`` so the
page's focus tracker can tell the state which field the user is in (for
click-to-insert and the expression playground).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import panel as pn
import yaml

from orchestra.dashboard._builder._keyvalue import KeyValueEditor
from orchestra.dashboard._builder._plan_edit import Key, format_path
from orchestra.dashboard._builder._schema import FieldSpec, fields_of
from orchestra.dashboard._builder._state import BuilderState, yaml_value
from orchestra.errors import PlanIssue
from orchestra.masking import MIN_SECRET_LENGTH

HELP_STYLE = "font-size:12px;color:#5f6b7a;margin:0;line-height:1.35"
SETTINGS = "@plan"  # first part of a field key that belongs to the plan's settings
UNSET = ""


@dataclass
class FieldSlot:
    """A drawn field: where it writes, and the pane that shows its problems."""

    step: str
    keys: tuple[Key, ...]
    errors: pn.pane.HTML

    @property
    def field(self) -> str:
        return format_path(self.keys)


def field_key(step: str, keys: tuple[Key, ...]) -> str:
    """The key a field is known by on the page: ``url``, ``choice[0].when``, ``@plan.auth``."""
    return f"{SETTINGS}.{format_path(keys)}" if not step else format_path(keys)


Layout = Callable[[str, FieldSpec, tuple[Key, ...]], pn.viewable.Viewable]
"""A hand-made editor for a field: (step, spec, keys) -> its widgets."""


def issues_html(issues: list[PlanIssue]) -> str:
    if not issues:
        return ""
    items = []
    for issue in issues:
        fix = f"<br><i>fix: {html.escape(issue.fix)}</i>" if issue.fix else ""
        items.append(
            f"<div class='orchestra-field-issue' role='alert'><b>{html.escape(issue.path)}</b>: "
            f"<pre style='display:inline;white-space:pre-wrap;margin:0'>"
            f"{html.escape(issue.message)}</pre>{fix}</div>"
        )
    return "<div style='color:#d93025;font-size:12px'>" + "".join(items) + "</div>"


def help_pane(spec: FieldSpec) -> pn.pane.HTML | None:
    """The field's description as a line of text under it (None: it has none)."""
    if not spec.description:
        return None
    return pn.pane.HTML(
        f"<div style='{HELP_STYLE}'>{html.escape(spec.description)}</div>",
        sizing_mode="stretch_width",
        margin=(0, 10, 4, 10),
        css_classes=["orchestra-field-help", f"ob-help:{spec.key}"],
    )


def _with_help(spec: FieldSpec, *parts: pn.viewable.Viewable, errors: pn.pane.HTML) -> pn.Column:
    shown = [*parts]
    found = help_pane(spec)
    if found is not None:
        shown.append(found)
    return pn.Column(*shown, errors, sizing_mode="stretch_width", margin=0)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=None).strip()


def _number(text: str, kind: str) -> Any:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text) if kind == "int" else float(text) if "." in text else int(text)
    except ValueError:
        return text  # kept as typed: the loader says what is wrong


def _numbers(text: str) -> Any:
    parts = [part for part in text.replace(",", " ").split() if part]
    if not parts:
        return None
    return [int(part) if part.lstrip("-").isdigit() else part for part in parts]


class FormBuilder:
    """Draws the fields of one step (or of the plan's settings) for a builder state."""

    def __init__(self, state: BuilderState, on_enter: Callable[[], None] | None = None) -> None:
        self.state = state
        self.on_enter = on_enter
        self.slots: list[FieldSlot] = []
        self.local_errors: dict[str, str] = {}  # field key -> a problem found before the loader
        # hand-made layouts, by (is a plan setting, the field's keys without list positions)
        self.layouts: dict[tuple[bool, tuple[str, ...]], Layout] = {}

    def refresh_errors(self) -> None:
        for slot in self.slots:
            found = self.state.issues_at(slot.step, slot.field)
            text = issues_html(found)
            local = self.local_errors.get(field_key(slot.step, slot.keys))
            if local:
                text += f"<div style='color:#d93025;font-size:12px'>{html.escape(local)}</div>"
            slot.errors.object = text
            slot.errors.visible = bool(text)

    def fields(
        self, step: str, specs: list[FieldSpec], prefix: tuple[Key, ...] = ()
    ) -> list[pn.viewable.Viewable]:
        return [self.field_editor(step, spec, prefix) for spec in specs]

    def field_editor(
        self, step: str, spec: FieldSpec, prefix: tuple[Key, ...] = (), *, generated: bool = False
    ) -> pn.viewable.Viewable:
        """The editor of one field: its hand-made layout if it has one (``generated``: the
        schema's editor regardless), else the one its schema kind gives."""
        keys = (*prefix, spec.key)
        pattern = (not step, tuple(k for k in keys if isinstance(k, str)))
        if not generated and pattern in self.layouts:
            return self.layouts[pattern](step, spec, keys)
        key = field_key(step, keys)
        label = spec.title + (" *" if spec.required else "")
        if spec.kind == "mapping":
            return KeyValueEditor(self, step, spec, keys, key).panel(label, help_pane(spec))
        errors = pn.pane.HTML("", visible=False, sizing_mode="stretch_width", margin=(0, 10))
        self.slots.append(FieldSlot(step, keys, errors))
        current = self.state.value(step, keys)
        common: dict[str, Any] = {
            "label": label,
            "description": spec.description or None,
            "sizing_mode": "stretch_width",
            "css_classes": [f"ob-f:{key}", "orchestra-builder-field"],
        }

        def write(value: Any) -> None:
            self.local_errors.pop(key, None)
            self.state.set_value(step, keys, value)

        widget: Any
        if spec.kind in ("object", "union"):
            return self._nested(step, spec, keys, current, errors)
        if spec.kind == "bool":
            default = bool(spec.default)
            widget = pn.widgets.Checkbox(
                value=bool(current) if current is not None else default,
                **{k: v for k, v in common.items() if k != "description"},
            )
            widget.param.watch(lambda e: write(None if e.new == default else bool(e.new)), "value")
        elif spec.kind == "choice":
            options = {
                f"(default: {spec.default})" if spec.default is not None else "(none)": UNSET
            }
            options.update({option: option for option in spec.options})
            value = str(current) if current is not None else UNSET
            if value not in options.values():
                options[value] = value
            widget = pn.widgets.Select(options=options, value=value, **common)
            widget.param.watch(lambda e: write(e.new or None), "value")
        elif spec.kind == "secret":
            return self._secret(step, spec, keys, current, errors, common)
        elif spec.kind in ("lines", "yaml"):
            text = (
                "\n".join(map(str, current)) if spec.kind == "lines" and current else _text(current)
            )
            rows = max(2, min(10, text.count("\n") + 2))
            widget = pn.widgets.TextAreaInput(
                value=text,
                rows=rows,
                placeholder="one per line" if spec.kind == "lines" else "YAML, e.g. key: value",
                **common,
            )

            def write_text(event: Any) -> None:
                if spec.kind == "lines":
                    lines = [line.strip() for line in event.new.splitlines() if line.strip()]
                    write(lines or None)
                    return
                try:
                    value = yaml_value(event.new)
                except yaml.YAMLError as error:
                    self.local_errors[key] = f"not YAML: {error}"
                    self.refresh_errors()
                    return
                write(value)

            widget.param.watch(write_text, "value")
        else:
            placeholder = "" if spec.default is None else f"default: {spec.default}"
            text = _text(current)
            # value_input too: on Enter the browser sends value_input as the value
            widget = pn.widgets.TextInput(
                value=text, value_input=text, placeholder=placeholder, **common
            )
            if spec.kind in ("int", "number"):
                widget.param.watch(lambda e: write(_number(e.new, spec.kind)), "value")
            elif spec.kind == "numbers":
                widget.param.watch(lambda e: write(_numbers(e.new)), "value")
            else:
                widget.param.watch(lambda e: write(e.new if e.new != "" else None), "value")
            widget.param.watch(self._typing(key), "value_input")
            if self.on_enter is not None:
                on_enter = self.on_enter
                widget.param.watch(lambda e: on_enter(), "enter_pressed")
        return _with_help(spec, widget, errors=errors)

    def _typing(self, key: str) -> Callable[[Any], None]:
        def typing(event: Any) -> None:  # the playground follows the focused field as typed
            if self.state.focused == key:
                self.state.expression = event.new or ""

        return typing

    def slot(self, step: str, keys: tuple[Key, ...]) -> pn.pane.HTML:
        """A pane showing the loader's problems of a field (hand-made layouts use it)."""
        errors = pn.pane.HTML("", visible=False, sizing_mode="stretch_width", margin=(0, 10))
        self.slots.append(FieldSlot(step, keys, errors))
        return errors

    def _secret(
        self,
        step: str,
        spec: FieldSpec,
        keys: tuple[Key, ...],
        current: Any,
        errors: pn.pane.HTML,
        common: dict[str, Any],
    ) -> pn.viewable.Viewable:
        """A secret: the name of an environment variable (``{env: NAME}``), a template, or
        a value typed once into a password field ("prompt"). A prompted value goes where
        ``%flow secret`` puts one (the binding: the notebook flow's secrets, masked in
        every output, or this session's memory) and the plan keeps ``{env: NAME}``; the
        password field is emptied at once, so the value is in no widget, model or page."""
        key = field_key(step, keys)
        is_env = isinstance(current, dict) and "env" in current
        mode = pn.widgets.RadioButtonGroup(
            options={"env": "env", "template": "template", "type it (prompt)": "prompt"},
            value="env" if is_env or current is None else "template",
            label=f"{spec.title} from",
            css_classes=["orchestra-secret-mode"],
        )
        shown = str(current["env"]) if is_env else (current or "")
        entry = pn.widgets.TextInput(
            value=shown,
            value_input=shown,
            placeholder="environment variable, e.g. API_TOKEN",
            **{**common, "label": f"{spec.title} (secret)"},
        )
        name_hint = "_".join(str(k) for k in keys if isinstance(k, str) and k != "auth").upper()
        password = pn.widgets.PasswordInput(
            label=f"{spec.title} value (typed once: kept in memory as {{env: NAME}}, never "
            "shown or saved)",
            placeholder="type the secret, then Enter",
            visible=False,
            sizing_mode="stretch_width",
            css_classes=[f"ob-secret:{key}", "orchestra-secret-value"],
        )

        def refuse(text: str) -> None:
            self.local_errors[key] = text
            self.refresh_errors()

        def write(*_: Any) -> None:
            text = (entry.value or "").strip()
            self.local_errors.pop(key, None)
            if mode.value == "prompt":
                return  # the name is used when the value is typed
            if not text:
                self.state.set_value(step, keys, None)
            elif mode.value == "env":
                self.state.set_value(step, keys, {"env": text})
            elif "{" not in text:
                # a literal secret would be written into the plan: refuse it, forget it
                entry.value = ""
                refuse(
                    "a secret is not stored in the plan: give the name of an environment "
                    "variable (env), type it into the password field (prompt), or a template "
                    "such as {config.token}"
                )
            else:
                self.state.set_value(step, keys, text)

        def typed(event: Any) -> None:
            value = event.new or ""
            if not value:
                return
            password.param.update(value="", value_input="")  # out of the page at once
            name = (entry.value or "").strip() or name_hint or "SECRET"
            if not name.isidentifier():
                refuse(f"{name!r} is not a name for the secret (letters, digits, '_')")
            elif len(value) < MIN_SECRET_LENGTH:
                refuse(
                    f"the value is shorter than {MIN_SECRET_LENGTH} characters: it could not "
                    "be masked safely, so it was not kept"
                )
            else:
                self.local_errors.pop(key, None)
                self.state.keep_secret(name, value)
                entry.param.update(value=name, value_input=name)
                self.state.set_value(step, keys, {"env": name})
                self.state.message = (
                    f"secret {name} kept in memory (masked everywhere); the plan holds "
                    f"{{env: {name}}}: outside this session, set the environment variable {name}"
                )

        def switch(event: Any) -> None:
            entry.placeholder = {
                "env": "environment variable, e.g. API_TOKEN",
                "template": "template, e.g. {config.token}",
                "prompt": f"name to keep it under, e.g. {name_hint or 'API_TOKEN'}",
            }[event.new]
            entry.label = (
                f"{spec.title}: name of the secret"
                if event.new == "prompt"
                else f"{spec.title} (secret)"
            )
            password.visible = event.new == "prompt"
            write()

        entry.param.watch(write, "value")
        mode.param.watch(switch, "value")
        password.param.watch(typed, "value")
        return _with_help(spec, mode, entry, password, errors=errors)

    def _nested(
        self,
        step: str,
        spec: FieldSpec,
        keys: tuple[Key, ...],
        current: Any,
        errors: pn.pane.HTML,
    ) -> pn.viewable.Viewable:
        body = pn.Column(sizing_mode="stretch_width", margin=0)
        if spec.kind == "object":
            assert spec.model is not None
            found = help_pane(spec)
            if found is not None:
                body.append(found)
            body.extend(self.fields(step, fields_of(spec.model), keys))
            return pn.Card(
                body,
                errors,
                title=spec.title,
                collapsed=current is None,
                sizing_mode="stretch_width",
                css_classes=[f"ob-card:{field_key(step, keys)}"],
            )
        tag = current.get("type") if isinstance(current, dict) else current
        options = {"(none)": UNSET, **{option: option for option in spec.options}}
        chooser = pn.widgets.Select(
            label=spec.title,
            description=spec.description or None,
            options=options,
            value=str(tag) if tag in spec.options else UNSET,
            sizing_mode="stretch_width",
            css_classes=[f"ob-f:{field_key(step, (*keys, 'type'))}", "orchestra-builder-field"],
        )

        def choose(event: Any) -> None:
            self.state.set_value(step, keys, {"type": event.new} if event.new else None)
            self.state.revision += 1  # the variant's own fields are drawn

        chooser.param.watch(choose, "value")
        found = help_pane(spec)
        if found is not None:
            body.append(found)
        if tag in spec.variants:
            variant = fields_of(spec.variants[str(tag)], skip=("type",))
            body.extend(self.fields(step, variant, keys))
        return pn.Column(chooser, body, errors, sizing_mode="stretch_width", margin=0)
