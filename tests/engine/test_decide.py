"""The evaluation order of each response, as a table (``orchestra/engine/_decide.py``).

Every branch of ``decide`` and every precedence between two rules is a row:
``abort_on`` → ``ignore_on`` → ``retry.on_status`` → ``retry_when`` → accept, and
for a request without an answer: re-send once → retry → fail; then ``check``,
the step's own order once it accepted the response: ``abort_when`` → ``expect``
→ unhandled error status.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from orchestra.engine._decide import CheckFailed, Decision, Verdict, check, decide
from orchestra.plan import Retry

ACCEPT, IGNORE, ABORT, RETRY, RESEND, FAIL = (
    Verdict.ACCEPT,
    Verdict.IGNORE,
    Verdict.ABORT,
    Verdict.RETRY,
    Verdict.RESEND,
    Verdict.FAIL,
)


@dataclass
class Rules:
    abort_on: list[int] = field(default_factory=list)
    ignore_on: list[int] = field(default_factory=list)
    retry: Retry = field(default_factory=Retry)


def rules(*, abort=(), ignore=(), on_status=(), transport=True, attempts=3) -> Rules:
    retry = Retry(max_attempts=attempts, on_status=list(on_status), on_transport_error=transport)
    return Rules(list(abort), list(ignore), retry)


def always(value: bool):
    return lambda: value


def never_called():
    raise AssertionError("retry_when was evaluated although an earlier rule decided")


ANSWERS = [
    # (id, rules, attempt, status, retry_when, verdict, reason)
    ("plain 200 is accepted", rules(), 1, 200, None, ACCEPT, ""),
    ("an error status is accepted here (the step judges it)", rules(), 1, 500, None, ACCEPT, ""),
    ("abort_on", rules(abort=[500]), 1, 500, never_called, ABORT, "abort_on"),
    ("ignore_on", rules(ignore=[404]), 1, 404, never_called, IGNORE, "ignore_on"),
    ("abort_on wins over ignore_on", rules(abort=[409], ignore=[409]), 1, 409, None, ABORT,
     "abort_on"),
    ("abort_on wins over retry.on_status", rules(abort=[503], on_status=[503]), 1, 503, None,
     ABORT, "abort_on"),
    ("ignore_on wins over retry.on_status", rules(ignore=[503], on_status=[503]), 1, 503, None,
     IGNORE, "ignore_on"),
    ("ignore_on wins over retry_when", rules(ignore=[200]), 1, 200, never_called, IGNORE,
     "ignore_on"),
    ("retry.on_status with attempts left", rules(on_status=[503]), 1, 503, None, RETRY,
     "status 503"),
    ("retry.on_status on the last attempt fails", rules(on_status=[503]), 3, 503, None, FAIL,
     "status 503"),
    ("retry.on_status wins over retry_when (its reason)", rules(on_status=[503]), 2, 503,
     never_called, RETRY, "status 503"),
    ("retry_when true retries", rules(), 1, 200, always(True), RETRY,
     "retry_when 'body.pending' is true"),
    ("retry_when true on the last attempt fails", rules(attempts=2), 2, 200, always(True), FAIL,
     "retry_when 'body.pending' is true"),
    ("retry_when false accepts", rules(), 1, 200, always(False), ACCEPT, ""),
    ("a status listed elsewhere only is accepted", rules(abort=[500], ignore=[404],
     on_status=[503]), 1, 200, None, ACCEPT, ""),
    ("one attempt in all: no retry", rules(on_status=[429], attempts=1), 1, 429, None, FAIL,
     "status 429"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "attempt", "status", "retry_when", "verdict", "reason"),
    [row[1:] for row in ANSWERS],
    ids=[row[0] for row in ANSWERS],
)
def test_an_answer(policy, attempt, status, retry_when, verdict, reason):
    decision = decide(
        policy, attempt, status, retry_when=retry_when, retry_when_source="body.pending"
    )
    assert decision == Decision(verdict, reason)


NO_ANSWERS = [
    # (id, rules, attempt, remote_closed, may_resend, verdict, reason)
    ("closed under an idempotent request: re-sent at once", rules(), 1, True, True, RESEND,
     "the connection closed before the answer"),
    ("re-sent even on the last attempt", rules(attempts=1), 1, True, True, RESEND,
     "the connection closed before the answer"),
    ("re-sent even when transport errors are not retried", rules(transport=False), 1, True, True,
     RESEND, "the connection closed before the answer"),
    ("closed, but already re-sent (or not idempotent): retried", rules(), 1, True, False, RETRY,
     "why"),
    ("another failure is retried", rules(), 2, False, True, RETRY, "why"),
    ("no attempts left: fails", rules(), 3, False, True, FAIL, "why"),
    ("on_transport_error false: fails at once", rules(transport=False), 1, False, False, FAIL,
     "why"),
    ("closed, not re-sendable, on_transport_error false: fails", rules(transport=False), 1, True,
     False, FAIL, "why"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "attempt", "remote_closed", "may_resend", "verdict", "reason"),
    [row[1:] for row in NO_ANSWERS],
    ids=[row[0] for row in NO_ANSWERS],
)
def test_no_answer(policy, attempt, remote_closed, may_resend, verdict, reason):
    decision = decide(
        policy,
        attempt,
        None,
        failure="why",
        remote_closed=remote_closed,
        may_resend=may_resend,
        retry_when=never_called,  # a request without an answer has no response to judge
    )
    assert decision == Decision(verdict, reason)


def test_the_step_models_are_valid_rules():
    """``decide`` reads a compiled step's model directly (no copy per request)."""
    from orchestra.plan import load_plan

    plan = load_plan(
        {"key": "k", "step": {"url": "http://x.invalid/", "abort_on": [401], "ignore_on": [404],
                              "retry": {"on_status": [503], "max_attempts": 2}}}
    )  # fmt: skip
    model = plan.steps[0].model
    assert decide(model, 1, 401).verdict is ABORT
    assert decide(model, 1, 404).verdict is IGNORE
    assert decide(model, 1, 503) == Decision(RETRY, "status 503")
    assert decide(model, 2, 503) == Decision(FAIL, "status 503")
    assert decide(model, 1, 200).verdict is ACCEPT


