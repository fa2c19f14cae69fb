"""What ``%%flow`` cells and whole-flow runs share: cell plan errors and run results.

:func:`plan_error` points a plan error at the cell's text;
:func:`record_flow_run` records a whole-flow run (``%flow run``, a debug
run of the flow) into each step it ran; :func:`last_response` is the
response shown under a failed run. The cell command itself is
:mod:`orchestra.notebook.commands.cell`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from orchestra.capture import CaptureStore
from orchestra.errors import PlanError
from orchestra.notebook._cell import CellSyntaxError
from orchestra.notebook._errors import FlowError, Span, locate, underline_text
from orchestra.notebook._flow import SKIPPED, NotebookFlow

if TYPE_CHECKING:
    from orchestra.notebook._display import FlowRun
    from orchestra.notebook._execute import Execution


def plan_error(error: PlanError, source: str | None, *, step_cell: bool) -> FlowError:
    """A plan error of a cell, with paths relative to the cell and the bad text underlined."""
    text = str(error)
    if step_cell:
        text = re.sub(r"steps\[0\]\.?", "", text).replace("Invalid plan", "Invalid step")
    if isinstance(error, CellSyntaxError):
        span: Span | None = Span(error.line, error.column, 1)
    else:
        span = locate(source, error)
    if span is not None and source:
        text += "\n" + underline_text(source, span)
    return FlowError(text)


def record_flow_run(flow: NotebookFlow, execution: Execution, view: FlowRun) -> None:
    """Record a whole-flow run (``%flow run``, a debug run) into every step it ran."""
    paths = {path: stats.status for path, stats in view.snapshot.paths.items()}
    befores = execution.root_contexts
    context: dict[str, Any] = {}
    for index, step in enumerate(flow.steps):
        if step.name not in paths:  # the run is over and never reached it
            step.forget(SKIPPED)
            continue
        before = befores.get(step.name, context)
        later = [s.name for s in flow.steps[index + 1 :]]
        after = next((befores[n] for n in later if n in befores), execution.context_after)
        owned = {k: v for k, v in execution.published.items() if _belongs(k, step.name, flow)}
        flow.record(
            step,
            status=paths[step.name],
            run_id=view.run_id,
            published=owned,
            context_before=before,
            context_after=after,
            paths={p: s for p, s in paths.items() if p.split(".")[0] == step.name},
            mark_later=False,
            caps=execution.runner.caps,
        )
        context = after


def last_response(db: str, run_id: str, step_path: str) -> dict[str, Any] | None:
    """The last captured response of a step (masked, as the capture holds it)."""
    try:
        with CaptureStore(db).read() as reader:
            row = reader.last_response(run_id, step_path)
    except Exception:  # the summary must not fail because the capture is busy or gone
        return None
    if row is None:
        return None
    return {"status_code": int(row["status_code"]), "body": row["body"]}


def fresh_name(flow: NotebookFlow) -> str:
    taken = set(flow.names())
    number = len(flow) + 1
    while f"step_{number}" in taken:
        number += 1
    return f"step_{number}"


def _belongs(published: str, root: str, flow: NotebookFlow) -> bool:
    """Whether ``steps.<published>`` was set by the root step ``root`` (itself or a child)."""
    if published == root:
        return True
    return published not in flow.names() and published in _child_names(flow, root)


def _child_names(flow: NotebookFlow, root: str) -> set[str]:
    step = flow.find(root)
    names: set[str] = set()

    def walk(spec: Any) -> None:
        if isinstance(spec, dict):
            if isinstance(spec.get("name"), str):
                names.add(spec["name"])
            for key in ("parallel", "otherwise", "steps", "choice"):
                for child in spec.get(key) or []:
                    walk(child)

    if step is not None:
        walk(step.spec)
    return names
