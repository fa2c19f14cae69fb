"""Circuit breakers, one per host (seeds 003/004), on the run's injectable clock.

States: ``closed`` (requests pass, failures are counted in a sliding window)
→ ``open`` (``failure_threshold`` failures within ``window_seconds``: every
request fails at once with :class:`~orchestra.errors.CircuitOpenError`) →
``half_open`` (after ``cooldown_seconds`` the next request is the one probe;
others still fail fast) → ``closed`` if the probe succeeds, ``open`` again
for a new cool-down if it fails. Every change is a ``BreakerStateChanged``
event and every fast failure a ``BreakerRejected`` event.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from orchestra.errors import CircuitOpenError
from orchestra.events import BreakerRejected, BreakerStateChanged, EventBus
from orchestra.plan import CircuitBreaker

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(slots=True)
class _Circuit:
    state: str = CLOSED
    failures: deque[float] = field(default_factory=deque)
    opened_at: float = 0.0
    probe_in_flight: bool = False


@dataclass(frozen=True, slots=True)
class Ticket:
    """Permission to send one request; ``probe`` marks the half-open probe."""

    host: str
    probe: bool = False


class Breakers:
    """The run's circuit breakers, keyed by ``host:port``."""

    def __init__(
        self,
        settings: CircuitBreaker,
        *,
        bus: EventBus,
        run_id: str,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.settings = settings
        self.bus = bus
        self.run_id = run_id
        self.clock = clock
        self._circuits: dict[str, _Circuit] = {}

    def state(self, host: str) -> str:
        """The state of ``host``'s circuit now (an expired cool-down reads ``half_open``)."""
        circuit = self._circuits.get(host)
        if circuit is None:
            return CLOSED
        if circuit.state == OPEN and self._cooled_down(circuit):
            return HALF_OPEN
        return circuit.state

    def is_failure(self, status_code: int | None) -> bool:
        """Whether an answer counts against the circuit (``None``: a transport error)."""
        if status_code is None:
            return self.settings.count_transport_errors
        return status_code in self.settings.failure_statuses

    def acquire(self, host: str, step_path: str, method: str, url: str) -> Ticket:
        """Let a request through or raise :class:`CircuitOpenError` (fail fast)."""
        circuit = self._circuits.setdefault(host, _Circuit())
        if circuit.state == CLOSED:
            return Ticket(host)
        if circuit.state == OPEN and self._cooled_down(circuit):
            self._move(circuit, host, HALF_OPEN, "cool-down over: one probe request", step_path)
        if circuit.state == HALF_OPEN and not circuit.probe_in_flight:
            circuit.probe_in_flight = True
            return Ticket(host, probe=True)
        retry_in = None
        if circuit.state == OPEN:
            retry_in = max(0.0, circuit.opened_at + self.settings.cooldown_seconds - self.clock())
            why = f"open after {len(circuit.failures)} failures; next probe in {retry_in:.1f}s"
        else:
            why = "half-open and its one probe request is in flight"
        self.bus.emit(
            BreakerRejected(
                run_id=self.run_id,
                at=time.time(),
                step_path=step_path,
                host=host,
                method=method,
                url=url,
                state=circuit.state,
                retry_in_seconds=retry_in,
            )
        )
        raise CircuitOpenError(
            f"circuit breaker for {host} is {why}; the request was not sent",
            host=host,
            retry_in_seconds=retry_in,
            fix="the host keeps failing: check it, or tune circuit_breaker "
            "(failure_threshold, window_seconds, cooldown_seconds)",
        )

    def record(self, ticket: Ticket, *, failed: bool, step_path: str) -> None:
        """Count the outcome of a request sent with ``ticket``."""
        circuit = self._circuits.setdefault(ticket.host, _Circuit())
        now = self.clock()
        if ticket.probe:
            circuit.probe_in_flight = False
            if failed:
                circuit.failures.append(now)
                circuit.opened_at = now
                self._move(circuit, ticket.host, OPEN, "the probe request failed", step_path)
            else:
                circuit.failures.clear()
                self._move(circuit, ticket.host, CLOSED, "the probe request succeeded", step_path)
            return
        if circuit.state != CLOSED or not failed:
            return  # answers of requests sent before the circuit opened change nothing
        failures = circuit.failures
        failures.append(now)
        while failures and now - failures[0] > self.settings.window_seconds:
            failures.popleft()
        if len(failures) >= self.settings.failure_threshold:
            circuit.opened_at = now
            window = self.settings.window_seconds
            reason = f"{len(failures)} failures within {window:g}s"
            self._move(circuit, ticket.host, OPEN, reason, step_path)

    def release(self, ticket: Ticket) -> None:
        """The request was cancelled before an answer: a probe slot is freed, nothing counted."""
        if ticket.probe:
            circuit = self._circuits.get(ticket.host)
            if circuit is not None:
                circuit.probe_in_flight = False

    def _cooled_down(self, circuit: _Circuit) -> bool:
        return self.clock() - circuit.opened_at >= self.settings.cooldown_seconds

    def _move(self, circuit: _Circuit, host: str, state: str, reason: str, step_path: str):
        old, circuit.state = circuit.state, state
        self.bus.emit(
            BreakerStateChanged(
                run_id=self.run_id,
                at=time.time(),
                host=host,
                old_state=old,
                new_state=state,
                failures=len(circuit.failures),
                reason=reason,
                step_path=step_path,
            )
        )
