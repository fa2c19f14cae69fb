"""A real JupyterLab server and a headless Chromium page on it, for the Lab browser tests.

``jupyter lab`` runs in a subprocess on a free port with a token, over a
temporary root holding an empty notebook, with its configuration, settings and
workspaces kept in that temporary tree so nothing of the user's Lab leaks in.
The page (Debian's Chromium through Playwright) can reach only the local
server: every other request is aborted, as on a machine without internet, and
console errors are collected so a test can assert there were none.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.dashboard._browser import ARTIFACTS, chromium, free_port

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
EMPTY_NOTEBOOK = {
    "cells": [],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}

# The current widget's kernel is connected and idle (window.jupyterapp: expose_app_in_browser).
KERNEL_IDLE_JS = """() => {
  const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = widget && widget.sessionContext && widget.sessionContext.session
    && widget.sessionContext.session.kernel;
  return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""
# No "get notified about Jupyter news?" toast over the screenshots.
USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}


@dataclass
class LabServer:
    """A running ``jupyter lab``: its base URL (no token), token, root directory and log."""

    url: str
    token: str
    root: Path
    log: Path


@dataclass
class Lab:
    """What a Lab browser test gets: the page, the server URL, its root, the console errors."""

    page: Any
    url: str
    root: Path
    token: str
    console_errors: list[str] = field(default_factory=list)

    def open(self, path: str = "notebook.ipynb", *, timeout: float = 60_000) -> None:
        """Open ``path`` (relative to the root) in Lab and wait for the shell and its kernel."""
        self.page.goto(f"{self.url}lab/tree/{path}?token={self.token}&reset")
        self.page.wait_for_selector(".jp-LabShell", timeout=timeout)
        if path.endswith(".ipynb"):
            self.page.wait_for_selector(".jp-Notebook", timeout=timeout)
            self.wait_for_kernel_idle(timeout=timeout)

    def wait_for_kernel_idle(self, *, timeout: float = 60_000) -> None:
        """Wait until the current notebook's kernel is connected and idle."""
        self.page.wait_for_function(KERNEL_IDLE_JS, timeout=timeout)

    def screenshot(self, name: str) -> Path:
        """Save a full-page screenshot under the test artifacts directory; returns its path."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"lab-{name}.png"
        self.page.screenshot(path=str(path))
        return path


def write_notebook(path: Path, sources: list[str] | None = None) -> Path:
    """A notebook at ``path`` with one code cell per source (none: an empty notebook)."""
    notebook = json.loads(json.dumps(EMPTY_NOTEBOOK))
    notebook["cells"] = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"cell{index}",
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for index, source in enumerate(sources or [])
    ]
    path.write_text(json.dumps(notebook, indent=1))
    return path


@contextlib.contextmanager
def jupyter_lab(root: Path, home: Path, log: Path) -> Iterator[LabServer]:
    """``jupyter lab`` serving ``root`` on 127.0.0.1 with a token; ``home`` holds its state."""
    port = free_port()
    token = secrets.token_hex(16)
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
    )
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        "--LabApp.news_url=",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, for the tests to wait on
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if os.geteuid() == 0:  # CI containers run as root
        command.append("--allow-root")
    url = f"http://127.0.0.1:{port}/"
    for name, settings in USER_SETTINGS.items():
        path = home / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    with log.open("wb") as output:
        server = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=root
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"jupyter lab exited: {log.read_text()}")
                status = f"{url}api/status?token={token}"
                with contextlib.suppress(OSError), urllib.request.urlopen(status, timeout=2):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab did not answer in 90 s: {log.read_text()}")
                time.sleep(0.3)
            yield LabServer(url, token, root, log)
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(10)


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"data", "blob", "about"} or parts.hostname in LOCAL_HOSTS


@contextlib.contextmanager
def lab_page(server: LabServer) -> Iterator[Lab]:
    """A Chromium page on ``server`` with only local requests allowed and console errors kept."""
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        lab = Lab(page=None, url=server.url, root=server.root, token=server.token)

        def route(route: Any) -> None:
            if _is_local(route.request.url):
                route.continue_()
            else:
                route.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on(
            "console",
            lambda message: (
                lab.console_errors.append(message.text) if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: lab.console_errors.append(f"pageerror: {error}"))
        lab.page = page
        try:
            yield lab
        finally:
            context.close()
