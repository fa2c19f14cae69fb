"""``%flow dashboard --inline`` in real JupyterLab with no internet: it renders and follows runs.

The page may reach only the local Jupyter server (every other request is
aborted and recorded), so BokehJS, Panel and Tabulator must come with the
notebook output, not from a CDN. Picking another run in the run picker must
update every view — the header, the flow graph, the steps, the waterfall and
the metrics — runs written meanwhile, by the notebook's own ``%%flow`` cell
or by another process, must appear, and the browser console must stay free
of errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import orchestra
from tests.lab._jupyterlab import write_notebook

pytestmark = pytest.mark.timeout(300)

# The data of a named Bokeh model in any document of the page (a notebook holds several).
MODEL_DATA_JS = """(name) => {
  for (const doc of (window.Bokeh ? Bokeh.documents : [])) {
    const model = doc.get_model_by_name(name);
    if (model) {
      const out = {};
      const entries = model.data.entries ? model.data.entries() : Object.entries(model.data);
      for (const [key, value] of entries) out[key] = Array.from(value);
      return out;
    }
  }
  return null;
}"""


def plans(base_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    first = {
        "key": "inline-a",
        "steps": [
            {"name": "items", "url": f"{base_url}/items", "params": {"limit": 3}},
            {"name": "one", "url": f"{base_url}/items/1"},
        ],
    }
    second = {
        "key": "inline-b",
        "steps": [
            {"name": "alpha", "url": f"{base_url}/items/2"},
            {"name": "beta", "url": f"{base_url}/items/3"},
            {"name": "gamma", "url": f"{base_url}/items/4"},
            {"name": "delta", "url": f"{base_url}/items/5"},
        ],
    }
    return first, second


def model_data(page: Any, name: str) -> dict[str, list[Any]] | None:
    return page.evaluate(MODEL_DATA_JS, name)


def wait_for_nodes(page: Any, paths: list[str], timeout: float = 60_000) -> None:
    """Wait until the flow graph in the page shows exactly these steps."""
    page.wait_for_function(
        f"(paths) => {{ const d = ({MODEL_DATA_JS})('flow-graph-nodes');"
        " return !!d && JSON.stringify(d.path) === JSON.stringify(paths); }",
        arg=paths,
        timeout=timeout,
    )


def test_the_inline_dashboard_renders_offline_and_follows_a_run_switch(jupyterlab, demo_api):
    from playwright.sync_api import expect

    db: Path = jupyterlab.root / "inline.duckdb"
    first_plan, second_plan = plans(demo_api.url)
    first = orchestra.run(first_plan, db=db)
    second = orchestra.run(second_plan, db=db)
    outside: list[str] = []
    page = jupyterlab.page
    page.on("request", lambda r: outside.append(r.url) if "127.0.0.1" not in r.url
            and not r.url.startswith(("data:", "blob:")) else None)  # fmt: skip

    write_notebook(
        jupyterlab.root / "inline.ipynb",
        [
            "%load_ext orchestra",
            f"%config FlowMagic.db = {str(db)!r}",
            f"%flow dashboard --inline --run {first.run_id}",
            f'%%flow later\nurl: "{demo_api.url}/items/9"',  # the notebook's own run, after it
        ],
    )
    jupyterlab.open("inline.ipynb")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    wait_for_nodes(page, ["items", "one"], timeout=120_000)
    summary = page.locator(".orchestra-run-summary")
    expect(summary).to_contain_text(first.run_id, timeout=30_000)
    expect(page.locator(".orchestra-steps .tabulator-row")).to_have_count(2, timeout=30_000)
    runs = page.locator(".orchestra-runs .tabulator-row")
    expect(runs).to_have_count(3, timeout=30_000)  # the `later` cell's run joined the picker
    jupyterlab.screenshot("inline-dashboard-first-run")

    page.locator(".orchestra-runs .tabulator-row", has_text=second.run_id).first.click()
    wait_for_nodes(page, ["alpha", "beta", "gamma", "delta"])
    expect(summary).to_contain_text(second.run_id, timeout=30_000)
    expect(summary).to_contain_text("4 requests")
    expect(page.locator(".orchestra-steps .tabulator-row")).to_have_count(4, timeout=30_000)
    expect(page.locator(".orchestra-metric-requests")).to_contain_text("4", timeout=30_000)
    bars = model_data(page, "waterfall-bars")
    assert bars is not None and len(bars["exchange_id"]) == 4
    jupyterlab.screenshot("inline-dashboard-second-run")

    # A run written by another process while the dashboard is shown: the poller lists it.
    third = orchestra.run(first_plan, db=db)
    expect(runs).to_have_count(4, timeout=30_000)
    page.locator(".orchestra-runs .tabulator-row", has_text=third.run_id).first.click()
    wait_for_nodes(page, ["items", "one"])
    expect(summary).to_contain_text(third.run_id, timeout=30_000)
    expect(page.locator(".orchestra-steps .tabulator-row")).to_have_count(2, timeout=30_000)
    jupyterlab.screenshot("inline-dashboard-new-run")
    assert outside == []
    assert not jupyterlab.console_errors, "\n\n".join(jupyterlab.console_errors)
