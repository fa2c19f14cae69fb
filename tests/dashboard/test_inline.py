"""Inline in a notebook: a real kernel shows the dashboard; its poller runs on the kernel loop.

A click in the browser is a comm message that JupyterLab sends on a kernel
subshell; the dashboard must handle it on the kernel's loop, where the poller
changes the same document, never on the subshell's thread.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import orchestra
from tests.notebook.kernel import KernelSession

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[KernelSession]:
    session = KernelSession(tmp_path)
    try:
        yield session
    finally:
        session.shutdown()


def test_displaying_the_dashboard_renders_it_and_follows_new_runs(kernel, demo_api, tmp_path):
    db = tmp_path / "inline.duckdb"
    plan = {"key": "inline", "steps": [{"name": "one", "url": f"{demo_api.url}/items/1"}]}
    first = orchestra.run(plan, db=db)
    cell = kernel.run(
        "from orchestra.dashboard import Dashboard\n"
        f"dashboard = Dashboard(db={str(db)!r}, refresh_interval=0.2)\n"
        "dashboard",
        timeout=180,
    ).check()
    assert "application/vnd.holoviews_exec.v0+json" in cell.mimes()  # Panel's notebook output
    assert "Displaying Panel objects in the notebook requires" not in cell.text
    state = kernel.run("dashboard.state.run_id, dashboard.state.error").check().text
    assert f"('{first.run_id}', '')" in state

    second = orchestra.run(plan, db=db)  # another process writes the file
    waited = kernel.run(  # a cell that awaits leaves the kernel loop free for the poller
        "import asyncio\n"
        "for _ in range(50):\n"
        f"    if dashboard.state.run_id == {second.run_id!r}: break\n"
        "    await asyncio.sleep(0.2)\n"
        "dashboard.state.run_id, dashboard.state.polls > 0, dashboard.state.error",
        timeout=60,
    ).check()
    assert f"('{second.run_id}', True, '')" in waited.text


def subshell(kernel: KernelSession) -> str:
    """A new kernel subshell, created as JupyterLab does for comms (on the control channel)."""
    client = kernel.client
    request = client.session.msg("create_subshell_request", {})
    client.control_channel.send(request)
    while True:
        reply = client.control_channel.get_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == request["header"]["msg_id"]:
            return str(reply["content"]["subshell_id"])


def send_on(kernel: KernelSession, subshell_id: str, kind: str, content: dict[str, Any]) -> None:
    message = kernel.client.session.msg(kind, content)
    message["header"]["subshell_id"] = subshell_id
    kernel.client.shell_channel.send(message)


def test_a_click_sent_on_a_subshell_is_handled_on_the_kernel_loop(kernel, demo_api, tmp_path):
    db = tmp_path / "inline.duckdb"
    plan = {"key": "inline", "steps": [{"name": "one", "url": f"{demo_api.url}/items/1"}]}
    first = orchestra.run(plan, db=db)
    second = orchestra.run(plan, db=db)
    kernel.run(
        "from orchestra.dashboard import Dashboard\n"
        f"dashboard = Dashboard(db={str(db)!r}, refresh_interval=0.2)\n"
        "dashboard",
        timeout=180,
    ).check()
    ids = kernel.run(  # the run picker's selection model and the comm the browser would open
        "import threading\n"
        "import panel as pn\n"
        "threads = []\n"
        "dashboard.state.param.watch(\n"
        "    lambda event: threads.append(threading.current_thread().name), 'run_id')\n"
        "ref, (table, _) = next(iter(dashboard.run_picker._table._models.items()))\n"
        "view = pn.state._views[ref][0]\n"
        "print(view._comms[ref][1].id, table.source.selected.id, dashboard.state.run_id)"
    ).check()
    client_comm, selection, shown = ids.text.split()[:3]
    assert shown == second.run_id  # the newest run, first row of the picker

    shell = subshell(kernel)
    comm_id = uuid.uuid4().hex
    opening = {"comm_id": comm_id, "target_name": client_comm, "data": {}}
    send_on(kernel, shell, "comm_open", opening)  # the browser opens Panel's client comm
    click = {  # what BokehJS sends when the second row of the run picker is clicked
        "header": {"msgid": uuid.uuid4().hex, "msgtype": "PATCH-DOC"},
        "metadata": {},
        "content": {
            "events": [
                {"kind": "ModelChanged", "model": {"id": selection}, "attr": "indices", "new": [1]}
            ]
        },
    }
    send_on(kernel, shell, "comm_msg", {"comm_id": comm_id, "data": click})
    switched = kernel.run(
        "import asyncio\n"
        "for _ in range(100):\n"
        f"    if dashboard.state.run_id == {first.run_id!r}: break\n"
        "    await asyncio.sleep(0.1)\n"
        "dashboard.state.run_id, threads, dashboard.state.error",
        timeout=60,
    ).check()
    # handled on the kernel's main loop, not on the subshell's thread
    assert f"('{first.run_id}', ['MainThread'], '')" in switched.text
