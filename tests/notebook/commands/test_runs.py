"""``%flow runs``: this flow's captured runs, newest first (no kernel)."""

from __future__ import annotations

from orchestra.notebook.commands import run_cell, run_line
from orchestra.notebook.commands.runs import RUN_COLUMNS


def test_runs_lists_this_flows_runs_newest_first(ctx):
    first = run_cell(ctx, "one", 'url: "{config.base_url}/items/1"')
    second = run_cell(ctx, "two", 'url: "{config.base_url}/items/2"')
    frame = run_line(ctx, "runs --limit 5")
    assert list(frame.columns) == RUN_COLUMNS
    assert frame.run_id.tolist() == [second.run_id, first.run_id]
    assert len(run_line(ctx, "runs -n 1 --all")) == 1
    ctx.flow.settings["key"] = "other"
    assert run_line(ctx, "runs").empty


def test_runs_counts_a_failed_exchange_once_as_the_cli_and_dashboard_do(ctx):
    ctx.settings.raise_on_failure = False
    failed = run_cell(ctx, "missing", 'url: "{config.base_url}/status/404"')
    ok = run_cell(ctx, "one", 'url: "{config.base_url}/items/1"')
    frame = run_line(ctx, "runs")
    errors = dict(zip(frame.run_id, frame.errors, strict=True))
    assert errors == {failed.run_id: 1, ok.run_id: 0}
