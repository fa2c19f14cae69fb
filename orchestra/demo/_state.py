"""Settings and mutable state of one demo API server instance.

All state lives on a :class:`DemoState` owned by one server; handlers reach it
through ``request.app[STATE]``. It is only touched from the server's event
loop, so it needs no locks: other threads go through ``DemoAPI.stats()`` and
``DemoAPI.reset()``, which schedule the call on that loop.
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from orchestra.demo import _data

ITEMS_CACHE_MAX_BYTES = 32 * 1024 * 1024
EMPTY_LIST = orjson.Fragment(b"[]")


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """Behaviour knobs of a demo server (all have working defaults)."""

    total_items: int = 1000
    total_contacts: int = 250
    total_tickets: int = 100
    token_ttl_seconds: float = 3600
    rate_limit: int = 5
    rate_window_seconds: float = 1.0
    static_token: str = "demo-static-token"
    api_key: str = "demo-api-key"
    client_id: str = "demo-client"
    client_secret: str = "demo-secret"
    basic_username: str = "demo"
    basic_password: str = "demo-password"


@dataclass(slots=True)
class RateWindow:
    """One fixed rate-limit window: when it started and how many calls it allowed."""

    started: float
    count: int = 0


@dataclass(slots=True)
class FailSwitch:
    """Makes requests whose path starts with ``path_prefix`` answer ``status``."""

    path_prefix: str
    status: int
    methods: frozenset[str] | None = None  # None means every method

    def matches(self, method: str, path: str) -> bool:
        """Whether a request with this method and path should be failed."""
        if self.methods is not None and method not in self.methods:
            return False
        return path.startswith(self.path_prefix)


@dataclass(slots=True)
class ResourceStore:
    """An in-memory collection (orders, payments, shipments) with sequential ids."""

    prefix: str
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    next_number: int = 1

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Store ``body`` under a new id ``<prefix>-<n>`` and return the record."""
        record_id = f"{self.prefix}-{self.next_number}"
        self.next_number += 1
        record = {"id": record_id, **{k: v for k, v in body.items() if k != "id"}}
        self.records[record_id] = record
        return record

    def clear(self) -> None:
        """Forget every record and restart numbering at 1."""
        self.records.clear()
        self.next_number = 1


