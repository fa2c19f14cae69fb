"""Fixtures of the fault matrix: the hostile server, one per session, reset per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.hostile_server import HostileServer


@pytest.fixture(scope="session")
def hostile_server() -> Iterator[HostileServer]:
    server = HostileServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hostile(hostile_server: HostileServer) -> HostileServer:
    """The session's hostile server with its request counts set to zero."""
    hostile_server.reset()
    return hostile_server
