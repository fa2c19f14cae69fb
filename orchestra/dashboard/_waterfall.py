"""The waterfall: every exchange of the run as a bar over time, like a browser's network tab.

One lane per step, or (``lanes="worker"``) one lane per concurrent worker of a
step: the capture does not record which fanout worker sent a request, so
workers are rebuilt by packing each step's exchanges greedily into the first
lane free at their start — exactly as many lanes as requests were in flight at
once. Bars are coloured by status class (2xx, 3xx, 4xx, 429, 5xx, no
response); a retry's wait is a grey bar after the attempt that failed and a
rate-limit wait a purple one, both from the ``events`` table. Hover shows the
URL, status and timing; tapping a bar inspects that exchange.
"""

from __future__ import annotations

import heapq
from typing import Any, cast

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.models import ColumnDataSource, FixedTicker, HoverTool, Range1d, TapTool
from bokeh.plotting import figure
from panel.viewable import Viewer

from orchestra.capture import WaterfallRows
from orchestra.dashboard._state import DashboardState
from orchestra.dashboard._style import (
    RATE_LIMIT_WAIT_COLOR,
    RETRY_WAIT_COLOR,
    STATUS_CLASS_COLORS,
    status_class,
)

LANE_PX = 18
MAX_LANES_PER_STEP = 64  # worker lanes drawn per step; busier steps share the last lane


def worker_lanes(
    starts: np.ndarray, ends: np.ndarray, limit: int = MAX_LANES_PER_STEP
) -> np.ndarray:
    """The lane of each interval (sorted by start): the first lane free at its start."""
    free: list[tuple[float, int]] = []  # (end, lane) of busy lanes
    idle: list[int] = []
    lanes = np.zeros(len(starts), dtype=np.int64)
    count = 0
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        while free and free[0][0] <= start:
            heapq.heappush(idle, heapq.heappop(free)[1])
        if idle:
            lane = heapq.heappop(idle)
        elif count < limit:
            lane, count = count, count + 1
        else:
            lane = limit - 1
        lanes[index] = lane
        heapq.heappush(free, (end, lane))
    return lanes


def lay_out(rows: WaterfallRows | None, step_order: list[str], mode: str) -> dict[str, Any]:
    """Bars, waits and lane labels for the figure (``mode`` is ``step`` or ``worker``)."""
    empty = {
        "bars": _bar_data(pd.DataFrame()),
        "waits": _wait_data(pd.DataFrame()),
        "labels": [],
        "end_ms": 1.0,
    }
    if rows is None or rows.exchanges.empty:
        return empty
    frame = rows.exchanges.copy()
    order = {path: i for i, path in enumerate(step_order)}
    for path in frame["step_path"].unique():
        order.setdefault(path, len(order))
    frame["step_rank"] = frame["step_path"].map(order)
    frame = frame.sort_values(["step_rank", "start_ms", "exchange_id"], kind="stable")
    frame["end_ms"] = frame["start_ms"] + frame["elapsed_ms"].fillna(0).clip(lower=0.3)
    labels: list[str] = []
    lane = np.zeros(len(frame), dtype=np.int64)
    step_lane: dict[str, int] = {}
    positions = np.arange(len(frame))
    for path, group in frame.groupby("step_rank", sort=True):
        where = positions[(frame["step_rank"] == path).to_numpy()]
        name = group["step_path"].iloc[0]
        first = len(labels)
        step_lane[name] = first
        if mode == "worker":
            # lanes from the real busy interval, not the bar stretched to stay visible
            busy_until = group["start_ms"] + group["elapsed_ms"].fillna(0).clip(lower=0)
            local = worker_lanes(group["start_ms"].to_numpy(), busy_until.to_numpy())
            width = int(local.max()) + 1
            labels += [name if width == 1 else f"{name} #{i + 1}" for i in range(width)]
            lane[where] = first + local
        else:
            labels.append(name)
            lane[where] = first
    frame["lane"] = lane
    waits = rows.waits.copy()
    if not waits.empty:
        exchange_lane = dict(zip(frame["exchange_id"], frame["lane"], strict=True))
        waits["lane"] = [
            step_lane.get(step, 0)
            if pd.isna(exchange)  # a rate-limit wait: the step's lane
            else exchange_lane.get(exchange, step_lane.get(step, 0))  # a retry: its attempt's
            for exchange, step in zip(waits["exchange_id"], waits["step_path"], strict=True)
        ]
    end = max(float(frame["end_ms"].max()), 1.0)
    if not waits.empty:
        end = max(end, float((waits["start_ms"] + waits["delay_ms"].fillna(0)).max()))
    return {"bars": _bar_data(frame), "waits": _wait_data(waits), "labels": labels, "end_ms": end}


