"""Loading plans from files, strings and dicts (JSON or YAML; reading is in ``_parse``)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError

from orchestra.errors import PlanError, PlanIssue
from orchestra.plan._compiled import CompiledPlan
from orchestra.plan._compiler import compile_plan
from orchestra.plan._errors import issues_from_validation
from orchestra.plan._models import Plan
from orchestra.plan._parse import decode_plan, parse_text


@runtime_checkable
class SupportsToPlan(Protocol):
    """Anything that builds a plan model, e.g. the Python builder's ``Flow``."""

    def to_plan(self) -> Plan: ...


PlanSource = str | os.PathLike[str] | dict[str, Any] | Plan | CompiledPlan | SupportsToPlan


def validate_plan_data(data: Any, *, source: str | None = None) -> Plan:
    """Validate a plan given as Python data; raises :class:`PlanError` with paths."""
    if not isinstance(data, dict):
        raise PlanError(
            PlanIssue("", f"a plan is a JSON object, got {type(data).__name__}"), source=source
        )
    try:
        return Plan.model_validate(data)
    except ValidationError as error:
        raise PlanError(issues_from_validation(error, Plan, data), source=source) from None


def load_plan(source: PlanSource, *, known_steps: Iterable[str] = ()) -> CompiledPlan:
    """Load, validate and compile a plan from a path, JSON/YAML text, a dict, a model
    or a builder (``orchestra.Flow``).

    ``known_steps`` names steps whose results exist before the plan runs (e.g.
    earlier notebook cells), so ``steps.<name>`` may refer to them.
    """
    if isinstance(source, CompiledPlan):
        return source
    if isinstance(source, Plan):
        return compile_plan(source, known_steps=known_steps)
    if isinstance(source, dict):
        return compile_plan(validate_plan_data(source), known_steps=known_steps)
    if isinstance(source, SupportsToPlan):
        return compile_plan(source.to_plan(), known_steps=known_steps)
    text, name = read_source(source)
    data = parse_text(text, source=name)
    plan = validate_plan_data(data, source=name)
    return compile_plan(plan, source=name, known_steps=known_steps)


def read_source(source: str | os.PathLike[str]) -> tuple[str, str | None]:
    """The text of a plan given as text or as a path, and the file's name (None for text)."""
    if isinstance(source, os.PathLike):
        path = Path(source)
    elif "\n" in source or source.lstrip().startswith(("{", "[")):
        return source, None
    else:
        path = Path(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PlanError(
            PlanIssue("", f"plan file {str(path)!r} does not exist"), source=str(path)
        ) from None
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        raise PlanError(
            PlanIssue("", f"cannot read plan file: {error}"), source=str(path)
        ) from None
    return decode_plan(data, source=str(path)), str(path)
