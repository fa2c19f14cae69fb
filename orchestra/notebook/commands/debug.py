"""The debugger's commands: ``%flow debug``, ``break``, ``step`` … ``where``, ``set``, ``eval``.

Breakpoints belong to the notebook (``ctx.debug.breakpoints``: they outlive
sessions and apply to the live one at once). One debug session at a time:
``%flow debug`` starts it (:mod:`orchestra.notebook._debug_session`), the
stepping commands drive it, ``set`` / ``eval`` / ``where`` look into its
pause. ``edit`` and ``rerun`` are :mod:`orchestra.notebook.commands.rerun`.
"""

from __future__ import annotations

import difflib
import shlex
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from orchestra.capture import RunNotFound
from orchestra.debug import Breakpoint, CapturedRun, ScopeError, captured_run, evaluate, parse_path
from orchestra.errors import ExpressionSyntaxError, OrchestraError, PlanError
from orchestra.notebook._args import (
    CAP_OPTIONS,
    CAP_USAGE,
    assignment,
    assignments,
    caps_of,
    parser,
)
from orchestra.notebook._debug_session import DebugSession
from orchestra.notebook._errors import FlowError, expression_error
from orchestra.notebook.commands._command import Command
from orchestra.notebook.commands._context import CommandContext
from orchestra.plan import (
    CompiledChoice,
    CompiledParallel,
    CompiledStep,
    decode_plan,
    load_plan,
    parse_text,
)

REPLAY_HINT = (
    "\nreplay needs a run of a whole plan or flow (%flow run, %flow debug, "
    "orchestra run): a single cell's run reads earlier cells' results, which "
    "its capture does not hold"
)


