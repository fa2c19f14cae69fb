"""SIGINT, SIGTERM and SIGHUP stop ``orchestra run`` the same way.

``docker stop``, systemd and CI runners send SIGTERM; closing a terminal or
an SSH session sends SIGHUP; Ctrl-C sends SIGINT. Each one cancels the run's
task, as Ctrl-C always did: the engine ends the run ``interrupted``, records
the exchanges that were in flight (error "cancelled while in flight"), the
capture writer flushes and checkpoints the file (no WAL left), and the
command still prints its summary and writes the JUnit report and the records
file before it exits with 128 + the signal number: 130 (SIGINT), 143
(SIGTERM) or 129 (SIGHUP).

Only the first signal counts: further ones while the run shuts down are
ignored (no traceback, nothing half-written); SIGKILL remains the way to stop
at once (what was committed stays readable). The previous handlers come back
when the command is done with the run and its reports — unless a signal
stopped it: then the process is about to exit, and later signals stay ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable
from types import FrameType, TracebackType
from typing import Any, TypeVar

T = TypeVar("T")

# SIGHUP does not exist on Windows
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
_CAUSES = {"SIGINT": "Ctrl-C (SIGINT)"}


def exit_code(signum: int) -> int:
    """The shell's convention for a process ended by a signal: 128 + its number."""
    return 128 + signum


def describe(signum: int | None) -> str:
    """How a summary names what interrupted the run: ``Ctrl-C (SIGINT)``, ``SIGTERM``..."""
    if signum is None:
        return "Ctrl-C"
    name = signal.Signals(signum).name
    return _CAUSES.get(name, name)


class StopSignals:
    """Context manager: while active, a stop signal cancels the run awaited by :meth:`run`.

    ``received`` is the first signal that arrived (None if none did). Handlers
    are installed only from the main thread (Python's rule); elsewhere the
    manager does nothing and Ctrl-C keeps raising ``KeyboardInterrupt``.
    """

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._previous: dict[signal.Signals, Any] = {}
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        previous, self._previous = self._previous, {}
        if self.received is not None:
            # Shutting down because of a signal: the process exits with 128 + its
            # number right after this, so a later signal (a supervisor's second
            # SIGTERM, a SIGHUP) must not kill it half-way. SIG_IGN, because the
            # interpreter's finalisation puts Python-level handlers back to SIG_DFL
            # but leaves ignored signals ignored.
            for signum in previous:
                signal.signal(signum, signal.SIG_IGN)
            return
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    async def run(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` in the current task, which a stop signal cancels."""
        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        try:
            if self.received is not None:  # arrived before the loop ran: stop at once
                self._cancel()
            return await awaitable
        finally:
            self._loop = self._task = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            return  # already shutting down
        self.received = signal.Signals(signum)
        self._cancel()

    def _cancel(self) -> None:
        loop, task = self._loop, self._task
        if loop is None or task is None:
            return  # the run is not (or no longer) running: nothing to cancel
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(task.cancel)
