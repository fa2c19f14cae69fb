"""Debugging runs: breakpoints, stepping, scope edits and replay to a failure.

:class:`Debugger` is a step hook (with the engine's optional page hooks) that
pauses a run at breakpoints and steps through it by step, page or fanout
item; the thread that drives it (the notebook's kernel) resumes it with
:meth:`Debugger.resume` on the run's loop. :func:`assign`, :func:`delete` and
:func:`evaluate` read and edit a paused step's scope. :func:`captured_run`
finds where a captured run failed, so a replay of it stops there.
Surfaces (the notebook's ``%flow debug``) build on these.
"""

from orchestra.debug._debugger import (
    COMMANDS,
    Breakpoint,
    Debugger,
    Mode,
    NotPaused,
    Position,
    Stop,
    Target,
)
from orchestra.debug._failure import CapturedRun, captured_run
from orchestra.debug._scope import (
    LOCAL,
    READ_ONLY,
    RUN_WIDE,
    Key,
    ScopeError,
    assign,
    child,
    delete,
    evaluate,
    parse_path,
    show_path,
)

__all__ = [
    "COMMANDS",
    "LOCAL",
    "READ_ONLY",
    "RUN_WIDE",
    "Breakpoint",
    "CapturedRun",
    "Debugger",
    "Key",
    "Mode",
    "NotPaused",
    "Position",
    "ScopeError",
    "Stop",
    "Target",
    "assign",
    "captured_run",
    "child",
    "delete",
    "evaluate",
    "parse_path",
    "show_path",
]
