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
        result = self.result
        match event:
            case RequestSent():
                result.requests += 1
                self._step(event.step_path).requests += 1
            case ResponseReceived():
                if event.status_code is None:
                    result.transport_errors += 0 if event.cancelled else 1
                else:
                    counts = result.responses_by_status
                    counts[event.status_code] = counts.get(event.status_code, 0) + 1
            case RecordEmitted():
                result.record_count += 1
                self._step(event.step_path).records += 1
                if self.keep_records:
                    result.records.append(
                        Record(event.step_path, event.record, event.page, event.item_index)
                    )
            case StepFinished():
                summary = self._step(event.step_path)
                summary.executions += 1
                summary.statuses[event.status] = summary.statuses.get(event.status, 0) + 1
                summary.pages += event.pages
                summary.duration_ms += event.duration_ms
                if event.error:
                    summary.errors += 1
                    summary.first_error = summary.first_error or event.error
            case RetryScheduled():
                result.retries += 1
                self._step(event.step_path).retries += 1
            case RateLimitWait():
                result.rate_limit_waits += 1
                result.rate_limit_wait_seconds += event.delay_seconds
            case AssertionFailed():
                result.assertion_failures.append(
                    Assertion(event.step_path, event.expectation, event.message)
                )
            case BreakerRejected():
                result.breaker_rejections += 1
            case TokenRefreshed():
                result.token_fetches += 1
            case CompensationFinished():
                result.compensations_failed = event.failed
            case RunStarted():
                result.started_at = event.at
                self._masker = event.masker
                result.config = event.masker.value(event.config)
            case RunFinished():
                result.status = RunStatus(event.status)
                result.finished_at = event.at
                result.duration_ms = event.duration_ms
