"""Engine unit tests run plans over ``httpx.MockTransport``; sleeps are recorded, not slept."""

from __future__ import annotations

import httpx
import pytest

import orchestra


class Sleeps(list):
    """A fake ``asyncio.sleep`` that records each delay, advances a fake clock, returns."""

    def __init__(self):
        super().__init__()
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.now += seconds


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def run_mock(sleeps):
    """``run_mock(plan, handler, **options)`` runs a plan against a handler function."""

    def run(plan, handler, **options):
        options.setdefault("sleep", sleeps)
        options.setdefault("clock", sleeps.clock)
        return orchestra.run(plan, transport=httpx.MockTransport(handler), **options)

    return run
