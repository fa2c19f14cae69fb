"""Turning pydantic validation errors into plan issues with paths and fixes."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from orchestra.errors import PlanIssue
from orchestra.plan._paginate import PRESETS
from orchestra.plan._steps import CONTROL_KEYS, STEP_TAGS, HttpStep


def format_path(loc: tuple[Any, ...]) -> str:
    """``("steps", 1, "sub_steps", 0, "url")`` → ``steps[1].sub_steps[0].url``.

    The tags of the step union (``HttpStep``, ``ParallelStep``…) are left out.
    """
    text = ""
    after = None
    for part in loc:
        if part in STEP_TAGS or (after == "paginate" and part in PRESETS):
            after = part
            continue
        after = part
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _model_classes(annotation: Any) -> list[type[BaseModel]]:
    """Every BaseModel class inside an annotation (list[X], X | None, Annotated[…])."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_classes(typing.get_args(annotation)[0])
    if origin is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            found.extend(_model_classes(arg))
    return found


def _field_names(model: type[BaseModel]) -> list[str]:
    names = []
    for name, field in model.model_fields.items():
        names.append(field.alias or name)
        if isinstance(field.validation_alias, str):
            names.append(field.validation_alias)
    if "emit_to_kafka" in names:
        names.append("emit")
    if issubclass(model, HttpStep):  # a misspelt control key lands on the HTTP step
        names.extend(CONTROL_KEYS)
    return names


def _model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that holds the last element of ``loc``."""
    candidates = [root]
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if part in STEP_TAGS:
            candidates = [STEP_TAGS[part]]
            continue
        next_candidates: list[type[BaseModel]] = []
        for model in candidates:
            field = _lookup_field(model, part)
            if field is not None:
                next_candidates.extend(_model_classes(field.annotation))
        if not next_candidates:
            # a discriminated-union tag (e.g. "bearer"): pick the member by its type literal
            tagged = [m for m in candidates if _type_literal(m) == part]
            if not tagged:
                return None
            next_candidates = tagged
        candidates = next_candidates
    return candidates[0] if candidates else None


def _lookup_field(model: type[BaseModel], name: str):
    for field_name, field in model.model_fields.items():
        if name in (field_name, field.alias, field.validation_alias):
            return field
    return None


def _type_literal(model: type[BaseModel]) -> Any:
    field = model.model_fields.get("type")
    if field is None:
        return None
    args = typing.get_args(field.annotation)
    return args[0] if args else None


def _step_name_at(data: Any, loc: tuple[Any, ...]) -> str | None:
    """The ``name`` of the innermost step on the path, to say which step is wrong."""
    name = None
    node = data
    for part in loc:
        if part in STEP_TAGS:
            continue
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and isinstance(node.get("name"), str):
            name = node["name"]
    return name


def issues_from_validation(
    error: ValidationError, root: type[BaseModel], data: Any, prefix: tuple[Any, ...] = ()
) -> list[PlanIssue]:
    issues = []
    for item in error.errors(include_url=False):
        loc = prefix + tuple(item["loc"])
        kind = item["type"]
        step_name = _step_name_at(data, loc)
        path = format_path(loc)
        if step_name:
            path += f" (step {step_name!r})"
        fix = None
        if kind == "extra_forbidden":
            field = str(loc[-1])
            model = _model_at(root, loc)
            valid = _field_names(model) if model else []
            close = difflib.get_close_matches(field, valid, n=1, cutoff=0.6)
            message = f"unknown field {field!r}"
            if close:
                fix = f"did you mean {close[0]!r}?"
            elif valid:
                fix = "valid fields here: " + ", ".join(sorted(valid))
        elif kind == "missing":
            message = f"required field {str(loc[-1])!r} is missing"
            fix = f"add {str(loc[-1])!r}"
        else:
            message = item["msg"]
            if "input" in item and kind not in (
                "plan_root",
                "step_name",
                "duplicate_alias",
                "context_key",
                "paginate_type",
            ):
                shown = repr(item["input"])
                if len(shown) < 80:
                    message += f" (got {shown})"
        issues.append(PlanIssue(path, message, fix))
    return issues
