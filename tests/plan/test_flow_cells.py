"""``plan_to_flow_cells`` / ``plan_to_flow_cell``: the ``%%flow`` cells of a plan.

That the cells rebuild the flow and give the same records in a real kernel is
tests/integration/test_export_cells.py; these pin the cells' shape.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestra.errors import PlanError
from orchestra.plan import load_plan, plan_to_flow_cell, plan_to_flow_cells

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def body(cell: str) -> dict:
    return yaml.safe_load(cell.partition("\n")[2])


def test_settings_first_then_one_cell_per_root_step():
    plan = {
        "key": "k",
        "config": {"base_url": "http://x.test", "token": {"env": "TOKEN"}},
        "auth": {"type": "bearer", "token": "{config.token}"},
        "steps": [
            {"url": "{config.base_url}/a", "params": {"q": "{{literal}}"}},
            {"name": "two-words", "url": "{config.base_url}/b",
             "sub_steps": [{"name": "d", "iterate_over": "response.body", "url": "http://x/{item}"}]},
        ],
    }  # fmt: skip
    cells = plan_to_flow_cells(plan)
    assert [cell.partition("\n")[0] for cell in cells] == [
        "%%flow",
        "%%flow step_1",
        "%%flow two-words",
    ]
    assert body(cells[0]) == {key: plan[key] for key in ("key", "config", "auth")}
    assert body(cells[1]) == plan["steps"][0]  # braces kept as written
    assert body(cells[2]) == {k: v for k, v in plan["steps"][1].items() if k != "name"}


def test_a_plan_file_keeps_its_fields_as_written_and_one_cell_holds_all():
    path = TEMPLATES / "quickstart.yaml"
    written = yaml.safe_load(path.read_text())
    cells = plan_to_flow_cells(path)
    assert body(cells[1]) == {k: v for k, v in written["steps"][0].items() if k != "name"}
    whole = plan_to_flow_cell(path)
    assert whole.startswith("%%flow\n") and body(whole) == written
    assert load_plan(body(whole)).key == written["key"]


def test_a_single_root_step_is_the_cell_main():
    cells = plan_to_flow_cells({"key": "k", "step": {"url": "http://x.test"}})
    assert cells[1] == "%%flow main\nurl: http://x.test\n"


def test_a_plan_with_problems_is_not_exported():
    with pytest.raises(PlanError, match="metod"):
        plan_to_flow_cells({"key": "k", "steps": [{"url": "http://x", "metod": "GET"}]})
