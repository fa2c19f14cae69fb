"""JupyterLab itself: the server starts from the install and a notebook opens on a live kernel."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.timeout(240)


def test_a_notebook_opens_on_a_running_kernel_without_console_errors(jupyterlab):
    jupyterlab.open("notebook.ipynb")
    jupyterlab.page.wait_for_selector(".jp-Cell .cm-content", timeout=30_000)
    jupyterlab.screenshot("notebook-open")
    assert jupyterlab.console_errors == []
