"""Reading a ``%%flow`` cell body: one step, a whole plan, or plan settings.

The body is JSON or YAML (JSON is tried first, as for plan files). What it
is follows from its keys:

* ``steps`` or ``step`` — a whole plan;
* only top-level plan fields (``key``, ``config``, ``auth``, ``rate_limits``,
  ``limits`` …) — settings of the current flow;
* anything else — one step (``url`` for an HTTP step, or ``parallel`` /
  ``choice``); a misspelt field is left for the plan validator, which names
  the closest valid one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from orchestra.errors import PlanError, PlanIssue
from orchestra.notebook._flow import PLAN_SETTINGS
from orchestra.plan import parse_text

Kind = Literal["step", "plan", "settings"]


@dataclass
class CellBody:
    kind: Kind
    data: dict[str, Any]
    source: str


def read_body(source: str) -> CellBody:
    """Parse and classify a cell body; raises :class:`PlanError` for unreadable text."""
    if not source.strip():
        raise PlanError(
            PlanIssue(
                "",
                "the cell is empty",
                "write one step (name, url …), plan settings (config, auth …) or a whole plan",
            ),
            source="this cell",
        )
    data = parse_text(source, source="this cell")
    if isinstance(data, list):
        raise PlanError(
            PlanIssue(
                "",
                "the cell holds a list",
                "write one step per cell, or a whole plan with the list under `steps:`",
            ),
            source="this cell",
        )
    if not isinstance(data, dict):
        raise PlanError(
            PlanIssue("", f"the cell holds a {type(data).__name__}, not a step or a plan"),
            source="this cell",
        )
    if "steps" in data or "step" in data:
        return CellBody("plan", data, source)
    if set(data) <= set(PLAN_SETTINGS) and set(data) != {"name"}:
        return CellBody("settings", data, source)
    return CellBody("step", data, source)
