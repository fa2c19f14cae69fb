"""Inline, the builder's step table shows a step's retries while the step is still running.

A real kernel shows ``%flow builder`` on a step of the demo API's flaky endpoint
(fails twice with 503, then answers) retried with a constant 2 s backoff. The
try starts as a click would start it (on the kernel's loop, returning at once);
cells run meanwhile read what the builder's Steps table holds: a row with
retries counted and the status still ``running``, before the try ends.
"""

from __future__ import annotations

import ast
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.notebook.kernel import KernelSession

pytestmark = pytest.mark.timeout(300)

BACKOFF = 2.0  # seconds between attempts


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[KernelSession]:
    session = KernelSession(tmp_path)
    try:
        yield session
    finally:
        session.shutdown()


def test_retries_show_in_the_step_table_while_the_step_runs(kernel, demo_api):
    key = uuid.uuid4().hex[:8]  # the flaky counter is per key
    kernel.run("%load_ext orchestra").check()
    kernel.run(f"%flow config base_url={demo_api.url}").check()
    kernel.run(
        f"%%flow flaky --no-run\n"
        f'url: "{{config.base_url}}/flaky/{key}"\n'
        "params: {fail: 2, status: 503}\n"
        f"retry: {{max_attempts: 3, backoff: constant, base_seconds: {BACKOFF}, jitter: 0}}"
    ).check()
    kernel.run("b = %flow builder\nb", timeout=180).check()
    started = time.monotonic()
    kernel.run("b.state.selected = 'steps[0]'\nb.start_try()").check()  # returns at once

    seen: list[tuple[float, list[dict]]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        cell = kernel.run(
            "d = b._dashboard\n"
            "rows = [] if d is None or d.steps is None else "
            "d.steps[['step_path', 'status', 'requests', 'retries']].to_dict('records')\n"
            "print(repr((b.state.running, rows)))"
        ).check()
        running, rows = ast.literal_eval(cell.text.strip().splitlines()[-1])
        seen.append((time.monotonic() - started, rows))
        if not running and rows and rows[0]["status"] != "running":
            break
        time.sleep(0.3)
    live = [
        (at, row)
        for at, rows in seen
        for row in rows
        if row["step_path"] == "flaky" and row["status"] == "running" and row["retries"] >= 1
    ]
    assert live, f"never saw a retry while the step ran: {seen}"
    final = seen[-1][1]
    assert [(r["status"], r["requests"], r["retries"]) for r in final] == [("ok", 3, 2)], final
    assert live[0][0] < seen[-1][0] - BACKOFF / 2  # seen well before the try ended
