"""The dashboard as jupyter-server-proxy starts it: a private Unix socket, a URL prefix.

The command is the one :func:`orchestra.lab.dashboard_proxy` gives the proxy,
with its ``{unix_socket}`` and ``{base_url}`` fields filled in as the proxy
would; the served page must answer under the prefix on that socket.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from orchestra.lab import PROXY_NAME, dashboard_proxy

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(os.name != "posix", reason="Unix sockets: POSIX only"),
]


def test_the_proxied_dashboard_answers_on_a_private_socket_under_the_prefix(tmp_path: Path):
    spec = dashboard_proxy()
    assert spec["unix_socket"] is True and spec["absolute_url"] is True
    socket_path = tmp_path / "socket"
    command = [
        part.replace("{unix_socket}", str(socket_path)).replace("{base_url}", "/user/x/")
        for part in spec["command"]
    ]
    assert "{port}" not in command  # no TCP port that other local users could reach
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while not socket_path.exists():
            assert server.poll() is None, server.communicate()[0]
            assert time.monotonic() < deadline, "no socket in 90 s"
            time.sleep(0.2)
        transport = httpx.HTTPTransport(uds=str(socket_path))
        with httpx.Client(transport=transport, timeout=60) as client:
            db = tmp_path / "any.duckdb"
            page = client.get(f"http://localhost/user/x/{PROXY_NAME}/", params={"db": str(db)})
        assert page.status_code == 200
        assert "<title>Orchestra dashboard</title>" in page.text
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert f"unix:{socket_path}:/user/x/{PROXY_NAME}/" in output
