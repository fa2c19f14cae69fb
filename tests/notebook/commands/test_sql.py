"""``%flow sql``: the rest of the line is the query, ``$name`` a DuckDB parameter (no kernel)."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from orchestra.notebook._errors import FlowError
from orchestra.notebook.commands import run_cell, run_line


def test_sql_binds_notebook_variables_as_parameters_and_masks(ctx):
    view = run_cell(ctx, "one", 'url: "{config.base_url}/items/1"')
    ctx.namespace["run_id"] = view.run_id
    ctx.flow.keep_secret("API_KEY", "/items/1")
    frame = run_line(
        ctx,
        "sql --out rows SELECT url FROM exchanges WHERE run_id = $run_id AND url "
        "NOT LIKE '%$nothing%'",
    )
    assert ctx.namespace["rows"] is frame and len(frame) == 1
    assert frame.url[0].endswith("${API_KEY}")


def test_sql_errors(ctx):
    run_cell(ctx, "one", 'url: "{config.base_url}/items/1"')
    with pytest.raises(UsageError, match=r"\$missing is not a variable"):
        run_line(ctx, "sql SELECT $missing")
    with pytest.raises(UsageError, match="give a query"):
        run_line(ctx, "sql --out x")
    with pytest.raises(FlowError, match="nope"):
        run_line(ctx, "sql SELECT nope FROM exchanges")


def test_sql_reads_the_callers_locals_before_the_notebook(ctx):
    view = run_cell(ctx, "one", 'url: "{config.base_url}/items/1"')
    ctx.namespace["run_id"] = "not-a-run"
    ctx.locals = {"run_id": view.run_id}  # what the magic passes for a %flow line in a function
    assert len(run_line(ctx, "sql SELECT url FROM exchanges WHERE run_id = $run_id")) == 1
    ctx.locals = None
    assert len(run_line(ctx, "sql SELECT url FROM exchanges WHERE run_id = $run_id")) == 0
