"""The inline builder's "Insert as %%flow cells below" in real JupyterLab against the demo API.

A flow of two steps (a paginated list with a fanout, and one item) is shown
in ``%flow builder``; its button asks the extension, over the kernel comm
``orchestra.cells``, to put the flow's ``%%flow`` cells right below the
builder's cell. The test checks the cells a person would see there (exactly
the sources ``plan_to_flow_cells`` gives, in order, as code cells), that one
undo takes them all away and redo brings them back, and that running them,
after ``%flow reset``, rebuilds the flow the builder was showing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from orchestra.plan import plan_to_flow_cells
from tests.lab._jupyterlab import write_notebook

pytestmark = pytest.mark.timeout(300)

ACE_FILE = re.compile(r"/(mode|theme|worker)-\w+\.js")  # what ace fetches by URL
SOURCES_JS = """() => {
  const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
  const found = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    found.push([cell.type, cell.sharedModel.getSource()]);
  }
  return found;
}"""


def execute(lab: Any, code: str) -> None:
    """Run ``code`` on the notebook's kernel (not as a cell) and wait for it to finish."""
    lab.page.evaluate(
        """async (code) => {
          const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
          const reply = await kernel.requestExecute({code}).done;
          if (reply.content.status !== 'ok') { throw new Error(JSON.stringify(reply.content)); }
        }""",
        code,
    )


def sources(lab: Any) -> list[list[str]]:
    return lab.page.evaluate(SOURCES_JS)


def wait_for_cell_count(lab: Any, count: int) -> None:
    lab.page.wait_for_function(
        "(n) => window.jupyterapp.shell.currentWidget.content.model.cells.length === n",
        arg=count,
        timeout=30_000,
    )


def flow_cells(base_url: str) -> list[str]:
    return [
        "%load_ext orchestra",
        f"%flow config base_url={base_url}",
        "%%flow items --no-run\n"
        'url: "{config.base_url}/items"\n'
        'params: {limit: 5, offset: "{context.next_offset || `0`}"}\n'
        "context_updates: {next_offset: response.body.next_offset}\n"
        "while: response.body.offset < `10`\n"
        "records: items\n"
        "sub_steps:\n"
        "  - name: detail\n"
        "    iterate_over: response.body.items\n"
        '    url: "{config.base_url}/items/{item.id}"\n',
        '%%flow one --no-run\nurl: "{config.base_url}/items/7"\n'
        "extract: {name: response.body.name}",
        "%flow builder",
    ]


def dump_flow(lab: Any, target: Path) -> dict[str, Any]:
    """The kernel's flow as plan JSON (``%flow export``) and the builder's own plan."""
    execute(
        lab,
        "import json as _json\n"
        "_plan = %flow export\n"
        "_builder = [v for v in Out.values() if type(v).__name__ == 'FlowBuilder'][-1]\n"
        f"open({str(target)!r}, 'w').write(_json.dumps("
        "{'flow': _plan, 'builder': _builder.state.plan}))",
    )
    return json.loads(target.read_text())


