"""``%flow load``, ``show``, ``graph`` and ``reset`` without a kernel."""

from __future__ import annotations

import pytest

from orchestra.notebook._errors import FlowError
from orchestra.notebook._views import FlowGraph
from orchestra.notebook.commands import run_cell, run_line
from tests.notebook.commands.conftest import ITEMS
from tests.notebook.commands.test_run import PLAN_FILE


def test_load_makes_a_file_the_flow_and_show_prints_it(ctx, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN_FILE, encoding="utf-8")
    shown = repr(run_line(ctx, f"load {plan}"))
    assert "key: from-file" in shown and "# listing: pending" in shown
    assert ctx.flow.names() == ["listing", "one"]
    assert '"key": "from-file"' in repr(run_line(ctx, "show --format json"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [{name: x}]", encoding="utf-8")
    with pytest.raises(FlowError):
        run_line(ctx, f"load {bad}")
    assert ctx.flow.names() == ["listing", "one"]  # a bad file does not replace the flow


def test_graph_and_reset(ctx):
    run_cell(ctx, "items --no-run", ITEMS)
    assert isinstance(run_line(ctx, "graph"), FlowGraph)
    ctx.flow.keep_secret("API_KEY", "sk-unit-123")
    run_line(ctx, "break items")
    assert run_line(ctx, "reset") == "the flow is empty (secrets kept)"
    assert not len(ctx.flow) and not ctx.debug.breakpoints
    assert run_line(ctx, "reset --secrets") == "the flow is empty"
