"""Live updates: what a run in this process reports before its rows reach the file.

The capture writer flushes about once a second and an exchange row is written
only when its response arrives, so a step waiting on a slow request is not in
the file yet. :class:`LiveFeed` subscribes to a runner's event bus (the
engine's thread calls it) and keeps, under a lock, the step paths that are
executing right now and a counter of events; the dashboard's poller reads both
on the Panel side. It never touches Panel or Bokeh objects from the engine's
thread.
"""

from __future__ import annotations

import threading
from collections import Counter

from orchestra.events import Event, EventBus, RunFinished, RunStarted, StepFinished, StepStarted


class LiveFeed:
    """An event subscriber that tracks the executing steps of the runs it hears about."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: Counter[tuple[str, str]] = Counter()  # (run_id, step_path) -> executions
        self._events = 0
        self.runs: set[str] = set()
        self.finished: set[str] = set()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._events += 1
            if isinstance(event, StepStarted):
                self._running[(event.run_id, event.step_path)] += 1
            elif isinstance(event, StepFinished):
                key = (event.run_id, event.step_path)
                if self._running[key] > 1:
                    self._running[key] -= 1
                else:
                    self._running.pop(key, None)
            elif isinstance(event, RunStarted):
                self.runs.add(event.run_id)
            elif isinstance(event, RunFinished):
                self.finished.add(event.run_id)
                for key in [k for k in self._running if k[0] == event.run_id]:
                    del self._running[key]

    def attach(self, bus: EventBus) -> LiveFeed:
        bus.subscribe(self)
        return self

    @property
    def events(self) -> int:
        """Events heard so far: a poller redraws when this moved."""
        with self._lock:
            return self._events

    def running(self, run_id: str | None) -> set[str]:
        """Step paths of ``run_id`` executing now."""
        with self._lock:
            return {path for (run, path), count in self._running.items() if run == run_id and count}
