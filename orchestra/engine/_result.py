"""The in-memory result of a run, built from its events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from orchestra.errors import RunError
from orchestra.events import (
    AssertionFailed,
    BreakerRejected,
    CompensationFinished,
    Event,
    RateLimitWait,
    RecordEmitted,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
    RunFinished,
    RunStarted,
    RunTotals,
    StepCapped,
    StepFinished,
    StepTotals,
    TokenRefreshed,
)
from orchestra.types import RunStatus


@dataclass(slots=True)
class Record:
    """One emitted item (the seed's ``api-responses`` message body)."""

    step_path: str
    data: Any
    page: int | None = None
    item_index: int | None = None


# The totals of one step path: the events layer's model, under the name the engine exports.
StepSummary = StepTotals


@dataclass(slots=True)
class Assertion:
    step_path: str
    expectation: str
    message: str


@dataclass
class RunResult(RunTotals):
    """How a run went: status, per-step and run totals, records (unless not kept), context.

    The counts (``steps``, ``requests``, ``responses_by_status``, ``retries`` …)
    are those of :class:`~orchestra.events.RunTotals`; they are keyword-only.
    """

    run_id: str
    plan_key: str
    status: RunStatus = RunStatus.RUNNING
    started_at: float = 0.0
    finished_at: float | None = None
    duration_ms: float = 0.0
    error: RunError | BaseException | None = None
    records: list[Record] = field(default_factory=list)
    assertion_failures: list[Assertion] = field(default_factory=list)
    compensations_failed: int = 0
    context: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # masked
    capped: list[str] = field(default_factory=list)  # what a test read's caps cut short
    db: str | None = None  # the capture file the run was written to, if any
    # reads a step's typed table from that file (set by orchestra.run, which owns capture)
    table_reader: Callable[[str], Any] | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.SUCCEEDED

    @property
    def partial(self) -> str | None:
        """Where a test read's caps stopped the run (``stopped at 5 pages in step
        'users'``; ``; `` between several), or None when nothing was capped."""
        return "; ".join(self.capped) if self.capped else None

    def table(self, step_path: str) -> Any:
        """This run's records of a step as a DataFrame of typed columns, read from its capture."""
        if self.table_reader is None:
            raise RunError(
                f"run {self.run_id} was not captured, so it has no typed tables: run it with "
                "a capture file (db=...), or use records_of(step_path) for the raw records"
            )
        return self.table_reader(step_path)

    def records_of(self, step_path: str) -> list[Any]:
        return [r.data for r in self.records if r.step_path == step_path]

    def raise_for_status(self) -> RunResult:
        """Raise the run's error if it did not succeed; returns self otherwise."""
        if not self.ok:
            if isinstance(self.error, BaseException):
                raise self.error
            raise RunError(f"run {self.run_id} ended {self.status}")
        return self


class ResultCollector:
    """Event subscriber that fills a :class:`RunResult`.

    The counts are the result's own :meth:`RunTotals.apply`; this class adds
    what only a result keeps (records, assertion failures, status, config).
    One table maps each event type to its handler: the collector sees every
    request, response, record and step end of a run (thousands a second).
    """

    # The bus routes nothing else here; no PageFinished, FanoutItemFinished or
    # StepStarted, so the engine need not make them for a run nobody watches.
    event_types = frozenset(
        {
            RequestSent,
            ResponseReceived,
            RecordEmitted,
            StepFinished,
            RetryScheduled,
            RateLimitWait,
            AssertionFailed,
            BreakerRejected,
            TokenRefreshed,
            CompensationFinished,
            RunStarted,
            RunFinished,
            StepCapped,
        }
    )

    __slots__ = ("_count_record", "_handlers", "keep_records", "result")

    def __init__(self, result: RunResult, *, keep_records: bool = True):
        self.result = result
        self.keep_records = keep_records
        own: dict[type, Callable[[Any], None]] = {
            AssertionFailed: self._assertion_failed,
            CompensationFinished: self._compensation_finished,
            RunStarted: self._run_started,
            RunFinished: self._run_finished,
            StepCapped: self._step_capped,
        }
        self._handlers = result.handlers(own)
        if keep_records:  # counted and kept in one call
            self._count_record = self._handlers[RecordEmitted]
            self._handlers[RecordEmitted] = self._keep_record

    def __call__(self, event: Event) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _keep_record(self, event: RecordEmitted) -> None:
        self._count_record(event)
        record = Record(event.step_path, event.record, event.page, event.item_index)
        self.result.records.append(record)

    def _assertion_failed(self, event: AssertionFailed) -> None:
        self.result.assertion_failures.append(
            Assertion(event.step_path, event.expectation, event.message)
        )

    def _step_capped(self, event: StepCapped) -> None:
        self.result.capped.append(event.message)

    def _compensation_finished(self, event: CompensationFinished) -> None:
        self.result.compensations_failed = event.failed

    def _run_started(self, event: RunStarted) -> None:
        self.result.started_at = event.at
        self.result.config = event.masker.value(event.config)

    def _run_finished(self, event: RunFinished) -> None:
        result = self.result
        result.status = RunStatus(event.status)
        result.finished_at = event.at
        result.duration_ms = event.duration_ms
