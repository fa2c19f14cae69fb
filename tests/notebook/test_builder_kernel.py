"""``%flow builder`` in a real kernel (nbclient): the builder and ``%%flow`` cells edit one flow."""

from __future__ import annotations

import json

import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from orchestra.notebook._flow import NotebookFlow
from orchestra.notebook.commands import COMMANDS
from orchestra.notebook.commands._context import CommandContext
from orchestra.notebook.commands.builder import FlowBinding
from tests.notebook.kernel import value


def test_the_binding_writes_edits_into_the_flow_and_keeps_runs_of_unchanged_steps() -> None:
    flow = NotebookFlow()
    flow.replace_all({"key": "k", "steps": [{"name": "a", "url": "http://x/a"}]})
    flow.steps[0].run_id, flow.steps[0].status = "r1", "ok"
    binding = FlowBinding(flow)
    plan = binding.read()
    assert plan is not None
    plan["steps"].append({"name": "b", "url": "http://x/b"})
    binding.write(plan)
    assert flow.names() == ["a", "b"] and flow.steps[0].status == "ok"
    plan["steps"][0]["params"] = {"q": 1}
    binding.write(plan)
    assert flow.steps[0].status == "stale" and flow.steps[0].spec["params"] == {"q": 1}
    binding.keep_secret("API_TOKEN", "t0ps3cret-value")
    assert binding.environ()["API_TOKEN"] == "t0ps3cret-value"
    assert "t0ps3cret-value" not in flow.masker.text("x t0ps3cret-value x")


def test_builder_is_a_flow_command() -> None:
    assert "builder" in COMMANDS
    flow = NotebookFlow()
    shown = COMMANDS["builder"](CommandContext(flow), [])
    assert type(shown).__name__ == "FlowBuilder"
    assert shown.state.binding.live


