"""Serving: ``orchestra dashboard`` and :func:`orchestra.dashboard.serve` answer a browser."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import orchestra.dashboard
from orchestra.dashboard import Dashboard, serve
from tests.dashboard._browser import free_port
from tests.dashboard.conftest import Captured


def test_public_names():
    assert orchestra.dashboard.__all__ == sorted(orchestra.dashboard.__all__)
    assert set(orchestra.dashboard.__all__) == {
        "BuilderState", "Dashboard", "DashboardState", "FlowBuilder", "LiveFeed", "serve"
    }  # fmt: skip


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the server exited: {process.communicate()[0]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.2)
    raise AssertionError(f"nothing listened on {port} in {timeout} s")


@pytest.mark.timeout(180)
def test_orchestra_dashboard_serves_the_capture_file(captured: Captured):
    port = free_port()
    command = [sys.executable, "-m", "orchestra", "dashboard", "--db", str(captured.path),
               "--port", str(port)]  # fmt: skip
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        wait_for_port(port, server)
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=60)
        assert page.status_code == 200
        assert "<title>Orchestra dashboard</title>" in page.text
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0]
    assert f"Orchestra dashboard of {captured.path}" in output


def test_a_memory_capture_cannot_be_served():
    result = subprocess.run(
        [sys.executable, "-m", "orchestra", "dashboard", "--db", ":memory:"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "':memory:' holds nothing" in result.stderr


@pytest.fixture
def panel_sessions(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """serve() turns on Panel's session reuse and keeps a template session: undone after."""
    import panel as pn
    from panel.io.state import state

    monkeypatch.setattr(pn.config, "reuse_sessions", False)
    monkeypatch.setattr(state, "_sessions", {})
    monkeypatch.setattr(state, "_session_key_funcs", {})
    yield


@pytest.mark.timeout(120)
def test_serve_in_a_thread_answers_pages_from_the_template_built_off_the_event_loop(
    captured: Captured, panel_sessions: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    db = tmp_path / "capture.duckdb"  # this server's own file: another test's page is not it
    shutil.copy(captured.path, db)
    built_on: list[threading.Thread] = []
    make = Dashboard.__init__

    def recording(self: Dashboard, *args: Any, **kwargs: Any) -> None:
        make(self, *args, **kwargs)
        if self.state.db == str(db):
            built_on.append(threading.current_thread())

    monkeypatch.setattr(Dashboard, "__init__", recording)
    port = free_port()
    server = serve(db, port, threaded=True)  # as a notebook or a script does: .stop() ends it
    try:
        wait_for_port(port)
        # as the server starts: the template session's page, and a spare for the first page
        assert built_on == [threading.current_thread()] * 2
        for _ in range(2):  # the first takes the spare, the second (at once) makes its own
            page = httpx.get(f"http://127.0.0.1:{port}/", timeout=60)
            assert page.status_code == 200 and "Orchestra dashboard" in page.text
        deadline = time.monotonic() + 60
        while len(built_on) < 4 and time.monotonic() < deadline:  # its own, and a new spare
            time.sleep(0.1)
        # made for the pages, in worker threads: never on the server's loop (and nothing is
        # left half-built when the server stops: a stopped Bokeh loop leaves its curdoc)
        assert len(built_on) == 4
        assert all(thread not in (server, threading.current_thread()) for thread in built_on[2:])
    finally:
        server.stop()
