"""``CommandContext``: everything a ``%flow`` command may use, as plain attributes.

A command is a function of this context and its words, so it can be called
from a test without a kernel: build a context around a
:class:`~orchestra.notebook._flow.NotebookFlow` (settings default to the
``FlowMagic`` defaults, the namespace to an empty dict) and call the
command. ``FlowMagic`` builds one context when it is created, with its own
traits as the settings (so ``%config FlowMagic.x = …`` applies at once),
the shell's namespace and IPython's ``display``.

What every command shares lives here too: where the capture is, running a
plan on the kernel loop, showing a finished run, and binding ``--out``.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from IPython.core.error import UsageError
from IPython.display import display as ipython_display

from orchestra._run import default_db
from orchestra.capture import CaptureStore
from orchestra.debug import Breakpoint
from orchestra.errors import ConfigError, OrchestraError, PlanError
from orchestra.notebook._cells import last_response
from orchestra.notebook._debug_session import DebugSession
from orchestra.notebook._display import FlowRun
from orchestra.notebook._errors import FlowError, FlowInterrupted, FlowRunFailed
from orchestra.notebook._execute import Execution, execute
from orchestra.notebook._flow import NotebookFlow
from orchestra.notebook._jsontree import Limits
from orchestra.notebook._kernel import KernelLoop
from orchestra.plan import CompiledPlan


class Settings(Protocol):
    """The ``FlowMagic`` settings a command reads (``%config FlowMagic`` lists them)."""

    db: str
    capture: bool
    progress: str
    keep_records: bool
    raise_on_failure: bool
    body_max_items: int
    body_max_string: int
    body_budget: int
    body_open_depth: int
    debug_panel: bool
    interrupt_grace_seconds: float


@dataclass
class FlowSettings:
    """Settings outside a kernel, with ``FlowMagic``'s defaults."""

    db: str = ""
    capture: bool = True
    progress: str = "auto"
    keep_records: bool = True
    raise_on_failure: bool = True
    body_max_items: int = 50
    body_max_string: int = 300
    body_budget: int = 2000
    body_open_depth: int = 1
    debug_panel: bool = True
    interrupt_grace_seconds: float = 10.0


class DebugState:
    """The notebook's breakpoints (they outlive sessions) and its one debug session."""

    def __init__(self) -> None:
        self.session: DebugSession | None = None
        self.breakpoints: dict[str, Breakpoint] = {}  # step path or name -> breakpoint

    def live(self) -> DebugSession | None:
        """The session if it has not ended."""
        session = self.session
        return session if session is not None and not session.finished else None

    def session_or_fail(self) -> DebugSession:
        if self.session is None:
            raise FlowError("no debug session: start one with %flow debug")
        return self.session

    def end(self) -> None:
        """Stop a session that still runs and forget it (``%flow reset``, unloading)."""
        session, self.session = self.session, None
        if session is not None and not session.finished:
            session.stop()

    def note(self, action: str, detail: str | None = None) -> None:
        """Record a debug action in the live session's capture, if there is one."""
        session = self.live()
        if session is not None:
            session.note(action, detail)


def ask_hidden(prompt: str) -> str:
    """``getpass`` looked up at call time: ipykernel swaps it in for each cell."""
    return getpass.getpass(prompt)


