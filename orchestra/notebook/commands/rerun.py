"""Editing and re-running one root step: ``%flow edit``, ``%%flow edit STEP``, ``%flow rerun``.

They work with or without a debug session: ``rerun STEP`` runs one root step
alone, as a new run of mode ``debug``, against the ``steps`` and ``context``
it started with in the last debug session (else in the notebook's flow), so
no step above it is called again. In a plan file's session both work on the
session's copy of the plan; the notebook's flow is not touched.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from IPython.core.error import UsageError

from orchestra.errors import PlanError
from orchestra.events import DebugAction
from orchestra.notebook._args import parser
from orchestra.notebook._cell import cell_text, read_body
from orchestra.notebook._cells import plan_error
from orchestra.notebook._errors import FlowError
from orchestra.notebook._export import ExportedText
from orchestra.notebook._flow import PLAN_SETTINGS
from orchestra.notebook._views import plan_yaml
from orchestra.notebook.commands._command import Command
from orchestra.notebook.commands._context import CommandContext
from orchestra.notebook.commands.cell import TEST_READ_NOTE, run_step_cell
from orchestra.plan import ReadCaps, load_plan


def step_spec(ctx: CommandContext, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A root step's definition and its plan settings: a file session's, else the flow's."""
    session = ctx.debug.session
    if session is not None and session.origin != "flow":
        for spec in session.plan.get("steps") or []:
            if spec.get("name") == name:
                settings = {k: v for k, v in session.plan.items() if k in PLAN_SETTINGS}
                return spec, settings
    step = ctx.flow.find(name)
    if step is None:
        known = [s.get("name") for s in (session.plan.get("steps") or [])] if (
            session and session.origin != "flow") else ctx.flow.names()  # fmt: skip
        raise FlowError(f"no root step {name!r} (steps: {', '.join(map(str, known))})")
    return step.spec, {"key": ctx.flow.key, **ctx.flow.settings}


def edit(ctx: CommandContext, words: list[str]) -> ExportedText:
    args = parser("edit", (("step",), {})).parse(words)
    spec, _ = step_spec(ctx, args.step)
    body = {k: v for k, v in spec.items() if k != "name"}
    ctx.set_next_input(f"%%flow edit {args.step}\n{plan_yaml(body)}")
    return ExportedText(
        f"the next cell holds {args.step}'s definition: change it and run the cell, "
        f"then %flow rerun {args.step}"
    )


def edit_cell(ctx: CommandContext, name: str, cell: str) -> ExportedText:
    """``%%flow edit STEP``: replace a root step's definition without running it."""
    try:
        body = read_body(cell, line=f"edit {name}")
    except PlanError as error:
        raise plan_error(error, cell_text(f"edit {name}", cell), step_cell=False) from None
    if body.kind != "step":
        raise FlowError(f"edit {name}: the cell must hold one step (it holds {body.kind})")
    written = body.data.get("name")
    if written and written != name:
        raise UsageError(f"edit {name}: the body names the step {written!r}")
    spec = {"name": name, **{k: v for k, v in body.data.items() if k != "name"}}
    session = ctx.debug.session
    step_spec(ctx, name)  # it must exist
    if (
        session is not None
        and session.origin != "flow"
        and any(s.get("name") == name for s in session.plan.get("steps") or [])
    ):
        plan = copy.deepcopy(session.plan)
        plan["steps"] = [spec if s.get("name") == name else s for s in plan["steps"]]
        try:
            load_plan(plan)
        except PlanError as error:
            raise plan_error(error, body.source, step_cell=False) from None
        session.plan = plan
        session.sources[name] = body.source
    else:
        run_step_cell(ctx, body, name=name, no_run=True, out=None, quiet=True)
    ctx.debug.note("edit", name)
    return ExportedText(
        f"{name} updated (not run): %flow rerun {name} runs it against the scope it had before"
    )


def rerun(ctx: CommandContext, words: list[str]) -> Any:
    args = parser(
        "rerun",
        (("step",), {}),
        (("--out",), {}),
        (("--quiet",), {"action": "store_true"}),
    ).parse(words)
    name = args.step
    spec, settings = step_spec(ctx, name)
    session = ctx.debug.session
    before = session.debugger.before.get(name) if session is not None else None
    caps: ReadCaps | None = None
    flow_step = ctx.flow.find(name)
    if session is not None and session.origin != "flow":
        flow_step = None  # a plan file's step: the notebook's flow is not touched
    if before is not None:
        steps, context = before["steps"], copy.deepcopy(before["context"])
    elif flow_step is not None:
        steps, context = ctx.flow.upstream(flow_step)
        caps = ctx.flow.upstream_caps(flow_step)
    else:
        raise FlowError(f"rerun: {name} has not run yet: %flow debug (or run) it first")
    plan = {**copy.deepcopy(settings), "steps": [copy.deepcopy(spec)]}
    try:
        compiled = load_plan(plan, known_steps=set(steps))
    except PlanError as error:
        raise FlowError(str(error)) from None
    source = (session.sources.get(name) if session else None) or (
        flow_step.source if flow_step else None
    )
    ctx.debug.note("rerun", name)
    execution, view = ctx.run_plan(
        compiled,
        title=f"rerun {name}",
        sources={name: source} if source else {},
        steps=steps,
        context=context,
        config=session.config if session is not None and flow_step is None else None,
        mode="debug",
        hooks=[_RerunNote(name, session.run_id if session else None)],
        caps=caps,
    )
    if flow_step is not None:
        paths = {p: s.status for p, s in view.snapshot.paths.items()}
        status = view.status if view.status == "interrupted" else paths.get(name, view.status)
        view.stale = ctx.flow.record(
            flow_step,
            status=status,
            run_id=view.run_id,
            published=execution.published,
            context_before=context,
            context_after=execution.context_after,
            paths=paths,
            caps=caps,
        )
        if caps is not None:
            view.notes.append(TEST_READ_NOTE)
    upstream = sorted(set(steps))
    view.notes.append(
        f"ran {name} alone against the scope it had before; not called again: "
        + (", ".join(upstream) if upstream else "(no earlier steps)")
    )
    return ctx.finish(view, out=args.out, quiet=args.quiet)


class _RerunNote:
    """Step hook: records the ``rerun`` debug action in the re-run's own capture."""

    def __init__(self, step: str, of_run: str | None) -> None:
        self.step = step
        self.of_run = of_run
        self.done = False

    async def before_step(self, call: Any) -> None:
        if self.done:
            return
        self.done = True

        detail = f"{self.step} alone" + (
            f", scope from debug run {self.of_run}" if self.of_run else ""
        )
        call.run.bus.emit(
            DebugAction(
                run_id=call.run.run_id,
                at=time.time(),
                action="rerun",
                step_path=call.step.path,
                detail=detail,
            )
        )


EDIT = Command(
    "edit",
    edit,
    usage="edit STEP",
    what="Put a root step's definition into a new cell below as `%%flow edit STEP` + YAML; "
    "running that cell replaces the step without running it (in a plan file's debug "
    "session: the session's copy of the plan).",
    example="%flow edit items",
)
RERUN = Command(
    "rerun",
    rerun,
    usage="rerun STEP [--out VAR] [--quiet]",
    what="Run one root step again, alone, against the steps and context it started with in "
    "the last debug session (else in the flow): the steps above it are not called again. "
    "A new run of mode debug.",
    example="%flow rerun one",
)
