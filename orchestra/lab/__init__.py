"""JupyterLab's side of Orchestra on the server: the dashboard behind the Jupyter server.

jupyter-server-proxy reads :func:`dashboard_proxy` (the
``jupyter_serverproxy_servers`` entry point) and starts ``orchestra dashboard``
the first time ``<base_url>orchestra-dashboard/`` is asked for, then forwards
HTTP and the Bokeh websocket to it behind Jupyter's own login. On POSIX the
dashboard listens on a Unix socket in a private temporary folder rather than
a TCP port, so no other local user can reach it around that login.
Each tab names its capture file and run in the URL (``?db=…&run=…``), which is
how the Lab extension's "Orchestra dashboard" tab opens the capture of the
directory it was opened from. The browser side is the TypeScript extension in
``extension/``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

#: Where the dashboard answers, under the Jupyter server's base URL.
PROXY_NAME = "orchestra-dashboard"


def dashboard_proxy() -> dict[str, Any]:
    """The jupyter-server-proxy server of the dashboard (the ``{…}`` fields are filled in)."""
    private_socket = os.name == "posix"
    listen = ["--unix-socket", "{unix_socket}"] if private_socket else ["--port", "{port}"]
    return {
        "command": [
            sys.executable,
            "-m",
            "orchestra",
            "dashboard",
            "--host",
            "127.0.0.1",
            *listen,
            "--prefix",
            "{base_url}" + PROXY_NAME,
            # The page comes from the Jupyter server's host, whatever it is; only
            # logged-in Jupyter users get through the proxy.
            "--allow-websocket-origin",
            "*",
            "--db-from-url",
        ],
        # The full path reaches the dashboard, which serves under the same prefix.
        "absolute_url": True,
        "timeout": 120,
        # The extension's own launcher card opens it with the capture file in the URL.
        "launcher_entry": {"enabled": False},
        "new_browser_tab": False,
        **({"unix_socket": True} if private_socket else {}),
    }


__all__ = ["PROXY_NAME", "dashboard_proxy"]
