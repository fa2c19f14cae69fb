"""Where a captured run failed, read from the capture: the target of replay-to-failure.

The capture knows the failing step path (``runs.error_step``), its failed
execution (``steps``: status ``failed``/``aborted``) and how many pages that
execution had begun (``steps.pages`` counts the page being fetched when it
failed). Execution ids are numbered in the order executions start
(``<run id>:<n>``), and a fanout starts its items in index order whatever its
concurrency, so "the n-th execution of this step path" names the same
execution when the run is replayed with the same answers — the
:class:`~orchestra.debug.Target` the debugger stops at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from orchestra.capture import CaptureStore, RunNotFound
from orchestra.debug._debugger import Target

FAILED_RUNS = ("failed", "aborted", "compensated", "compensation_failed")
FAILED_STEPS = ("failed", "aborted")


def _number(execution_id: str) -> int:
    tail = execution_id.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


@dataclass(frozen=True)
class CapturedRun:
    """A captured run to replay: its plan and config, and where it failed (if it did)."""

    run_id: str
    status: str
    plan: dict[str, Any]
    config: dict[str, Any]  # as captured: secrets masked
    target: Target | None
    item_index: int | None = None

    def describe(self) -> str:
        if self.target is None:
            return f"run {self.run_id} ({self.status}) did not fail at a step"
        where = self.target.step_path
        if self.item_index is not None:
            where += f" item {self.item_index}"
        if self.target.page:
            where += f" page {self.target.page}"
        return f"run {self.run_id} {self.status} at {where}: {self.target.error or ''}".rstrip(": ")


def captured_run(store: CaptureStore, run: str | None) -> CapturedRun:
    """Read a run's plan, config and failure point (``RunNotFound`` if it is not there)."""
    with store.read() as reader:
        run_id = reader.resolve_run(run)
        row = reader.run(run_id)
        rows = reader.executions(run_id)
    if row is None:
        raise RunNotFound(f"no run {run!r} in {store.path}")
    status, error, error_step = row["status"], row["error"], row["error_step"]
    plan = store.plan(run_id)
    executions = sorted(rows, key=lambda row: _number(row["execution_id"]))
    failed = [row for row in executions if row["status"] in FAILED_STEPS]
    if error_step:
        failed = [row for row in failed if row["step_path"] == error_step] or failed
    target, item_index = None, None
    if status in FAILED_RUNS and failed:
        first = failed[0]
        path, pages, item_index = first["step_path"], first["pages"], first["item_index"]
        number = _number(first["execution_id"])
        ordinal = sum(
            1
            for row in executions
            if row["step_path"] == path and _number(row["execution_id"]) <= number
        )
        target = Target(path, ordinal, int(pages) if pages else None, first["error"] or error)
    return CapturedRun(
        run_id=run_id,
        status=status,
        plan=plan,
        config=orjson.loads(row["config"]) if row["config"] else {},
        target=target,
        item_index=None if item_index is None else int(item_index),
    )
