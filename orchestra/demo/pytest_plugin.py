"""pytest plugin (entry point ``orchestra_demo``): demo API fixtures.

* ``demo_api_server`` — one started :class:`~orchestra.demo.DemoAPI` per session.
* ``demo_api`` — that server, reset (counters, windows, resources) before each test.

Imports of the server are deferred so loading the plugin costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from orchestra.demo import DemoAPI


@pytest.fixture(scope="session")
def demo_api_server() -> Iterator[DemoAPI]:
    """A demo API started once for the test session, stopped at its end."""
    from orchestra.demo import start_demo_api

    server = start_demo_api()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def demo_api(demo_api_server: DemoAPI) -> DemoAPI:
    """The session's demo API, reset before the test."""
    demo_api_server.reset()
    return demo_api_server
