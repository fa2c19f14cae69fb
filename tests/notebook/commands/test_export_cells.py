"""``%flow export cells``: the cells that rebuild the flow, inserted one after the other."""

from __future__ import annotations

import nbformat
import pytest
from IPython.core.error import UsageError

from orchestra.notebook._errors import FlowError
from orchestra.notebook.commands import run_cell, run_line
from tests.notebook.commands.conftest import ITEMS


def split_cell(text: str) -> tuple[str, str]:
    """(the %%flow line's rest, the body) of an exported cell."""
    first, _, body = text.partition("\n")
    return first.removeprefix("%%flow").strip(), body


def test_exported_cells_rebuild_the_flow_one_inserted_after_another(ctx, screen):
    run_cell(ctx, "", "key: shop\nconfig: {page: 2}")
    run_cell(ctx, "items", ITEMS)
    run_cell(ctx, "one", 'url: "{config.base_url}/items/{steps.items.body.items[0].id}"')
    original = ctx.flow.plan()
    text = run_line(ctx, "export cells --out cells")
    assert "first of 3 cells" in text
    cells = ctx.namespace["cells"]
    assert screen.next_inputs == [cells[0]] and cells[0].startswith("%%flow\nkey: shop\n")
    assert cells[1].startswith("%%flow items\n") and cells[2].startswith("%%flow one\n")

    run_line(ctx, "reset")
    for index, cell in enumerate(cells):  # the user presses Shift+Enter down the cells
        run_cell(ctx, *split_cell(cell))
        assert screen.next_inputs[-1] == cells[min(index + 1, len(cells) - 1)]
    assert len(screen.next_inputs) == 3  # nothing is inserted after the last
    assert ctx.flow.plan() == original
    assert ctx.flow.find("one").status == "ok"


def test_whole_inserts_one_cell_and_a_file_gets_a_notebook(ctx, screen, tmp_path):
    run_cell(ctx, "items --no-run", ITEMS)
    assert run_line(ctx, "export cells --whole") == (
        "inserted one cell below holding the whole flow"
    )
    (whole,) = screen.next_inputs
    assert whole.startswith("%%flow\n") and "steps:\n- name: items\n" in whole
    run_line(ctx, f"export cells {tmp_path / 'rebuild.ipynb'}")
    notebook = nbformat.read(str(tmp_path / "rebuild.ipynb"), as_version=4)
    sources = [cell.source for cell in notebook.cells]
    assert sources[0] == "%load_ext orchestra" and sources[2].startswith("%%flow items\n")


def test_export_cells_errors(ctx):
    with pytest.raises(FlowError, match="no steps yet"):
        run_line(ctx, "export cells")
    run_cell(ctx, "items --no-run", ITEMS)
    with pytest.raises(UsageError, match=r"cells are written to a \.ipynb file"):
        run_line(ctx, "export cells plan.yaml")
