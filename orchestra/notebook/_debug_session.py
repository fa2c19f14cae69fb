"""A debug run driven from the notebook: ``%flow debug`` and the commands that follow.

How the pause works across threads. The run is started on the kernel's
worker loop with :meth:`KernelLoop.submit` and *not* awaited by the cell:
the cell waits (in 0.1 s slices, drawing progress, open to Kernel →
Interrupt) only until the run is *settled* — paused at a stop, or ended.
A paused run's tasks await futures inside the :class:`~orchestra.debug.Debugger`
hook, so the worker loop is idle, the kernel is idle, and other cells run
(even other flow runs, on the same loop). A command (``%flow step``, a
panel button) schedules :meth:`Debugger.resume` on the loop with
:meth:`KernelLoop.call` and waits until the run settles again. Reads of the
paused scope happen on the kernel's thread while nothing runs; edits are
applied on the loop's thread, so they never race the run.

Every action is recorded as a :class:`~orchestra.events.DebugAction` event of
the run (pause, step, next-page, next-item, continue, stop, set, eval,
break, edit, rerun), so it lands in the capture's ``events`` table; the run
itself is captured with mode ``debug``. ``stop`` ends it with
:meth:`Runner.stop` as ``stopped``.
"""

from __future__ import annotations

import asyncio
import html
import json
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from orchestra.debug import (
    Breakpoint,
    CapturedRun,
    Debugger,
    Key,
    NotPaused,
    ScopeError,
    Stop,
    assign,
    delete,
    evaluate,
    show_path,
)
from orchestra.errors import ExpressionSyntaxError
from orchestra.notebook._cells import record_flow_run
from orchestra.notebook._debug_scope import ScopeView
from orchestra.notebook._display import FlowRun, badge
from orchestra.notebook._errors import FlowError, FlowInterrupted, expression_error
from orchestra.notebook._execute import Execution, Prepared, collect, prepare
from orchestra.notebook._flow import NotebookFlow
from orchestra.notebook._jsontree import CSS, Limits, html_tree, text_preview
from orchestra.notebook._kernel import KernelLoop
from orchestra.notebook._progress import ProgressDriver
from orchestra.plan import CompiledPlan, ReadCaps

SCOPE_ORDER = ("context", "item", "response", "prev", "parent", "steps", "config", "auth")
"""How the scope of a stop is shown: what changes most first."""


class SessionSettings(Protocol):
    """The settings a session reads each time it runs or waits."""

    @property
    def keep_records(self) -> bool: ...

    @property
    def progress(self) -> str: ...

    @property
    def interrupt_grace_seconds(self) -> float: ...


class SessionHost(Protocol):
    """What a session needs from the notebook: its flow, settings, loop and run views
    (a :class:`~orchestra.notebook.commands.CommandContext` is one)."""

    @property
    def flow(self) -> NotebookFlow: ...

    @property
    def settings(self) -> SessionSettings: ...

    @property
    def loop(self) -> KernelLoop: ...

    def database(self) -> str | None: ...

    def limits(self) -> Limits: ...

    def present(
        self, execution: Execution, plan: CompiledPlan, *, title: str, sources: dict[str, str]
    ) -> FlowRun: ...


class Panel(Protocol):
    """The session's panel of buttons (:mod:`orchestra.notebook._debug_panel`)."""

    def update(self) -> None: ...


class _Pause:
    """What a :class:`ScopeView` reads and writes through: one stop of one session."""

    def __init__(self, session: DebugSession, stop: Stop) -> None:
        self.session = session
        self.stop = stop

    def live_scope(self) -> dict[str, Any]:
        if self.session.debugger.current is not self.stop or self.session.finished:
            raise FlowError(
                "the run has moved on since this scope was taken: use the session's "
                ".scope again (or %flow where)"
            )
        return self.stop.call.scope

    def assign(self, path: tuple[Key, ...], value: Any) -> None:
        self.session.assign(path, value, stop=self.stop)

    def delete(self, path: tuple[Key, ...]) -> None:
        self.session.delete(path, stop=self.stop)

    def mask(self, value: Any) -> Any:
        return self.session.mask(value)


