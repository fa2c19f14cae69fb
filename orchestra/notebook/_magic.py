"""``FlowMagic``: the ``%%flow`` cell magic and the ``%flow`` line commands.

One ``Magics`` class that is also ``Configurable`` (as jupysql's
``SqlMagic``), so ``%config FlowMagic`` lists its settings and
``%config FlowMagic.db = "x.duckdb"`` changes one. Here: the settings,
the ``flow`` entry point and what every command shares (running a plan on
the kernel loop, showing its result); cells are handled in
:mod:`orchestra.notebook._cells`, line commands in
:mod:`orchestra.notebook._commands`, the debugger's commands in
:mod:`orchestra.notebook._debug_commands`.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.display import display
from traitlets import Bool, CaselessStrEnum, Float, Int, Unicode, observe
from traitlets.config import Configurable

from orchestra._run import default_db
from orchestra.debug import Breakpoint
from orchestra.errors import ConfigError, OrchestraError, PlanError
from orchestra.notebook._cells import CellCommands, last_response
from orchestra.notebook._commands import LineCommands
from orchestra.notebook._debug_commands import DebugCommands
from orchestra.notebook._debug_session import DebugSession
from orchestra.notebook._display import FlowRun
from orchestra.notebook._errors import FlowError, FlowInterrupted, FlowRunFailed
from orchestra.notebook._execute import Execution, execute
from orchestra.notebook._flow import NotebookFlow
from orchestra.notebook._help import DOC
from orchestra.notebook._jsontree import Limits
from orchestra.notebook._kernel import KernelLoop
from orchestra.notebook._progress import PROGRESS_MODES
from orchestra.plan import CompiledPlan


@magics_class
class FlowMagic(CellCommands, LineCommands, DebugCommands, Magics, Configurable):
    """Build, run and inspect Orchestra flows from a notebook (``%flow?`` for help)."""

    db = Unicode(
        "",
        help="Capture file for every run; empty: $ORCHESTRA_DB, else orchestra.duckdb in "
        "the working directory.",
    ).tag(config=True)
    capture = Bool(True, help="Capture runs into DuckDB (db).").tag(config=True)
    progress = CaselessStrEnum(
        PROGRESS_MODES, "auto", help="Progress bars: auto (widgets in Jupyter), widgets, text, off."
    ).tag(config=True)
    keep_records = Bool(True, help="Keep emitted records in memory (result.records).").tag(
        config=True
    )
    raise_on_failure = Bool(
        True, help="A run that does not succeed fails the cell (so nbmake/CI notices)."
    ).tag(config=True)
    body_max_items = Int(50, help="Entries shown per object/array of a response body.").tag(
        config=True
    )
    body_max_string = Int(300, help="Characters shown per string of a response body.").tag(
        config=True
    )
    body_budget = Int(2000, help="Nodes shown of one response body in all.").tag(config=True)
    body_open_depth = Int(1, help="Levels of a response body's tree shown expanded.").tag(
        config=True
    )
    plan_key = Unicode("notebook", help="Plan key of a flow whose cells set no key.").tag(
        config=True
    )
    debug_panel = Bool(
        True, help="%flow debug shows a panel of buttons (ipywidgets) next to the commands."
    ).tag(config=True)
    interrupt_grace_seconds = Float(
        10.0, help="After an interrupt, how long to wait for the run to stop cleanly."
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.current = NotebookFlow(self.plan_key)
        self.loop = KernelLoop()
        self.debug_session: DebugSession | None = None
        self.breakpoints: dict[str, Breakpoint] = {}  # step path or name -> breakpoint

    @observe("plan_key")
    def _plan_key_changed(self, change: dict[str, Any]) -> None:
        if hasattr(self, "current"):
            self.current.default_key = change["new"]

    # -- shared helpers -----------------------------------------------------------------

    def database(self) -> str | None:
        if not self.capture:
            return None
        return self.db or default_db()

    def limits(self) -> Limits:
        return Limits(
            max_items=self.body_max_items,
            max_string=self.body_max_string,
            budget=self.body_budget,
            open_depth=self.body_open_depth,
        )

    def evaluate(self, expression: str) -> Any:
        """``$expression`` in a ``%flow`` line: a value from the notebook's namespace."""
        try:
            return self.shell.ev(expression)
        except Exception as error:
            raise UsageError(f"${expression}: {type(error).__name__}: {error}") from None

    def bind(self, name: str | None, value: Any) -> None:
        if name:
            if not name.isidentifier():
                raise UsageError(f"--out {name!r} is not a Python variable name")
            self.shell.user_ns[name] = value

    def cell_id(self) -> str | None:
        """The running cell's id (Jupyter sends it with each execute request)."""
        kernel = getattr(self.shell, "kernel", None)
        try:
            parent = kernel.get_parent() if kernel is not None else None
        except Exception:
            parent = None
        if not isinstance(parent, dict):
            parent = getattr(self.shell, "parent_header", None)
        metadata = parent.get("metadata") if isinstance(parent, dict) else None
        cell = metadata.get("cellId") if isinstance(metadata, dict) else None
        return cell if isinstance(cell, str) else None

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
                environ=self.current.environ(),
                known=self.current.known_secrets(),
                replay=replay,
                keep_records=self.keep_records,
                progress=self.progress,
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
        view = FlowRun(
            title=title,
            run_id=result.run_id,
            status=execution.status,
            duration_ms=execution.monitor.duration_ms,
            snapshot=execution.monitor.snapshot(),
            roots=[node.name for node in plan.steps],
            db=result.db,
            limits=self.limits(),
            _masker=execution.runner.masker,
            _published=execution.published,
            _context_before=execution.context_before,
            _context_after=execution.context_after,
            _result=result,
            _sources=sources,
        )
        if not view.ok and view.snapshot.error_step and result.db:
            view.failed_response = last_response(result.db, view.run_id, view.snapshot.error_step)
        return view

    def finish(self, view: FlowRun, *, out: str | None, quiet: bool) -> FlowRun | None:
        """Bind, then return the view (shown as the cell's result) or show it and raise."""
        view.quiet = quiet
        self.bind(out, view)
        if view.status == "interrupted":
            display(view)
            raise FlowInterrupted(
                f"run {view.run_id} interrupted; what ran so far is captured"
                + (f" in {view.db}" if view.db else "")
            )
        if not view.ok and self.raise_on_failure:
            display(view)
            where = f" at {view.snapshot.error_step!r}" if view.snapshot.error_step else ""
            raise FlowRunFailed(f"run {view.run_id} {view.status}{where} (details above)")
        return view

    # -- the magic ------------------------------------------------------------------------

    @no_var_expand
    @line_cell_magic
    def flow(self, line: str, cell: str | None = None) -> Any:
        try:
            if cell is None:
                return self.line_command(line)
            return self.cell_command(line, cell)
        except (FlowError, UsageError) as error:  # the one place every error message passes
            masker = self.current.masker
            error.args = tuple(masker.text(a) if isinstance(a, str) else a for a in error.args)
            raise

    flow.__doc__ = DOC
