"""The one place the builder reaches the plan import/export and capped-run functions.

Test-read caps (``orchestra.ReadCaps`` with ``orchestra.run(plan, caps=…)``),
curl/HAR import (``step_from_curl``, ``steps_from_har``) and export
(``plan_to_flow_cells``, ``step_to_curl``) live outside the dashboard; the
builder calls them only through this module, so their names are bound here
once. When a function is not installed yet the builder says so instead of
guessing: each wrapper raises :class:`Unavailable` naming what is missing.
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass
from typing import Any

import yaml


class Unavailable(RuntimeError):
    """A function the builder needs is not part of this installation."""


def _find(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


@dataclass(frozen=True)
class Caps:
    """Test-read caps of a "Try it" run (like Airbyte's test read)."""

    max_pages: int = 5
    max_fanout_items: int = 10
    max_records: int = 100


def read_caps(caps: Caps) -> Any | None:
    """``orchestra.ReadCaps`` for these caps, or None when it is not installed."""
    factory = _find("orchestra", "ReadCaps")
    if factory is None:
        return None
    return factory(
        max_pages=caps.max_pages,
        max_fanout_items=caps.max_fanout_items,
        max_records=caps.max_records,
    )


def capped_plan(plan: dict[str, Any], caps: Caps) -> dict[str, Any]:
    """The plan with the caps written into it, for an engine without ``caps=``.

    Presets get ``max_pages``; ``iterate_over`` keeps its first items
    (``expr | [:N]``). A raw ``while`` has no page counter to cap: it runs to
    its own end or ``limits.max_loops``.
    """
    capped = copy.deepcopy(plan)

    def visit(step: Any) -> None:
        if not isinstance(step, dict):
            return
        paginate = step.get("paginate")
        if isinstance(paginate, str):
            paginate = {"type": paginate}
        if isinstance(paginate, dict):
            wanted = paginate.get("max_pages")
            paginate["max_pages"] = min(int(wanted), caps.max_pages) if wanted else caps.max_pages
            step["paginate"] = paginate
        over = step.get("iterate_over")
        if isinstance(over, str) and over.strip():
            step["iterate_over"] = f"{over} | [:{caps.max_fanout_items}]"
        for key in ("sub_steps", "parallel", "otherwise"):
            for child in step.get(key) or []:
                visit(child)
        for branch in step.get("choice") or []:
            for child in (branch or {}).get("steps") or []:
                visit(child)

    for step in capped.get("steps") or []:
        visit(step)
    if isinstance(capped.get("step"), dict):
        visit(capped["step"])
    return capped


def run_capped(plan: dict[str, Any], caps: Caps | None, **options: Any) -> tuple[Any, str | None]:
    """Run ``plan`` (with ``caps`` unless None); returns the result and its partial flag."""
    from orchestra._run import run

    if caps is None:
        result = run(plan, **options)
        return result, None
    engine_caps = read_caps(caps)
    if engine_caps is not None:
        result = run(plan, caps=engine_caps, **options)
        return result, getattr(result, "partial", None)
    result = run(capped_plan(plan, caps), **options)
    return result, _partial_guess(result, caps)


def _partial_guess(result: Any, caps: Caps) -> str | None:
    pages: dict[str, int] = {}
    for record in getattr(result, "records", []):
        page = getattr(record, "page", None)
        if isinstance(page, int):
            path = record.step_path
            pages[path] = max(pages.get(path, 0), page)
    if any(count >= caps.max_pages for count in pages.values()):
        return f"stopped at {caps.max_pages} pages"
    return None


@dataclass
class ImportedStep:
    """A step read from curl or HAR, and the secret values it carried (as ``{env: NAME}``)."""

    step: dict[str, Any]
    secrets: dict[str, str]


def _as_dict(step: Any) -> dict[str, Any]:
    if hasattr(step, "model_dump"):
        return dict(step.model_dump(by_alias=True, exclude_unset=True))
    return dict(step)


def _imported(value: Any) -> ImportedStep:
    secrets = getattr(value, "secrets", {}) or {}
    return ImportedStep(_as_dict(value.step), dict(secrets))


def import_curl(text: str) -> ImportedStep:
    """A step from a curl command (as copied from a browser's developer tools)."""
    function = _find("orchestra.plan", "step_from_curl")
    if function is None:
        raise Unavailable("importing curl needs orchestra.plan.step_from_curl")
    return _imported(function(text))


def import_har(text: str) -> list[ImportedStep]:
    """Steps from a HAR file's entries."""
    function = _find("orchestra.plan", "steps_from_har")
    if function is None:
        raise Unavailable("importing HAR needs orchestra.plan.steps_from_har")
    found = function(yaml.safe_load(text))
    return [_imported(value) for value in (found if isinstance(found, list) else [found])]


def flow_cells(plan: dict[str, Any]) -> list[str]:
    """The plan as ``%%flow`` cells (settings first, one cell per step)."""
    function = _find("orchestra.plan", "plan_to_flow_cells")
    if function is None:
        raise Unavailable("exporting %%flow cells needs orchestra.plan.plan_to_flow_cells")
    return [str(cell) for cell in function(plan)]


def step_curl(plan: dict[str, Any], step_name: str) -> str:
    """One step of the plan as a curl command (secrets as environment references)."""
    function = _find("orchestra.plan", "step_to_curl")
    if function is None:
        raise Unavailable("exporting curl needs orchestra.plan.step_to_curl")
    return str(function(plan, step_name))
