"""What a cell shows about a run, gathered from the engine's event stream.

:class:`RunMonitor` is an event subscriber: the engine calls it on the worker
loop's thread for every event, so each call only updates, under a lock, a
few counters of the run's :class:`~orchestra.events.RunTotals` (the same
totals the run result, the CLI and the dashboard count with). The kernel's
thread reads consistent copies with :meth:`snapshot` to draw progress while
the run goes on and the summary when it is over. It keeps no response
bodies: a 100,000-item fanout costs a few counters.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field

from orchestra.events import (
    DetectedPagination,
    Event,
    PaginationDetected,
    RateLimitWait,
    RunFinished,
    RunStarted,
    RunTotals,
    StepStarted,
    StepTotals,
)
from orchestra.masking import Masker

# A path joins the cell's table when it sends, pages, fans out, emits or
# finishes (not when it starts): a group is listed after the steps inside it.
COUNTED = RunTotals.event_types - {StepStarted, RateLimitWait}


@dataclass
class RunSnapshot:
    """A consistent copy of a monitor's state."""

    paths: dict[str, StepTotals]
    status: str | None
    duration_ms: float | None
    error: str | None
    error_step: str | None
    detected: DetectedPagination = field(default_factory=DetectedPagination)


class RunMonitor:
    """Event subscriber keeping per-path totals; thread-safe reads via :meth:`snapshot`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals = RunTotals()
        self.masker = Masker()
        self.run_id: str | None = None
        self.status: str | None = None
        self.duration_ms: float | None = None
        self.error: str | None = None
        self.error_step: str | None = None
        self.version = 0  # bumped on every event: redraw only when it moved
        self._detected = DetectedPagination()  # what paginate: auto chose, per step path
        self._handlers = self._totals.handlers(
            {
                RunStarted: self._run_started,
                RunFinished: self._run_finished,
                PaginationDetected: self._detected,
            },
            counted=COUNTED,
        )

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.version += 1
            handler = self._handlers.get(type(event))
            if handler is not None:
                handler(event)

    def _run_started(self, event: RunStarted) -> None:
        self.masker, self.run_id = event.masker, event.run_id

    def _run_finished(self, event: RunFinished) -> None:
        self.status, self.duration_ms = event.status, event.duration_ms
        self.error, self.error_step = event.error, event.step_path

    def snapshot(self) -> RunSnapshot:
        with self._lock:
            return RunSnapshot(
                paths=copy.deepcopy(self._totals.steps),
                status=self.status,
                duration_ms=self.duration_ms,
                error=self.error,
                error_step=self.error_step,
                detected=self._detected.copy(),
            )