class DebugSession:
    """One run under the debugger; ``%flow debug`` returns it (and binds ``--out``).

    ``state`` is ``paused``, ``running`` or ``ended``; while paused, ``where``
    says where (step path, item, page, attempt, why), ``scope`` is the paused
    scope as a Python object (reads masked, assignments reach the run) and
    :meth:`step`, :meth:`next_page`, :meth:`next_item`, :meth:`cont` and
    :meth:`stop` drive it, as the ``%flow`` commands and the panel do. Once it
    has ended, ``status`` is the run's and ``result`` the usual run view.
    """

    def __init__(
        self,
        host: SessionHost,
        *,
        plan: dict[str, Any],
        compiled: CompiledPlan,
        origin: str,
        title: str,
        sources: dict[str, str],
        breakpoints: tuple[Breakpoint, ...],
        config: dict[str, Any] | None = None,
        captured: CapturedRun | None = None,
        start: str = "continue",
        caps: ReadCaps | None = None,
    ) -> None:
        self.host = host
        self.plan = plan  # the plan as it runs; `%%flow edit` changes a file session's
        self.compiled = compiled
        self.origin = origin  # flow | file | replay
        self.title = title
        self.sources = sources
        self.config = config
        self.captured = captured
        self.caps = caps  # a test read: steps stop at the caps, the result says "partial: …"
        self.settled = threading.Event()
        self.ended = threading.Event()
        self.debugger = Debugger(
            breakpoints,
            start=start,
            target=captured.target if captured else None,
            roots=[node.path for node in compiled.steps],
            on_pause=lambda _stop: self.settled.set(),
        )
        self.prepared: Prepared | None = None
        self.execution: Execution | None = None
        self.result: FlowRun | None = None
        self.panel: Panel | None = None
        self.notes: list[str] = []
        self._task: asyncio.Task[Any] | None = None
        self._error: BaseException | None = None

    # -- starting and waiting -----------------------------------------------------------

    def start(self, *, progress: str) -> None:
        """Start the run and wait until it pauses or ends."""
        host = self.host
        db = host.database()
        replay = None
        if self.captured is not None:
            if db is None:
                raise FlowError("replay reads the capture, and capture is off")
            replay = self.captured.run_id
        self.prepared = prepare(
            self.compiled,
            db=db,
            config=self.config,
            environ=host.flow.environ(),
            known=host.flow.known_secrets(),
            replay=replay,
            keep_records=host.settings.keep_records,
            hooks=[self.debugger],
            subscribers=[self.debugger],
            mode="debug",
            caps=self.caps,
        )
        host.loop.submit(self._main())
        self._wait(progress)

    async def _main(self) -> None:
        self._task = asyncio.current_task()
        assert self.prepared is not None  # start() prepared the run before submitting this
        try:
            await self.prepared.runner.run()
        except BaseException as error:  # cancelled (an interrupt) or an engine bug
            self._error = error
        finally:
            self.ended.set()
            self.settled.set()

    def _wait(self, progress: str) -> None:
        assert self.prepared is not None  # only a started session waits
        driver = ProgressDriver(self.prepared.monitor, progress)
        try:
            self.host.loop.wait(self.settled, tick=driver.tick)
        except KeyboardInterrupt:
            self._interrupt()
            raise FlowInterrupted(
                f"debug run {self.run_id} interrupted; what ran so far is captured"
            ) from None
        finally:
            driver.close()
        if self.ended.is_set():
            self._finish()
            error, self._error = self._error, None
            if error is not None and not isinstance(error, asyncio.CancelledError):
                raise error  # the run could not start (a config error) or the engine broke

    def _interrupt(self) -> None:
        """Kernel → Interrupt while the run goes on: cancel it (``interrupted``) and wait."""

        def cancel() -> None:
            if self._task is not None:
                self._task.cancel()

        self.host.loop.loop.call_soon_threadsafe(cancel)
        deadline = time.monotonic() + self.host.settings.interrupt_grace_seconds
        while not self.ended.is_set() and time.monotonic() < deadline:
            try:
                self.ended.wait(0.1)
            except KeyboardInterrupt:  # a second interrupt: keep waiting for a clean end
                self.host.loop.loop.call_soon_threadsafe(cancel)
        self._finish(interrupted=True)

    def _finish(self, *, interrupted: bool = False) -> None:
        if self.execution is not None or self.prepared is None:
            return
        self.execution = collect(self.prepared, interrupted=interrupted)
        view = self.host.present(
            self.execution, self.compiled, title=self.title, sources=self.sources
        )
        self.result = view
        if self.origin == "flow" and view.status not in ("interrupted", "stopped", "running"):
            record_flow_run(self.host.flow, self.execution, view)

    # -- state ------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.ended.is_set()

    @property
    def state(self) -> str:
        if self.finished:
            return "ended"
        return "paused" if self.debugger.current is not None else "running"

    @property
    def paused(self) -> bool:
        return self.state == "paused"

    @property
    def run_id(self) -> str:
        return self.prepared.runner.run_id if self.prepared else ""

    @property
    def status(self) -> str:
        """``paused`` / ``running`` while it goes on, then the run's status."""
        if self.result is not None:
            return self.result.status
        return self.state

    @property
    def requests(self) -> int:
        """Requests sent so far by this run (retries and token requests included)."""
        return self.debugger.requests

    def _current(self) -> Stop:
        stop = self.debugger.current
        if self.finished or stop is None:
            raise FlowError(self._not_paused())
        return stop

    def _not_paused(self) -> str:
        if self.finished:
            return f"the debug session has ended: run {self.run_id} {self.status}"
        return "the run is not paused"

    @property
    def where(self) -> dict[str, Any]:
        """Where the run is paused: step path, item, page, attempt, before/after what, why."""
        stop = self._current()
        position = stop.position
        return {
            "step_path": position.step_path,
            "item_index": position.item_index,
            "page": position.page,
            "attempt": stop.attempt,
            "at": position.kind,
            "reason": stop.reason,
        }

    @property
    def scope(self) -> ScopeView:
        """The paused scope: read it (masked), assign through it (see ``%flow set``)."""
        return ScopeView(_Pause(self, self._current()))

    def mask(self, value: Any) -> Any:
        return self.prepared.runner.masker.value(value) if self.prepared else value

    # -- driving ----------------------------------------------------------------------

    def command(self, name: str, *, progress: str | None = None) -> DebugSession:
        """Resume with ``step`` / ``next-page`` / ``next-item`` / ``continue``; wait to settle."""
        self._current()
        self.settled.clear()
        try:
            self.host.loop.call(self.debugger.resume, name)
        except NotPaused:
            self.settled.set()
            raise FlowError(self._not_paused()) from None
        self._wait(self.host.settings.progress if progress is None else progress)
        self.refresh()
        return self

    def step(self) -> DebugSession:
        """Run to the next step outside the paused one (step over)."""
        return self.command("step")

    def next_page(self) -> DebugSession:
        """Run to the next page of the paused step (or of the step above it)."""
        return self.command("next-page")

    def next_item(self) -> DebugSession:
        """Run to the next fanout item (from a parent step: its first item)."""
        return self.command("next-item")

    def cont(self) -> DebugSession:
        """Run to the next breakpoint, or to the end."""
        return self.command("continue")

    def stop(self) -> DebugSession:
        """End the run now as ``stopped`` (what was captured so far is kept)."""
        if self.finished:
            raise FlowError(self._not_paused())
        assert self.prepared is not None  # a session that has not ended was started
        runner = self.prepared.runner
        debugger = self.debugger

        def stop() -> None:
            debugger.note("stop")
            runner.stop()

        self.host.loop.call(stop)
        try:
            self.host.loop.wait(self.ended)
        except KeyboardInterrupt:
            self._interrupt()
            raise FlowInterrupted(f"debug run {self.run_id} interrupted while stopping") from None
        self._finish()
        self.refresh()
        return self

    def note(self, action: str, detail: str | None = None) -> None:
        """Record a debug action as an event of the run, if it still runs."""
        if self.prepared is not None and not self.finished:
            self.host.loop.call(self.debugger.note, action, detail)

    # -- inspecting and editing -------------------------------------------------------

    def assign(self, path: tuple[Key, ...], value: Any, *, stop: Stop | None = None) -> None:
        """Set ``path`` in the paused scope (on the loop's thread, recorded as ``set``)."""
        stop = stop or self._current()
        text = f"{show_path(path)} = {json.dumps(value, default=str)}"
        self._edit(stop, lambda scope: assign(scope, path, value, local=stop.copied,
                                              shared=self.debugger.copied), text)  # fmt: skip

    def delete(self, path: tuple[Key, ...], *, stop: Stop | None = None) -> None:
        """Remove ``path`` from the paused scope (recorded as ``set``)."""
        stop = stop or self._current()
        self._edit(stop, lambda scope: delete(scope, path, local=stop.copied,
                                              shared=self.debugger.copied),
                   f"del {show_path(path)}")  # fmt: skip

    def _edit(self, stop: Stop, change: Callable[[dict[str, Any]], None], text: str) -> None:
        debugger = self.debugger

        def apply() -> None:
            if debugger.current is not stop:
                raise FlowError("the run has moved on since this scope was taken")
            change(stop.call.scope)
            debugger.note("set", text)

        try:
            self.host.loop.call(apply)
        except ScopeError as error:
            raise FlowError(f"set: {error}") from None
        self.refresh()

    def eval(self, expression: str) -> Any:
        """A JMESPath expression over the paused scope, masked (recorded as ``eval``)."""
        stop = self._current()
        try:
            value = evaluate(stop.call.scope, expression)
        except ExpressionSyntaxError as error:
            raise expression_error(error) from None
        except Exception as error:  # e.g. a function given the wrong type
            raise FlowError(f"eval: {type(error).__name__}: {error}") from None
        self.note("eval", expression)
        return self.mask(value)

    def set_breakpoints(self, breakpoints: tuple[Breakpoint, ...]) -> None:
        self.debugger.breakpoints = breakpoints  # one attribute: the loop sees old or new

    def refresh(self) -> None:
        if self.panel is not None:
            self.panel.update()

    # -- showing ----------------------------------------------------------------------

    def location(self) -> str:
        """One line: where the run is and why, or how it ended."""
        if self.finished:
            return f"debug run {self.run_id} ended {self.status}"
        stop = self.debugger.current
        if stop is None:
            return f"debug run {self.run_id} is running"
        text = f"paused at {stop.position.describe()}"
        if stop.attempt:
            text += f" (attempt {stop.attempt})"
        requests = "1 request" if self.requests == 1 else f"{self.requests} requests"
        return f"{text} — {stop.reason} · {requests} so far · run {self.run_id}"

    def scope_values(self) -> dict[str, Any]:
        """The paused scope, masked, in display order."""
        scope = self._current().call.scope
        ordered = {name: scope[name] for name in SCOPE_ORDER if name in scope}
        ordered.update({k: v for k, v in scope.items() if k not in ordered})
        if ordered.get("prev") is None:
            ordered.pop("prev", None)
        return self.mask(ordered)

    def _limits(self) -> Limits:
        limits = self.host.limits()
        limits.open_depth = 1
        return limits

    def scope_html(self) -> str:
        if not self.paused:
            return ""
        values = self.scope_values()
        parts = []
        for name, value in values.items():
            shown = Limits(**{**self._limits().__dict__, "open_depth": 1 if name in (
                "context", "item") else 0})  # fmt: skip
            parts.append(f"<div><b>{html.escape(name)}</b>{html_tree(value, shown)}</div>")
        return CSS + "".join(parts)

    def _repr_html_(self) -> str:
        if self.finished and self.result is not None:
            head = f"<div>{badge(self.status)} {html.escape(self.location())}</div>"
            return head + self.result._repr_html_() + self._notes_html()
        state = "paused" if self.paused else "running"
        head = f"<div>{badge(state)} {html.escape(self.location())}</div>"
        hint = (
            "<div style='color:#555'><code>%flow step</code> · <code>%flow next-page</code> · "
            "<code>%flow next-item</code> · <code>%flow continue</code> · <code>%flow stop</code>"
            " · <code>%flow set PATH=VALUE</code> · <code>%flow eval EXPR</code></div>"
        )
        return head + hint + self.scope_html() + self._notes_html()

    def _notes_html(self) -> str:
        return "".join(
            f'<div style="color:#8a6d00">⚠ {html.escape(note)}</div>' for note in self.notes
        )

    def __repr__(self) -> str:
        lines = [("⏸ " if self.paused else "") + self.location()]
        if self.finished and self.result is not None:
            lines.append(repr(self.result))
        elif self.paused:
            for name, value in self.scope_values().items():
                lines.append(f"  {name}: " + _summary(name, value, self._limits()))
        lines.extend(f"  ⚠ {note}" for note in self.notes)
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _summary(name: str, value: Any, limits: Limits) -> str:
    """A short text form of one scope name (the HTML view shows everything as a tree)."""
    if name == "steps" and isinstance(value, dict):
        return ", ".join(value) or "{}"
    if name in ("parent", "prev", "response") and isinstance(value, dict):
        body = value.get("body")
        if isinstance(body, dict):
            shape = "{" + ", ".join(list(body)[:8]) + (", …" if len(body) > 8 else "") + "}"
        elif isinstance(body, list):
            shape = f"[{len(body)} items]"
        else:
            shape = text_preview(body, limits, max_lines=1)
        return f"status {value.get('status_code')} · body {shape}"
    return text_preview(value, limits, max_lines=12).replace("\n", "\n  ")
