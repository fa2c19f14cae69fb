"""``%flow edit``, ``%%flow edit STEP`` and ``%flow rerun`` without a kernel."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from orchestra.notebook._errors import FlowError
from orchestra.notebook.commands import run_cell, run_line


def test_edit_writes_the_next_cell_and_an_edit_cell_replaces_the_step(ctx, screen):
    run_cell(ctx, "one", 'url: "{config.base_url}/items/1"')
    said = run_line(ctx, "edit one")
    assert "then %flow rerun one" in said
    assert screen.next_inputs == ["%%flow edit one\nurl: '{config.base_url}/items/1'\n"]
    run_cell(ctx, "edit one", 'url: "{config.base_url}/items/2"')
    assert ctx.flow.find("one").spec["url"].endswith("/items/2")
    with pytest.raises(UsageError, match="the body names the step 'two'"):
        run_cell(ctx, "edit one", 'name: two\nurl: "{config.base_url}/items/2"')
    with pytest.raises(FlowError, match="no root step 'nope'"):
        run_line(ctx, "edit nope")


def test_rerun_runs_one_step_alone_against_its_earlier_scope(ctx, demo_api):
    run_cell(ctx, "listing", 'url: "{config.base_url}/items"\nparams: {limit: 3}')
    run_cell(ctx, "one", 'url: "{config.base_url}/items/{steps.listing.body.items[2].id}"')
    demo_api.reset()
    view = run_line(ctx, "rerun one --out again")
    assert ctx.namespace["again"] is view and view.response("one")["body"]["id"] == 3
    assert demo_api.stats()["requests_total"] == 1  # listing was not called again
    assert "not called again: listing" in view.notes[-1]