class BreakpointList(list[Breakpoint]):
    """The notebook's breakpoints, shown one per line."""

    def __repr__(self) -> str:
        if not self:
            return "no breakpoints (steps with `breakpoint: true` still stop a debug run)"
        return "breakpoints:\n" + "\n".join(f"  {point.describe()}" for point in self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


# -- sessions ---------------------------------------------------------------------------


def debug(ctx: CommandContext, words: list[str]) -> DebugSession:
    args = parser(
        "debug",
        (("file",), {"nargs": "?"}),
        (("--replay",), {"metavar": "RUN"}),
        (("--config", "-c"), {"action": "append", "default": []}),
        (("--step",), {"action": "store_true"}),
        (("--out",), {}),
        *CAP_OPTIONS,
    ).parse(words)
    live = ctx.debug.live()
    if live is not None:
        raise FlowError(
            f"a debug session is {live.state} ({live.location()}): %flow continue or "
            "%flow stop it first"
        )
    overrides = assignments(args.config)
    captured: CapturedRun | None = None
    sources: dict[str, str] = {}
    config: dict[str, Any] | None
    if args.replay:
        if args.file:
            raise UsageError("debug: --replay replays the captured run's own plan; no FILE")
        try:
            captured = captured_run(ctx.store(), args.replay)
        except (RunNotFound, FileNotFoundError) as error:
            raise FlowError(str(error)) from None
        plan = captured.plan
        origin, title = "replay", f"replay of run {captured.run_id}"
        config = {**_replay_config(plan, captured.config), **overrides}
    elif args.file:
        file = Path(args.file)
        try:
            source = decode_plan(file.read_bytes(), source=str(file))
            plan = parse_text(source, source=str(file))
        except OSError as error:
            raise FlowError(f"debug: cannot read {file}: {error.strerror or error}") from None
        except PlanError as error:
            raise FlowError(str(error)) from None
        origin, title, config = "file", f"debug {file.name}", overrides
        sources = {str(step.get("name")): source for step in plan.get("steps") or []}
    else:
        if overrides:
            raise UsageError("debug: --config goes with a FILE (use %flow config)")
        if not len(ctx.flow):
            raise FlowError("the flow has no steps yet: add one with a %%flow cell")
        plan = ctx.flow.plan()
        origin, title, config = "flow", f"debug flow {ctx.flow.key}", None
        sources = {step.name: step.source for step in ctx.flow if step.source}
    try:
        compiled = load_plan(plan)
    except PlanError as error:
        raise FlowError(f"{error}{REPLAY_HINT if captured is not None else ''}") from None
    breakpoints = ctx.debug.breakpoints
    session = DebugSession(
        ctx,
        plan=plan,
        compiled=compiled,
        origin=origin,
        title=title,
        sources=sources,
        breakpoints=tuple(breakpoints.values()),
        config=config,
        captured=captured,
        start="start" if args.step else "continue",
        caps=caps_of(args),
    )
    known = {node.path for node in compiled.walk()} | {node.name for node in compiled.walk()}
    missing = [name for name in breakpoints if name not in known]
    if missing:
        session.notes.append(f"breakpoints on steps this plan does not have: {missing}")
    if captured is not None:
        session.notes.append(f"replaying {captured.describe()}")
    ctx.debug.session = session
    ctx.bind(args.out, session)
    try:
        session.start(progress=ctx.settings.progress)
    except OrchestraError as error:  # e.g. a config value that cannot be resolved
        ctx.debug.session = None
        raise FlowError(f"{type(error).__name__}: {error}") from None
    if ctx.settings.debug_panel and not session.finished:
        show_panel(ctx, session)
    return session


def show_panel(ctx: CommandContext, session: DebugSession) -> None:
    try:
        from orchestra.notebook._debug_panel import DebugPanel  # ipywidgets: only when shown

        panel = DebugPanel(session)
    except ImportError:  # no ipywidgets: the commands do the same
        return
    session.panel = panel
    ctx.display(panel.widget)


def _replay_config(plan: dict[str, Any], captured: dict[str, Any]) -> dict[str, Any]:
    """The captured run's config as overrides, except secrets (the plan reads them again)."""
    written = plan.get("config") or {}
    return {
        key: value
        for key, value in captured.items()
        if not (isinstance(written.get(key), dict) and "env" in written[key])
    }


# -- breakpoints ------------------------------------------------------------------------


def set_breakpoint(ctx: CommandContext, words: list[str]) -> BreakpointList:
    args = parser(
        "break",
        (("step",), {"nargs": "?"}),
        (("--when",), {"metavar": "EXPR"}),
        (("--clear",), {"action": "store_true"}),
    ).parse(words)
    breakpoints = ctx.debug.breakpoints
    if args.clear:
        if args.when:
            raise UsageError("break: --clear takes no --when")
        if args.step is None:
            breakpoints.clear()
        elif breakpoints.pop(args.step, None) is None:
            raise FlowError(f"break: no breakpoint on {args.step!r}")
        ctx.debug.note("clear", args.step or "all")
    elif args.step is not None:
        check_break_target(ctx, args.step)
        try:
            point = Breakpoint.parse(args.step, args.when)
        except ExpressionSyntaxError as error:
            raise expression_error(error) from None
        breakpoints[args.step] = point
        ctx.debug.note("break", point.describe())
    elif args.when:
        raise UsageError("break: --when goes with a STEP, e.g. %flow break items --when …")
    live = ctx.debug.live()
    if live is not None:
        live.set_breakpoints(tuple(breakpoints.values()))
    return BreakpointList(breakpoints.values())


def check_break_target(ctx: CommandContext, step: str) -> None:
    """A breakpoint names an HTTP step of the live session's plan, else of the flow."""
    live = ctx.debug.live()
    where = "the debugged plan" if live else "the current flow"
    try:
        compiled = live.compiled if live else load_plan(ctx.flow.plan())
    except PlanError:  # an unfinished flow: its root names are all that is known
        if step in ctx.flow.names():
            return
        raise FlowError(_no_step(step, ctx.flow.names(), where)) from None
    nodes = list(compiled.walk())
    node = next((n for n in nodes if n.path == step), None) or next(
        (n for n in nodes if n.name == step), None
    )
    if node is None:
        steps = [n.path for n in nodes if isinstance(n, CompiledStep)]
        raise FlowError(_no_step(step, steps, where))
    if isinstance(node, CompiledParallel | CompiledChoice):
        kind = "parallel group" if isinstance(node, CompiledParallel) else "choice"
        inside = [n.path for n in node.walk() if n is not node]
        raise FlowError(
            f"break: {step!r} is a {kind}; it sends no request, so a breakpoint on it "
            f"would never stop. Break on the steps inside it instead: {', '.join(inside)} "
            "(or %flow debug --step stops before every step)"
        )


def _no_step(step: str, known: list[str], where: str) -> str:
    """``break: no step 'x' …`` listing the steps that exist, the closest first."""
    if not known:
        return f"break: {where} has no steps yet; add one with a %%flow cell (or %flow load)"

    def likeness(path: str) -> float:
        names = (path, path.split(".")[-1])
        return max(difflib.SequenceMatcher(None, step, name).ratio() for name in names)

    ranked = sorted(dict.fromkeys(known), key=likeness, reverse=True)
    return (
        f"break: {where} has no step {step!r}; its steps (closest first): {', '.join(ranked)}. "
        "For a plan file, start %flow debug FILE --step and set breakpoints while it is paused"
    )


# -- driving ----------------------------------------------------------------------------


def _drive(ctx: CommandContext, words: list[str], command: str) -> DebugSession:
    parser(command).parse(words)
    session = ctx.debug.session_or_fail()
    if command == "stop":
        return session.stop()
    return session.command(command)


def step(ctx: CommandContext, words: list[str]) -> DebugSession:
    return _drive(ctx, words, "step")


def next_page(ctx: CommandContext, words: list[str]) -> DebugSession:
    return _drive(ctx, words, "next-page")


def next_item(ctx: CommandContext, words: list[str]) -> DebugSession:
    return _drive(ctx, words, "next-item")


def continue_run(ctx: CommandContext, words: list[str]) -> DebugSession:
    return _drive(ctx, words, "continue")


def stop(ctx: CommandContext, words: list[str]) -> DebugSession:
    return _drive(ctx, words, "stop")


def where(ctx: CommandContext, words: list[str]) -> DebugSession:
    parser("where").parse(words)
    return ctx.debug.session_or_fail()


# -- inspecting and editing a pause -----------------------------------------------------


def set_scope(ctx: CommandContext, words: list[str]) -> DebugSession:
    args = parser("set", (("pairs",), {"nargs": "*"}), (("--unset",), {"action": "append"})).parse(
        words
    )
    if not args.pairs and not args.unset:
        raise UsageError("set: give PATH=VALUE, e.g. %flow set context.page=7")
    session = ctx.debug.session_or_fail()
    try:
        for word in args.pairs:
            key, found = assignment(word, "set")
            session.assign(parse_path(key), found)
        for key in args.unset or []:
            session.delete(parse_path(key))
    except ScopeError as error:
        raise FlowError(f"set: {error}") from None
    return session


def eval_expression(ctx: CommandContext, rest: str) -> Any:
    expression = _expression(rest)
    if not expression:
        raise UsageError("eval: give a JMESPath expression, e.g. %flow eval context")
    session = ctx.debug.session
    if session is not None and session.paused:
        return session.eval(expression)
    flow = ctx.flow
    steps: dict[str, Any] = {}
    for flow_step in flow:
        steps.update(flow_step.published)
    scope = {"config": flow.config, "context": flow.context, "steps": steps}
    try:
        result = evaluate(scope, expression)
    except ExpressionSyntaxError as error:
        raise expression_error(error) from None
    except Exception as error:
        raise FlowError(f"eval: {type(error).__name__}: {error}") from None
    return flow.masker.value(result)


def _expression(rest: str) -> str:
    """The expression of ``%flow eval``: one quoted word loses its quotes, else the raw text."""
    try:
        words = shlex.split(rest)
    except ValueError:
        return rest.strip()
    return words[0] if len(words) == 1 else rest.strip()


DEBUG = Command(
    "debug",
    debug,
    usage=f"debug [FILE] [--replay RUN] [--config K=V ...] [--step] [--out VAR] {CAP_USAGE}",
    what="Run the current flow (or a plan file) under the debugger until the first breakpoint "
    "(--step: until the first step), then return with the run PAUSED: the kernel is idle, "
    "so other cells and the panel's buttons work. The result is the session: where it "
    "is, .scope (the paused scope: reads masked, assignments reach the run), .step() "
    ".next_page() .next_item() .cont() .stop(). --replay RUN re-executes a captured run "
    "from the capture, without the network, and pauses before the request where that run "
    "failed, with its scope restored. A debug run is captured with mode debug; every "
    "debug action is an event in the capture's events table. A debug run that fails "
    "does not fail the cell (look at .status). Only one session runs at a time.",
    example="%flow debug --replay last",
)
BREAK = Command(
    "break",
    set_breakpoint,
    usage="break [STEP] [--when EXPR] [--clear]",
    what="Set a breakpoint on a step (path or name; `breakpoint: true` in a plan works too), "
    "list them (no STEP), or remove one or all (--clear). --when stops only where the "
    "JMESPath EXPR is true: checked when each response arrives if it reads `response`, "
    "else before each request. Applies to a running session at once. STEP must be a step "
    "of the live session's plan, else of the current flow: an unknown name is rejected "
    "with the steps there are, closest first. A parallel group or a choice sends no "
    "request, so it takes no breakpoint: it is rejected, naming the steps inside it to "
    "break on instead (or use %flow debug --step).",
    example="%flow break items --when 'response.status_code != `200`'",
)
STEP = Command(
    "step",
    step,
    usage="step",
    what="Run the paused run to the next step that starts outside the paused one (step over).",
    example="%flow step",
)
NEXT_PAGE = Command(
    "next-page",
    next_page,
    usage="next-page",
    what="Run the paused run to the next page of the paused step (or of the step above it); "
    "when there is none, to the next step.",
    example="%flow next-page",
)
NEXT_ITEM = Command(
    "next-item",
    next_item,
    usage="next-item",
    what="Run the paused run to the next fanout item (from a parent step: its first item); "
    "when there is none, to the next step.",
    example="%flow next-item",
)
CONTINUE = Command(
    "continue",
    continue_run,
    usage="continue",
    what="Run the paused run to the next breakpoint, or to its end.",
    example="%flow continue",
)
STOP = Command(
    "stop",
    stop,
    usage="stop",
    what="End the debug run now as `stopped`; what ran so far is captured.",
    example="%flow stop",
)
WHERE = Command(
    "where",
    where,
    usage="where",
    what="Where the debug run is paused (step path, item, page, attempt, why) and its scope "
    "(config with secrets masked, context, item, response, prev, parent, steps).",
    example="%flow where",
)
SET = Command(
    "set",
    set_scope,
    usage="set PATH=VALUE ... [--unset PATH]",
    what="Change the paused scope. context, config and steps are the run's: later requests "
    "see the change. item, parent, prev and response are the paused step's own copy. "
    "VALUE is JSON when it parses, else text; $name takes a Python variable.",
    example="%flow set context.next_offset=6",
)
EVAL = Command(
    "eval",
    eval_expression,
    usage="eval EXPR",
    what="Evaluate a JMESPath expression against the paused scope (without a pause: against "
    "the flow's config, context and steps) and return the value, masked.",
    example="%flow eval 'response.body.items[0]'",
    raw=True,
)