def _bar_data(frame: pd.DataFrame) -> dict[str, list[Any]]:
    if frame.empty:
        keys = [
            "exchange_id",
            "left",
            "right",
            "bottom",
            "top",
            "color",
            "cls",
            "step",
            "url",
            "status",
            "method",
            "attempt",
            "item",
            "start",
            "elapsed",
        ]
        return {key: [] for key in keys}
    lanes = frame["lane"].to_numpy()
    classes = [status_class(None if pd.isna(s) else s) for s in frame["status_code"]]
    return {
        "exchange_id": frame["exchange_id"].astype("int64").tolist(),
        "left": frame["start_ms"].astype(float).tolist(),
        "right": frame["end_ms"].astype(float).tolist(),
        "bottom": (-lanes - 0.4).tolist(),
        "top": (-lanes + 0.4).tolist(),
        "color": [STATUS_CLASS_COLORS[c] for c in classes],
        "cls": classes,
        "step": frame["step_path"].astype(str).tolist(),
        "url": frame["url"].astype(str).tolist(),
        "status": ["no response" if pd.isna(s) else str(int(s)) for s in frame["status_code"]],
        "method": frame["method"].astype(str).tolist(),
        "attempt": frame["attempt"].fillna(1).astype("int64").tolist(),
        "item": ["" if pd.isna(i) else str(int(i)) for i in frame["item_index"]],
        "start": frame["start_ms"].round(1).tolist(),
        "elapsed": frame["elapsed_ms"].fillna(0).round(1).tolist(),
    }


def _wait_data(frame: pd.DataFrame) -> dict[str, list[Any]]:
    if frame.empty:
        keys = ["left", "right", "bottom", "top", "color", "what", "step", "delay", "reason"]
        return {key: [] for key in keys}
    lanes = frame["lane"].to_numpy()
    delay = frame["delay_ms"].fillna(0).astype(float)
    retry = (frame["type"] == "retry_scheduled").to_numpy()
    return {
        "left": frame["start_ms"].astype(float).tolist(),
        "right": (frame["start_ms"] + delay).astype(float).tolist(),
        "bottom": (-lanes - 0.15).tolist(),
        "top": (-lanes + 0.15).tolist(),
        "color": [RETRY_WAIT_COLOR if r else RATE_LIMIT_WAIT_COLOR for r in retry],
        "what": ["retry wait" if r else "rate-limit wait" for r in retry],
        "step": frame["step_path"].astype(str).tolist(),
        "delay": delay.round(1).tolist(),
        "reason": frame["reason"].fillna("").astype(str).tolist(),
    }


