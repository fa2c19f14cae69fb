"""A plan exported as ``%%flow`` cells, run by nbclient in a real kernel, gives the records
``orchestra run`` gives for the plan itself (the records compared, not their counts)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml
from click.testing import CliRunner
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from orchestra.cli import main
from orchestra.demo import DemoAPI
from orchestra.plan import plan_to_flow_cells

REPO = Path(__file__).resolve().parents[2]


def shop_plan(base_url: str) -> dict:
    return {
        "key": "shop",
        "config": {"base_url": base_url, "token": {"env": "DEMO_TOKEN"}},
        "auth": {"type": "bearer", "token": "{config.token}"},
        "steps": [
            {
                "name": "items",
                "url": "{config.base_url}/cursor",
                "params": {"limit": 5},
                "paginate": {"type": "cursor", "cursor_path": "next_cursor", "max_pages": 3},
                "records": "items",
                "sub_steps": [
                    {
                        "name": "detail",
                        "iterate_over": "response.body.items",
                        "url": "{config.base_url}/items/{item.id}",
                        "concurrency": 4,
                        "extract": {"category": "response.body.category"},
                    }
                ],
            },
            {"name": "secured", "url": "{config.base_url}/protected/items",
             "params": {"limit": 2}},
            {"name": "first", "url": "{config.base_url}/items/{steps.items.body.items[0].id}"},
        ],
    }  # fmt: skip


def as_texts(records: list[object]) -> list[str]:
    """Each record as JSON text, sorted (fanout items finish in any order)."""
    return sorted(json.dumps(data, sort_keys=True) for data in records)


def test_exported_cells_give_the_records_of_orchestra_run(demo_api: DemoAPI, tmp_path: Path,
                                                          monkeypatch):  # fmt: skip
    monkeypatch.setenv("DEMO_TOKEN", "demo-static-token")
    plan = shop_plan(demo_api.url)
    plan_file = tmp_path / "shop.yaml"
    plan_file.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")

    records_file = tmp_path / "cli.jsonl"
    ran = CliRunner().invoke(
        main, ["run", str(plan_file), "--no-capture", "--records", str(records_file)],
        env={"DEMO_TOKEN": "demo-static-token"},
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    lines = [json.loads(line) for line in records_file.read_text().splitlines()]
    assert {line["step_path"] for line in lines} == {"items", "items.detail", "secured", "first"}
    expected = as_texts([line["data"] for line in lines])
    assert len(expected) == 15 + 15 + 1 + 1  # 3 pages of 5 items, their details, two more

    cells = plan_to_flow_cells(plan_file)
    out = tmp_path / "notebook-records.json"
    notebook = new_notebook(
        cells=[
            new_code_cell(source)
            for source in [
                "%load_ext orchestra",
                *cells,
                "%flow run --out whole --quiet",
                f"import json\njson.dump(whole.records, open({str(out)!r}, 'w'))",
            ]
        ]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    # the kernel imports this checkout's orchestra, whatever is installed
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    )
    NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    step_outputs = "\n".join(
        output.get("data", {}).get("text/plain", "")
        for cell in notebook.cells[1 : 1 + len(cells)]
        for output in cell.outputs
    )
    assert "demo-static-token" not in step_outputs
    assert as_texts(json.loads(out.read_text())) == expected
