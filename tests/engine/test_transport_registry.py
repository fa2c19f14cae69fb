"""Transports are found by name (``_transports.py``): built-ins, registered ones, entry points."""

from __future__ import annotations

import asyncio
import importlib.metadata

import pytest

import orchestra
from orchestra import RunStatus
from orchestra.engine import (
    DirectTransport,
    RawResponse,
    _transports,
    register_transport,
    transport_names,
)
from orchestra.engine._transport import AiohttpTransport, default_transport
from orchestra.errors import ConnectError
from orchestra.events import ResponseReceived


class CannedTransport(DirectTransport):
    """A third party's transport: answers every request itself, or refuses to connect."""

    def __init__(self, max_connections: int, *, refuse: bool = False):
        self.max_connections = max_connections
        self.refuse = refuse
        self.sent: list[tuple[str, str]] = []

    async def fetch(self, method, url, headers, body, *, max_bytes):
        self.sent.append((method, url))
        if self.refuse:
            raise ConnectError("cannot connect: canned refusal")
        return RawResponse(200, {"content-type": "application/json"}, b'{"canned": true}', url)

    async def aclose(self) -> None:
        pass


@pytest.fixture
def registry(monkeypatch):
    """The registry as it is, restored after the test."""
    monkeypatch.setattr(_transports, "_factories", dict(_transports._factories))
    monkeypatch.setattr(_transports, "_entry_points_read", _transports._entry_points_read)
    return _transports


def test_the_built_ins_are_registered_in_code(registry):
    assert {"aiohttp", "reqwest"} <= set(transport_names())
    assert type(registry.transport_factory("aiohttp")(3)) is AiohttpTransport
    assert type(registry.transport_factory(" AIOHTTP ")(3)) is AiohttpTransport


def test_a_third_party_transport_runs_a_plan_by_name(registry, monkeypatch):
    made: list[CannedTransport] = []

    def factory(max_connections: int) -> CannedTransport:
        made.append(CannedTransport(max_connections))
        return made[-1]

    register_transport("Canned", factory)
    assert "canned" in transport_names()
    monkeypatch.setenv("ORCHESTRA_TRANSPORT", "canned")
    plan = {"key": "c", "step": {"url": "http://api.invalid/things", "extract": {"c": "canned"}}}
    result = orchestra.run(plan, db=None)
    assert result.status is RunStatus.SUCCEEDED
    assert made[0].sent == [("GET", "http://api.invalid/things")]


def test_a_third_party_transport_raises_the_neutral_errors(registry, monkeypatch):
    register_transport("refusing", lambda n: CannedTransport(n, refuse=True))
    monkeypatch.setenv("ORCHESTRA_TRANSPORT", "refusing")
    events: list = []
    plan = {"key": "r", "step": {"url": "http://api.invalid/x", "retry": {"max_attempts": 2}}}
    result = asyncio.run(orchestra.Runner(plan, subscribers=[events.append]).run())
    assert result.status is RunStatus.FAILED
    assert "failed after 2 attempts: cannot connect: canned refusal" in str(result.error)
    errors = [e.error for e in events if isinstance(e, ResponseReceived)]
    assert errors == ["cannot connect: canned refusal"] * 2


def test_an_unknown_name_lists_the_known_ones(registry, monkeypatch):
    monkeypatch.setenv("ORCHESTRA_TRANSPORT", "curl")
    with pytest.raises(ValueError, match="ORCHESTRA_TRANSPORT") as caught:
        default_transport(10)
    assert "'aiohttp', 'reqwest'" in str(caught.value) and "'curl'" in str(caught.value)


def test_entry_points_are_found_and_loaded_when_used(registry, monkeypatch):
    point = importlib.metadata.EntryPoint(
        name="from-entry-point",
        value="tests.engine.test_transport_registry:CannedTransport",
        group=_transports.ENTRY_POINT_GROUP,
    )
    aiohttp_point = importlib.metadata.EntryPoint(
        name="aiohttp", value="no.such.module:Nothing", group=_transports.ENTRY_POINT_GROUP
    )
    groups: list[str] = []

    def fake_entry_points(*, group):
        groups.append(group)
        return [point, aiohttp_point]

    monkeypatch.setattr(_transports, "entry_points", fake_entry_points)
    monkeypatch.setattr(_transports, "_entry_points_read", False)
    transport = registry.transport_factory("from-entry-point")(7)
    assert type(transport) is CannedTransport and transport.max_connections == 7
    assert groups == ["orchestra.transports"]
    # a name registered in code wins over an entry point of the same name
    assert type(registry.transport_factory("aiohttp")(1)) is AiohttpTransport
    assert "from-entry-point" in transport_names() and groups == ["orchestra.transports"]
