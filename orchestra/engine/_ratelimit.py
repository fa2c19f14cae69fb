"""Rate limiting: request windows per scope plus waits the API asks for in headers.

Rules (seed 002 ``rate_limits``) are sliding windows: at most ``requests`` in
any ``window_secs``. Scopes: ``per_config`` (one window for the run),
``per_endpoint`` (one per step URL template) and ``global`` (shared by every
run in this process). Headers adjust on top: ``X-RateLimit-Remaining: 0``
with ``X-RateLimit-Reset`` and a 429's ``Retry-After`` close the host until
then. A wait longer than ``max_wait`` fails with :class:`RateLimitExceeded`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping

from orchestra.engine._backoff import parse_retry_after
from orchestra.errors import RateLimitExceeded
from orchestra.plan import RateLimit

DEFAULT_MAX_WAIT = 60.0
_EPOCH_THRESHOLD = 1_000_000_000  # X-RateLimit-Reset above this is a Unix time


class _Window:
    __slots__ = ("hits", "requests", "window")

    def __init__(self, requests: int, window: float):
        self.requests = requests
        self.window = window
        self.hits: deque[float] = deque()

    def wait_needed(self, now: float) -> float:
        hits = self.hits
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) < self.requests:
            return 0.0
        return hits[0] + self.window - now


_GLOBAL_WINDOWS: dict[tuple[int, float], _Window] = {}

WaitListener = Callable[[str, float, str], None]


class RateLimiter:
    """Decides how long a request must wait; one instance per run."""

    def __init__(
        self,
        rules: list[RateLimit],
        *,
        on_wait: WaitListener | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.rules = sorted(rules, key=lambda r: r.priority, reverse=True)
        self.on_wait = on_wait
        self.clock = clock
        self.sleep = sleep
        self._windows: dict[tuple[int, str], _Window] = {}
        self._host_blocked_until: dict[str, float] = {}
        self.max_wait = min((r.max_wait for r in rules), default=DEFAULT_MAX_WAIT)

    @property
    def active(self) -> bool:
        return bool(self.rules) or bool(self._host_blocked_until)

    def _window(self, index: int, rule: RateLimit, endpoint: str) -> _Window:
        if rule.scope == "global":
            key = (rule.requests, rule.window_secs)
            window = _GLOBAL_WINDOWS.get(key)
            if window is None:
                window = _GLOBAL_WINDOWS[key] = _Window(rule.requests, rule.window_secs)
            return window
        bucket = endpoint if rule.scope == "per_endpoint" else ""
        window = self._windows.get((index, bucket))
        if window is None:
            window = self._windows[(index, bucket)] = _Window(rule.requests, rule.window_secs)
        return window

    async def acquire(self, step_path: str, endpoint: str, host: str) -> None:
        """Wait until the request may go; records it in every window."""
        if not self.rules and not self._host_blocked_until:
            return
        while True:
            now = self.clock()
            wait, reason, max_wait = 0.0, "", self.max_wait
            blocked = self._host_blocked_until.get(host, 0.0) - now
            if blocked > 0:
                wait, reason = blocked, f"API asked to wait ({host})"
            windows = []
            for index, rule in enumerate(self.rules):
                window = self._window(index, rule, endpoint)
                windows.append(window)
                needed = window.wait_needed(now)
                if needed > wait:
                    wait = needed
                    reason = f"{rule.requests} requests per {rule.window_secs:g}s ({rule.scope})"
                    max_wait = rule.max_wait
            if wait <= 0:
                for window in windows:
                    window.hits.append(now)
                return
            if wait > max_wait:
                raise RateLimitExceeded(
                    f"rate limit needs a wait of {wait:.1f}s, more than max_wait {max_wait:g}s "
                    f"({reason})",
                    step_path=step_path,
                    fix="lower the request rate or raise max_wait in rate_limits",
                )
            if self.on_wait:
                self.on_wait(step_path, wait, reason)
            await self.sleep(wait)

    def observe(self, host: str, status_code: int, headers: Mapping[str, str]) -> None:
        """Learn from response headers: ``Retry-After`` and ``X-RateLimit-*``."""
        until = None
        if status_code in (429, 503):
            retry_after = parse_retry_after(headers.get("retry-after"))
            if retry_after is not None:
                until = self.clock() + retry_after
        remaining = headers.get("x-ratelimit-remaining")
        if until is None and remaining is not None and remaining.strip() in ("0", "0.0"):
            reset = headers.get("x-ratelimit-reset")
            seconds = _reset_seconds(reset)
            if seconds is not None:
                until = self.clock() + seconds
        if until is not None:
            self._host_blocked_until[host] = max(until, self._host_blocked_until.get(host, 0.0))


def _reset_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if number > _EPOCH_THRESHOLD:
        number -= time.time()
    return max(0.0, number)
