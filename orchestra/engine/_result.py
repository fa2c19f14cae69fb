"""The in-memory result of a run, built from its events."""

from __future__ import annotations

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
    StepFinished,
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


@dataclass(slots=True)
class StepSummary:
    """Totals for one step path over all its executions (fanout items included)."""

    path: str
    executions: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    pages: int = 0
    records: int = 0
    errors: int = 0
    duration_ms: float = 0.0
    first_error: str | None = None

    @property
    def status(self) -> str:
        """The worst status seen: failed > aborted > interrupted > cancelled > ignored > ok
        > skipped."""
        for status in ("failed", "aborted", "interrupted", "cancelled", "ignored", "ok", "skipped"):
            if self.statuses.get(status):
                return status
        return "pending"


@dataclass(slots=True)
class Assertion:
    step_path: str
    expectation: str
    message: str


@dataclass
class RunResult:
    """How a run went: status, per-step totals, records (unless not kept), context."""

    run_id: str
    plan_key: str
    status: RunStatus = RunStatus.RUNNING
    started_at: float = 0.0
    finished_at: float | None = None
    duration_ms: float = 0.0
    error: RunError | BaseException | None = None
    steps: dict[str, StepSummary] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    record_count: int = 0
    requests: int = 0
    responses_by_status: dict[int, int] = field(default_factory=dict)
    transport_errors: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    assertion_failures: list[Assertion] = field(default_factory=list)
    breaker_rejections: int = 0
    token_fetches: int = 0
    compensations_failed: int = 0
    context: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # masked
    db: str | None = None  # the capture file the run was written to, if any

    @property
    def ok(self) -> bool:
        return self.status is RunStatus.SUCCEEDED

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
    """Event subscriber that fills a :class:`RunResult`."""

    def __init__(self, result: RunResult, *, keep_records: bool = True):
        self.result = result
        self.keep_records = keep_records
        self._masker = None

    def _step(self, path: str) -> StepSummary:
        summary = self.result.steps.get(path)
        if summary is None:
            summary = self.result.steps[path] = StepSummary(path)
        return summary

    def __call__(self, event: Event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    # One method per event type, dispatched on the exact type: the collector sees
    # every request, response, record and step end of a run (thousands a second),
    # and a dict lookup is cheaper than a chain of class patterns.

    def _request_sent(self, event: RequestSent) -> None:
        self.result.requests += 1
        self._step(event.step_path).requests += 1

    def _response_received(self, event: ResponseReceived) -> None:
        result = self.result
        if event.status_code is None:
            result.transport_errors += 0 if event.cancelled else 1
        else:
            counts = result.responses_by_status
            counts[event.status_code] = counts.get(event.status_code, 0) + 1

    def _record_emitted(self, event: RecordEmitted) -> None:
        result = self.result
        result.record_count += 1
        self._step(event.step_path).records += 1
        if self.keep_records:
            record = Record(event.step_path, event.record, event.page, event.item_index)
            result.records.append(record)

    def _step_finished(self, event: StepFinished) -> None:
        summary = self._step(event.step_path)
        summary.executions += 1
        summary.statuses[event.status] = summary.statuses.get(event.status, 0) + 1
        summary.pages += event.pages
        summary.duration_ms += event.duration_ms
        if event.error:
            summary.errors += 1
            summary.first_error = summary.first_error or event.error

    def _retry_scheduled(self, event: RetryScheduled) -> None:
        self.result.retries += 1
        self._step(event.step_path).retries += 1

    def _rate_limit_wait(self, event: RateLimitWait) -> None:
        self.result.rate_limit_waits += 1
        self.result.rate_limit_wait_seconds += event.delay_seconds

    def _assertion_failed(self, event: AssertionFailed) -> None:
        self.result.assertion_failures.append(
            Assertion(event.step_path, event.expectation, event.message)
        )

    def _breaker_rejected(self, event: BreakerRejected) -> None:
        self.result.breaker_rejections += 1

    def _token_refreshed(self, event: TokenRefreshed) -> None:
        self.result.token_fetches += 1

    def _compensation_finished(self, event: CompensationFinished) -> None:
        self.result.compensations_failed = event.failed

    def _run_started(self, event: RunStarted) -> None:
        self.result.started_at = event.at
        self._masker = event.masker
        self.result.config = event.masker.value(event.config)

    def _run_finished(self, event: RunFinished) -> None:
        result = self.result
        result.status = RunStatus(event.status)
        result.finished_at = event.at
        result.duration_ms = event.duration_ms


_HANDLERS: dict[type, Any] = {
    RequestSent: ResultCollector._request_sent,
    ResponseReceived: ResultCollector._response_received,
    RecordEmitted: ResultCollector._record_emitted,
    StepFinished: ResultCollector._step_finished,
    RetryScheduled: ResultCollector._retry_scheduled,
    RateLimitWait: ResultCollector._rate_limit_wait,
    AssertionFailed: ResultCollector._assertion_failed,
    BreakerRejected: ResultCollector._breaker_rejected,
    TokenRefreshed: ResultCollector._token_refreshed,
    CompensationFinished: ResultCollector._compensation_finished,
    RunStarted: ResultCollector._run_started,
    RunFinished: ResultCollector._run_finished,
}
ResultCollector.event_types = frozenset(_HANDLERS)  # the bus routes nothing else here
