"""``%flow diff A B``: two captured runs compared, as a view with a ``.steps`` DataFrame."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from orchestra.notebook._errors import FlowError
from orchestra.notebook.commands import COMMANDS, run_cell, run_line
from orchestra.notebook.commands.diff import RunDiffView


def test_diff_of_two_cell_runs_lists_records_added_and_removed(ctx):
    first = run_cell(ctx, "item", 'url: "{config.base_url}/items/1"')
    second = run_cell(ctx, "item", 'url: "{config.base_url}/items/2"')
    view = run_line(ctx, f"diff {first.run_id} last --out d")
    assert isinstance(view, RunDiffView) and ctx.namespace["d"] is view
    assert view.differs
    assert view.diff.run_b == second.run_id
    assert view.steps.step_path.tolist() == ["item"]
    assert view.steps[["requests_a", "requests_b", "records_a", "records_b"]].values.tolist() \
        == [[1, 1, 1, 1]]  # fmt: skip
    assert sorted((c.change, c.key) for c in view.diff.records.changes) == [
        ("added", "2"), ("removed", "1")
    ]  # fmt: skip
    page = view._repr_html_()
    assert "records by <code>id</code>" in page and "<table" in page
    assert f"runs {first.run_id} and {second.run_id} differ" in repr(view)


def test_diff_with_itself_is_the_same_and_bad_input_is_a_flow_error(ctx):
    run = run_cell(ctx, "item", 'url: "{config.base_url}/items/1"')
    assert not run_line(ctx, f"diff {run.run_id} last --key name").differs
    with pytest.raises(FlowError, match="no run 'nope'"):
        run_line(ctx, "diff nope last")
    with pytest.raises(FlowError, match="dotted path"):
        run_line(ctx, "diff last last --key 'a b'")
    with pytest.raises(UsageError):
        run_line(ctx, "diff last")
    assert "diff RUN_A RUN_B" in COMMANDS["diff"].usage


def test_diff_of_runs_of_two_plans_says_so(ctx):
    first = run_cell(ctx, "item", 'url: "{config.base_url}/items/1"')
    ctx.flow.default_key = "other-notebook"
    second = run_cell(ctx, "item", 'url: "{config.base_url}/items/1"')
    view = run_line(ctx, f"diff {first.run_id} {second.run_id}")
    note = (f"note: different plans: run {first.run_id} is of plan 'notebook', "
            f"run {second.run_id} of plan 'other-notebook'")  # fmt: skip
    assert repr(view).splitlines()[1] == note
    assert f"<div>{note.replace(chr(39), '&#x27;')}</div>" in view._repr_html_()
    same = run_line(ctx, f"diff {second.run_id} last")
    assert "different plans" not in repr(same) and "different plans" not in same._repr_html_()
