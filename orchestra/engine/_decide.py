"""What the engine does with an answer, or with its absence: one pure function.

:func:`decide` is the plan format's evaluation order for each response (the
README's "Order of evaluation for each response") up to the point where a
response is handed to the step::

    abort_on → ignore_on → retry (retry.on_status, then retry_when)

and, for a request that got no answer (a :class:`~orchestra.errors.TransportError`,
or the engine's timeout): a connection closed before the answer is re-sent
once at once when the request is idempotent, else it is retried while
``retry.on_transport_error`` allows and attempts remain, else the step fails.

and :func:`check` is the rest of the order, once the response is the step's
(after the debugger's response hooks have run, in ``_step.py``)::

    abort_when → expect → unhandled error status

The one refresh of a fetched token after a 401 happens before both
(``_exchange.py``).

Inputs are plain values, so the order is tested as a table
(``tests/engine/test_decide.py``); ``retry_when`` is a callable because it is
evaluated only when the order reaches it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import Enum
from typing import Protocol


class Verdict(Enum):
    """What to do next with a request."""

    ACCEPT = "accept"  # hand the response to the step
    IGNORE = "ignore"  # the step ends as ignored (ignore_on)
    ABORT = "abort"  # the run stops (abort_on)
    RETRY = "retry"  # wait (backoff or Retry-After) and send again as a new attempt
    RESEND = "resend"  # send again at once, same attempt: a keep-alive connection closed
    FAIL = "fail"  # the step fails: no retry left, or none allowed


@dataclass(frozen=True, slots=True)
class Decision:
    """A verdict and the reason a retry, a failure or an event names."""

    verdict: Verdict
    reason: str = ""


class RetryRules(Protocol):
    """The part of a step's ``retry`` the decision reads (``orchestra.plan.Retry``)."""

    @property
    def max_attempts(self) -> int: ...
    @property
    def on_status(self) -> Collection[int]: ...
    @property
    def on_transport_error(self) -> bool: ...


class ResponseRules(Protocol):
    """The part of a step the decision reads (``orchestra.plan`` step models)."""

    @property
    def abort_on(self) -> Collection[int]: ...
    @property
    def ignore_on(self) -> Collection[int]: ...
    @property
    def retry(self) -> RetryRules: ...


ACCEPT = Decision(Verdict.ACCEPT)
IGNORE = Decision(Verdict.IGNORE, "ignore_on")
ABORT = Decision(Verdict.ABORT, "abort_on")
RESEND = Decision(Verdict.RESEND, "the connection closed before the answer")


def decide(
    rules: ResponseRules,
    attempt: int,
    status: int | None,
    *,
    failure: str | None = None,
    remote_closed: bool = False,
    may_resend: bool = False,
    retry_when: Callable[[], bool] | None = None,
    retry_when_source: str = "",
) -> Decision:
    """The verdict on attempt number ``attempt`` (1 = the first).

    ``status`` is the answer's status code, or None when there was none; then
    ``failure`` says why (the reason shown to the user), ``remote_closed`` that
    the connection closed before the answer, and ``may_resend`` that the request
    is idempotent and was not re-sent that way before.
    """
    if status is None:
        return _decide_no_answer(rules.retry, attempt, failure or "", remote_closed, may_resend)
    if status in rules.abort_on:
        return ABORT
    if status in rules.ignore_on:
        return IGNORE
    retry = rules.retry
    if status in retry.on_status:
        reason = f"status {status}"
    elif retry_when is not None and retry_when():
        reason = f"retry_when {retry_when_source!r} is true"
    else:
        return ACCEPT
    return Decision(Verdict.RETRY if attempt < retry.max_attempts else Verdict.FAIL, reason)


def _decide_no_answer(
    retry: RetryRules, attempt: int, failure: str, remote_closed: bool, may_resend: bool
) -> Decision:
    if remote_closed and may_resend:
        return RESEND
    if retry.on_transport_error and attempt < retry.max_attempts:
        return Decision(Verdict.RETRY, failure)
    return Decision(Verdict.FAIL, failure)


@dataclass(frozen=True, slots=True)
class CheckFailed:
    """A failed step check: the verdict (abort or fail), why, and the failed expectations
    as ``(expectation, message)`` pairs (empty for ``abort_when`` and error statuses)."""

    verdict: Verdict
    reason: str
    failures: tuple[tuple[str, str], ...] = ()


def check(
    status: int,
    *,
    abort_when: Callable[[], bool] | None = None,
    abort_when_source: str = "",
    expected_statuses: Collection[int] | None = None,
    expectations: Callable[[], list[tuple[str, str]]] | None = None,
) -> CheckFailed | None:
    """The step's own checks of a response it accepted; None when it passes.

    ``abort_when`` and ``expectations`` (the failed ``expect`` items, when the
    step has an ``expect``) are callables: each is evaluated only when the order
    reaches it. ``expected_statuses`` is ``expect.status``: listing statuses
    makes them fine, so an error status among them does not fail the step.
    """
    if abort_when is not None and abort_when():
        return CheckFailed(Verdict.ABORT, f"abort_when {abort_when_source!r} is true")
    if expectations is not None:
        failures = expectations()
        if failures:
            reason = "expectation failed: " + "; ".join(message for _, message in failures)
            return CheckFailed(Verdict.FAIL, reason, tuple(failures))
    if expected_statuses is None and status >= 400:
        return CheckFailed(Verdict.FAIL, f"answered {status}")
    return None
