"""The step table: one row per step path of the run; click a row to select the step."""

from __future__ import annotations

from typing import Any, cast

import pandas as pd
import panel as pn
import param
from panel.viewable import Viewer

from orchestra.dashboard._state import DashboardState
from orchestra.dashboard._style import PENDING, STATUS_COLORS
from orchestra.dashboard._tables import (
    BASIC_RENDERING,
    DURATION,
    TEXT,
    ReadOnlyTable,
    colored_status,
    number,
)

TITLES = {
    "step_path": "step",
    "executions": "runs",
    "max_attempt": "attempts",
    "duration_ms": "duration",
}
INTEGERS = (
    "executions", "requests", "retries", "max_attempt", "pages", "items", "records", "bytes",
)  # fmt: skip


class StepTable(Viewer):
    """Path, status, executions, requests, retries, attempts, pages, items, bytes, duration."""

    # typed as never None (param infers "| None" from the missing default)
    state = cast(
        "param.ClassSelector[DashboardState]",
        param.ClassSelector(class_=DashboardState, doc="The dashboard state it drives."),
    )

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._syncing = False
        self._table = ReadOnlyTable(
            self.state.steps,
            disabled=True,
            selectable=1,
            show_index=False,
            titles=TITLES,
            configuration=dict(BASIC_RENDERING),
            formatters={
                "step_path": TEXT,
                **{c: number() for c in INTEGERS},
                "duration_ms": DURATION,
                "status": colored_status(
                    {status: color for status, color in STATUS_COLORS.items() if status != PENDING}
                ),
            },
            sizing_mode="stretch_width",
            max_height=420,
            layout="fit_data_stretch",
            css_classes=["orchestra-steps"],
        )
        self._table.param.watch(self._on_select, "selection")
        self.state.param.watch(self._draw, ["steps", "step_path"])
        self._draw()

    def _on_select(self, event: param.parameterized.Event) -> None:
        if self._syncing:
            return
        frame: pd.DataFrame = self._table.value
        path = None
        if event.new and 0 <= event.new[0] < len(frame):
            path = frame["step_path"].iloc[event.new[0]]
        if path != self.state.step_path:
            self.state.step_path = path

    def _draw(self, *events: param.parameterized.Event) -> None:
        steps = self.state.steps
        assert steps is not None  # DashboardState sets it (possibly empty) before any view draws
        frame = steps.reset_index(drop=True)
        self._syncing = True
        try:
            if not self._table.value.equals(frame):
                self._table.value = frame
            selected = frame.index[frame["step_path"] == self.state.step_path].tolist()
            if self._table.selection != selected:
                self._table.selection = selected
        finally:
            self._syncing = False

    def __panel__(self) -> pn.viewable.Viewable:
        return self._table
