"""Per-step and per-run totals added up from the event stream: the one aggregate model.

The run result (``orchestra.engine.RunResult`` is a :class:`RunTotals`), the
notebook's cell monitor, the CLI's progress bars and step clock, and the
dashboard's live feed all count with this module, so a step shows the same
numbers wherever it is shown, and the worst-status ordering exists once
(:data:`STATUS_SEVERITY`).

:meth:`RunTotals.apply` is called for every event of a run (the engine's
thread, thousands a second in a large fanout), so it is a flat dispatch on
the exact event type to one small method that updates integers in place.
A subscriber counts only the events the bus routes to it: the run result
does not take ``PageFinished``, ``FanoutItemFinished`` or ``StepStarted``
(the engine skips making the first two when nobody wants them), so those
fields stay at zero in ``RunResult.steps``. A subscriber with work of its
own builds one table with :meth:`RunTotals.handlers` (the model's update,
then its own) and keeps a single dispatch per event.

Two counts are deliberately kept apart, because surfaces show them differently:

- ``records`` — records emitted under the step's own path (``RecordEmitted``):
  a fanout's records belong to the sub-step. This is the count every surface
  shows per step: the run result, the CLI summary, the notebook and the
  dashboard's step table (which counts the capture's ``records`` table by path).
- ``records_including_substeps`` — what the step's executions reported when
  they finished (``StepFinished.records``): a parent step counts the records
  its fanout sub-steps emitted. The capture's ``steps`` table stores this; no
  surface shows it as the step's records.

and likewise ``pages`` (pages the executions ran, a page that failed
included, known when a step finishes) and ``pages_finished`` (pages that
completed, counted live from ``PageFinished``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import MethodType
from typing import Any, ClassVar

from orchestra.events._types import (
    BreakerRejected,
    Event,
    FanoutItemFinished,
    FanoutStarted,
    PageFinished,
    RateLimitWait,
    RecordEmitted,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
    RunFinished,
    StepFinished,
    StepStarted,
    TokenRefreshed,
)

Handler = Callable[[Any], None]

# Worst first: the status a step shows when its executions ended differently.
STATUS_SEVERITY = ("failed", "aborted", "interrupted", "cancelled", "ignored", "ok", "skipped")


def worst_status(statuses: Mapping[str, int]) -> str | None:
    """The worst status with a non-zero count (``STATUS_SEVERITY``), ``None`` if there is none."""
    for status in STATUS_SEVERITY:
        if statuses.get(status):
            return status
    return None


@dataclass(slots=True)
class StepTotals:
    """Totals for one step path over all its executions (a fanout sub-step: all its items)."""

    path: str
    executions: int = 0  # finished executions
    statuses: dict[str, int] = field(default_factory=dict)  # step status -> executions
    requests: int = 0
    retries: int = 0
    pages: int = 0  # summed StepFinished.pages
    records: int = 0  # RecordEmitted under this path
    errors: int = 0  # executions that ended with an error
    duration_ms: float = 0.0  # summed execution durations
    first_error: str | None = None  # masked by the engine
    pages_finished: int = 0  # PageFinished events
    records_including_substeps: int = 0  # summed StepFinished.records
    codes: dict[int, int] = field(default_factory=dict)  # HTTP status -> responses
    transport_errors: int = 0  # requests that failed without a response (not cancelled)
    rate_limit_waits: int = 0
    items_total: int = 0  # fanout items announced (FanoutStarted)
    items_done: int = 0
    items_not_ok: int = 0
    running: int = 0  # executions started and not finished
    first_started_at: float | None = None
    last_finished_at: float | None = None
    method: str | None = None  # of the first request
    first_url: str | None = None  # raw: mask before showing
    last_url: str | None = None

    @property
    def status(self) -> str:
        """The worst status seen; ``running`` while it has requests but no end, else ``pending``."""
        worst = worst_status(self.statuses)
        if worst is not None:
            return worst
        return "running" if self.requests else "pending"


@dataclass(slots=True, kw_only=True)
class RunTotals:
    """Per-step totals of a run (``steps``) plus its run-level counts; fed with :meth:`apply`."""

    steps: dict[str, StepTotals] = field(default_factory=dict)
    requests: int = 0
    responses_by_status: dict[int, int] = field(default_factory=dict)
    transport_errors: int = 0
    retries: int = 0
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    record_count: int = 0
    breaker_rejections: int = 0
    token_fetches: int = 0

    event_types: ClassVar[frozenset[type]]  # what apply() counts; set below

    def step(self, path: str) -> StepTotals:
        """The totals of ``path``, created on first use."""
        totals = self.steps.get(path)
        if totals is None:
            totals = self.steps[path] = StepTotals(path)
        return totals

    def apply(self, event: Event) -> None:
        """Count one event (events of other types are ignored)."""
        update = _UPDATES.get(type(event))
        if update is not None:
            update(self, event)

    __call__ = apply  # a RunTotals is itself an event subscriber

    def handlers(
        self,
        extra: Mapping[type, Handler] | None = None,
        *,
        counted: Collection[type] | None = None,
    ) -> dict[type, Handler]:
        """One dispatch table: per event type the model's update, then ``extra``'s handler.

        ``counted`` limits the model's updates to those event types (default: all).
        """
        table: dict[type, Handler] = {
            kind: MethodType(update, self)
            for kind, update in _UPDATES.items()
            if counted is None or kind in counted
        }
        for kind, handler in (extra or {}).items():
            own = table.get(kind)
            table[kind] = handler if own is None else _chained(own, handler)
        return table

    # One method per event type. Each looks its step up inline, by subscript
    # (a method call per event costs as much as the update itself).

    def _request_sent(self, event: RequestSent) -> None:
        self.requests += 1
        try:
            step = self.steps[event.step_path]
        except KeyError:
            step = self.step(event.step_path)
        step.requests += 1
        if step.first_url is None:
            step.method, step.first_url = event.method, event.url
        step.last_url = event.url

    def _response_received(self, event: ResponseReceived) -> None:
        try:
            step = self.steps[event.step_path]
        except KeyError:
            step = self.step(event.step_path)
        code = event.status_code
        if code is None:
            if not event.cancelled:
                self.transport_errors += 1
                step.transport_errors += 1
        else:
            codes = step.codes
            codes[code] = codes.get(code, 0) + 1
            codes = self.responses_by_status
            codes[code] = codes.get(code, 0) + 1

    def _record_emitted(self, event: RecordEmitted) -> None:
        self.record_count += 1
        try:
            step = self.steps[event.step_path]
        except KeyError:
            step = self.step(event.step_path)
        step.records += 1

    def _step_started(self, event: StepStarted) -> None:
        try:
            step = self.steps[event.step_path]
        except KeyError:
            step = self.step(event.step_path)
        step.running += 1
        if step.first_started_at is None:
            step.first_started_at = event.at

    def _step_finished(self, event: StepFinished) -> None:
        try:
            step = self.steps[event.step_path]
        except KeyError:
            step = self.step(event.step_path)
        step.executions += 1
        statuses = step.statuses
        statuses[event.status] = statuses.get(event.status, 0) + 1
        step.pages += event.pages
        step.records_including_substeps += event.records
        step.duration_ms += event.duration_ms
        step.last_finished_at = event.at
        if step.running:
            step.running -= 1
        if event.error:
            step.errors += 1
            if step.first_error is None:
                step.first_error = event.error

    def _page_finished(self, event: PageFinished) -> None:
        try:
            step = self.steps[event.step_path]
        except KeyError:
            step = self.step(event.step_path)
        step.pages_finished += 1

    def _fanout_started(self, event: FanoutStarted) -> None:
        try:
            step = self.steps[event.step_path]
        except KeyError:
            step = self.step(event.step_path)
        step.items_total += event.total_items

    def _fanout_item_finished(self, event: FanoutItemFinished) -> None:
        try:
            step = self.steps[event.step_path]
        except KeyError:
            step = self.step(event.step_path)
        step.items_done += 1
        if event.status != "ok":
            step.items_not_ok += 1

    def _retry_scheduled(self, event: RetryScheduled) -> None:
        self.retries += 1
        try:
            step = self.steps[event.step_path]
        except KeyError:
            step = self.step(event.step_path)
        step.retries += 1

    def _rate_limit_wait(self, event: RateLimitWait) -> None:
        self.rate_limit_waits += 1
        self.rate_limit_wait_seconds += event.delay_seconds
        self.step(event.step_path).rate_limit_waits += 1

    def _breaker_rejected(self, event: BreakerRejected) -> None:
        self.breaker_rejections += 1

    def _token_refreshed(self, event: TokenRefreshed) -> None:
        self.token_fetches += 1

    def _run_finished(self, event: RunFinished) -> None:
        for step in self.steps.values():  # nothing executes once the run is over
            step.running = 0


def _chained(first: Handler, then: Handler) -> Handler:
    def both(event: Any) -> None:
        first(event)
        then(event)

    return both


_UPDATES: dict[type, Callable[[Any, Any], None]] = {
    RequestSent: RunTotals._request_sent,
    ResponseReceived: RunTotals._response_received,
    RecordEmitted: RunTotals._record_emitted,
    StepStarted: RunTotals._step_started,
    StepFinished: RunTotals._step_finished,
    PageFinished: RunTotals._page_finished,
    FanoutStarted: RunTotals._fanout_started,
    FanoutItemFinished: RunTotals._fanout_item_finished,
    RetryScheduled: RunTotals._retry_scheduled,
    RateLimitWait: RunTotals._rate_limit_wait,
    BreakerRejected: RunTotals._breaker_rejected,
    TokenRefreshed: RunTotals._token_refreshed,
    RunFinished: RunTotals._run_finished,
}
RunTotals.event_types = frozenset(_UPDATES)
