"""``%flow dashboard``: open the run dashboard of the notebook's capture file.

Without ``--inline`` the cell shows a small MIME bundle,
``application/vnd.orchestra.dashboard+json`` with ``{"db", "run"}``: the
Orchestra JupyterLab extension renders it as a button that opens the
dashboard in a Lab tab (served through the Jupyter server); any other
frontend shows the text fallback, the ``orchestra dashboard`` command that
serves it. ``--inline`` renders the Panel dashboard in the cell itself;
:mod:`orchestra.dashboard` (Panel, Bokeh) is imported only then.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from orchestra._run import default_db
from orchestra.capture import CaptureStore, RunNotFound
from orchestra.notebook._args import parser
from orchestra.notebook._errors import FlowError
from orchestra.notebook.commands._command import Command
from orchestra.notebook.commands._context import CommandContext

MIME = "application/vnd.orchestra.dashboard+json"


class DashboardLink:
    """The dashboard of ``db`` (at ``run``, else the newest run), as a MIME bundle."""

    def __init__(self, db: str, run: str | None) -> None:
        self.db, self.run = db, run

    def command(self) -> str:
        line = f"orchestra dashboard --db {shlex.quote(self.db)}"
        return line + (f" --run {shlex.quote(self.run)}" if self.run else "")

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        text = (
            f"Orchestra dashboard of {self.db}"
            + (f", run {self.run}" if self.run else "")
            + "\nJupyterLab with the Orchestra extension opens it in a tab from here; "
            f"elsewhere serve it with:\n    {self.command()}\n"
            "or show it in this notebook with %flow dashboard --inline"
        )
        return {MIME: {"db": self.db, "run": self.run}, "text/plain": text}

    def __repr__(self) -> str:
        return f"DashboardLink(db={self.db!r}, run={self.run!r})"


def dashboard(ctx: CommandContext, words: list[str]) -> Any:
    args = parser(
        "dashboard",
        (("--db",), {"metavar": "FILE"}),
        (("--run",), {"metavar": "ID"}),
        (("--inline",), {"action": "store_true"}),
    ).parse(words)
    db = str(Path(args.db or ctx.database() or default_db()).expanduser().resolve())
    run = _run_id(db, args.run) if args.run else None
    if not args.inline:
        return DashboardLink(db, run)
    from orchestra.dashboard import Dashboard  # Panel and Bokeh load only for --inline

    return Dashboard(db=db, run=run)


def _run_id(db: str, run: str) -> str:
    if not Path(db).exists():
        raise FlowError(f"dashboard --run {run}: the capture file {db} does not exist yet")
    try:
        return CaptureStore(db).resolve_run(run)
    except RunNotFound as error:
        raise FlowError(f"dashboard --run {run}: {error}") from None


DASHBOARD = Command(
    "dashboard",
    dashboard,
    usage="dashboard [--db FILE] [--run ID] [--inline]",
    what=(
        "Open the run dashboard of the capture file (default: this notebook's, see "
        "%config FlowMagic.db) at run ID (an id, a prefix or 'last'; default: the newest). "
        "In JupyterLab with the Orchestra extension it opens in a Lab tab; elsewhere the "
        "output tells the `orchestra dashboard --db FILE` command that serves it. "
        "--inline shows the dashboard in the cell instead."
    ),
    example="%flow dashboard --inline",
)
