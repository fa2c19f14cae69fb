"""Key/value rows for a mapping field (``params``, ``headers``, ``form``, ``config``…).

The schema says a field is a ``mapping`` (an object whose values are scalars,
:mod:`._schema`); the form then draws one row per entry, a name and a value,
with a delete button, and always one empty row at the end: typing a name into
it adds the next empty row, so a person adds entries with Tab alone ("+ Row"
adds one too). Rows are written into the plan in their order, and the plan is
exactly what the YAML box gave for the same entries:

* a value is a string as typed (a template such as ``{config.page_size}``);
  ``10``, ``2.5``, ``true``, ``false`` and ``null`` are those YAML scalars, and
  ``{env: NAME}`` is a secret reference; quotes (``"10"``) keep such a value a
  string. :func:`value_text` and :func:`parse_value` are inverses, so a plan
  shown as rows and written back is unchanged.
* a mapping whose values are strings only (``extract``, JMESPath) keeps every
  value as typed.
* a literal value under a name that carries credentials (``Authorization``,
  ``X-Api-Key``, ``token``…) is refused and forgotten, as a secret field
  refuses one: it must be ``{env: NAME}`` or a template.
* a value that is not a scalar (a nested mapping or list) cannot be a row: the
  field is then the YAML box, and "Edit as YAML" switches to it at any time.
"""

from __future__ import annotations

import html
import json
import math
import re
from typing import TYPE_CHECKING, Any

import panel as pn
import yaml

from orchestra.dashboard._builder._plan_edit import Key
from orchestra.dashboard._builder._schema import FieldSpec
from orchestra.dashboard._builder._state import yaml_value
from orchestra.masking import is_sensitive_header, is_sensitive_param

if TYPE_CHECKING:
    from orchestra.dashboard._builder._forms import FormBuilder

ENV = re.compile(r"\{\s*env\s*:\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}")
LITERAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false|null")
PLAIN_NAME = re.compile(r"[^.\[\]]+")  # a name a field key can carry (``params.limit``)

REFUSED = (
    "{name}: a secret is not stored in the plan — give {{env: NAME}} as the whole value "
    "(NAME: an environment variable), or a template such as Bearer {{config.token}} with "
    "config token: {{env: NAME}}; the value was not kept"
)


def _special(text: str) -> bool:
    """Whether a string would read back as something else (a number, a secret reference)."""
    if LITERAL.fullmatch(text) or ENV.fullmatch(text):
        return True
    return len(text) >= 2 and text[0] == text[-1] == '"' and _special(text[1:-1])


def is_scalar(value: Any, values: str = "any") -> bool:
    """Whether ``value`` can be one row's value (else the field is edited as YAML)."""
    if isinstance(value, str):
        return True
    if values == "string":
        return False
    if isinstance(value, dict):
        return list(value) == ["env"] and isinstance(value["env"], str)
    if values == "secret":
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, bool | int)


def is_flat(value: Any, values: str = "any") -> bool:
    """Whether a field's value can be drawn as rows: no value, or a mapping of scalars."""
    if value is None:
        return True
    return isinstance(value, dict) and all(
        isinstance(name, str) and is_scalar(item, values) for name, item in value.items()
    )


def value_text(value: Any, values: str = "any") -> str:
    """How a row shows a value (the inverse of :func:`parse_value`)."""
    if isinstance(value, str):
        return f'"{value}"' if values != "string" and _special(value) else value
    if isinstance(value, dict):
        return "{env: " + str(value["env"]) + "}"
    return json.dumps(value)


def parse_value(text: str, values: str = "any") -> Any:
    """A row's text as the plan's value."""
    if values == "string":
        return text
    found = ENV.fullmatch(text.strip())
    if found:
        return {"env": found.group(1)}
    if values == "any" and LITERAL.fullmatch(text):
        return json.loads(text)
    if len(text) >= 2 and text[0] == text[-1] == '"' and _special(text[1:-1]):
        return text[1:-1]
    return text


def rows_of(value: Any, values: str = "any") -> list[tuple[str, str]]:
    """A flat mapping as (name, value text) rows."""
    if not isinstance(value, dict):
        return []
    return [(str(name), value_text(item, values)) for name, item in value.items()]


