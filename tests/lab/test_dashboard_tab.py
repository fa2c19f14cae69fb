"""The dashboard inside JupyterLab: the launcher card opens a tab on the capture of the directory.

The tab is an iframe on ``<base_url>orchestra-dashboard/``, which
jupyter-server-proxy serves by starting ``orchestra dashboard`` behind the
Jupyter server; the flow graph of the captured run must arrive in it.
"""

from __future__ import annotations

import time

import pytest

import orchestra
from tests.dashboard._browser import model_data, wait_for_graph
from tests.lab._jupyterlab import write_notebook


def graph_paths(frame) -> list[str]:
    """The step paths the dashboard's flow graph draws (Runs tab), in the tab's iframe."""
    nodes = model_data(frame, "flow-graph-nodes")
    assert nodes is not None, "no flow graph in the dashboard"
    return list(nodes["path"])


pytestmark = pytest.mark.timeout(300)


def dashboard_frame(lab, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in lab.page.frames:
            if "/orchestra-dashboard/" in frame.url:
                return frame
        lab.page.wait_for_timeout(200)  # lets Playwright take in frame events
    raise AssertionError(f"no dashboard frame; frames: {[f.url for f in lab.page.frames]}")


def test_the_launcher_card_opens_the_dashboard_of_the_directory_in_a_tab(jupyterlab, demo_api):
    plan = {"key": "lab-tab", "steps": [{"name": "one", "url": f"{demo_api.url}/items/1"}]}
    result = orchestra.run(plan, db=jupyterlab.root / "orchestra.duckdb")
    assert result.status == "succeeded", result.error

    jupyterlab.open("notebook.ipynb")
    page = jupyterlab.page
    page.evaluate("() => window.jupyterapp.commands.execute('launcher:create')")
    card = page.locator(".jp-LauncherCard", has_text="Orchestra dashboard")
    card.wait_for(timeout=30_000)
    jupyterlab.screenshot("launcher-card")
    card.click()

    tab = page.locator(".lm-TabBar-tab", has_text="Dashboard: orchestra.duckdb")
    tab.wait_for(timeout=30_000)
    frame = dashboard_frame(jupyterlab)
    assert f"db={jupyterlab.root}" in frame.url.replace("%2F", "/")
    wait_for_graph(frame, timeout=120_000)
    assert graph_paths(frame) == ["one"]
    page.wait_for_timeout(1500)  # let the views draw for the screenshot
    jupyterlab.screenshot("dashboard-tab")
    assert jupyterlab.console_errors == []


def test_flow_dashboard_output_opens_the_tab_and_leaves_a_button(jupyterlab, demo_api):
    db = jupyterlab.root / "magic.duckdb"
    plan = {"key": "lab-magic", "steps": [{"name": "two", "url": f"{demo_api.url}/items/2"}]}
    assert orchestra.run(plan, db=db).status == "succeeded"
    write_notebook(
        jupyterlab.root / "magic.ipynb", ["%load_ext orchestra", f"%flow dashboard --db {db}"]
    )
    jupyterlab.open("magic.ipynb")
    page = jupyterlab.page
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

    tab = page.locator(".lm-TabBar-tab", has_text="Dashboard: magic.duckdb")
    tab.wait_for(timeout=60_000)  # the output opened it, beside the notebook
    button = page.locator(".jp-OrchestraDashboardLink-button")
    button.wait_for(timeout=10_000)
    assert button.inner_text() == "Open Orchestra dashboard"
    frame = dashboard_frame(jupyterlab)
    wait_for_graph(frame, timeout=120_000)
    assert graph_paths(frame) == ["two"]

    # Closed, the button opens it again (one tab per capture file).
    tab.locator(".lm-TabBar-tabCloseIcon").click()
    tab.wait_for(state="detached", timeout=10_000)
    button.click()
    tab.wait_for(timeout=30_000)
    assert page.locator(".lm-TabBar-tab", has_text="Dashboard: magic.duckdb").count() == 1
    wait_for_graph(dashboard_frame(jupyterlab), timeout=120_000)
    page.wait_for_timeout(1500)
    jupyterlab.screenshot("dashboard-from-magic")
    assert jupyterlab.console_errors == []


def test_a_capture_file_opens_from_the_file_browser_menu(jupyterlab, demo_api):
    plan = {"key": "lab-picked", "steps": [{"name": "three", "url": f"{demo_api.url}/items/3"}]}
    assert orchestra.run(plan, db=jupyterlab.root / "picked.duckdb").status == "succeeded"
    jupyterlab.open("notebook.ipynb")
    page = jupyterlab.page
    page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:refresh')")
    item = page.locator(
        '.jp-DirListing-item[data-file-type="orchestra-capture"]', has_text="picked"
    )
    item.wait_for(timeout=30_000)
    item.click(button="right")
    page.locator(".lm-Menu-item", has_text="Open in Orchestra Dashboard").click()

    page.locator(".lm-TabBar-tab", has_text="Dashboard: picked.duckdb").wait_for(timeout=30_000)
    frame = dashboard_frame(jupyterlab)
    wait_for_graph(frame, timeout=120_000)
    assert graph_paths(frame) == ["three"]
    assert jupyterlab.console_errors == []


def test_the_palette_opens_a_chosen_capture_file_relative_to_the_root(jupyterlab, demo_api):
    (jupyterlab.root / "sub").mkdir()
    plan = {"key": "lab-chosen", "steps": [{"name": "four", "url": f"{demo_api.url}/items/4"}]}
    assert orchestra.run(plan, db=jupyterlab.root / "sub" / "chosen.duckdb").status == "succeeded"
    jupyterlab.open("notebook.ipynb")
    page = jupyterlab.page
    page.keyboard.press("Control+Shift+C")  # the command palette
    page.keyboard.type("Capture File")
    page.locator(".lm-CommandPalette-item", has_text="Dashboard of a Capture File").click()
    field = page.locator(".jp-Dialog input")
    field.wait_for(timeout=10_000)
    field.fill("sub/chosen.duckdb")
    page.locator(".jp-Dialog-button.jp-mod-accept").click()

    page.locator(".lm-TabBar-tab", has_text="Dashboard: chosen.duckdb").wait_for(timeout=30_000)
    frame = dashboard_frame(jupyterlab)
    wait_for_graph(frame, timeout=120_000)
    assert graph_paths(frame) == ["four"]
    assert jupyterlab.console_errors == []
