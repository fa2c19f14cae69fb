"""The run picker: runs of the capture file, newest first, filtered by plan and status."""

from __future__ import annotations

from typing import Any, cast

import pandas as pd
import panel as pn
import param
from panel.viewable import Viewer

from orchestra.dashboard._state import RUN_STATUSES, DashboardState
from orchestra.dashboard._style import (
    FAILED,
    RUN_STATUS_COLORS,
    STATUS_COLORS,
    format_ms,
)
from orchestra.dashboard._tables import (
    BASIC_RENDERING,
    TEXT,
    ReadOnlyTable,
    colored_status,
    number,
)

ALL = "(all)"


def duration_text(status: Any, started_at: Any, duration_ms: Any) -> str:
    """How long the run took; for a run still running, how long it has run so far."""
    if str(status) == "running" and pd.isna(duration_ms) and not pd.isna(started_at):
        started = pd.Timestamp(started_at)
        now = pd.Timestamp.now(tz="UTC")
        now = now if started.tzinfo is not None else now.tz_localize(None)  # stored as UTC
        return f"{format_ms(max((now - started).total_seconds(), 0.0) * 1000)} so far"
    return format_ms(None if pd.isna(duration_ms) else duration_ms)


def runs_table_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """The picker's rows: start as text, duration readable, counts as integers.

    The column types are the same with no runs as with some (text stays text even when
    empty): the table's configuration follows them, and a changed configuration makes
    the browser rebuild the table while live updates arrive.
    """
    started = [
        "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M:%S")
        for value in runs["started_at"]
    ]
    frame = pd.DataFrame(
        {
            "run_id": runs["run_id"].astype(str),
            "plan": runs["plan_key"].astype(str),
            "status": runs["status"].astype(str),
            "started": pd.Series(started, index=runs.index, dtype=str),
            "duration": pd.Series(
                [
                    duration_text(status, started, ms)
                    for status, started, ms in zip(
                        runs["status"], runs["started_at"], runs["duration_ms"], strict=True
                    )
                ],
                index=runs.index,
                dtype=str,
            ),
            "requests": runs["requests"].fillna(0).astype("int64"),
            "errors": runs["errors"].fillna(0).astype("int64"),
        }
    )
    return frame.reset_index(drop=True)


class RunPicker(Viewer):
    """Runs newest first (plan, status, start, duration, requests, errors); click to show one."""

    # typed as never None (param infers "| None" from the missing default)
    state = cast(
        "param.ClassSelector[DashboardState]",
        param.ClassSelector(class_=DashboardState, doc="The dashboard state it drives."),
    )

    def __init__(self, **params: Any):
        super().__init__(**params)
        state = self.state
        self._syncing = False
        self._plan = pn.widgets.Select(
            label="Plan", options=[ALL, *state.plan_keys], value=ALL, width=200
        )
        self._status = pn.widgets.Select(
            label="Status", options=[ALL, *RUN_STATUSES], value=ALL, width=160
        )
        self._table = ReadOnlyTable(
            runs_table_frame(state.runs),
            disabled=True,
            selectable=1,
            show_index=False,
            pagination="local",
            page_size=8,
            sizing_mode="stretch_width",
            configuration=dict(BASIC_RENDERING),
            formatters={
                **{c: TEXT for c in ("run_id", "plan", "started", "duration")},
                "requests": number(),
                "errors": number(),
                "status": colored_status(RUN_STATUS_COLORS, STATUS_COLORS[FAILED]),
            },
            css_classes=["orchestra-runs"],
        )
        self._count = pn.pane.Markdown("", margin=(18, 10, 0, 10))
        self._plan.param.watch(self._on_plan, "value")
        self._status.param.watch(self._on_status, "value")
        self._table.param.watch(self._on_select, "selection")
        state.param.watch(self._draw, ["runs", "plan_keys", "run_id"])
        self._draw()

    def _on_plan(self, event: param.parameterized.Event) -> None:
        self.state.plan_filter = "" if event.new == ALL else event.new

    def _on_status(self, event: param.parameterized.Event) -> None:
        self.state.status_filter = "" if event.new == ALL else event.new

    def _on_select(self, event: param.parameterized.Event) -> None:
        if self._syncing or not event.new:
            return
        frame = self._table.value
        index = event.new[0]
        if 0 <= index < len(frame):
            self.state.select_run(frame["run_id"].iloc[index])

    def _draw(self, *events: param.parameterized.Event) -> None:
        """Show the runs; on a run switch alone only the selection changes.

        (The rows are not rebuilt and compared then: that costs ~8 ms of server CPU.)
        """
        state = self.state
        if events and all(event.name == "run_id" for event in events):
            frame = self._table.value
        else:
            frame = runs_table_frame(state.runs)
        self._syncing = True
        try:
            options = [ALL, *state.plan_keys]
            if self._plan.options != options:
                self._plan.options = options
            if frame is not self._table.value and not self._table.value.equals(frame):
                self._table.value = frame
            selected = frame.index[frame["run_id"] == state.run_id].tolist()
            if self._table.selection != selected:
                self._table.selection = selected
        finally:
            self._syncing = False
        total = len(frame)
        self._count.object = f"{total} run{'' if total == 1 else 's'}"

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self._plan, self._status, self._count),
            self._table,
            sizing_mode="stretch_width",
        )
