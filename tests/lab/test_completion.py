"""Tab in a ``%%flow`` cell in JupyterLab: the kernel's completions show in Lab's completer.

The YAML mode of the cell must leave Lab's kernel completion alone: Tab after
a partial field name offers the plan fields that fit there.
"""

from __future__ import annotations

import pytest

from tests.lab._jupyterlab import write_notebook

pytestmark = pytest.mark.timeout(240)


def test_tab_in_a_flow_cell_offers_plan_fields(jupyterlab):
    flow = "%%flow\nkey: complete\nsteps:\n  - name: one\n    url: http://127.0.0.1:9/x\n    ret"
    write_notebook(jupyterlab.root / "completion.ipynb", ["%load_ext orchestra", flow])
    jupyterlab.open("completion.ipynb")
    page = jupyterlab.page
    page.evaluate(
        """async () => {
          const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
          await kernel.requestExecute({code: '%load_ext orchestra'}).done;
        }"""
    )
    page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".cm-line").last.click()
    page.keyboard.press("End")
    page.keyboard.press("Tab")
    completer = page.locator(".jp-Completer")
    completer.wait_for(timeout=30_000)
    items = completer.locator(".jp-Completer-item").all_inner_texts()
    jupyterlab.screenshot("flow-cell-completion")
    assert any("retry" in item for item in items), items
    assert jupyterlab.console_errors == []
