"""``FlowMagic``: the ``%%flow`` cell magic and the ``%flow`` line commands.

One ``Magics`` class that is also ``Configurable`` (as jupysql's
``SqlMagic``), so ``%config FlowMagic`` lists its settings and
``%config FlowMagic.db = "x.duckdb"`` changes one. The magic only routes:
it builds one :class:`~orchestra.notebook.commands.CommandContext` (the
flow, its own traits as the settings, the shell's namespace) and hands each
line or cell to :mod:`orchestra.notebook.commands`, where every command is a
plain function in one table. Errors leave through :meth:`FlowMagic.flow`,
masked with the notebook's known secrets.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    line_cell_magic,
    magics_class,
    needs_local_scope,
    no_var_expand,
)
from IPython.display import display
from traitlets import Bool, CaselessStrEnum, Float, Int, Unicode, observe
from traitlets.config import Configurable

from orchestra.debug import Breakpoint
from orchestra.notebook._debug_session import DebugSession
from orchestra.notebook._errors import FlowError
from orchestra.notebook._flow import NotebookFlow
from orchestra.notebook._history import rewrite_running_input
from orchestra.notebook._kernel import KernelLoop
from orchestra.notebook._progress import PROGRESS_MODES
from orchestra.notebook.commands import DOC, CommandContext, run_cell, run_line


@magics_class
class FlowMagic(Magics, Configurable):
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
        self.context = CommandContext(
            flow=NotebookFlow(self.plan_key),
            settings=self,  # the traits themselves: `%config FlowMagic.x = …` applies at once
            namespace=shell.user_ns if shell is not None else {},
            display=display,
            python=shell.ev if shell is not None else None,
            set_next_input=self._set_next_input,
            replace_input=self._replace_input,
            cell_id=self.cell_id,
        )

    @observe("plan_key")
    def _plan_key_changed(self, change: dict[str, Any]) -> None:
        if hasattr(self, "context"):
            self.context.flow.default_key = change["new"]

    # -- what the context reads from the shell ------------------------------------------

    @property
    def current(self) -> NotebookFlow:
        return self.context.flow

    @property
    def loop(self) -> KernelLoop:
        return self.context.loop

    @property
    def debug_session(self) -> DebugSession | None:
        return self.context.debug.session

    @property
    def breakpoints(self) -> dict[str, Breakpoint]:
        return self.context.debug.breakpoints

    def end_debug_session(self) -> None:
        """Stop a debug session that still runs (unloading the extension)."""
        self.context.debug.end()

    def _set_next_input(self, text: str) -> None:
        if self.shell is not None:
            self.shell.set_next_input(text, replace=False)

    def _replace_input(self, text: str) -> None:
        if self.shell is not None:
            self.shell.set_next_input(text, replace=True)
            rewrite_running_input(self.shell, text)

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

    # -- the magic ------------------------------------------------------------------------

    @no_var_expand
    @needs_local_scope
    @line_cell_magic
    def flow(self, line: str, cell: str | None = None, local_ns: Any = None) -> Any:
        # `$name` reads the caller's variables first: a `%flow` line inside a function
        # or comprehension sees its locals (IPython passes them as local_ns).
        self.context.locals = local_ns
        try:
            if cell is None:
                return run_line(self.context, line)
            return run_cell(self.context, line, cell)
        except (FlowError, UsageError) as error:  # the one place every error message passes
            masker = self.context.flow.masker
            error.args = tuple(masker.text(a) if isinstance(a, str) else a for a in error.args)
            raise
        finally:
            self.context.locals = None
            self.context.flow.changed()  # an inline builder shows what the command did

    flow.__doc__ = DOC
