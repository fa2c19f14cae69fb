"""Records are credited to the step path that emitted them, the same on every surface.

A fanout run of the demo API (a paged parent that emits nothing, a sub-step that
emits one record per item, steps that emit their own) is shown by the CLI's
run summary, the notebook's run monitor and the dashboard's step table; each
must give every step path the records it emitted, as the capture's records
table holds them (a parent is not credited with its sub-steps' records).
"""

from __future__ import annotations

import orchestra
from orchestra.capture import CaptureStore
from orchestra.cli._summary import step_rows
from orchestra.dashboard import DashboardState
from orchestra.notebook._monitor import RunMonitor
from tests.dashboard.conftest import dashboard_plan


def test_a_fanout_run_shows_the_same_records_per_step_in_cli_notebook_and_dashboard(
    demo_api, tmp_path
):
    path = tmp_path / "capture.duckdb"
    plan = orchestra.load_plan(dashboard_plan(demo_api.url))
    monitor = RunMonitor()
    result = orchestra.run(plan, db=path, subscribers=[monitor])
    assert result.status == "succeeded", result.error

    with CaptureStore(path).read() as db:  # what the file says each path emitted
        emitted = db.records_by_step(result.run_id)
    assert emitted["items.detail"] == 10 and "items" not in emitted  # the parent emits none

    cli = {row.path: row.records for row in step_rows(result, plan)}
    notebook = {path: totals.records for path, totals in monitor.snapshot().paths.items()}
    state = DashboardState(path, run=result.run_id)
    assert state.error == ""
    dashboard = dict(zip(state.steps["step_path"], state.steps["records"].astype(int), strict=True))

    expected = {path: emitted.get(path, 0) for path in dashboard}
    assert dashboard == expected
    assert {p: cli.get(p, 0) for p in dashboard} == expected
    assert {p: notebook.get(p, 0) for p in dashboard} == expected
    assert dashboard["items"] == 0  # not the 10 its fanout emitted
    assert sum(dashboard.values()) == state.run["records"] == len(result.records)
