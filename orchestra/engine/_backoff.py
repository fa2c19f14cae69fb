"""Retry backoff: Fibonacci (seed 002 default), exponential and constant, with jitter."""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

from orchestra.plan import Retry


def _fibonacci(n: int) -> int:
    a, b = 1, 1
    for _ in range(n - 1):
        a, b = b, a + b
    return a


def backoff_seconds(policy: Retry, retry_number: int, cap: float, rng=random.random) -> float:
    """Wait before retry number ``retry_number`` (1 = first retry), jittered, capped."""
    if policy.backoff == "fibonacci":
        units = _fibonacci(retry_number)
    elif policy.backoff == "exponential":
        units = 2 ** (retry_number - 1)
    else:
        units = 1
    delay = policy.base_seconds * units
    if policy.jitter:
        delay *= 1 + policy.jitter * (2 * rng() - 1)
    return max(0.0, min(delay, cap))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))
