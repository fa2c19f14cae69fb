"""The debugging commands: ``%flow debug``, ``break``, ``step`` … ``rerun`` (``%flow help debug``).

:class:`DebugCommands` is a mixin of :class:`~orchestra.notebook._magic.FlowMagic`.
Breakpoints belong to the notebook (they outlive sessions and apply to the
live one at once). One debug session at a time: ``%flow debug`` starts it
(:mod:`orchestra.notebook._debug_session`), the stepping commands drive it,
``set`` / ``eval`` / ``where`` look into its pause. ``edit`` and ``rerun``
work with or without a session: ``rerun STEP`` runs one root step alone, as a
new run of mode ``debug``, against the ``steps`` and ``context`` it started
with in the last debug session (else in the notebook's flow), so no step
above it is called again.
"""

from __future__ import annotations

import copy
import difflib
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.display import display

from orchestra.capture import RunNotFound
from orchestra.debug import Breakpoint, ScopeError, captured_run, evaluate, parse_path
from orchestra.errors import ExpressionSyntaxError, OrchestraError, PlanError
from orchestra.events import DebugAction
from orchestra.notebook._args import Parser, assignment, assignments
from orchestra.notebook._cell import cell_text, read_body
from orchestra.notebook._debug_session import DebugSession
from orchestra.notebook._errors import FlowError
from orchestra.notebook._export import ExportedText
from orchestra.notebook._flow import PLAN_SETTINGS
from orchestra.notebook._views import plan_yaml
from orchestra.plan import (
    CompiledChoice,
    CompiledParallel,
    CompiledStep,
    decode_plan,
    load_plan,
    parse_text,
)

if TYPE_CHECKING:
    from orchestra.notebook._magic import FlowMagic


def _parser(command: str, *options: tuple[tuple[str, ...], dict[str, Any]]) -> Parser:
    parser = Parser(command)
    for flags, kwargs in options:
        parser.add_argument(*flags, **kwargs)
    return parser


