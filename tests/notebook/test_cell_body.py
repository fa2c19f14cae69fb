"""Reading a ``%%flow`` body (no kernel): positions count from the ``%%flow`` line."""

from __future__ import annotations

import pytest

from orchestra.errors import PlanError
from orchestra.notebook._cell import CellSyntaxError, cell_text, read_body
from orchestra.notebook._cells import plan_error
from orchestra.notebook._errors import locate


@pytest.mark.parametrize(
    ("body", "line", "column"),
    [
        ('url: "http://x"\nparams: {limit: 3\nheaders: {a: b}', 4, 8),
        ("url: x\n  bad: : indent", 3, 6),
        ('{"url": "http://x", "a": [1, 2}', 2, 31),  # JSON is YAML too: YAML's parser says where
        ("- a\nb: c", 3, 1),
    ],
)
def test_a_syntax_error_names_the_cells_line_and_shows_it(body, line, column):
    with pytest.raises(CellSyntaxError) as caught:
        read_body(body, line="items --no-run")
    error = caught.value
    assert (error.line + 1, error.column + 1) == (line, column)
    assert f"at line {line}, column {column}" in str(error)
    shown = str(plan_error(error, cell_text("items --no-run", body), step_cell=False))
    offending = cell_text("items --no-run", body).splitlines()[line - 1]
    assert f"{line:>4} | {offending}\n     | {' ' * (column - 1)}^" in shown


def test_the_source_is_the_whole_cell_and_its_flow_line_is_never_blamed():
    body = read_body('url: "{config.base_url}/items"', line="items")
    assert body.source == '%%flow items\nurl: "{config.base_url}/items"'
    span = locate(body.source, "no step 'items'")  # `items` is on the %%flow line too
    assert span is not None and span.line == 1


def test_an_empty_cell_is_no_syntax_error():
    with pytest.raises(PlanError, match="the cell is empty") as caught:
        read_body("  \n", line="")
    assert not isinstance(caught.value, CellSyntaxError)