@dataclass(slots=True)
class TicketStore:
    """The ``/tickets`` collection for incremental sync: every write moves ``updated_at``.

    Ticket ``i`` of the initial ``initial`` starts at :func:`_data.updated_at` ``(i)``;
    each create or update stamps the record one hour after the latest stamp so far,
    so a change is always newer than everything a previous run has seen.
    """

    initial: int
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    clock: int = 0

    def __post_init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Back to the initial tickets ``1`` .. ``initial``."""
        self.records = {i: _data.ticket(i) for i in range(1, self.initial + 1)}
        self.clock = self.initial

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """A new ticket with the next id, ``body``'s fields and a fresh ``updated_at``."""
        number = max(self.records, default=0) + 1
        record = {**_data.ticket(number), **_client_fields(body)}
        record["updated_at"] = self._tick()
        self.records[number] = record
        return record

    def update(self, number: int, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Merge ``changes`` into ticket ``number`` and restamp it; None if unknown."""
        record = self.records.get(number)
        if record is None:
            return None
        record.update(_client_fields(changes))
        record["updated_at"] = self._tick()
        return record

    def updated_after(self, since: datetime | None) -> list[dict[str, Any]]:
        """Tickets updated strictly after ``since`` (all if None), oldest change first."""
        chosen = [
            r
            for r in self.records.values()
            if since is None or _data.parse_time(r["updated_at"]) > since
        ]
        return sorted(chosen, key=lambda r: (r["updated_at"], r["id"]))

    def _tick(self) -> str:
        self.clock += 1
        return _data.updated_at(self.clock)


def _client_fields(body: dict[str, Any]) -> dict[str, Any]:
    """What a client may set on a ticket: everything but ``id`` and ``updated_at``."""
    return {k: v for k, v in body.items() if k not in ("id", "updated_at")}


class DemoState:
    """Everything a demo server remembers between requests."""

    def __init__(self, settings: DemoSettings | None = None) -> None:
        self.settings = settings or DemoSettings()
        # access token -> monotonic expiry; refresh token -> client id
        self.access_tokens: dict[str, float] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.requests_total = 0
        self.by_path: defaultdict[str, int] = defaultdict(int)
        self.token_requests = 0
        self.token_grants: defaultdict[str, int] = defaultdict(int)
        self.logins = 0
        self.flaky_attempts: defaultdict[str, int] = defaultdict(int)
        self.rate_windows: dict[str, RateWindow] = {}
        self.retry_after_hits: defaultdict[str, list[float]] = defaultdict(list)
        self.fail_switches: dict[str, FailSwitch] = {}
        self.orders = ResourceStore("ord")
        self.payments = ResourceStore("pay")
        self.shipments = ResourceStore("shp")
        self.tickets = TicketStore(self.settings.total_tickets)
        self._items_cache: dict[tuple[int, int], orjson.Fragment] = {}
        self._items_cache_bytes = 0

    # -- data -------------------------------------------------------------

    def items_json(self, start: int, stop: int) -> orjson.Fragment:
        """Items ``start`` .. ``stop - 1`` already serialised, for embedding with orjson.

        Pages repeat a lot (benchmarks walk the same collection again and
        again), so serialised ranges are cached, up to about 32 MB per server.
        """
        if stop <= start:
            return EMPTY_LIST
        key = (start, stop)
        cached = self._items_cache.get(key)
        if cached is None:
            encoded = orjson.dumps(_data.items(start, stop))
            if self._items_cache_bytes + len(encoded) > ITEMS_CACHE_MAX_BYTES:
                self._items_cache.clear()
                self._items_cache_bytes = 0
            cached = self._items_cache[key] = orjson.Fragment(encoded)
            self._items_cache_bytes += len(encoded)
        return cached

    # -- statistics -------------------------------------------------------

    def count_request(self, path: str) -> None:
        """Record one request for ``/_stats``."""
        self.requests_total += 1
        self.by_path[path] += 1

    def stats(self) -> dict[str, Any]:
        """A snapshot of the request counters (the body of ``GET /_stats``)."""
        return {
            "requests_total": self.requests_total,
            "by_path": dict(self.by_path),
            "token_requests": self.token_requests,
            "token_grants": dict(self.token_grants),
            "logins": self.logins,
        }

    def reset(self) -> None:
        """Forget counters, flaky counters, rate windows, retry-after hits,
        fail switches, issued tokens, orders, payments, shipments and tickets."""
        self.requests_total = 0
        self.by_path.clear()
        self.token_requests = 0
        self.token_grants.clear()
        self.logins = 0
        self.flaky_attempts.clear()
        self.rate_windows.clear()
        self.retry_after_hits.clear()
        self.fail_switches.clear()
        self.access_tokens.clear()
        self.refresh_tokens.clear()
        self.orders.clear()
        self.payments.clear()
        self.shipments.clear()
        self.tickets.clear()

    # -- tokens -----------------------------------------------------------

    def issue_tokens(self, client_id: str) -> tuple[str, str]:
        """Create an access token (expiring after the ttl) and a refresh token."""
        now = time.monotonic()
        if len(self.access_tokens) > 10_000:
            self.access_tokens = {t: exp for t, exp in self.access_tokens.items() if exp > now}
        access = secrets.token_urlsafe(24)
        refresh = secrets.token_urlsafe(24)
        self.access_tokens[access] = now + self.settings.token_ttl_seconds
        self.refresh_tokens[refresh] = client_id
        return access, refresh

    def expire_tokens(self) -> int:
        """Make every issued access token expired now (refresh tokens stay valid)."""
        now = time.monotonic()
        live = [token for token, expiry in self.access_tokens.items() if expiry > now]
        for token in live:
            self.access_tokens[token] = now
        return len(live)

    def token_problem(self, token: str) -> str | None:
        """Why ``token`` is refused (``"expired"``, ``"unknown"``), or None if it is valid.

        The static token is always valid; issued tokens expire after the ttl.
        """
        if secrets.compare_digest(token.encode(), self.settings.static_token.encode()):
            return None
        expiry = self.access_tokens.get(token)
        if expiry is None:
            return "unknown"
        return None if time.monotonic() < expiry else "expired"


STATE = web.AppKey("orchestra_demo_state", DemoState)
"""Where :func:`orchestra.demo.build_app` keeps the :class:`DemoState`."""
