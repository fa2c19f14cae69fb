"""State shared by everything that runs inside one run."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from orchestra.engine._auth import Authenticator
from orchestra.engine._ratelimit import RateLimiter
from orchestra.engine._send import Sender, sender_for
from orchestra.events import EventBus
from orchestra.masking import Masker
from orchestra.plan import CompiledPlan, Limits

if TYPE_CHECKING:
    from orchestra.engine._breaker import Breakers
    from orchestra.engine._capping import Capping
    from orchestra.engine._saga import Saga


@dataclass(slots=True)
class RunContext:
    """One run's shared state: client, limits, scopes, counters, event bus."""

    run_id: str
    plan: CompiledPlan
    client: httpx.AsyncClient
    bus: EventBus
    masker: Masker
    config: dict[str, Any]
    auth: Authenticator
    limiter: RateLimiter
    context: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, Any] = field(default_factory=dict)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    breakers: Breakers | None = None
    saga: Saga | None = None
    capping: Capping | None = None  # a test read's caps (``ReadCaps``); None: read everything
    _exchange_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _execution_ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _sender: Sender | None = None

    @property
    def limits(self) -> Limits:
        return self.plan.model.limits

    def sender(self) -> Sender:
        """How requests go out: straight to a direct transport, else through httpx."""
        sender = self._sender
        if sender is None:
            sender = self._sender = sender_for(self.client)
        return sender

    def next_exchange_id(self) -> int:
        return next(self._exchange_ids)

    def next_execution_id(self) -> str:
        return f"{self.run_id}:{next(self._execution_ids)}"

    def base_scope(self) -> dict[str, Any]:
        """The scope every template sees; step-specific names are added on top."""
        return {
            "config": self.config,
            "auth": self.auth.scope,
            "context": self.context,
            "steps": self.steps,
        }

    @staticmethod
    def now() -> float:
        return time.time()
