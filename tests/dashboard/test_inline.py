"""Inline in a notebook: a real kernel shows the dashboard; its poller runs on the kernel loop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
