"""Diagnostics as you type in JupyterLab: the kernel's loader underlines a misspelled field.

The editor sends the cell on the ``orchestra.diagnostics`` comm (registered by
``%load_ext orchestra``); the reply is drawn as a CodeMirror lint range with
the message, and the suggestion, on hover. Before the extension is loaded the
kernel refuses the comm and nothing is underlined, silently.
"""

from __future__ import annotations

import pytest

from tests.lab._jupyterlab import write_notebook

pytestmark = pytest.mark.timeout(240)

FLOW = "%%flow\nkey: typo\nsteps:\n  - name: one\n    url: http://127.0.0.1:9/x\n    metod: GET"
UNDERLINED_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')[1]
  .querySelectorAll('.cm-lintRange-error')].map(e => e.textContent).join('')"""


def execute(lab, code: str) -> None:
    """Run ``code`` on the notebook's kernel and wait for it to finish."""
    lab.page.evaluate(
        """async (code) => {
          const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
          await kernel.requestExecute({code}).done;
        }""",
        code,
    )


def type_at_end_of_flow_cell(lab, text: str) -> None:
    lab.page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".cm-line").last.click()
    lab.page.keyboard.press("End")
    lab.page.keyboard.type(text)


def test_a_misspelled_field_is_underlined_with_the_suggestion_on_hover(jupyterlab):
    write_notebook(jupyterlab.root / "diagnostics.ipynb", ["x = 1", FLOW])
    jupyterlab.open("diagnostics.ipynb")
    page = jupyterlab.page

    # A kernel without Orchestra's comm: no diagnostics, no errors.
    type_at_end_of_flow_cell(jupyterlab, " ")
    page.wait_for_timeout(1500)
    assert page.evaluate(UNDERLINED_JS) == ""

    execute(jupyterlab, "%load_ext orchestra")
    page.wait_for_timeout(1600)  # past the pause before a refused comm is asked again
    type_at_end_of_flow_cell(jupyterlab, " ")
    page.wait_for_function(f"() => ({UNDERLINED_JS})().includes('metod')", timeout=30_000)

    page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".cm-lintRange-error").first.hover()
    tooltip = page.locator(".cm-tooltip-lint")
    tooltip.wait_for(timeout=10_000)
    assert "'method'" in tooltip.inner_text()
    jupyterlab.screenshot("diagnostics-underline")

    # Fixed: the underline goes away.
    type_at_end_of_flow_cell(jupyterlab, "")
    page.keyboard.press("Home")
    page.keyboard.press("Shift+End")
    page.keyboard.type("method: GET")
    page.wait_for_function(f"() => ({UNDERLINED_JS})() === ''", timeout=30_000)
    assert jupyterlab.console_errors == []
