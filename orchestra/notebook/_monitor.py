"""What a cell shows about a run, gathered from the engine's event stream.

:class:`RunMonitor` is an event subscriber: the engine calls it on the worker
loop's thread for every event, so each call only updates a few counters of
one :class:`PathStats` under a lock (well under a microsecond of work besides
the lock). The kernel's thread reads consistent copies with :meth:`snapshot`
to draw progress while the run goes on and the summary when it is over. It
keeps no response bodies: a 100,000-item fanout costs a few counters.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field

from orchestra.events import (
    Event,
    FanoutItemFinished,
    FanoutStarted,
    PageFinished,
    RecordEmitted,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
    RunFinished,
    RunStarted,
    StepFinished,
)
from orchestra.masking import Masker


@dataclass
class PathStats:
    """Totals for one step path (a fanout sub-step: over all its items)."""

    path: str
    requests: int = 0
    retries: int = 0
    pages: int = 0
    executions: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # step status -> executions
    codes: dict[int, int] = field(default_factory=dict)  # HTTP status -> responses
    items_total: int = 0
    items_done: int = 0
    items_not_ok: int = 0
    records: int = 0
    duration_ms: float = 0.0
    elapsed_ms: float = 0.0  # summed response times
    method: str | None = None
    first_url: str | None = None  # raw: mask before showing
    last_url: str | None = None
    last_code: int | None = None
    transport_errors: int = 0
    first_error: str | None = None  # masked by the engine

    @property
    def status(self) -> str:
        for status in ("failed", "aborted", "interrupted", "cancelled", "ignored", "ok", "skipped"):
            if self.statuses.get(status):
                return status
        return "running" if self.requests else "pending"


@dataclass
class RunSnapshot:
    """A consistent copy of a monitor's state."""

    paths: dict[str, PathStats]
    status: str | None
    duration_ms: float | None
    error: str | None
    error_step: str | None


class RunMonitor:
    """Event subscriber keeping per-path totals; thread-safe reads via :meth:`snapshot`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: dict[str, PathStats] = {}
        self.masker = Masker()
        self.run_id: str | None = None
        self.status: str | None = None
        self.duration_ms: float | None = None
        self.error: str | None = None
        self.error_step: str | None = None
        self.version = 0  # bumped on every event: redraw only when it moved

    def _path(self, path: str) -> PathStats:
        stats = self._paths.get(path)
        if stats is None:
            stats = self._paths[path] = PathStats(path)
        return stats

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.version += 1
            match event:
                case RequestSent():
                    stats = self._path(event.step_path)
                    stats.requests += 1
                    if stats.first_url is None:
                        stats.method, stats.first_url = event.method, event.url
                    stats.last_url = event.url
                case ResponseReceived():
                    stats = self._path(event.step_path)
                    stats.elapsed_ms += event.elapsed_ms
                    if event.status_code is None:
                        stats.transport_errors += 0 if event.cancelled else 1
                    else:
                        stats.last_code = event.status_code
                        stats.codes[event.status_code] = stats.codes.get(event.status_code, 0) + 1
                case PageFinished():
                    self._path(event.step_path).pages += 1
                case FanoutStarted():
                    self._path(event.step_path).items_total += event.total_items
                case FanoutItemFinished():
                    stats = self._path(event.step_path)
                    stats.items_done += 1
                    if event.status != "ok":
                        stats.items_not_ok += 1
                case RetryScheduled():
                    self._path(event.step_path).retries += 1
                case RecordEmitted():
                    self._path(event.step_path).records += 1
                case StepFinished():
                    stats = self._path(event.step_path)
                    stats.executions += 1
                    stats.statuses[event.status] = stats.statuses.get(event.status, 0) + 1
                    stats.duration_ms += event.duration_ms
                    if event.error and stats.first_error is None:
                        stats.first_error = event.error
                case RunStarted():
                    self.masker, self.run_id = event.masker, event.run_id
                case RunFinished():
                    self.status, self.duration_ms = event.status, event.duration_ms
                    self.error, self.error_step = event.error, event.step_path

    def snapshot(self) -> RunSnapshot:
        with self._lock:
            return RunSnapshot(
                paths=copy.deepcopy(self._paths),
                status=self.status,
                duration_ms=self.duration_ms,
                error=self.error,
                error_step=self.error_step,
            )
