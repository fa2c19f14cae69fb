"""``%flow export``: the current flow as a plan, or its captured runs as HAR or curl.

A flow built cell by cell is several runs (one per cell run). ``har`` and
``curl`` therefore cover the runs that produced the flow's current step
results, in step order, unless ``--run RUN`` picks one run. Everything comes
from the capture, which holds masked values only: secrets stay ``${NAME}``
references or ``***``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestra.capture import CaptureStore, export_curl, export_har
from orchestra.notebook._flow import NotebookFlow
from orchestra.notebook._views import plan_yaml
from orchestra.plan import load_plan

FORMATS = ("plan", "har", "curl")


class ExportedText(str):
    """Text shown as is (not as a quoted string) when it is a cell's result."""

    __slots__ = ()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def flow_runs(flow: NotebookFlow, store: CaptureStore, run: str | None) -> list[str]:
    """The run ids to export: ``run`` if given, else those behind the flow's steps."""
    if run:
        return [store.resolve_run(run)]
    ids = list(dict.fromkeys(step.run_id for step in flow if step.run_id))
    return ids or [store.resolve_run("last")]


def plan_of(flow: NotebookFlow) -> dict[str, Any]:
    """The flow as plan JSON, validated (an export always loads and runs)."""
    plan = flow.plan()
    load_plan(plan)
    return plan


def har_of(store: CaptureStore, run_ids: list[str]) -> dict[str, Any]:
    """One HAR log over several runs: a page per run, entries in run order."""
    merged: dict[str, Any] | None = None
    for run_id in run_ids:
        log = export_har(store, run_id)["log"]
        if merged is None:
            merged = log
            merged["_orchestra"] = {"runs": [log["_orchestra"]]}
            continue
        merged["pages"].extend(log["pages"])
        merged["entries"].extend(log["entries"])
        merged["_orchestra"]["runs"].append(log["_orchestra"])
    assert merged is not None
    merged["comment"] = f"Orchestra runs {', '.join(run_ids)}; secrets are masked"
    return {"log": merged}


def curl_of(store: CaptureStore, run_ids: list[str]) -> str:
    return "\n".join(export_curl(store, run_id) for run_id in run_ids)


def write(content: dict[str, Any] | str, target: Path, fmt: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        target.write_text(content, encoding="utf-8")
    elif fmt == "plan" and target.suffix.lower() in (".yaml", ".yml"):
        target.write_text(plan_yaml(content), encoding="utf-8")
    else:
        target.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", "utf-8")


def write_notebook(cells: list[str], target: Path) -> None:
    """``cells`` as the code cells of a new notebook file (nbformat 4, Python kernel)."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    notebook = new_notebook(cells=[new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}  # fmt: skip
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(target))