def failing(*failures: tuple[str, str]):
    return lambda: list(failures)


def not_reached():
    raise AssertionError("evaluated although an earlier check decided")


WRONG = ("status", "status 500 is not one of [200]")
FALSE = ("body.ok", "'body.ok' is not true")
CHECKS = [
    # (id, status, abort_when, expected_statuses, expectations, result)
    ("200 without checks passes", 200, None, None, None, None),
    ("an unhandled error status fails", 500, None, None, None,
     CheckFailed(FAIL, "answered 500")),
    ("a 3xx that reached the step passes", 304, None, None, None, None),
    ("abort_when true aborts", 200, always(True), None, None,
     CheckFailed(ABORT, "abort_when 'body.stop' is true")),
    ("abort_when wins over expect", 200, always(True), [200], not_reached,
     CheckFailed(ABORT, "abort_when 'body.stop' is true")),
    ("abort_when wins over an error status", 500, always(True), None, None,
     CheckFailed(ABORT, "abort_when 'body.stop' is true")),
    ("abort_when false goes on", 200, always(False), None, None, None),
    ("failed expectations fail, all of them named", 500, None, [200], failing(WRONG, FALSE),
     CheckFailed(FAIL, "expectation failed: status 500 is not one of [200]; "
                 "'body.ok' is not true", (WRONG, FALSE))),
    ("expect.status makes a listed error status fine", 404, None, [404], failing(), None),
    ("an expect without status still fails an error status", 500, None, None, failing(),
     CheckFailed(FAIL, "answered 500")),
    ("expectations that hold pass", 200, None, None, failing(), None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("status", "abort_when", "expected", "expectations", "result"),
    [row[1:] for row in CHECKS],
    ids=[row[0] for row in CHECKS],
)
def test_the_steps_own_checks(status, abort_when, expected, expectations, result):
    failed = check(
        status,
        abort_when=abort_when,
        abort_when_source="body.stop",
        expected_statuses=expected,
        expectations=expectations,
    )
    assert failed == result
