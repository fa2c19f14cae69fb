"""A notebook built with nbformat and executed by nbclient, as nbmake and CI run them."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook


def build(*sources: str):
    notebook = new_notebook(cells=[new_code_cell(source) for source in sources])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    return notebook


def execute(notebook, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    NotebookClient(notebook, timeout=60, resources={"metadata": {"path": str(tmp_path)}}).execute()


def test_a_flow_notebook_runs_and_keeps_rich_outputs(tmp_path, monkeypatch, demo_api):
    notebook = build(
        "%load_ext orchestra",
        f"%flow config base_url={demo_api.url}",
        '%%flow items --out r\nurl: "{config.base_url}/items"\nparams: {limit: 3}\n'
        "sub_steps:\n  - name: d\n    iterate_over: response.body.items\n"
        '    url: "{config.base_url}/items/{item.id}"',
        "assert r.ok and r.steps['items.d'].items_done == 3",
        "%flow sql SELECT count(*) AS n FROM exchanges",
    )
    execute(notebook, tmp_path, monkeypatch)
    outputs = notebook.cells[2].outputs
    assert outputs[-1]["output_type"] == "execute_result"
    assert "<details" in outputs[-1]["data"]["text/html"]
    assert "3/3 ok" in outputs[-1]["data"]["text/plain"]
    nbformat.validate(notebook)
    assert (tmp_path / "capture.duckdb").exists()  # ORCHESTRA_DB from tests/conftest.py


def test_a_failing_step_fails_the_notebook(tmp_path, monkeypatch, demo_api):
    notebook = build(
        "%load_ext orchestra",
        f"%flow config base_url={demo_api.url}",
        '%%flow broken\nurl: "{config.base_url}/status/503"\nretry: {max_attempts: 1}',
        "print('never reached')",
    )
    with pytest.raises(CellExecutionError, match="FlowRunFailed"):
        execute(notebook, tmp_path, monkeypatch)
    assert "503" in notebook.cells[2].outputs[0]["data"]["text/plain"]
    assert not notebook.cells[3].get("outputs")
