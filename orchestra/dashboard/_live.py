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

from orchestra.events import Event, EventBus, RunFinished, RunStarted, RunTotals


class LiveFeed:
    """An event subscriber that tracks the executing steps of the runs it hears about.

    Each run's counts are a :class:`~orchestra.events.RunTotals` (``totals``);
    a step is executing while it has started executions that have not finished.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events = 0
        self.totals: dict[str, RunTotals] = {}  # run_id -> the run's totals so far
        self.runs: set[str] = set()
        self.finished: set[str] = set()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._events += 1
            totals = self.totals.get(event.run_id)
            if totals is None:
                totals = self.totals[event.run_id] = RunTotals()
            totals.apply(event)
            if isinstance(event, RunStarted):
                self.runs.add(event.run_id)
            elif isinstance(event, RunFinished):
                self.finished.add(event.run_id)

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
            totals = self.totals.get(run_id) if run_id is not None else None
            if totals is None:
                return set()
            return {path for path, step in totals.steps.items() if step.running}
