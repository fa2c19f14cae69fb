"""A plan as the notebook cells that build it: ``%%flow`` cells, settings first.

:func:`plan_to_flow_cells` writes one cell of plan settings (``key``,
``config``, ``auth`` … — a ``%%flow`` cell holding only top-level fields sets
them) and then one ``%%flow NAME`` cell per root step, in plan order, each
holding its step as YAML (sub-steps inside their parent). Run one after the
other in a kernel with ``%load_ext orchestra``, they rebuild the flow and run
each step as a hand-written cell would. :func:`plan_to_flow_cell` writes the
whole plan as one ``%%flow`` cell instead. The plan is validated first: a plan
with problems is not exported (``PlanError``).
"""

from __future__ import annotations

import copy
import os
import shlex
from typing import Any

import yaml

from orchestra.plan._loader import PlanSource, load_plan, parse_text, read_source

ROOT_STEP_FIELDS = ("step", "steps")


def plan_data(plan: PlanSource) -> dict[str, Any]:
    """The plan as written (validated): a copy of a dict, the parsed text of a file."""
    compiled = load_plan(plan)
    if isinstance(plan, dict):
        return copy.deepcopy(plan)
    if isinstance(plan, (str, os.PathLike)):
        text, name = read_source(plan)
        data = parse_text(text, source=name)
        if isinstance(data, dict):
            return data
    return compiled.to_dict()


def _yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100)


def plan_to_flow_cells(plan: PlanSource) -> list[str]:
    """The ``%%flow`` cells that rebuild ``plan``: the settings cell, then one per root step."""
    compiled = load_plan(plan)
    data = plan_data(plan)
    settings = {key: value for key, value in data.items() if key not in ROOT_STEP_FIELDS}
    settings.setdefault("key", compiled.key)
    cells = ["%%flow\n" + _yaml(settings)]
    roots = data.get("steps") or ([data["step"]] if data.get("step") else [])
    for node, spec in zip(compiled.steps, roots, strict=True):
        body = {key: value for key, value in spec.items() if key != "name"}
        cells.append(f"%%flow {shlex.quote(node.name)}\n" + _yaml(body))
    return cells


def plan_to_flow_cell(plan: PlanSource) -> str:
    """The whole plan as one ``%%flow`` cell (running it replaces the current flow)."""
    load_plan(plan)
    return "%%flow\n" + _yaml(plan_data(plan))
