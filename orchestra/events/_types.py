"""Typed events: the one stream out of the engine.

Events are small slotted dataclasses created on the hot path (a few µs each);
payloads are raw (unmasked) so that the capture layer can mask by value in
one place. Subscribers that print or store anything must pass values through
the run's :class:`~orchestra.masking.Masker` (``RunStarted.masker``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestra.masking import Masker


@dataclass(slots=True, kw_only=True)
class Event:
    run_id: str
    at: float  # time.time() when the event happened


@dataclass(slots=True, kw_only=True)
class RunStarted(Event):
    plan_key: str
    plan: dict[str, Any]  # the plan as written (secrets stay references)
    config: dict[str, Any]  # resolved config, secret values included: mask before output
    masker: Masker
    mode: str = "run"


@dataclass(slots=True, kw_only=True)
class RunFinished(Event):
    status: str  # orchestra.types.RunStatus
    duration_ms: float
    error: str | None = None
    error_type: str | None = None
    step_path: str | None = None


@dataclass(slots=True, kw_only=True)
class StepStarted(Event):
    step_path: str
    execution_id: str  # unique per execution (a sub-step runs once per fanout item)
    parent_execution_id: str | None = None
    item_index: int | None = None
    kind: str = "http"  # http | parallel | choice | compensation | auth


@dataclass(slots=True, kw_only=True)
class StepFinished(Event):
    step_path: str
    execution_id: str
    status: str  # orchestra.types.StepStatus
    duration_ms: float
    pages: int = 0
    records: int = 0
    error: str | None = None
    item_index: int | None = None
    reason: str | None = None  # why a step was skipped or cancelled


@dataclass(slots=True, kw_only=True)
class RequestSent(Event):
    step_path: str
    execution_id: str
    exchange_id: int
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    page: int
    attempt: int
    item_index: int | None = None
    hop: int = 0  # redirects followed before this request in its attempt (0: the first)


@dataclass(slots=True, kw_only=True)
class ResponseReceived(Event):
    step_path: str
    execution_id: str
    exchange_id: int
    status_code: int | None  # None when the request failed without a response
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    elapsed_ms: float = 0.0
    # from sending until the status line and headers arrived; None when the transport
    # cannot tell (the rest of ``elapsed_ms`` is reading the body)
    first_byte_ms: float | None = None
    error: str | None = None
    page: int = 0
    attempt: int = 1
    item_index: int | None = None
    cancelled: bool = False  # the request was in flight when its task was cancelled
    hop: int = 0  # as its RequestSent's


@dataclass(slots=True, kw_only=True)
class RetryScheduled(Event):
    step_path: str
    exchange_id: int
    attempt: int  # the attempt that will run next
    delay_seconds: float
    reason: str


@dataclass(slots=True, kw_only=True)
class RateLimitWait(Event):
    step_path: str
    delay_seconds: float
    reason: str


@dataclass(slots=True, kw_only=True)
class FanoutStarted(Event):
    step_path: str
    execution_id: str
    total_items: int


@dataclass(slots=True, kw_only=True)
class FanoutItemFinished(Event):
    step_path: str
    item_index: int
    status: str


@dataclass(slots=True, kw_only=True)
class PageFinished(Event):
    step_path: str
    execution_id: str
    page: int
    status_code: int


@dataclass(slots=True, kw_only=True)
class AssertionFailed(Event):
    step_path: str
    expectation: str
    message: str
    exchange_id: int | None = None


@dataclass(slots=True, kw_only=True)
class ResponseIgnored(Event):
    step_path: str
    exchange_id: int
    status_code: int
    reason: str


@dataclass(slots=True, kw_only=True)
class RecordEmitted(Event):
    """One record. ``source`` is set when the record is element ``index`` of the list at
    that DuckDB JSON path in the body of exchange ``exchange_id``, as decoded from the
    bytes captured (``records: data``), one of ``count`` records emitted from that page
    (indexes 0 to count - 1): capture may then store the page's records as a reference."""

    step_path: str
    record: Any
    page: int | None = None
    item_index: int | None = None
    exchange_id: int | None = None
    source: str | None = None
    index: int = 0
    count: int = 0


