"""``run.table(step)``: the records of one notebook run as a DataFrame of typed columns."""

from __future__ import annotations

import pytest

from orchestra.notebook._errors import FlowError
from orchestra.notebook.commands import run_cell, run_line

USERS = """url: "{config.base_url}/items"
params: {limit: 5}
paginate: {type: offset, limit: 5, max_pages: 3}
records: items
"""


def test_a_cell_run_reads_its_own_records_back_as_typed_columns(ctx):
    first = run_cell(ctx, "users", USERS)
    frame = first.table("users")
    assert list(frame.id) == list(range(1, 16))  # three pages of five, in order
    assert {"run_id", "id", "name", "price", "updated_at"} <= set(frame.columns)
    assert set(frame.run_id) == {first.run_id}
    assert frame.price.dtype.kind == "f" and frame.id.dtype.kind in "iu"  # typed, not JSON
    again = run_line(ctx, "run")  # a later run: each run object reads its own rows
    assert set(again.table("users").run_id) == {again.run_id} != {first.run_id}
    assert set(first.table("users").run_id) == {first.run_id}


def test_table_masks_the_notebooks_secrets_and_names_what_exists(ctx):
    ctx.flow.keep_secret("ITEM_NAME", "item-3")
    view = run_cell(ctx, "users", USERS)
    names = set(view.table("users").name)
    assert "${ITEM_NAME}" in names and "item-3" not in names
    with pytest.raises(FlowError, match=r"table: step 'nope' emitted no records.*users"):
        view.table("nope")


def test_an_uncaptured_run_has_no_table(ctx):
    ctx.settings.capture = False
    view = run_cell(ctx, "users", USERS)
    with pytest.raises(FlowError, match="was not captured"):
        view.table("users")