class Waterfall(Viewer):
    """Exchanges over time, one lane per step or per worker; tap a bar to inspect it."""

    # typed as never None (param infers "| None" from the missing default)
    state = cast(
        "param.ClassSelector[DashboardState]",
        param.ClassSelector(class_=DashboardState, doc="The dashboard state it drives."),
    )
    lanes: param.Selector[str] = param.Selector(
        default="step",
        objects=["step", "worker"],
        doc="One lane per step, or per concurrent worker of a step.",
    )

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._syncing = False
        layout = lay_out(None, [], self.lanes)
        self.bars = ColumnDataSource(layout["bars"], name="waterfall-bars")
        self.waits = ColumnDataSource(layout["waits"], name="waterfall-waits")
        plot = figure(
            name="waterfall",
            height=160,
            sizing_mode="stretch_width",
            x_range=Range1d(start=0, end=1),
            y_range=Range1d(start=-0.5, end=0.5),
            tools="xpan,xwheel_zoom,reset",
            toolbar_location="above",
            x_axis_label="ms since the run started",
            output_backend="webgl",
        )
        plot.ygrid.visible = False
        self._lanes_ticker = FixedTicker(ticks=[])  # one model, its ticks updated in place
        plot.yaxis.ticker = self._lanes_ticker
        plot.yaxis.major_label_text_font_size = "11px"
        bars = plot.quad(
            left="left",
            right="right",
            bottom="bottom",
            top="top",
            source=self.bars,
            fill_color="color",
            line_color="color",
            fill_alpha=0.85,
            legend_field="cls",
            nonselection_fill_alpha=0.5,
            selection_line_color="#111111",
            selection_fill_alpha=1.0,
        )
        waits = plot.quad(
            left="left",
            right="right",
            bottom="bottom",
            top="top",
            source=self.waits,
            fill_color="color",
            line_color=None,
            fill_alpha=0.9,
            hatch_pattern="/",
            hatch_color="#ffffff",
            hatch_alpha=0.6,
            legend_field="what",
        )
        plot.legend.location = "top_right"
        plot.legend.orientation = "horizontal"
        plot.legend.label_text_font_size = "11px"
        plot.add_tools(
            HoverTool(
                renderers=[bars],
                tooltips=[
                    ("", "@method @url"),
                    ("step", "@step"),
                    ("status", "@status"),
                    ("attempt", "@attempt"),
                    ("item", "@item"),
                    ("start", "@start ms"),
                    ("took", "@elapsed ms"),
                ],
            ),
            HoverTool(
                renderers=[waits],
                tooltips=[
                    ("", "@what"),
                    ("step", "@step"),
                    ("waited", "@delay ms"),
                    ("why", "@reason"),
                ],
            ),
            TapTool(renderers=[bars]),
        )
        self.figure = plot
        self._note = pn.pane.Markdown("", margin=(0, 10))
        self._mode = pn.widgets.RadioButtonGroup(
            options={"lane per step": "step", "lane per worker": "worker"},
            value=self.lanes,
            color="light",
        )
        self._mode.link(self, value="lanes")
        self.bars.selected.on_change("indices", self._on_tap)
        self.state.param.watch(self._draw, ["waterfall", "graph"])
        self.state.param.watch(self._select, ["exchange_id"])
        self.param.watch(self._draw, ["lanes"])
        self._draw()

    def _draw(self, *events: param.parameterized.Event) -> None:
        with self.state.batch():  # the lanes button's event, too, comes without the lock
            self._draw_figure()

    def _draw_figure(self) -> None:
        state = self.state
        order = state.graph.paths if state.graph else []
        layout = lay_out(state.waterfall, order, self.lanes)
        labels = layout["labels"]
        plot = self.figure
        self._syncing = True
        try:
            self.bars.data = layout["bars"]
            self.waits.data = layout["waits"]
            self._select_id(state.exchange_id)
        finally:
            self._syncing = False
        plot.x_range.update(start=0, end=layout["end_ms"] * 1.02)
        plot.y_range.update(start=-(max(len(labels), 1) - 0.5), end=0.5 + 0.9)
        ticks = [-i for i in range(len(labels))]
        if list(self._lanes_ticker.ticks) != ticks:
            self._lanes_ticker.ticks = ticks
        plot.yaxis.major_label_overrides = {-i: label for i, label in enumerate(labels)}
        plot.height = max(160, min(900, 70 + LANE_PX * (len(labels) + 1)))
        rows = state.waterfall
        if rows is not None and rows.total > len(rows.exchanges):
            self._note.object = (
                f"*Showing the first {len(rows.exchanges):,} of {rows.total:,} exchanges.*"
            )
        else:
            self._note.object = ""

    def _select(self, event: param.parameterized.Event) -> None:
        # A selection set from a Panel widget's event (a click on an exchange row) arrives
        # outside Bokeh's document lock: a raw Bokeh model may change only inside the
        # state's batch (pn.io.hold), or Bokeh raises "_pending_writes should be non-None".
        with self.state.batch():
            self._syncing = True
            try:
                self._select_id(event.new)
            finally:
                self._syncing = False

    def _select_id(self, exchange_id: int | None) -> None:
        ids = list(self.bars.data["exchange_id"])
        indices = [ids.index(exchange_id)] if exchange_id in ids else []
        if list(self.bars.selected.indices) != indices:
            self.bars.selected.indices = indices

    def _on_tap(self, attr: str, old: list[int], new: list[int]) -> None:
        if self._syncing or not new:
            return
        ids = self.bars.data["exchange_id"]
        if new[0] < len(ids) and ids[new[0]] != self.state.exchange_id:
            self.state.select_exchange(ids[new[0]])

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self._mode, self._note),
            pn.pane.Bokeh(self.figure, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
