"""Reading a ``%%flow`` cell body: one step, a whole plan, or plan settings.

The body is JSON or YAML (JSON is tried first, as for plan files). What it
is follows from its keys:

* ``steps`` or ``step`` — a whole plan;
* only top-level plan fields (``key``, ``config``, ``auth``, ``rate_limits``,
  ``limits`` …) — settings of the current flow;
* anything else — one step (``url`` for an HTTP step, or ``parallel`` /
  ``choice``); a misspelt field is left for the plan validator, which names
  the closest valid one.

Positions count from the cell's first line, the ``%%flow`` line (line 1), as
the notebook numbers them: :attr:`CellBody.source` is the whole cell, and a
body that is neither JSON nor YAML raises :class:`CellSyntaxError` with the
cell's line and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import yaml

from orchestra.errors import PlanError, PlanIssue
from orchestra.notebook._flow import PLAN_SETTINGS
from orchestra.plan import parse_text

Kind = Literal["step", "plan", "settings"]


@dataclass
class CellBody:
    kind: Kind
    data: dict[str, Any]
    source: str  # the whole cell, its %%flow line first


class CellSyntaxError(PlanError):
    """The body is not JSON or YAML; ``line`` and ``column`` (0-based) are in the whole cell."""

    def __init__(self, problem: str, line: int, column: int) -> None:
        self.line, self.column = line, column
        where = f"line {line + 1}, column {column + 1}"
        super().__init__(PlanIssue("", f"not valid JSON or YAML at {where}: {problem}"),
                         source="this cell")  # fmt: skip


def cell_text(line: str, body: str) -> str:
    """The cell as the notebook shows it: the ``%%flow`` line, then the body."""
    return f"%%flow {line}".rstrip() + "\n" + body


def read_body(body: str, *, line: str = "") -> CellBody:
    """Parse and classify a cell body (``line``: the rest of its ``%%flow`` line).

    Raises :class:`PlanError` for a body that is no step, plan or settings,
    and :class:`CellSyntaxError` for one that is not JSON or YAML.
    """
    source = cell_text(line, body)
    if not body.strip():
        raise PlanError(
            PlanIssue(
                "",
                "the cell is empty",
                "write one step (name, url …), plan settings (config, auth …) or a whole plan",
            ),
            source="this cell",
        )
    try:
        data = parse_text(body, source="this cell")
    except PlanError as error:
        raise _syntax_error(body) or error from None
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


def _syntax_error(body: str) -> CellSyntaxError | None:
    """Where YAML's parser stops in ``body``, as a position in the whole cell.

    Only the parser's events are read (nothing is constructed), so this costs
    no more than the failed parse did.
    """
    try:
        for _ in yaml.parse(body, Loader=yaml.SafeLoader):
            pass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        if mark is not None:
            problem = error.problem or error.context or "unreadable"
            return CellSyntaxError(problem, mark.line + 1, mark.column)
    except yaml.YAMLError:
        return None
    return None
