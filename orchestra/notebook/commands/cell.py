"""The ``%%flow`` cell: plan settings, whole plans, and steps joining the current flow.

A step cell is validated first (against the names of the steps before it,
so ``steps.<name>`` references are checked), then placed in the flow and
run against the ``steps`` and ``context`` that existed before it; the
steps after it that had run become ``stale``. :func:`run_flow` (``%flow
run``) runs the whole flow from the top and records every step again.
``%%flow edit STEP`` is :func:`orchestra.notebook.commands.rerun.edit_cell`.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from orchestra.errors import PlanError
from orchestra.notebook._args import Parser, parser
from orchestra.notebook._cell import CellBody, cell_text, read_body
from orchestra.notebook._cells import fresh_name, plan_error, record_flow_run
from orchestra.notebook._errors import FlowError
from orchestra.notebook._flow import FlowStep, NotebookFlow
from orchestra.notebook._views import FlowView
from orchestra.notebook.commands._context import CommandContext
from orchestra.plan import CompiledPlan, ReadCaps, load_plan

TEST_READ_NOTE = (
    "a test read, as the capped %flow run its context comes from: same caps, no persistent "
    "context saved (%flow run without caps reads everything)"
)


def cell_parser() -> Parser:
    """The options of the ``%%flow`` line."""
    return parser(
        "%%flow",
        (("name",), {"nargs": "?"}),
        (("--no-run",), {"action": "store_true"}),
        (("--out",), {"metavar": "VAR"}),
        (("--quiet",), {"action": "store_true"}),
    )


def check_cell(ctx: CommandContext, words: list[str], line: str, body_text: str) -> CellBody:
    """Every check a run of the cell makes before it sends anything, nothing changed.

    Raises ``UsageError`` for the ``%%flow`` line, :class:`PlanError` for the
    body (a step's paths start at ``steps[0]``, as in :func:`compile_step`).
    Diagnostics as you type (:mod:`orchestra.notebook._diagnostics`) call
    this, so the editor underlines exactly what running the cell would report.
    """
    if len(words) == 2 and words[0] == "edit":  # `%%flow edit STEP`
        args_name: str | None = words[1]
    else:
        args_name = cell_parser().parse(words).name
    body = read_body(body_text, line=line)
    if body.kind == "settings":
        check_settings(ctx.flow, body.data)
    elif body.kind == "plan":
        load_plan(body.data)
    else:
        spec, upstream = step_spec(ctx, body, args_name)
        compile_step(ctx.flow, spec, upstream)
    return body


def cell(ctx: CommandContext, words: list[str], line: str, body_text: str) -> Any:
    """``%%flow [NAME] [--no-run] [--out VAR] [--quiet]`` and its body."""
    args = cell_parser().parse(words)
    try:
        body = read_body(body_text, line=line)
    except PlanError as error:
        raise plan_error(error, cell_text(line, body_text), step_cell=False) from None
    if body.kind == "settings":
        if args.name:
            raise UsageError("plan settings take no NAME (it names a step)")
        update_settings(ctx, body.data)
        view = FlowView.of(ctx.flow)
        ctx.bind(args.out, view)
        return view
    if body.kind == "plan":
        if args.name:
            raise UsageError("a whole plan takes no NAME: set `key:` in the body")
        return run_whole_plan(ctx, body, no_run=args.no_run, out=args.out, quiet=args.quiet)
    return run_step_cell(
        ctx, body, name=args.name, no_run=args.no_run, out=args.out, quiet=args.quiet
    )


def check_settings(flow: NotebookFlow, data: dict[str, Any]) -> dict[str, Any]:
    """The flow's settings with ``data`` applied, validated as a plan (raises PlanError)."""
    trial = {**flow.settings, **data}
    if "config" in data and isinstance(data["config"], dict):
        trial["config"] = {**flow.config, **data["config"]}
    load_plan({"key": flow.key, **trial, "steps": [{"url": "http://x"}]})
    return trial


def update_settings(ctx: CommandContext, data: dict[str, Any]) -> None:
    try:
        ctx.flow.settings = check_settings(ctx.flow, data)
    except PlanError as error:
        raise FlowError(str(error)) from None


def run_whole_plan(
    ctx: CommandContext, body: CellBody, *, no_run: bool, out: str | None, quiet: bool
) -> Any:
    try:
        load_plan(body.data)
    except PlanError as error:
        raise plan_error(error, body.source, step_cell=False) from None
    ctx.flow.replace_all(body.data, source=body.source)
    if no_run:
        view = FlowView.of(ctx.flow)
        ctx.bind(out, view)
        return view
    return run_flow(ctx, out=out, quiet=quiet)


def run_flow(
    ctx: CommandContext,
    *,
    out: str | None = None,
    quiet: bool = False,
    caps: ReadCaps | None = None,
) -> Any:
    """Run the whole current flow from the top and record every step's result
    (``caps``: a test read, see :class:`~orchestra.plan.ReadCaps`)."""
    flow = ctx.flow
    if not len(flow):
        raise FlowError("the flow has no steps yet: add one with a %%flow cell")
    try:
        compiled = load_plan(flow.plan())
    except PlanError as error:
        raise FlowError(str(error)) from None
    sources = {step.name: step.source for step in flow if step.source}
    execution, view = ctx.run_plan(compiled, title=f"flow {flow.key}", sources=sources, caps=caps)
    record_flow_run(flow, execution, view)
    return ctx.finish(view, out=out, quiet=quiet)


def step_spec(
    ctx: CommandContext, body: CellBody, name: str | None
) -> tuple[dict[str, Any], list[FlowStep]]:
    """The step a cell defines (named from its line, its body, or its cell) and the steps
    before it."""
    flow = ctx.flow
    spec = dict(body.data)
    cell_id = ctx.cell_id()
    written = spec.get("name")
    if name and written and name != written:
        raise UsageError(f"the cell line names the step {name!r}, the body {written!r}")
    if not (name or written):
        earlier = flow.by_cell(cell_id)
        name = earlier.name if earlier else fresh_name(flow)
    spec = {"name": name or written, **{k: v for k, v in spec.items() if k != "name"}}
    existing = flow.find(spec["name"]) or flow.by_cell(cell_id)
    upstream = flow.steps[: flow.steps.index(existing)] if existing else flow.steps
    return spec, upstream


def compile_step(
    flow: NotebookFlow, spec: dict[str, Any], upstream: list[FlowStep]
) -> CompiledPlan:
    """The step as the flow's plan ``steps[0]``, checked against the steps before it
    (``steps.<name>`` references included)."""
    known = {s.name for s in upstream}
    for earlier in upstream:
        known.update(earlier.published)
    return load_plan(flow.plan([spec]), known_steps=known)


def run_step_cell(
    ctx: CommandContext,
    body: CellBody,
    *,
    name: str | None,
    no_run: bool,
    out: str | None,
    quiet: bool,
) -> Any:
    flow = ctx.flow
    spec, upstream_steps = step_spec(ctx, body, name)
    try:
        compiled = compile_step(flow, spec, upstream_steps)
    except PlanError as error:
        raise plan_error(error, body.source, step_cell=True) from None
    cell_id = ctx.cell_id()
    step = flow.place(spec, cell_id=cell_id, source=body.source)
    if no_run:
        flow.record(step, status="pending", run_id="", published={},
                    context_before={}, context_after=None)  # fmt: skip
        step.run_id = None  # edited, not run: later steps that ran are stale
        shown = FlowView.of(flow)
        ctx.bind(out, shown)
        return shown
    steps, context = flow.upstream(step)
    caps = flow.upstream_caps(step)
    execution, view = ctx.run_plan(
        compiled,
        title=f"step {step.name}",
        sources={step.name: body.source},
        steps=steps,
        context=context,
        caps=caps,
    )
    paths = {path: stats.status for path, stats in view.snapshot.paths.items()}
    status = view.status if view.status == "interrupted" else paths.get(step.name, view.status)
    stale = flow.record(
        step,
        status=status,
        run_id=view.run_id,
        published=execution.published,
        context_before=execution.context_before,
        context_after=execution.context_after,
        paths=paths,
        caps=caps,
    )
    view.stale = stale
    if caps is not None:
        view.notes.append(TEST_READ_NOTE)
    unrun = [s.name for s in upstream_steps if not s.has_run or s.status == "stale"]
    if unrun:
        view.notes.append(f"earlier steps not run or stale: {', '.join(unrun)}")
    return ctx.finish(view, out=out, quiet=quiet)