class BreakpointList(list):
    """The notebook's breakpoints, shown one per line."""

    def __repr__(self) -> str:
        if not self:
            return "no breakpoints (steps with `breakpoint: true` still stop a debug run)"
        return "breakpoints:\n" + "\n".join(f"  {point.describe()}" for point in self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def expression_error(error: ExpressionSyntaxError) -> FlowError:
    """``break … --when``, ``eval``: the reason, the column and a caret under it."""
    caret = " " * error.column + "^"
    return FlowError(
        f"{error.path}: {error.reason} (column {error.column + 1})\n    {error.text}\n    {caret}"
    )


def _expression(rest: str) -> str:
    """The expression of ``%flow eval``: one quoted word loses its quotes, else the raw text."""
    try:
        words = shlex.split(rest)
    except ValueError:
        return rest.strip()
    return words[0] if len(words) == 1 else rest.strip()


class DebugCommands:
    """``%flow debug`` and the commands that drive a debug session, mixed into ``FlowMagic``."""

    # -- sessions -----------------------------------------------------------------------

    def debug_session_or_fail(self: FlowMagic) -> DebugSession:
        session = self.debug_session
        if session is None:
            raise FlowError("no debug session: start one with %flow debug")
        return session

    def end_debug_session(self: FlowMagic) -> None:
        """Stop a session that still runs and forget it (``%flow reset``, unloading)."""
        session, self.debug_session = self.debug_session, None
        if session is not None and not session.finished:
            session.stop()

    def cmd_debug(self: FlowMagic, words: list[str]) -> DebugSession:
        args = _parser(
            "debug",
            (("file",), {"nargs": "?"}),
            (("--replay",), {"metavar": "RUN"}),
            (("--config", "-c"), {"action": "append", "default": []}),
            (("--step",), {"action": "store_true"}),
            (("--out",), {}),
        ).parse(words)
        live = self.debug_session
        if live is not None and not live.finished:
            raise FlowError(
                f"a debug session is {live.state} ({live.location()}): %flow continue or "
                "%flow stop it first"
            )
        overrides = assignments(args.config)
        captured = None
        sources: dict[str, str] = {}
        if args.replay:
            if args.file:
                raise UsageError("debug: --replay replays the captured run's own plan; no FILE")
            try:
                captured = captured_run(self.store(), args.replay)
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
            if not len(self.current):
                raise FlowError("the flow has no steps yet: add one with a %%flow cell")
            plan = self.current.plan()
            origin, title, config = "flow", f"debug flow {self.current.key}", None
            sources = {step.name: step.source for step in self.current if step.source}
        try:
            compiled = load_plan(plan)
        except PlanError as error:
            hint = ""
            if captured is not None:
                hint = (
                    "\nreplay needs a run of a whole plan or flow (%flow run, %flow debug, "
                    "orchestra run): a single cell's run reads earlier cells' results, which "
                    "its capture does not hold"
                )
            raise FlowError(f"{error}{hint}") from None
        session = DebugSession(
            self,
            plan=plan,
            compiled=compiled,
            origin=origin,
            title=title,
            sources=sources,
            breakpoints=tuple(self.breakpoints.values()),
            config=config,
            captured=captured,
            start="start" if args.step else "continue",
        )
        known = {node.path for node in compiled.walk()} | {node.name for node in compiled.walk()}
        missing = [name for name in self.breakpoints if name not in known]
        if missing:
            session.notes.append(f"breakpoints on steps this plan does not have: {missing}")
        if captured is not None:
            session.notes.append(f"replaying {captured.describe()}")
        self.debug_session = session
        self.bind(args.out, session)
        try:
            session.start(progress=self.progress)
        except OrchestraError as error:  # e.g. a config value that cannot be resolved
            self.debug_session = None
            raise FlowError(f"{type(error).__name__}: {error}") from None
        if self.debug_panel and not session.finished:
            self.show_debug_panel(session)
        return session

    def show_debug_panel(self: FlowMagic, session: DebugSession) -> None:
        try:
            from orchestra.notebook._debug_panel import DebugPanel

            session.panel = DebugPanel(session)
        except ImportError:  # no ipywidgets: the commands do the same
            return
        display(session.panel.widget)

    # -- breakpoints --------------------------------------------------------------------

    def cmd_break(self: FlowMagic, words: list[str]) -> BreakpointList:
        args = _parser(
            "break",
            (("step",), {"nargs": "?"}),
            (("--when",), {"metavar": "EXPR"}),
            (("--clear",), {"action": "store_true"}),
        ).parse(words)
        if args.clear:
            if args.when:
                raise UsageError("break: --clear takes no --when")
            if args.step is None:
                self.breakpoints.clear()
            elif self.breakpoints.pop(args.step, None) is None:
                raise FlowError(f"break: no breakpoint on {args.step!r}")
            self.debug_note("clear", args.step or "all")
        elif args.step is not None:
            self.check_break_target(args.step)
            try:
                point = Breakpoint.parse(args.step, args.when)
            except ExpressionSyntaxError as error:
                raise expression_error(error) from None
            self.breakpoints[args.step] = point
            self.debug_note("break", point.describe())
        elif args.when:
            raise UsageError("break: --when goes with a STEP, e.g. %flow break items --when …")
        session = self.debug_session
        if session is not None and not session.finished:
            session.set_breakpoints(tuple(self.breakpoints.values()))
        return BreakpointList(self.breakpoints.values())

    def check_break_target(self: FlowMagic, step: str) -> None:
        """A breakpoint names an HTTP step of the live session's plan, else of the flow."""
        session = self.debug_session
        live = session is not None and not session.finished
        where = "the debugged plan" if live else "the current flow"
        try:
            compiled = session.compiled if live else load_plan(self.current.plan())
        except PlanError:  # an unfinished flow: its root names are all that is known
            if step in self.current.names():
                return
            raise FlowError(_no_step(step, self.current.names(), where)) from None
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

    def debug_note(self: FlowMagic, action: str, detail: str | None = None) -> None:
        session = self.debug_session
        if session is not None and not session.finished:
            session.note(action, detail)

    # -- driving ------------------------------------------------------------------------

    def _drive(self: FlowMagic, words: list[str], command: str) -> DebugSession:
        _parser(command).parse(words)
        session = self.debug_session_or_fail()
        if command == "stop":
            return session.stop()
        return session.command(command)

    def cmd_step(self: FlowMagic, words: list[str]) -> DebugSession:
        return self._drive(words, "step")

    def cmd_next_page(self: FlowMagic, words: list[str]) -> DebugSession:
        return self._drive(words, "next-page")

    def cmd_next_item(self: FlowMagic, words: list[str]) -> DebugSession:
        return self._drive(words, "next-item")

    def cmd_continue(self: FlowMagic, words: list[str]) -> DebugSession:
        return self._drive(words, "continue")

    def cmd_stop(self: FlowMagic, words: list[str]) -> DebugSession:
        return self._drive(words, "stop")

    def cmd_where(self: FlowMagic, words: list[str]) -> DebugSession:
        _parser("where").parse(words)
        return self.debug_session_or_fail()

    # -- inspecting and editing a pause ------------------------------------------------

    def cmd_set(self: FlowMagic, words: list[str]) -> DebugSession:
        args = _parser(
            "set", (("pairs",), {"nargs": "*"}), (("--unset",), {"action": "append"})
        ).parse(words)
        if not args.pairs and not args.unset:
            raise UsageError("set: give PATH=VALUE, e.g. %flow set context.page=7")
        session = self.debug_session_or_fail()
        try:
            for word in args.pairs:
                key, found = assignment(word, "set")
                session.assign(parse_path(key), found)
            for key in args.unset or []:
                session.delete(parse_path(key))
        except ScopeError as error:
            raise FlowError(f"set: {error}") from None
        return session

    def cmd_eval(self: FlowMagic, rest: str) -> Any:
        expression = _expression(rest)
        if not expression:
            raise UsageError("eval: give a JMESPath expression, e.g. %flow eval context")
        session = self.debug_session
        if session is not None and session.paused:
            return session.eval(expression)
        flow = self.current
        steps: dict[str, Any] = {}
        for step in flow:
            steps.update(step.published)
        scope = {"config": flow.config, "context": flow.context, "steps": steps}
        try:
            result = evaluate(scope, expression)
        except ExpressionSyntaxError as error:
            raise expression_error(error) from None
        except Exception as error:
            raise FlowError(f"eval: {type(error).__name__}: {error}") from None
        return flow.masker.value(result)

    # -- editing and re-running one step ------------------------------------------------

    def _step_spec(self: FlowMagic, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """A root step's definition and its plan settings: a file session's, else the flow's."""
        session = self.debug_session
        if session is not None and session.origin != "flow":
            for spec in session.plan.get("steps") or []:
                if spec.get("name") == name:
                    settings = {k: v for k, v in session.plan.items() if k in PLAN_SETTINGS}
                    return spec, settings
        step = self.current.find(name)
        if step is None:
            known = [s.get("name") for s in (session.plan.get("steps") or [])] if (
                session and session.origin != "flow") else self.current.names()  # fmt: skip
            raise FlowError(f"no root step {name!r} (steps: {', '.join(map(str, known))})")
        return step.spec, {"key": self.current.key, **self.current.settings}

    def cmd_edit(self: FlowMagic, words: list[str]) -> ExportedText:
        args = _parser("edit", (("step",), {})).parse(words)
        spec, _ = self._step_spec(args.step)
        body = {k: v for k, v in spec.items() if k != "name"}
        text = f"%%flow edit {args.step}\n{plan_yaml(body)}"
        self.shell.set_next_input(text, replace=False)
        return ExportedText(
            f"the next cell holds {args.step}'s definition: change it and run the cell, "
            f"then %flow rerun {args.step}"
        )

    def edit_cell(self: FlowMagic, name: str, cell: str) -> Any:
        """``%%flow edit STEP``: replace a root step's definition without running it."""
        from orchestra.notebook._cells import plan_error

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
        session = self.debug_session
        self._step_spec(name)  # it must exist
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
            self.run_step_cell(body, name=name, no_run=True, out=None, quiet=True)
        self.debug_note("edit", name)
        return ExportedText(
            f"{name} updated (not run): %flow rerun {name} runs it against the scope it had before"
        )

    def cmd_rerun(self: FlowMagic, words: list[str]) -> Any:
        args = _parser(
            "rerun",
            (("step",), {}),
            (("--out",), {}),
            (("--quiet",), {"action": "store_true"}),
        ).parse(words)
        name = args.step
        spec, settings = self._step_spec(name)
        session = self.debug_session
        before = session.debugger.before.get(name) if session is not None else None
        flow_step = self.current.find(name)
        if session is not None and session.origin != "flow":
            flow_step = None  # a plan file's step: the notebook's flow is not touched
        if before is not None:
            steps, context = before["steps"], copy.deepcopy(before["context"])
        elif flow_step is not None:
            steps, context = self.current.upstream(flow_step)
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
        self.debug_note("rerun", name)
        execution, view = self.run_plan(
            compiled,
            title=f"rerun {name}",
            sources={name: source} if source else {},
            steps=steps,
            context=context,
            config=session.config if session is not None and flow_step is None else None,
            mode="debug",
            hooks=[_RerunNote(name, session.run_id if session else None)],
        )
        if flow_step is not None:
            paths = {p: s.status for p, s in view.snapshot.paths.items()}
            status = view.status if view.status == "interrupted" else paths.get(name, view.status)
            view.stale = self.current.record(
                flow_step,
                status=status,
                run_id=view.run_id,
                published=execution.published,
                context_before=context,
                context_after=execution.context_after,
                paths=paths,
            )
        upstream = sorted(set(steps))
        view.notes.append(
            f"ran {name} alone against the scope it had before; not called again: "
            + (", ".join(upstream) if upstream else "(no earlier steps)")
        )
        return self.finish(view, out=args.out, quiet=args.quiet)


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


def _replay_config(plan: dict[str, Any], captured: dict[str, Any]) -> dict[str, Any]:
    """The captured run's config as overrides, except secrets (the plan reads them again)."""
    written = plan.get("config") or {}
    return {
        key: value
        for key, value in captured.items()
        if not (isinstance(written.get(key), dict) and "env" in written[key])
    }