def refusal(name: str, text: str) -> str | None:
    """Why a row may not hold ``text`` (a literal under a credential name), or None."""
    if not text.strip() or "{" in text:
        return None
    if is_sensitive_header(name) or is_sensitive_param(name):
        return REFUSED.format(name=name)
    return None


def mapping_of(
    rows: list[tuple[str, str]], values: str = "any"
) -> tuple[dict[str, Any] | None, str | None]:
    """Rows as the field's value (None when empty), or the reason they cannot be one.

    Empty rows are skipped; a value without a name and a name given twice are problems
    (nothing is written until they are fixed)."""
    mapping: dict[str, Any] = {}
    for index, (name, text) in enumerate(rows, start=1):
        name = name.strip()
        if not name and not text:
            continue
        if not name:
            return None, f"row {index} has a value but no name"
        if name in mapping:
            return None, f"the name {name!r} is given twice (rows are unique names)"
        mapping[name] = parse_value(text, values)
    return (mapping or None), None


class KeyValueEditor:
    """The rows of one mapping field, bound to a :class:`~._forms.FormBuilder`."""

    def __init__(
        self,
        forms: FormBuilder,
        step: str,
        spec: FieldSpec,
        keys: tuple[Key, ...],
        key: str,
    ) -> None:
        self.forms, self.state, self.step, self.spec, self.keys = (
            forms,
            forms.state,
            step,
            spec,
            keys,
        )
        self.key = key  # the field's key on the page (``params``, ``@plan.config``)
        self.values = spec.values or "any"
        self.errors = forms.slot(step, keys)
        self.rows: list[tuple[pn.widgets.TextInput, pn.widgets.TextInput]] = []
        self.body = pn.Column(sizing_mode="stretch_width", margin=0)
        current = self.state.value(step, keys)
        flat = is_flat(current, self.values)
        self.as_yaml = pn.widgets.Checkbox(
            label="Edit as YAML",
            value=not flat,
            css_classes=[f"ob-kv-yaml:{self.key}", "orchestra-kv-yaml"],
            margin=(0, 10),
        )
        self.note = pn.pane.HTML(
            "", sizing_mode="stretch_width", margin=(0, 10), css_classes=["orchestra-kv-note"]
        )
        self.as_yaml.param.watch(self._switch, "value")
        self._draw()

    # -- drawing ----------------------------------------------------------------------------

    def _draw(self) -> None:
        current = self.state.value(self.step, self.keys)
        if self.as_yaml.value:
            self.rows = []
            self.body.objects = [self._yaml_box(current)]
            if not is_flat(current, self.values):
                self.note.object = (
                    "<div style='font-size:12px;color:#5f6b7a'>nested values: edited as YAML "
                    "(rows hold one name and one scalar value each)</div>"
                )
            return
        self.note.object = ""
        self.rows = []
        self.body.objects = [self._row(name, text) for name, text in rows_of(current, self.values)]
        self.body.append(self._row("", ""))
        self.body.append(self._add_button())

    def _yaml_box(self, current: Any) -> pn.widgets.TextAreaInput:
        text = (
            yaml.safe_dump(current, sort_keys=False, default_flow_style=None).strip()
            if current is not None
            else ""
        )
        box = pn.widgets.TextAreaInput(
            value=text,
            rows=max(2, min(10, text.count("\n") + 2)),
            placeholder="YAML, e.g. key: value",
            sizing_mode="stretch_width",
            css_classes=[f"ob-f:{self.key}", "orchestra-builder-field", "orchestra-kv-text"],
        )

        def write(event: Any) -> None:
            self.forms.local_errors.pop(self.key, None)
            try:
                value = yaml_value(event.new)
            except yaml.YAMLError as error:
                self.forms.local_errors[self.key] = f"not YAML: {error}"
            else:
                self.state.set_value(self.step, self.keys, value)
            self.forms.refresh_errors()

        box.param.watch(write, "value")
        return box

    def _add_button(self) -> pn.widgets.Button:
        button = pn.widgets.Button(
            label="+ Row",
            css_classes=[f"ob-kv-add:{self.key}", "orchestra-kv-add"],
            description=f"Add a name and value to {self.spec.title.lower()}",
            width=80,
            margin=(2, 10),
        )
        button.on_click(lambda event: self._add_row())
        return button

    def _add_row(self) -> None:
        self.body.insert(len(self.body.objects) - 1, self._row("", ""))

    def _value_class(self, name: str) -> list[str]:
        name = name.strip()
        key = f"{self.key}.{name}" if PLAIN_NAME.fullmatch(name) else self.key
        return [f"ob-f:{key}", "orchestra-builder-field", "orchestra-kv-value"]

    def _row(self, name: str, text: str) -> pn.Row:
        title = self.spec.title
        name_input = pn.widgets.TextInput(
            value=name,
            value_input=name,
            placeholder="name",
            css_classes=[f"ob-kv-name:{self.key}", "orchestra-kv-name"],
            sizing_mode="stretch_width",
            margin=(2, 4, 2, 10),
            stylesheets=[":host { flex: 2 1 0 }"],
        )
        value_input = pn.widgets.TextInput(
            value=text,
            value_input=text,
            placeholder="value, {config.x} or {env: NAME}",
            css_classes=self._value_class(name),
            sizing_mode="stretch_width",
            margin=(2, 4),
            stylesheets=[":host { flex: 3 1 0 }"],
        )
        pair = (name_input, value_input)
        self.rows.append(pair)
        delete = pn.widgets.Button(
            label="✕",
            description=f"Delete this row of {title.lower()}",
            css_classes=[f"ob-kv-delete:{self.key}", "orchestra-kv-delete"],
            width=36,
            margin=(2, 10, 2, 4),
        )
        row = pn.Row(name_input, value_input, delete, sizing_mode="stretch_width", margin=0)

        def named(event: Any) -> None:
            value_input.css_classes = self._value_class(event.new)
            self._write()

        def typing_name(event: Any) -> None:  # the last empty row grows the next one
            if event.new and self.rows and self.rows[-1] is pair:
                self._add_row()

        def delete_row(event: Any) -> None:
            if pair in self.rows:
                self.rows.remove(pair)
            self.body.remove(row)
            if not self.rows:
                self._add_row()
            self._write()

        name_input.param.watch(named, "value")
        name_input.param.watch(typing_name, "value_input")
        value_input.param.watch(lambda event: self._write(), "value")

        def typing_value(event: Any) -> None:  # the playground follows the row's value
            key = self._value_class(name_input.value or "")[0].removeprefix("ob-f:")
            if self.state.focused == key:
                self.state.expression = event.new or ""

        value_input.param.watch(typing_value, "value_input")
        if self.forms.on_enter is not None:
            on_enter = self.forms.on_enter
            value_input.param.watch(lambda event: on_enter(), "enter_pressed")
        delete.on_click(delete_row)
        return row

    # -- writing ----------------------------------------------------------------------------

    def _write(self) -> None:
        self.forms.local_errors.pop(self.key, None)
        for name_input, value_input in self.rows:
            reason = refusal(name_input.value or "", value_input.value or "")
            if reason:
                value_input.param.update(value="", value_input="")  # forgotten at once
                self.forms.local_errors[self.key] = reason
        rows = [(n.value or "", v.value or "") for n, v in self.rows]
        mapping, problem = mapping_of(rows, self.values)
        if problem:
            self.forms.local_errors[self.key] = problem
        else:
            self.state.set_value(self.step, self.keys, mapping)
        self.forms.refresh_errors()

    def _switch(self, event: Any) -> None:
        current = self.state.value(self.step, self.keys)
        if not event.new and not is_flat(current, self.values):
            self.as_yaml.value = True  # back (this runs _switch once more, then the note)
            self.forms.local_errors[self.key] = (
                "this value has nested mappings or lists: it stays YAML (rows hold scalars)"
            )
            self.forms.refresh_errors()
            return
        self.forms.local_errors.pop(self.key, None)
        self.forms.refresh_errors()
        self._draw()

    def panel(self, label: str, help_pane: pn.viewable.Viewable | None) -> pn.Column:
        heading = pn.pane.HTML(
            f"<label style='font-size:13px;font-weight:500'>{html.escape(label)}</label>",
            margin=(6, 10, 0, 10),
            css_classes=["orchestra-kv-label"],
        )
        parts: list[Any] = [heading]
        if help_pane is not None:
            parts.append(help_pane)
        parts.extend([self.body, self.note, self.as_yaml, self.errors])
        return pn.Column(
            *parts,
            sizing_mode="stretch_width",
            margin=0,
            css_classes=[f"ob-kv:{self.key}", "orchestra-kv"],
        )
