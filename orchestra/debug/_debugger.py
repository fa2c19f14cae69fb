"""The debugger: a step hook that pauses a run at breakpoints and steps through it.

:class:`Debugger` is a :mod:`step hook <orchestra.engine._hooks>` with the
optional page hooks, so the engine awaits it at three *checkpoints*:

* ``step`` — before every step execution (a fanout sub-step: once per item);
* ``page`` — before each page's request;
* ``response`` — when a page's response has arrived, before the step's checks.

At each checkpoint it decides whether the run stops there: a breakpoint
(``breakpoint: true`` in the plan, or a :class:`Breakpoint`), the replay
target (where a captured run failed), or the command the user resumed with:

``continue``   only breakpoints stop the run.
``step``       the next step that starts outside the paused one (step over).
``next-page``  the next page of the paused step execution, or of a step above
               it; when there is none, the next step outside.
``next-item``  the next fanout item of the paused sub-step (or, from a parent
               step, its first item); when there is none, the next step outside.
``start``      the first step (``%flow debug --step``).

A stopping task awaits a future, so the run is *paused* while the event loop
stays free: another thread (the notebook's kernel) reads and edits the
paused scope and resumes with :meth:`resume`, scheduled on the loop.

Concurrency (fanout workers, parallel children). While the run is paused,
every other task that reaches a checkpoint waits there too ("all-stop");
requests already in flight finish. On resume, the resumed task goes on and
every other waiting task re-checks its checkpoint against the new command
(a queued stop that still stops keeps its place in line).
Stops that several tasks reach are queued in arrival order, and the next one
is presented only when the resumed task has reached its next stop or ended
— so one ``next-item`` runs exactly one item — unless the queued stop's task
was born after the resume (the resumed task started it, e.g. a parallel
child, and waits for it).

Everything here runs on the run's loop; :class:`Debugger` holds no locks.
"""

from __future__ import annotations

import asyncio
import copy
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from orchestra.engine import StepCall
from orchestra.events import DebugAction, Event, RequestSent
from orchestra.expressions import Expression, compile_expression, truthy

COMMANDS = ("step", "next-page", "next-item", "continue")
"""What a paused run can be resumed with (besides stop)."""

KIND_TEXT = {
    "step": "before the step",
    "page": "before the request",
    "response": "after the response",
}


class NotPaused(RuntimeError):
    """A command that needs a paused run was given while it runs or after it ended."""


def _within(path: str, root: str) -> bool:
    """``path`` is ``root`` or a sub-step under it (``items.detail`` is within ``items``)."""
    return path == root or path.startswith(root + ".")


def _reads(expression: Expression, name: str) -> bool:
    """Whether the expression reads the field ``name`` anywhere (an over-approximation)."""
    stack = [expression.parsed.parsed]
    while stack:
        node = stack.pop()
        if node.get("type") == "field" and node.get("value") == name:
            return True
        stack.extend(child for child in node.get("children") or [] if isinstance(child, dict))
    return False


@dataclass(frozen=True, slots=True)
class Breakpoint:
    """A breakpoint on a step (its path or name), optionally only when ``when`` is true.

    An unconditional breakpoint stops before each execution of the step (each
    fanout item of a sub-step). A condition that reads ``response`` is checked
    when each response of the step arrives (the run stops with it, before the
    step's checks); any other condition is checked before each request.
    """

    step: str
    when: Expression | None = None

    @classmethod
    def parse(cls, step: str, when: str | None = None) -> Breakpoint:
        """Compile the condition (a syntax error names the column)."""
        expression = None
        if when is not None:
            expression = compile_expression(when, path=f"breakpoint {step} --when")
        return cls(step, expression)

    @property
    def checkpoint(self) -> str:
        """Where it is checked: ``step``, ``page`` or ``response``."""
        if self.when is None:
            return "step"
        return "response" if _reads(self.when, "response") else "page"

    def matches(self, path: str, name: str) -> bool:
        return self.step in (path, name)

    def hit(self, kind: str, scope: dict[str, Any]) -> str | None:
        """Why the run stops at this checkpoint, or None."""
        if kind != self.checkpoint:
            return None
        if self.when is None:
            return "breakpoint"
        try:
            value = self.when.search(scope)
        except Exception as error:  # a condition that cannot be evaluated stops: say why
            return f"breakpoint condition {self.when.source!r} failed: {error}"
        return f"breakpoint when {self.when.source}" if truthy(value) else None

    def describe(self) -> str:
        if self.when is None:
            return self.step
        return f"{self.step} when {self.when.source}  (checked {KIND_TEXT[self.checkpoint]})"


