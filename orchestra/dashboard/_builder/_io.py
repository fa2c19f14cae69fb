"""The one place the builder reaches the plan import/export and capped-run functions.

Test-read caps (``orchestra.ReadCaps`` with ``orchestra.run(plan, caps=…)``),
curl/HAR import (``step_from_curl``, ``steps_from_har``) and export
(``plan_to_flow_cells``, ``step_to_curl``) live outside the dashboard; the
builder calls them only through this module, so their names are bound here
once. When a function is not installed yet the builder says so instead of
guessing: each wrapper raises :class:`Unavailable` naming what is missing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from orchestra.masking import Masker
from orchestra.plan import ReadCaps, step_from_curl, steps_from_har


class Unavailable(RuntimeError):
    """A function the builder needs is not part of this installation."""


def _find(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


@dataclass(frozen=True)
class Caps:
    """Test-read caps of a "Try it" run (like Airbyte's test read), with their defaults."""

    max_pages: int = 5
    max_fanout_items: int = 10
    max_records: int = 100


@dataclass
class TryResult:
    """A finished try: the run's result, its partial flag and the run's masker."""

    result: Any
    partial: str | None
    masker: Masker


def run_capped(plan: dict[str, Any], caps: Caps | None, **options: Any) -> TryResult:
    """Run ``plan`` (a test read with ``caps`` unless None), captured as ``orchestra.run`` does.

    The run's masker comes back too: records are kept raw in memory, so what
    the builder shows of them goes through it.
    """
    from orchestra._run import build_runner
    from orchestra.engine import run_coroutine

    if caps is not None:
        options["caps"] = ReadCaps(caps.max_pages, caps.max_fanout_items, caps.max_records)
    runner, _ = build_runner(plan, **options)
    result = run_coroutine(runner.run())
    return TryResult(result, result.partial if caps is not None else None, runner.masker)


@dataclass
class ImportedStep:
    """A step read from curl or HAR, with the plan settings it needs.

    ``config`` holds the values its templates read (secrets as ``{env: NAME}``)
    and ``secrets`` the values of those names, kept out of the plan.
    """

    step: dict[str, Any]
    auth: dict[str, Any] | None
    config: dict[str, Any]
    secrets: dict[str, str]
    notes: list[str]


def _imported(value: Any) -> ImportedStep:
    return ImportedStep(
        dict(value.step), value.auth, dict(value.config), dict(value.secrets), list(value.notes)
    )


def import_request(text: str) -> list[ImportedStep]:
    """Steps from a curl command (as copied from a browser) or a HAR file's JSON."""
    text = text.strip()
    if text.startswith("{"):
        return [_imported(found) for found in steps_from_har(text)]
    return [_imported(step_from_curl(text))]


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
