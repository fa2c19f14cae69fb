"""``%flow builder``: the visual flow builder, inline, bound to the kernel's current flow.

The builder edits the flow itself, not a copy: every edit that leaves the
plan valid is written back (a step added in the builder is a step of the
flow, ``%flow show`` lists it and a later ``%%flow`` cell can refer to it),
and the flow tells the builder after each ``%flow`` command, so a ``%%flow``
cell run after it shows up there without a click (an unsaved draft with
problems is kept, and the builder says the flow changed under it). Panel and the dashboard load
only when the command runs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from orchestra.notebook._args import parser
from orchestra.notebook._cells_below import insert_below
from orchestra.notebook._flow import PLAN_SETTINGS, STALE, FlowStep, NotebookFlow
from orchestra.notebook.commands._command import Command
from orchestra.notebook.commands._context import CommandContext


class FlowBinding:
    """The builder's view of a :class:`NotebookFlow`: read it, write edits back into it."""

    live = True
    label = "the notebook's current flow"

    def __init__(self, flow: NotebookFlow) -> None:
        self.flow = flow

    def read(self) -> dict[str, Any] | None:
        if not self.flow.steps and not self.flow.settings:
            return None
        return self.flow.plan()

    def write(self, plan: dict[str, Any]) -> None:
        """Make the flow hold ``plan``: steps kept by name keep their cell and last run."""
        flow = self.flow
        flow.settings = {k: copy.deepcopy(v) for k, v in plan.items() if k in PLAN_SETTINGS}
        steps: list[FlowStep] = []
        for spec in plan.get("steps") or []:
            spec = copy.deepcopy(spec)
            existing = flow.find(str(spec.get("name")))
            if existing is None:
                steps.append(FlowStep(str(spec["name"]), spec))
                continue
            if existing.spec != spec:
                existing.spec, existing.source = spec, None
                if existing.has_run:  # its results are from the step as it was
                    existing.status, existing.stale_because = STALE, "the builder"
            steps.append(existing)
        flow.steps = steps

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after each ``%flow`` command (the builder re-reads the flow)."""
        self.flow.watch(callback)

    def environ(self) -> Mapping[str, str]:
        return self.flow.environ()

    def keep_secret(self, name: str, value: str) -> None:
        """An imported secret: as ``%flow secret NAME`` would keep it (masked everywhere)."""
        self.flow.keep_secret(name, value)

    def insert_cells(self, mark: str, cells: list[str], report: Callable[[str], None]) -> bool:
        """The builder's exported cells, below the builder's own cell (see ``_cells_below``)."""
        return insert_below(mark, cells, report)


def builder(ctx: CommandContext, words: list[str]) -> Any:
    parser("builder").parse(words)
    from orchestra.dashboard import FlowBuilder  # Panel and Bokeh load only here

    return FlowBuilder(binding=FlowBinding(ctx.flow), db=ctx.database())


BUILDER = Command(
    "builder",
    builder,
    usage="builder",
    what="The visual flow builder on the current flow: forms for every plan field, live "
    "validation, Try it against the API with caps, click a response field to use its path, "
    "import curl/HAR, export. Its edits are the flow's; %%flow cells run later show up in it.",
    example="%flow builder",
)
