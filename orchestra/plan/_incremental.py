"""``incremental:`` on an HTTP step: fetch only what changed since the last successful run.

``incremental: {cursor_path: updated_at, param: updated_since, initial_value:
"2024-01-01T00:00:00Z"}`` keeps the highest ``cursor_path`` value seen over the
step's records in the persistent context under :func:`context_key`
(``incremental.<step>``), per plan key and config like any
``persistent_context`` field, so it is saved only after a successful run.
The step sends it as the query parameter ``param`` (``initial_value`` when no
run has saved one); that parameter is added to the step's ``params`` when the
plan compiles, so ``validate --explain``, the debugger and the capture show an
ordinary parameter reading ``context."incremental.<step>"``.

``row_order`` says how the API sorts records by the cursor: ``desc`` stops
paging at the first page holding a record at or below the previous cursor;
``asc`` (and ``desc``) stop at a page holding a record beyond ``end_value``.
``end_value`` also caps the saved cursor and, with ``end_param``, is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from orchestra.expressions import Expression
from orchestra.plan._base import _Model


class Incremental(_Model):
    """The ``incremental`` field of an HTTP step (issue 19 item 3)."""

    cursor_path: str = Field(description="JMESPath over one record giving its cursor value.")
    param: str = Field(description="Query parameter that carries the last cursor value.")
    initial_value: Any = Field(
        None, description="Sent on the first run (no saved cursor yet); none if unset."
    )
    end_value: Any = Field(
        None, description="Upper bound: the cursor never goes past it; paging stops beyond it."
    )
    end_param: str | None = Field(None, description="Query parameter that carries end_value.")
    row_order: Literal["asc", "desc"] | None = Field(
        None, description="How the API sorts records by the cursor (enables stopping early)."
    )


def context_key(step_name: str) -> str:
    """The persistent context field holding a step's cursor."""
    return f"incremental.{step_name}"


def cursor_param_template(step_name: str) -> str:
    """The ``params`` template that sends the saved cursor."""
    return '{context."' + context_key(step_name) + '"}'


@dataclass(slots=True)
class CompiledIncremental:
    """``incremental`` ready to run: the context key and the compiled ``cursor_path``."""

    spec: Incremental
    key: str
    cursor: Expression  # over one record
