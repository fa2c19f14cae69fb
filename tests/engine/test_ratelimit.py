"""The rate limiter: sliding windows per scope, header-driven waits, max_wait."""

import asyncio

import pytest

from orchestra.engine._ratelimit import RateLimiter
from orchestra.errors import RateLimitExceeded
from orchestra.plan import RateLimit


class FakeTime:
    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def limiter(rules, fake, waits=None):
    return RateLimiter(
        rules,
        clock=fake.clock,
        sleep=fake.sleep,
        on_wait=(lambda step, delay, reason: waits.append((delay, reason)))
        if waits is not None
        else None,
    )


def test_window_allows_n_requests_then_waits_for_the_oldest_to_expire():
    fake, waits = FakeTime(), []
    rl = limiter([RateLimit(requests=3, window_secs=2)], fake, waits)

    async def go():
        times = []
        for _ in range(7):
            await rl.acquire("s", "GET /x", "api")
            times.append(fake.now - 100)
        return times

    times = asyncio.run(go())
    assert times == [0, 0, 0, 2, 2, 2, 4]
    assert len(waits) == 2
    assert "3 requests per 2s" in waits[0][1]


def test_per_endpoint_windows_are_separate_and_per_config_is_shared():
    fake = FakeTime()
    per_endpoint = limiter([RateLimit(requests=1, window_secs=5, scope="per_endpoint")], fake)
    shared = limiter([RateLimit(requests=1, window_secs=5)], fake)

    async def go():
        await per_endpoint.acquire("a", "GET /a", "api")
        await per_endpoint.acquire("b", "GET /b", "api")
        assert fake.sleeps == []
        await shared.acquire("a", "GET /a", "api")
        await shared.acquire("b", "GET /b", "api")
        assert fake.sleeps == [5]

    asyncio.run(go())


def test_retry_after_and_exhausted_remaining_block_the_host():
    fake = FakeTime()
    rl = limiter([], fake)

    async def go():
        rl.observe("api", 429, {"retry-after": "3"})
        await rl.acquire("s", "GET /x", "api")
        assert fake.sleeps == [3]
        rl.observe("api", 200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "4"})
        await rl.acquire("s", "GET /x", "other-host")
        assert fake.sleeps == [3]
        await rl.acquire("s", "GET /x", "api")
        assert fake.sleeps == [3, 4]

    asyncio.run(go())


def test_a_wait_longer_than_max_wait_fails():
    fake = FakeTime()
    rl = limiter([RateLimit(requests=1, window_secs=120, max_wait=60)], fake)

    async def go():
        await rl.acquire("s", "GET /x", "api")
        with pytest.raises(RateLimitExceeded, match="max_wait"):
            await rl.acquire("s", "GET /x", "api")

    asyncio.run(go())