@dataclass(frozen=True, slots=True)
class Position:
    """Where a run is paused."""

    kind: str  # step | page | response
    step_path: str
    execution_id: str
    item_index: int | None = None
    page: int | None = None

    def describe(self) -> str:
        """``items.detail · item 1 · page 1 · before the request``"""
        parts = [self.step_path]
        if self.item_index is not None:
            parts.append(f"item {self.item_index}")
        if self.page is not None:
            parts.append(f"page {self.page}")
        parts.append(KIND_TEXT[self.kind])
        return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a captured run failed: the ``ordinal``-th execution of ``step_path``, ``page``."""

    step_path: str
    ordinal: int
    page: int | None = None
    error: str | None = None


@dataclass(eq=False)
class Stop:
    """A task waiting at a checkpoint because the run stops there."""

    position: Position
    reason: str
    call: StepCall
    task: asyncio.Task[Any] | None
    future: asyncio.Future[bool]
    attempt: int | None = None
    at_target: bool = False
    copied: set[Any] = field(default_factory=set)  # step-local scope names copied for edits


@dataclass(frozen=True, slots=True)
class Mode:
    """The command the run was resumed with, from where."""

    command: str  # continue | step | next-page | next-item | start
    origin: Position | None = None

    def reason(self, kind: str, call: StepCall) -> str | None:
        command, origin = self.command, self.origin
        if command == "continue":
            return None
        path = call.step.path
        if command == "start" or origin is None:
            return command if kind == "step" else None
        outside = kind == "step" and not _within(path, origin.step_path)
        if command == "next-page" and kind == "page":
            same = call.execution_id == origin.execution_id
            if same and (call.page or 0) > (origin.page or 1):
                return command
            if path != origin.step_path and _within(origin.step_path, path):
                return command  # a page of the step above the paused one
        item = kind == "step" and call.item_index is not None
        if command == "next-item" and item and _within(path, origin.step_path):
            return command
        return command if outside else None


class Debugger:
    """Step hook and event subscriber that pauses a run (see the module docstring).

    ``on_pause`` is called on the loop's thread each time a stop is presented
    (the notebook wakes its kernel thread with it). ``before`` holds, for each
    root step (by name, which is its path), the ``context`` (a deep copy) and
    ``steps`` it started with — what ``%flow rerun`` runs a step against.
    """

    event_types = frozenset({RequestSent})  # as a subscriber: request counts and attempts

    def __init__(
        self,
        breakpoints: Iterable[Breakpoint] = (),
        *,
        start: str = "continue",
        target: Target | None = None,
        roots: Iterable[str] = (),
        on_pause: Callable[[Stop], None] | None = None,
    ) -> None:
        self.breakpoints: tuple[Breakpoint, ...] = tuple(breakpoints)
        self.target = target
        self.roots = frozenset(roots)
        self.on_pause = on_pause
        self.current: Stop | None = None
        self.before: dict[str, dict[str, Any]] = {}
        self.requests = 0
        self.run: Any = None  # the RunContext, known from the first checkpoint
        self._mode = Mode(start)
        self._queue: list[Stop] = []
        self._parked: list[asyncio.Future[bool]] = []
        self._running: asyncio.Task[Any] | None = None
        self._generation = 0
        self._born: weakref.WeakKeyDictionary[asyncio.Task[Any], int] = weakref.WeakKeyDictionary()
        self._watched: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
        self._target_execution: str | None = None
        self._target_count = 0
        self._attempts: dict[str, int] = {}  # execution id -> attempt of its last request
        self.copied: set[Any] = set()  # run-wide entries copied before an edit

    # -- the hook ---------------------------------------------------------------------

    async def before_step(self, call: StepCall) -> None:
        self.run = call.run
        step = call.step
        root = step.path.partition(".")[0]  # a parallel group or choice: its first child
        if root in self.roots and root not in self.before:
            self.before[root] = {
                "context": copy.deepcopy(call.run.context),
                "steps": dict(call.run.steps),
            }
        target = self.target
        if target is not None and step.path == target.step_path:
            self._target_count += 1
            if self._target_count == target.ordinal:
                self._target_execution = call.execution_id
        await self._checkpoint("step", call)

    async def before_page(self, call: StepCall) -> None:
        await self._checkpoint("page", call)

    async def after_response(self, call: StepCall) -> None:
        await self._checkpoint("response", call)

    def __call__(self, event: Event) -> None:
        if isinstance(event, RequestSent):
            self.requests += 1
            if len(self._attempts) > 4096:  # only the latest requests matter: stay bounded
                self._attempts.clear()
            self._attempts[event.execution_id] = event.attempt

    # -- deciding -----------------------------------------------------------------------

    def _reason(self, kind: str, call: StepCall) -> tuple[str | None, bool]:
        """(why the run stops here or None, whether it is the replay target)."""
        step = call.step
        if kind == "step" and getattr(step.model, "breakpoint", False):
            return "breakpoint (in the plan)", False
        for point in self.breakpoints:
            if point.matches(step.path, step.name):
                reason = point.hit(kind, call.scope)
                if reason is not None:
                    return reason, False
        target = self.target
        here = target is not None and call.execution_id == self._target_execution
        if (
            here
            and target is not None
            and (call.page == target.page if kind == "page" else kind == "step" and not target.page)
        ):
            return "the captured run failed here", True
        return self._mode.reason(kind, call), False

    async def _checkpoint(self, kind: str, call: StepCall) -> None:
        task = asyncio.current_task()
        if task is not None and task not in self._born:
            self._born[task] = self._generation
        loop = asyncio.get_running_loop()
        while True:
            reason, at_target = self._reason(kind, call)
            if reason is None and self.current is None:
                return
            future: asyncio.Future[bool] = loop.create_future()
            stop = None
            if reason is None:
                self._parked.append(future)  # all-stop: wait for the next resume
            else:
                position = Position(
                    kind, call.step.path, call.execution_id, call.item_index, call.page
                )
                attempt = self._attempts.get(call.execution_id) if kind == "response" else None
                stop = Stop(position, reason, call, task, future, attempt, at_target)
                self._queue.append(stop)
                self._settle()
            try:
                go = await future
            except asyncio.CancelledError:
                self._forget(future, stop)
                raise
            if go:
                return

    def _forget(self, future: asyncio.Future[bool], stop: Stop | None) -> None:
        if future in self._parked:
            self._parked.remove(future)
        if stop is not None and stop in self._queue:
            self._queue.remove(stop)
        if stop is not None and self.current is stop:
            self.current = None

    def _settle(self) -> None:
        """Present the next queued stop, if the resumed task allows it (module docstring)."""
        if self.current is not None or not self._queue:
            return
        running = self._running
        if running is None or running.done() or any(s.task is running for s in self._queue):
            stop = self._queue[0]
        else:
            fresh = [
                s
                for s in self._queue
                if s.task is not None and self._born.get(s.task) == self._generation
            ]
            if not fresh:
                return
            stop = fresh[0]
        self._queue.remove(stop)
        self.current = stop
        self._running = None
        if stop.at_target:
            self.target = None
        self._emit("pause", stop.position, stop.reason)
        if self.on_pause is not None:
            self.on_pause(stop)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task is self._running:
            self._settle()

    # -- driving (on the loop's thread) ---------------------------------------------------

    def resume(self, command: str) -> None:
        """Go on from the current stop until the next one ``command`` asks for."""
        if command not in COMMANDS:
            raise ValueError(f"unknown debugger command {command!r}; one of {COMMANDS}")
        stop = self.current
        if stop is None:
            raise NotPaused("the run is not paused")
        self._emit(command, stop.position)
        self._mode = Mode(command, stop.position)
        self._generation += 1
        self.current = None
        task = stop.task
        self._running = task
        if task is not None and task not in self._watched:
            self._watched.add(task)
            task.add_done_callback(self._task_done)
        stop.future.set_result(True)
        queued, self._queue = self._queue, []
        for other in queued:  # still a stop for the new command? it keeps its place in line
            reason, at_target = self._reason(other.position.kind, other.call)
            if reason is None:
                other.future.set_result(False)  # its task checks again and goes on
            else:
                other.reason, other.at_target = reason, at_target
                self._queue.append(other)
        parked, self._parked = self._parked, []
        for future in parked:  # they check their checkpoint again, in arrival order
            if not future.done():
                future.set_result(False)

    def note(self, action: str, detail: str | None = None) -> None:
        """Record a debug action (``set``, ``eval``, ``break`` …) as an event of the run."""
        stop = self.current
        self._emit(action, stop.position if stop else None, detail)

    def _emit(self, action: str, position: Position | None, detail: str | None = None) -> None:
        run = self.run
        if run is None:
            return
        masked = None if detail is None else run.masker.text(detail)
        run.bus.emit(
            DebugAction(
                run_id=run.run_id,
                at=time.time(),
                action=action,
                step_path=position.step_path if position else None,
                page=position.page if position else None,
                item_index=position.item_index if position else None,
                detail=masked,
            )
        )


__all__ = [
    "COMMANDS",
    "Breakpoint",
    "Debugger",
    "Mode",
    "NotPaused",
    "Position",
    "Stop",
    "Target",
]
