"""Running the engine from a notebook cell: one event loop on a worker thread.

A Jupyter cell runs on the kernel's main thread while the kernel's own event
loop is running, so the engine cannot ``asyncio.run`` there and must not
re-enter that loop (``nest_asyncio`` patches asyncio globally and breaks
``asyncio.timeout``, which the engine relies on). Instead every run goes to
one long-lived loop on a daemon thread (:class:`KernelLoop`), and the cell's
thread waits for it in short slices. Waiting in slices keeps the main thread
responsive:

* it redraws progress between slices (all display calls stay on the kernel's
  thread, where output is routed to the right cell);
* Kernel → Interrupt raises ``KeyboardInterrupt`` in the main thread, within
  one slice. The run's task is then cancelled *on its own loop* with
  ``loop.call_soon_threadsafe(task.cancel)``, and the cell waits until the
  engine has finished cleanly: in-flight requests cancelled, the run marked
  ``interrupted``, the capture flushed. Only then does the interrupt surface.

A debug run is started with :meth:`KernelLoop.submit` and outlives the cell:
while it is paused its task awaits a future on the worker loop, the kernel
is idle, and later cells (or widget clicks) resume it and :meth:`wait` again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

TICK_SECONDS = 0.1
"""How long the main thread waits between progress redraws (and interrupt checks)."""


class RunInterrupted(Exception):
    """The run was cancelled by a kernel interrupt; ``value`` is what it returned, if any."""

    def __init__(self, value: Any = None, *, finished: bool = True):
        super().__init__("interrupted")
        self.value = value
        self.finished = finished  # False when the run did not stop within the grace period


class KernelLoop:
    """An event loop on a daemon thread that runs one coroutine at a time for the kernel."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The worker loop, started on first use."""
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                ready = threading.Event()
                loop = asyncio.new_event_loop()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=serve, name="orchestra-notebook-loop", daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(
        self,
        coroutine: Coroutine[Any, Any, T],
        *,
        tick: Callable[[], None] | None = None,
        grace_seconds: float = 10.0,
    ) -> T:
        """Run ``coroutine`` on the worker loop and wait for it, calling ``tick`` between waits.

        On ``KeyboardInterrupt`` the coroutine's task is cancelled and awaited
        (at most ``grace_seconds``); then :class:`RunInterrupted` is raised with
        the value the coroutine returned after handling the cancellation (the
        engine's runner re-raises ``CancelledError``, so usually ``None``).
        """
        loop = self.loop
        done = threading.Event()
        box: dict[str, Any] = {}

        def start() -> None:
            task = loop.create_task(coroutine)
            box["task"] = task
            task.add_done_callback(lambda _: done.set())

        loop.call_soon_threadsafe(start)
        try:
            while not done.wait(TICK_SECONDS):
                if tick is not None:
                    tick()
        except KeyboardInterrupt:
            self._cancel(loop, box, done, grace_seconds)
            task = box.get("task")
            value = None
            if task is not None and task.done() and not task.cancelled():
                value = task.result() if task.exception() is None else None
            raise RunInterrupted(value, finished=done.is_set()) from None
        return box["task"].result()

    @staticmethod
    def _cancel(
        loop: asyncio.AbstractEventLoop,
        box: dict[str, Any],
        done: threading.Event,
        grace_seconds: float,
    ) -> None:
        """Cancel the task on its loop and wait for it, ignoring repeated interrupts."""

        def cancel() -> None:
            task = box.get("task")
            if task is not None:
                task.cancel()

        loop.call_soon_threadsafe(cancel)
        deadline = time.monotonic() + grace_seconds
        while not done.is_set() and time.monotonic() < deadline:
            try:
                done.wait(TICK_SECONDS)
            except KeyboardInterrupt:  # a second interrupt: keep waiting for a clean stop
                loop.call_soon_threadsafe(cancel)

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coroutine`` on the worker loop and return at once (a debug run).

        The caller waits with :meth:`wait`; ``future.cancel()`` cancels the task
        on its loop.
        """
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def call(self, function: Callable[..., T], *args: Any, timeout: float = 30.0) -> T:
        """Run ``function(*args)`` on the worker loop's thread and return its result.

        For touching state that lives on the loop (a paused run's debugger)
        from the kernel's thread; exceptions are re-raised here.
        """

        async def call() -> T:
            return function(*args)

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout)

    @staticmethod
    def wait(done: threading.Event, *, tick: Callable[[], None] | None = None) -> None:
        """Wait for ``done`` in short slices, calling ``tick`` between them.

        ``KeyboardInterrupt`` (Kernel → Interrupt) reaches the caller within one slice.
        """
        while not done.wait(TICK_SECONDS):
            if tick is not None:
                tick()

    def stop(self) -> None:
        """Stop the worker loop (on extension unload)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            if not thread.is_alive():
                loop.close()