def test_the_builder_inserts_its_flow_as_cells_below_itself(jupyterlab, demo_api):
    from playwright.sync_api import expect

    page = jupyterlab.page
    given = flow_cells(demo_api.url)
    write_notebook(jupyterlab.root / "builder-cells.ipynb", given)
    jupyterlab.open("builder-cells.ipynb")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    button = page.get_by_role("button", name="Insert as %%flow cells below")
    button.wait_for(timeout=120_000)
    before = dump_flow(jupyterlab, jupyterlab.root / "before.json")
    assert [step["name"] for step in before["flow"]["steps"]] == ["items", "one"]
    assert before["builder"] == before["flow"]  # the builder shows the kernel's flow
    expected = plan_to_flow_cells(before["flow"])
    assert len(expected) == 3 and expected[0].startswith("%%flow\n")  # settings, 2 steps
    assert expected[1].startswith("%%flow items\n") and "sub_steps" in expected[1]

    button.click()
    wait_for_cell_count(jupyterlab, len(given) + len(expected))
    shown = sources(jupyterlab)
    assert shown[: len(given)] == [["code", source] for source in given]  # nothing else moved
    assert shown[len(given) :] == [["code", source] for source in expected]  # right below
    status = page.locator(".orchestra-builder-status")
    expect(status).to_contain_text("inserted 3 %%flow cells below the builder", timeout=30_000)
    export_box = page.locator(".orchestra-export-text textarea")
    assert export_box.input_value() == "\n\n".join(expected)  # the box shows them too
    status.scroll_into_view_if_needed()
    jupyterlab.screenshot("builder-cells-status")
    page.locator(".jp-Notebook .jp-Cell").nth(len(given)).scroll_into_view_if_needed()
    jupyterlab.screenshot("builder-cells-inserted")

    # One undo takes all three away, redo brings them back.
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:undo-cell-action')")
    wait_for_cell_count(jupyterlab, len(given))
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:redo-cell-action')")
    wait_for_cell_count(jupyterlab, len(given) + len(expected))
    assert sources(jupyterlab)[len(given) :] == [["code", source] for source in expected]

    # An empty flow, then the inserted cells run one by one with Shift+Enter.
    reset = jupyterlab.root / "reset.txt"
    execute(jupyterlab, f"_reset = %flow reset\nopen({str(reset)!r}, 'w').write(str(_reset))")
    assert reset.read_text().startswith("the flow is empty")
    first = page.locator(".jp-Notebook .jp-Cell").nth(len(given))
    first.locator(".jp-InputPrompt").click()
    for index in range(len(given), len(given) + len(expected)):
        page.keyboard.press("Shift+Enter")
        page.wait_for_function(
            "(n) => { const c = window.jupyterapp.shell.currentWidget.content.model.cells;"
            " return !!c.get(n).toJSON().execution_count; }",
            arg=index,
            timeout=60_000,
        )
        jupyterlab.wait_for_kernel_idle()
    after = dump_flow(jupyterlab, jupyterlab.root / "after.json")
    assert after["flow"] == before["flow"]  # the cells rebuild the builder's flow
    errors = [
        cell["outputs"]
        for cell in page.evaluate(
            "() => { const c = window.jupyterapp.shell.currentWidget.content.model.cells;"
            " const all = []; for (let i = 0; i < c.length; i++) all.push(c.get(i).toJSON());"
            " return all; }"
        )
        if any(output.get("output_type") == "error" for output in cell.get("outputs", []))
    ]
    assert errors == []
    page.locator(".jp-Notebook .jp-Cell").last.scroll_into_view_if_needed()
    jupyterlab.screenshot("builder-cells-ran")
    assert not jupyterlab.console_errors, "\n\n".join(jupyterlab.console_errors)


def test_the_builder_yaml_view_is_highlighted_and_checked_offline(jupyterlab, demo_api):
    """The YAML view (ace, inlined with Panel) gets its YAML mode, theme and syntax-check
    worker from the output itself: highlighted, checked, and nothing asked of the server."""
    from playwright.sync_api import expect

    page = jupyterlab.page
    asked: list[str] = []
    page.on(
        "request",
        lambda request: asked.append(request.url) if ACE_FILE.search(request.url) else None,
    )
    write_notebook(jupyterlab.root / "builder-yaml.ipynb", flow_cells(demo_api.url))
    jupyterlab.open("builder-yaml.ipynb")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    editor = page.locator(".orchestra-builder-yaml .ace_editor")
    editor.wait_for(timeout=120_000)
    # ace's YAML tokens: keys are meta.tag + keyword, quoted URLs strings
    expect(editor.locator(".ace_meta.ace_tag").first).to_be_attached(timeout=30_000)
    expect(editor.locator(".ace_keyword").first).to_be_attached()
    expect(editor.locator(".ace_string").first).to_be_attached()
    assert "ace-github-light-default" in (editor.get_attribute("class") or "")
    tag_color = editor.locator(".ace_meta.ace_tag").first.evaluate(
        "(el) => getComputedStyle(el).color"
    )
    text_color = editor.evaluate("(el) => getComputedStyle(el).color")
    assert tag_color != text_color  # the theme colours the tokens

    # The worker checks the YAML: a broken line gets an error mark in the gutter.
    editor.scroll_into_view_if_needed()
    jupyterlab.screenshot("builder-yaml-highlighted")
    # (one edit, as a paste: typed key by key, each valid prefix goes to the plan and back)
    editor.evaluate("(el) => el.env.editor.session.insert({row: 0, column: 0}, 'broken: [\\n')")
    expect(editor.locator(".ace_gutter-cell.ace_error").first).to_be_attached(timeout=30_000)
    jupyterlab.screenshot("builder-yaml-checked")
    assert asked == []  # mode, theme and worker came with the output
    assert not jupyterlab.console_errors, "\n\n".join(jupyterlab.console_errors)
