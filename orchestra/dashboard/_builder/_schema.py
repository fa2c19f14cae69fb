"""What kind of form field each plan property is, read from the plan's JSON Schema.

The builder draws no field from a hand-written list: it asks the schema
(``orchestra schema``) for a model's properties, and :func:`field_spec` tells
which editor fits each (text, number, switch, choice, lines, a secret, a
nested form, a preset chooser or YAML for anything else). A field added to
the plan models therefore appears in the builder with its title and
description, with no UI code.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from orchestra.plan import plan_json_schema

KINDS = (
    "text",
    "int",
    "number",
    "bool",
    "choice",
    "lines",
    "numbers",
    "secret",
    "object",
    "union",
    "mapping",
    "yaml",
)

VALUE_KINDS = ("any", "string", "secret")
"""What a mapping's values are: any scalar (``additionalProperties: true`` or numbers
too), strings only (JMESPath, templates), or a string or ``{env: NAME}`` secret."""


SPELLING = {"emit_to_kafka": "emit"}
"""Schema keys that plan files spell otherwise (the schema shows the seed's alias)."""


@functools.cache
def schema() -> dict[str, Any]:
    """The plan's JSON Schema (computed once per process)."""
    return plan_json_schema()


def definition(name: str) -> dict[str, Any]:
    """A model of the schema by name (``HttpStep``, ``Retry``…); ``Plan`` is the root."""
    root = schema()
    return root if name == "Plan" else dict(root["$defs"][name])


def _ref_name(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


@dataclass(frozen=True)
class FieldSpec:
    """One property of a model: its key, editor kind and what the form shows about it."""

    key: str
    kind: str
    title: str
    description: str = ""
    default: Any = None
    required: bool = False
    nullable: bool = False
    options: tuple[str, ...] = ()  # choice: the values; union: the tags
    model: str | None = None  # object: the nested model's name
    variants: dict[str, str] = field(default_factory=dict)  # union: tag -> model name
    values: str = ""  # mapping: one of VALUE_KINDS


def field_spec(key: str, node: dict[str, Any], *, required: bool = False) -> FieldSpec:
    """The editor for one property schema ``node`` of a model."""
    title = str(node.get("title") or key.replace("_", " ").capitalize())
    description = str(node.get("description") or "")
    default = node.get("default")
    options = [node]
    nullable = False
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        nullable = len(options) < len(node["anyOf"])
    kind, choices, model, variants = _editor(options)
    values = _mapping_values(options[0]) if kind == "mapping" else ""
    return FieldSpec(
        key,
        kind,
        title,
        description,
        default,
        required=required,
        nullable=nullable,
        options=choices,
        model=model,
        variants=variants,
        values=values or "",
    )


def _editor(
    options: list[dict[str, Any]],
) -> tuple[str, tuple[str, ...], str | None, dict[str, str]]:
    """Kind, choices, nested model and union variants for a property's non-null options."""
    if "SecretRef" in [_ref_name(o) for o in options]:
        return "secret", (), None, {}
    if len(options) != 1:
        return ("text" if _all_scalar(options) else "yaml"), (), None, {}
    option = options[0]
    if "discriminator" in option:
        mapping = option["discriminator"]["mapping"]
        variants = {tag: ref.rsplit("/", 1)[-1] for tag, ref in mapping.items()}
        return "union", tuple(variants), None, variants
    name = _ref_name(option)
    if name is not None:
        model = definition(name)
        if model.get("properties"):
            return "object", (), name, {}
        option = model
    if "enum" in option:
        return "choice", tuple(map(str, option["enum"])), None, {}
    if "const" in option:
        return "choice", (str(option["const"]),), None, {}
    kind = option.get("type")
    scalars = {"string": "text", "integer": "int", "number": "number", "boolean": "bool"}
    if kind in scalars:
        return scalars[kind], (), None, {}
    if kind == "object" and _mapping_values(option):
        return "mapping", (), None, {}
    if kind == "array":
        items = option.get("items") or {}
        if items.get("type") == "string":
            return "lines", (), None, {}
        if items.get("type") == "integer":
            return "numbers", (), None, {}
    return "yaml", (), None, {}


def _mapping_values(option: dict[str, Any]) -> str | None:
    """The value kind of an object schema whose values may be scalars, else None.

    ``additionalProperties: true`` (any value) counts: its rows hold scalars, and a
    nested value falls back to YAML in the editor."""
    if option.get("properties"):
        return None
    extra = option.get("additionalProperties", True)
    if extra is True or extra == {}:
        return "any"
    if not isinstance(extra, dict):
        return None
    kinds = [o.get("type") or _ref_name(o) for o in extra.get("anyOf", [extra])]
    if kinds == ["string"]:
        return "string"
    if set(kinds) == {"string", "SecretRef"}:
        return "secret"
    if set(kinds) <= {"string", "integer", "number", "boolean", "null"}:
        return "any"
    return None


def _all_scalar(options: list[dict[str, Any]]) -> bool:
    return all(o.get("type") in ("string", "integer", "number") for o in options)


def fields_of(model: str, *, skip: tuple[str, ...] = ()) -> list[FieldSpec]:
    """Every property of a model, in the schema's order (aliases as plan files spell them)."""
    node = definition(model)
    required = set(node.get("required", []))
    return [
        field_spec(
            SPELLING.get(key, key),
            {**prop, "title": SPELLING[key].capitalize()} if key in SPELLING else prop,
            required=key in required,
        )
        for key, prop in node.get("properties", {}).items()
        if SPELLING.get(key, key) not in skip
    ]


def step_model(step: dict[str, Any], *, nested: bool) -> str:
    """Which model a step dict is: a parallel group, a choice, a sub-step or an HTTP step."""
    if "parallel" in step:
        return "ParallelStep"
    if "choice" in step or "otherwise" in step:
        return "ChoiceStep"
    return "SubStep" if nested else "HttpStep"