@dataclass(slots=True, kw_only=True)
class BreakerStateChanged(Event):
    """The circuit breaker of one host moved: closed → open → half_open → closed/open."""

    host: str  # host:port
    old_state: str  # closed | open | half_open
    new_state: str
    failures: int  # failures counted in the window when the state changed
    reason: str
    step_path: str | None = None  # the request that caused the change


@dataclass(slots=True, kw_only=True)
class BreakerRejected(Event):
    """A request failed fast because its host's circuit is open (nothing was sent)."""

    step_path: str
    host: str
    method: str
    url: str
    state: str  # open | half_open (a probe is already in flight)
    retry_in_seconds: float | None = None


@dataclass(slots=True, kw_only=True)
class CompensationStarted(Event):
    """The saga rolls back: ``count`` compensations run in reverse order."""

    count: int
    run_status: str  # the status the run had before compensating: failed | aborted
    error: str | None = None  # the (masked) error that made the run fail
    failed_step: str | None = None


@dataclass(slots=True, kw_only=True)
class CompensationFinished(Event):
    status: str  # compensated | compensation_failed
    succeeded: int
    failed: int
    duration_ms: float


@dataclass(slots=True, kw_only=True)
class TokenRefreshed(Event):
    """A token was obtained (never carries the token itself)."""

    auth_type: str  # oauth2_client_credentials | oauth2_refresh_token | flow
    reason: str  # initial | expired | unauthorized (a 401 answered a request)
    expires_in: float | None  # lifetime the server gave, in seconds (None: unknown)
    step_path: str = "auth"


@dataclass(slots=True, kw_only=True)
class DebugAction(Event):
    """Something a debugger did to a run: paused it, stepped, edited its scope, stopped it.

    ``action`` is ``pause`` (``detail`` says why: ``breakpoint``, ``step`` …),
    a command (``step``, ``next-page``, ``next-item``, ``continue``, ``stop``),
    ``set`` (``detail``: the masked assignment), ``eval``, ``break``, ``clear``,
    ``edit`` or ``rerun``. Where the run was: ``step_path``, ``page``, ``item_index``.
    """

    action: str
    step_path: str | None = None
    page: int | None = None
    item_index: int | None = None
    detail: str | None = None


@dataclass(slots=True, kw_only=True)
class PaginationDetected(Event):
    """What ``paginate: auto`` found in a step's first response (issue 19 item 4).

    ``paginate`` is the explicit preset a user would write (None: one page),
    ``records`` the JMESPath of the records list (None: the body is one record),
    ``looks_paginated`` the fields that look like pagination but matched no rule
    (non-empty means a warning), ``explanation`` one line for people and
    ``yaml`` the ``paginate:``/``records:`` lines to paste into the plan.
    """

    step_path: str
    execution_id: str
    paginate: dict[str, Any] | None
    records: str | None
    looks_paginated: tuple[str, ...] = ()
    explanation: str = ""
    yaml: str = ""
    item_index: int | None = None


@dataclass(slots=True, kw_only=True)
class StepCapped(Event):
    """A test read's cap cut a step short (``orchestra.run(plan, caps=ReadCaps(...))``).

    ``cap`` is ``max_pages``, ``max_fanout_items`` or ``max_records``; ``count``
    how many pages, items or records the step got (the cap's value) and
    ``total`` the items a capped fanout had (None for the other caps, whose
    total is unknown). ``message`` is the words a result shows, e.g.
    ``stopped at 5 pages in step 'users'``. Sent once per step path and cap.
    """

    step_path: str
    cap: str
    count: int
    message: str
    total: int | None = None
