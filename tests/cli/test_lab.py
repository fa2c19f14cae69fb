"""``orchestra lab``: JupyterLab on the quickstart notebook, other options passed to Jupyter."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from orchestra.cli._lab import COPY_NAME, QUICKSTART, lab_command, quickstart_notebook
from tests.dashboard._browser import free_port

REPO = Path(__file__).resolve().parents[2]


def test_from_the_checkout_it_opens_the_quickstart_and_passes_options_on():
    command, note = lab_command(["--port", "9999", "--no-browser"], REPO)
    assert command[:3] == [sys.executable, "-m", "jupyterlab"]
    assert command[3:6] == ["--port", "9999", "--no-browser"]
    assert command[-1] == QUICKSTART.as_posix()
    assert f"--ServerApp.root_dir={REPO}" in command
    assert note == ""
    assert quickstart_notebook() == REPO / QUICKSTART


def test_a_path_among_the_options_is_opened_instead(tmp_path):
    (tmp_path / "mine.ipynb").write_text("{}")
    command, note = lab_command(["mine.ipynb"], tmp_path)
    assert command == [sys.executable, "-m", "jupyterlab", "mine.ipynb"]
    assert note == ""


def test_elsewhere_it_opens_a_copy_of_the_quickstart_made_once(tmp_path):
    command, note = lab_command(["--no-browser"], tmp_path)
    copy = tmp_path / COPY_NAME
    assert command == [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        f"--ServerApp.root_dir={tmp_path.resolve()}", COPY_NAME,
    ]  # fmt: skip
    assert note == f"orchestra lab: copied the quickstart notebook to {copy}"
    assert copy.read_bytes() == (REPO / QUICKSTART).read_bytes()

    copy.write_text("{}")  # the user's edits are never overwritten
    command, note = lab_command([], tmp_path)
    assert command[-1] == COPY_NAME and note == ""
    assert copy.read_text() == "{}"


@pytest.mark.timeout(180)
def test_orchestra_lab_starts_jupyterlab_on_the_quickstart(tmp_path):
    port = free_port()
    token = "orchestra-lab-test"
    runtime = tmp_path / "runtime"
    command = [sys.executable, "-m", "orchestra", "lab", "--no-browser", f"--port={port}",
               f"--IdentityProvider.token={token}", "--port-retries=0"]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime), "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.communicate()[0]
            with contextlib.suppress(httpx.HTTPError):
                status = httpx.get(f"http://127.0.0.1:{port}/api/status?token={token}")
                if status.status_code == 200:
                    break
            assert time.monotonic() < deadline, "jupyter lab did not answer in 120 s"
            time.sleep(0.3)
        notebook = httpx.get(
            f"http://127.0.0.1:{port}/api/contents/{QUICKSTART.as_posix()}?token={token}"
        )
        assert notebook.status_code == 200  # served from the checkout's root
        # The page Jupyter opens in the browser goes to the quickstart notebook.
        (opener,) = runtime.glob("jpserver-file-to-run-*-open.html")
        assert f"/lab/tree/{QUICKSTART.as_posix()}?token={token}" in opener.read_text()
    finally:
        server.terminate()
        server.communicate(timeout=30)