@dataclass
class CommandContext:
    """The current flow and what a command needs around it; no IPython object required."""

    flow: NotebookFlow
    settings: Settings = field(default_factory=FlowSettings)
    namespace: MutableMapping[str, Any] = field(default_factory=dict)
    # the variables of the code running the `%flow` line, when it is not the notebook's
    # top level (a function's locals); set by the magic for the length of one command
    locals: Mapping[str, Any] | None = None
    display: Callable[..., Any] = ipython_display
    python: Callable[[str], Any] | None = None  # evaluates `$expr`; default: eval in namespace
    set_next_input: Callable[[str], Any] = print  # `%flow edit` writes the next cell with it
    # replaces the running cell's text (a pasted curl command's secrets taken out of it)
    replace_input: Callable[[str], Any] = lambda text: None
    cell_id: Callable[[], str | None] = lambda: None  # the running cell's id, if known
    ask_secret: Callable[[str], str] = ask_hidden
    loop: KernelLoop = field(default_factory=KernelLoop)
    debug: DebugState = field(default_factory=DebugState)
    pending_cells: list[str] = field(default_factory=list)  # `%flow export cells`: still to insert

    # -- the notebook's values ----------------------------------------------------------

    def evaluate(self, expression: str) -> Any:
        """``$expression`` in a ``%flow`` line: a value from the caller's locals, else the
        notebook's namespace."""
        local = self.locals
        try:
            if local is not None and local is not self.namespace:
                scope = self.namespace if isinstance(self.namespace, dict) else dict(self.namespace)
                return eval(expression, scope, dict(local))  # the user's own code
            if self.python is not None:
                return self.python(expression)
            return eval(expression, dict(self.namespace))  # the user's own notebook
        except Exception as error:
            raise UsageError(f"${expression}: {type(error).__name__}: {error}") from None

    def variable(self, name: str) -> Any:
        """The variable ``name`` as Python would see it at the ``%flow`` line (locals first).

        Raises ``KeyError`` if neither the caller nor the notebook has it.
        """
        if self.locals is not None and name in self.locals:
            return self.locals[name]
        return self.namespace[name]

    def bind(self, name: str | None, value: Any) -> None:
        """``--out NAME``: the value also becomes the notebook variable ``NAME``."""
        if name:
            if not name.isidentifier():
                raise UsageError(f"--out {name!r} is not a Python variable name")
            self.namespace[name] = value

    # -- the capture --------------------------------------------------------------------

    def database(self) -> str | None:
        if not self.settings.capture:
            return None
        return self.settings.db or default_db()

    def store(self) -> CaptureStore:
        db = self.database()
        if db is None:
            raise FlowError("capture is off (%config FlowMagic.capture = True turns it on)")
        return CaptureStore(db)

    # -- running and showing --------------------------------------------------------------

    def limits(self) -> Limits:
        settings = self.settings
        return Limits(
            max_items=settings.body_max_items,
            max_string=settings.body_max_string,
            budget=settings.body_budget,
            open_depth=settings.body_open_depth,
        )

    def run_plan(
        self,
        plan: CompiledPlan,
        *,
        title: str,
        sources: dict[str, str],
        steps: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        replay: str | None = None,
        **options: Any,
    ) -> tuple[Execution, FlowRun]:
        """Run a plan on the kernel loop and build its view (``options``: ``mode``, ``hooks``)."""
        try:
            execution = execute(
                plan,
                loop=self.loop,
                db=self.database(),
                config=config,
                context=context,
                steps=steps,
                environ=self.flow.environ(),
                known=self.flow.known_secrets(),
                replay=replay,
                keep_records=self.settings.keep_records,
                progress=self.settings.progress,
                **options,
            )
        except (ConfigError, PlanError) as error:
            raise FlowError(str(error)) from None
        except OrchestraError as error:
            raise FlowError(f"{type(error).__name__}: {error}") from None
        return execution, self.present(execution, plan, title=title, sources=sources)

    def present(
        self, execution: Execution, plan: CompiledPlan, *, title: str, sources: dict[str, str]
    ) -> FlowRun:
        """The rich view of a finished run (masked with the run's masker)."""
        result = execution.result
        masker = execution.runner.masker
        view = FlowRun(
            title=title,
            run_id=result.run_id,
            status=execution.status,
            duration_ms=execution.monitor.duration_ms,
            snapshot=execution.monitor.snapshot(),
            roots=[node.name for node in plan.steps],
            planned=[node.path for node in plan.walk()],
            db=result.db,
            limits=self.limits(),
            _masker=execution.runner.masker,
            _published=execution.published,
            _context_before=execution.context_shown,
            _context_after=execution.context_after,
            _result=result,
            _sources=sources,
            partial=masker.text(result.partial) if result.partial else None,
        )
        if not view.ok and view.snapshot.error_step and result.db:
            view.failed_response = last_response(result.db, view.run_id, view.snapshot.error_step)
        return view

    def finish(self, view: FlowRun, *, out: str | None, quiet: bool) -> FlowRun | None:
        """Bind, then return the view (shown as the cell's result) or show it and raise."""
        view.quiet = quiet
        self.bind(out, view)
        if view.status == "interrupted":
            self.display(view)
            raise FlowInterrupted(
                f"run {view.run_id} interrupted; what ran so far is captured"
                + (f" in {view.db}" if view.db else "")
            )
        if not view.ok and self.settings.raise_on_failure:
            self.display(view)
            where = f" at {view.snapshot.error_step!r}" if view.snapshot.error_step else ""
            raise FlowRunFailed(f"run {view.run_id} {view.status}{where} (details above)")
        return view
