"""``%%flow`` cells in JupyterLab: YAML tokens, embedded expressions marked, Python again after.

The checks read what CodeMirror drew: a mapping key such as ``while:`` gets
the same highlight class as ``key:`` in a flow cell (both YAML keys), and the
class of Python's keyword ``while`` in a Python cell.
"""

from __future__ import annotations

import pytest

from tests.lab._jupyterlab import write_notebook

pytestmark = pytest.mark.timeout(240)

FLOW = (
    "%%flow\n"
    "key: demo\n"
    "steps:\n"
    "  - name: users\n"
    '    url: "{config.base_url}/users"\n'
    "    while: response.body.next_cursor != null && `true`\n"
    "    extract: {email: response.body.email}\n"
)
PYTHON = "while ready:\n    key = 1\n"

# The highlight class of the span holding exactly `text` in cell `cell`, or null.
SPAN_CLASS_JS = """([cell, text]) => {
  const spans = document.querySelectorAll('.jp-Notebook .jp-Cell')[cell]
    .querySelectorAll('.cm-content span');
  const span = [...spans].find(s => s.textContent === text && !s.children.length);
  return span ? span.className : null;
}"""
EXPRESSIONS_JS = """(cell) => [...document.querySelectorAll('.jp-Notebook .jp-Cell')[cell]
  .querySelectorAll('.cm-orchestra-expr')].map(e => e.textContent)"""
FLOW_MODE_JS = """(cell) => {
  const editor = document.querySelectorAll('.jp-Notebook .jp-Cell .cm-editor')[cell];
  return editor ? editor.getAttribute('data-orchestra-flow') : 'no editor';
}"""


def wait_for_mode(lab, cell: int, mode: str | None) -> None:
    expected = "null" if mode is None else repr(mode)
    lab.page.wait_for_function(f"() => ({FLOW_MODE_JS})({cell}) === {expected}", timeout=30_000)


def span_class(lab, cell: int, text: str) -> str | None:
    return lab.page.evaluate(SPAN_CLASS_JS, [cell, text])


def test_a_flow_cell_is_yaml_with_expressions_marked_and_python_when_the_magic_goes(jupyterlab):
    write_notebook(jupyterlab.root / "flow-cells.ipynb", [FLOW, PYTHON])
    jupyterlab.open("flow-cells.ipynb")
    page = jupyterlab.page
    wait_for_mode(jupyterlab, 0, "true")

    yaml_key = span_class(jupyterlab, 0, "key")
    python_keyword = span_class(jupyterlab, 1, "while")
    assert yaml_key and python_keyword and yaml_key != python_keyword
    assert span_class(jupyterlab, 0, "while") == yaml_key  # a YAML key, not Python's keyword
    assert span_class(jupyterlab, 0, "extract") == yaml_key
    assert span_class(jupyterlab, 1, "key") is None  # a Python name is not highlighted
    assert page.evaluate(EXPRESSIONS_JS, 0) == [
        "{config.base_url}",
        "response.body.next_cursor != null && `true`",
        "response.body.email",
    ]
    assert page.evaluate(EXPRESSIONS_JS, 1) == []
    assert page.evaluate(FLOW_MODE_JS, 1) is None
    jupyterlab.screenshot("flow-cell-yaml")

    # Replace the magic line: the cell is Python again, at once.
    page.locator(".jp-Notebook .jp-Cell").nth(0).locator(".cm-line").first.click()
    page.keyboard.press("Home")
    page.keyboard.press("Shift+End")
    page.keyboard.type("# no magic")
    wait_for_mode(jupyterlab, 0, None)
    assert span_class(jupyterlab, 0, "while") == python_keyword
    assert page.evaluate(EXPRESSIONS_JS, 0) == []
    jupyterlab.screenshot("flow-cell-python-again")

    # And YAML once more when the magic comes back.
    page.keyboard.press("Home")
    page.keyboard.press("Shift+End")
    page.keyboard.type("%%flow")
    wait_for_mode(jupyterlab, 0, "true")
    assert span_class(jupyterlab, 0, "while") == yaml_key
    assert jupyterlab.console_errors == []