@pytest.mark.timeout(240)
def test_builder_and_flow_cells_edit_one_flow_both_ways(tmp_path, monkeypatch, demo_api):
    cells = [
        "%load_ext orchestra",
        f"%flow config base_url={demo_api.url}",
        '%%flow items\nurl: "{config.base_url}/items"\nparams: {limit: 3}',
        "b = %flow builder\nb",
        # a step added in the builder is a step of the flow …
        "b.state.selected = 'steps[0]'\nb.state.add_step()\n"
        "b.state.set_value(b.state.selected, ('url',), "
        "'{config.base_url}/items/{steps.items.body.items[0].id}')\n"
        "assert not b.state.issues, b.state.issues\nprint(b.state.plan['steps'][-1]['name'])",
        "%flow show",
        "%flow run",  # runs it with the flow's other steps
        # … that a later %%flow cell can refer to,
        '%%flow later --out r\nurl: "{config.base_url}/items/{steps.step_1.body.id}"',
        "assert r.ok, r",
        # and the %%flow cell shows up in the builder by itself (no refresh, no click).
        "print(json.dumps([s['name'] for s in b.state.plan['steps']]))",
    ]
    notebook = new_notebook(
        cells=[new_code_cell("import json")] + [new_code_cell(c) for c in cells]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = notebook.cells[4].outputs
    assert shown and shown[-1]["output_type"] == "execute_result"
    assert any("application/vnd.holoviews_exec.v0+json" in o.get("data", {}) or
               "text/html" in o.get("data", {}) for o in shown)  # fmt: skip
    added = notebook.cells[5].outputs[0]["text"].strip()
    assert added == "step_1"
    listing = notebook.cells[6].outputs[-1]["data"]["text/plain"]
    assert "name: step_1" in listing
    names = json.loads(notebook.cells[10].outputs[0]["text"])
    assert names == ["items", "step_1", "later"]


@pytest.mark.timeout(240)
def test_a_flow_cell_shows_up_in_a_displayed_builder_and_never_drops_a_draft(flow):
    """After the builder is displayed, a ``%%flow`` cell's step appears in its step tree
    with no click; an unsaved draft with a problem is kept and the builder says the flow
    changed under it, until "Reload from flow" is pressed."""
    flow.run('%%flow items --no-run\nurl: "{config.base_url}/items"').check()
    flow.run("b = %flow builder\nb").check()
    assert value(flow, "b.refresh_button.visible") == "True"  # a notebook flow: reload offered

    def tree() -> list[str]:
        shown = value(flow, "list(b.tree.options)")  # the step tree's labels, as drawn
        return [label.strip("\u00a0└ ").split()[0] for label in eval(shown)[1:]]

    assert tree() == ["items"]
    flow.run('%%flow later --no-run\nurl: "{config.base_url}/items/1"').check()
    assert tree() == ["items", "later"]
    assert value(flow, "b.state.dirty") == "False"

    # a draft with a problem (never written into the flow), then another %%flow cell
    flow.run(
        "b.state.selected = 'steps[0]'\n"
        "b.state.set_value('steps[0]', ('url',), '{config.base_url}/items/{item')"
    ).check()
    assert value(flow, "bool(b.state.issues) and b.state.dirty") == "True"
    flow.run('%%flow third --no-run\nurl: "{config.base_url}/items/2"').check()
    assert value(flow, "b.state.plan['steps'][0]['url']") == "'{config.base_url}/items/{item'"
    assert tree() == ["items", "later"]  # the draft is kept …
    said = value(flow, "b.state.flow_changed")
    assert "changed while this draft has unsaved changes" in said and "Reload from flow" in said
    assert value(flow, "b.flow_changed.visible") == "True"  # … and the builder says why
    flow.run("b.refresh_button.clicks += 1").check()  # "Reload from flow"
    assert tree() == ["items", "later", "third"]
    assert value(flow, "b.state.flow_changed") == "''"
    assert value(flow, "b.flow_changed.visible") == "False"


@pytest.mark.timeout(240)
def test_insert_cells_below_asks_the_frontend_and_says_what_it_answered(flow, demo_api):
    """The builder's "Insert as %%flow cells below" in a real kernel, the frontend played by
    the test: the kernel opens ``orchestra.cells`` with the builder's mark and the cells."""
    from orchestra.plan import plan_to_flow_cells

    flow.run('%%flow items --no-run\nurl: "{config.base_url}/items"\nparams: {limit: 3}').check()
    shown = flow.run("b = %flow builder\nb").check()
    [mark] = [
        output["data"]["application/vnd.orchestra.output+json"]["id"]
        for output in shown.outputs
        if "application/vnd.orchestra.output+json" in output.get("data", {})
    ]
    assert value(flow, "b.insert_cells_button.visible") == "True"  # inline: it can insert

    def ask() -> dict:
        clicked = flow.run("b._insert_cells_below()").check()
        [request] = [comm for comm in clicked.comms if comm["target_name"] == "orchestra.cells"]
        return request

    request = ask()
    plan = json.loads(value(flow, "__import__('json').dumps(b.state.plan)")[1:-1])
    assert request["data"] == {"output": mark, "cells": plan_to_flow_cells(plan)}
    assert "asking the notebook to insert them" in value(flow, "b.state.message")
    flow.comm_msg(request["comm_id"], {"inserted": 2}).check()  # JupyterLab + the extension
    assert "inserted 2 %%flow cells below the builder" in value(flow, "b.state.message")

    request = ask()  # a frontend without the extension closes the comm unanswered
    flow.close_comm(request["comm_id"])
    assert "this notebook frontend cannot insert cells" in value(flow, "b.state.message")
    assert value(flow, "b.export_text.value.startswith('%%flow')") == "True"  # the box has them

    request = ask()  # the builder's output was cleared meanwhile
    flow.comm_msg(request["comm_id"], {"missing": True}).check()
    assert "no cell of this notebook shows the builder" in value(flow, "b.state.message")


def test_a_builder_on_a_plan_file_offers_no_insert(tmp_path) -> None:
    from orchestra.dashboard import FlowBuilder

    plan = tmp_path / "plan.yaml"
    plan.write_text("key: k\nsteps:\n  - name: a\n    url: http://127.0.0.1:9/a\n")
    builder = FlowBuilder(plan)
    assert not builder.insert_cells_button.visible
    assert not builder.refresh_button.visible  # a file is opened again, not "reloaded"
    builder._insert_cells_below()
    assert builder.export_text.value.startswith("%%flow")
    assert "inserting cells needs the builder inline in a notebook" in builder.state.message
