"""The waterfall: the run's exchanges over time, like a browser's network tab, at any size.

A window of the run (all of it at first) overlapped by at most
``WATERFALL_LIMIT`` exchanges is drawn as bars; a busier one as an aggregate
DuckDB computes per time bucket: responses per status class (stacked),
requests in flight, and latency bands (p50 to p95, and the slowest). Zooming
or panning sends the visible x-range to the server (Bokeh's ``RangesUpdate``,
sent once an interaction settles), which reads only that window: zoom in far
enough and the aggregate turns into bars. What reaches the browser is bounded
by the limit and the bucket count, never by the run's size.

Where the transport recorded the time to first byte (status line and headers
received), a bar is split in two: the pale part is waiting for the answer, the
solid part reading its body; a bar without it (older captures, a transport
that cannot tell) is solid throughout.

One lane per step, or (``lanes="worker"``) one lane per concurrent worker of a
step: the capture does not record which fanout worker sent a request, so
workers are rebuilt by packing each step's exchanges greedily into the first
lane free at their start — exactly as many lanes as requests were in flight at
once. Bars are coloured by status class (2xx, 3xx, 4xx, 429, 5xx, no
response); a retry's wait is a grey bar after the attempt that failed and a
rate-limit wait a purple one, both from the ``events`` table. Hover shows the
URL, status and timing (one tooltip at a time, times in ms / s); tapping a
bar inspects that exchange.
"""

from __future__ import annotations

import heapq
from typing import Any, cast

import numpy as np
import pandas as pd
import panel as pn
import param
from bokeh.events import RangesUpdate
from bokeh.models import (
    ColumnDataSource,
    CustomJSTickFormatter,
    FixedTicker,
    HoverTool,
    Range1d,
    TapTool,
)
from bokeh.plotting import figure
from panel.viewable import Viewer

from orchestra.capture import WaterfallRows
from orchestra.dashboard._state import DashboardState
from orchestra.dashboard._style import (
    RATE_LIMIT_WAIT_COLOR,
    RETRY_WAIT_COLOR,
    STATUS_CLASS_COLORS,
    format_ms,
    status_class,
)

LANE_PX = 18
# The aggregate's stacked columns (as the capture's bucket query names them) and their legend.
BUCKET_CLASSES = {
    "s2xx": "2xx",
    "s3xx": "3xx",
    "s4xx": "4xx",
    "s429": "429",
    "s5xx": "5xx",
    "none": "no response",
}
# Axis ticks in milliseconds read as people write durations: 850 ms, 1.5 s, 2 min 5 s.
MS_TICKS_JS = """
const a = Math.abs(tick);
if (a >= 60000) {
  const m = Math.trunc(tick / 60000);
  const s = Math.round((a % 60000) / 1000);
  return s ? `${m} min ${s} s` : `${m} min`;
}
if (a >= 1000) return `${Number((tick / 1000).toFixed(a >= 10000 ? 1 : 2))} s`;
return `${Number(tick.toFixed(a >= 10 ? 0 : 1))} ms`;
"""


def ms_ticks() -> CustomJSTickFormatter:
    """A tick formatter for an axis in milliseconds (one per axis: a model has one document)."""
    return CustomJSTickFormatter(code=MS_TICKS_JS)


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
            "body_left",
            "title",
            "detail",
            "timing",
            "phases",
        ]
        return {key: [] for key in keys}
    lanes = frame["lane"].to_numpy()
    classes = [status_class(None if pd.isna(s) else s) for s in frame["status_code"]]
    statuses = ["no response" if pd.isna(s) else str(int(s)) for s in frame["status_code"]]
    attempts = frame["attempt"].fillna(1).astype("int64").tolist()
    items = ["" if pd.isna(i) else str(int(i)) for i in frame["item_index"]]
    starts = frame["start_ms"].astype(float).tolist()
    elapsed = frame["elapsed_ms"].fillna(0).astype(float).tolist()
    methods = frame["method"].astype(str).tolist()
    urls = frame["url"].astype(str).tolist()
    first_bytes = _first_bytes(frame)
    return {
        "exchange_id": frame["exchange_id"].astype("int64").tolist(),
        "left": starts,
        "right": frame["end_ms"].astype(float).tolist(),
        "bottom": (-lanes - 0.4).tolist(),
        "top": (-lanes + 0.4).tolist(),
        "color": [STATUS_CLASS_COLORS[c] for c in classes],
        "cls": classes,
        "step": frame["step_path"].astype(str).tolist(),
        "url": urls,
        "status": statuses,
        "method": methods,
        "attempt": attempts,
        "item": items,
        "start": frame["start_ms"].round(1).tolist(),
        "elapsed": frame["elapsed_ms"].fillna(0).round(1).tolist(),
        # where the body began to arrive: the solid part of the bar (all of it when unknown)
        "body_left": [
            start if first is None else start + first
            for start, first in zip(starts, first_bytes, strict=True)
        ],
        "title": [f"{m} {u}" for m, u in zip(methods, urls, strict=True)],
        "detail": [
            f"{status} · attempt {attempt}" + (f" · item {item}" if item else "")
            for status, attempt, item in zip(statuses, attempts, items, strict=True)
        ],
        "timing": [
            f"took {format_ms(took)} · started at {format_ms(start)}"
            for start, took in zip(starts, elapsed, strict=True)
        ],
        "phases": [
            "first byte not recorded"
            if first is None
            else f"waiting {format_ms(first)} · reading body {format_ms(max(took - first, 0.0))}"
            for first, took in zip(first_bytes, elapsed, strict=True)
        ],
    }


def _first_bytes(frame: pd.DataFrame) -> list[float | None]:
    """Each bar's time to first byte in ms, within its duration; None where unknown."""
    if "first_byte_ms" not in frame:
        return [None] * len(frame)
    elapsed = frame["elapsed_ms"].fillna(0).astype(float)
    first = frame["first_byte_ms"].astype(float).clip(lower=0, upper=elapsed)  # NaN stays
    return [None if pd.isna(value) else float(value) for value in first]


def _wait_data(frame: pd.DataFrame) -> dict[str, list[Any]]:
    if frame.empty:
        keys = [
            "left",
            "right",
            "bottom",
            "top",
            "color",
            "what",
            "step",
            "delay",
            "reason",
            "title",
            "detail",
            "timing",
            "phases",
        ]
        return {key: [] for key in keys}
    lanes = frame["lane"].to_numpy()
    delay = frame["delay_ms"].fillna(0).astype(float)
    retry = (frame["type"] == "retry_scheduled").to_numpy()
    what = ["retry wait" if r else "rate-limit wait" for r in retry]
    reasons = frame["reason"].fillna("").astype(str).tolist()
    starts = frame["start_ms"].astype(float).tolist()
    return {
        "left": starts,
        "right": (frame["start_ms"] + delay).astype(float).tolist(),
        "bottom": (-lanes - 0.15).tolist(),
        "top": (-lanes + 0.15).tolist(),
        "color": [RETRY_WAIT_COLOR if r else RATE_LIMIT_WAIT_COLOR for r in retry],
        "what": what,
        "step": frame["step_path"].astype(str).tolist(),
        "delay": delay.round(1).tolist(),
        "reason": reasons,
        "title": what,
        "detail": [reason or "-" for reason in reasons],
        "timing": [
            f"waited {format_ms(d)} · from {format_ms(s)}"
            for s, d in zip(starts, delay.tolist(), strict=True)
        ],
        "phases": [""] * len(starts),  # the bars' line of the shared tooltip
    }


BUCKET_KEYS = [
    "left",
    "right",
    "middle",
    *BUCKET_CLASSES,
    "answered",
    "in_flight",
    "p50",
    "p95",
    "max",
    "window",
    "latency",
    "counts",
    "waits",
]


def bucket_data(rows: WaterfallRows | None) -> dict[str, list[Any]]:
    """The aggregate's columns: one row per time bucket, with its tooltip text."""
    if rows is None or rows.buckets.empty:
        return {key: [] for key in BUCKET_KEYS}
    frame = rows.buckets
    left = frame["start_ms"].astype(float)
    right = frame["end_ms"].astype(float)
    data: dict[str, list[Any]] = {
        "left": left.tolist(),
        "right": right.tolist(),
        "middle": ((left + right) / 2).tolist(),
    }
    for column in BUCKET_CLASSES:
        data[column] = frame[column].astype("int64").tolist()
    data["answered"] = frame["answered"].astype("int64").tolist()
    data["in_flight"] = frame["in_flight"].astype("int64").tolist()
    for column in ("p50", "p95", "max"):  # NaN where nothing was answered: a gap
        data[column] = frame[f"{column}_ms"].astype(float).tolist()
    bounds = zip(data["left"], data["right"], strict=True)
    data["window"] = [f"{format_ms(a)} to {format_ms(b)}" for a, b in bounds]
    data["latency"] = [
        "-" if pd.isna(p50) else f"p50 {format_ms(p50)} · p95 {format_ms(p95)} · max {format_ms(m)}"
        for p50, p95, m in zip(data["p50"], data["p95"], data["max"], strict=True)
    ]
    data["counts"] = [
        " · ".join(
            f"{label} {data[column][i]:,}"
            for column, label in BUCKET_CLASSES.items()
            if data[column][i]
        )
        or "none"
        for i in range(len(frame))
    ]
    retry = frame["retry_waits"].astype("int64").tolist()
    limited = frame["rate_limit_waits"].astype("int64").tolist()
    data["waits"] = [
        f"{r:,} retry · {rl:,} rate-limit" for r, rl in zip(retry, limited, strict=True)
    ]
    return data


class Waterfall(Viewer):
    """Exchanges over time: bars (one lane per step or worker) or, when many, an aggregate.

    Tap a bar to inspect its exchange; zoom into the aggregate to get bars.
    """

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
        self._run: str | None = None
        self._window: tuple[float, float] | None = None  # the zoomed x-range; None: all
        self.shown: WaterfallRows | None = None  # what the figures draw now
        layout = lay_out(None, [], self.lanes)
        self.bars = ColumnDataSource(layout["bars"], name="waterfall-bars")
        self.waits = ColumnDataSource(layout["waits"], name="waterfall-waits")
        self.buckets = ColumnDataSource(bucket_data(None), name="waterfall-buckets")
        self.x_range = Range1d(start=0, end=1)
        self.figure = self._bars_figure()
        self.aggregate = self._aggregate_figure()
        self.latency = self._latency_figure()
        for plot in (self.figure, self.aggregate, self.latency):
            plot.on_event(RangesUpdate, self._on_range)
        self._note = pn.pane.Markdown("", margin=(0, 10))
        self._mode = pn.widgets.RadioButtonGroup(
            options={"lane per step": "step", "lane per worker": "worker"},
            value=self.lanes,
            color="light",
        )
        self._mode.link(self, value="lanes")
        # a Bokeh pane's own ``visible`` follows its figure's: toggle a column around it
        self._bars_pane = pn.Column(
            pn.pane.Bokeh(self.figure, sizing_mode="stretch_width"), sizing_mode="stretch_width"
        )
        self._aggregate_pane = pn.Column(
            pn.pane.Bokeh(self.aggregate, sizing_mode="stretch_width"),
            pn.pane.Bokeh(self.latency, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
            visible=False,
        )
        self.bars.selected.on_change("indices", self._on_tap)
        self.state.param.watch(self._draw, ["waterfall", "graph"])
        self.state.param.watch(self._select, ["exchange_id"])
        self.param.watch(self._draw, ["lanes"])
        self._draw()

    # -- figures -----------------------------------------------------------------------------

    def _time_figure(self, name: str, height: int, **options: Any) -> Any:
        plot = figure(
            name=name,
            height=height,
            sizing_mode="stretch_width",
            x_range=self.x_range,
            tools="xpan,xwheel_zoom,reset",
            active_scroll="xwheel_zoom",
            toolbar_location="above",
            # canvas: at most WATERFALL_LIMIT bars or the buckets are drawn, which a 2D canvas
            # paints in milliseconds; WebGL costs more than it saves here (shader set-up,
            # and a copy of each frame onto the page, slow without a GPU)
            output_backend="canvas",
            **options,
        )
        plot.xaxis.formatter = ms_ticks()
        return plot

    def _bars_figure(self) -> Any:
        plot = self._time_figure(
            "waterfall",
            160,
            y_range=Range1d(start=-0.5, end=0.5),
            x_axis_label="time since the run started",
        )
        plot.ygrid.visible = False
        self._lanes_ticker = FixedTicker(ticks=[])  # one model, its ticks updated in place
        plot.yaxis.ticker = self._lanes_ticker
        plot.yaxis.major_label_text_font_size = "11px"
        # the whole exchange, pale (waiting for the first byte), under the body's solid part
        bars = plot.quad(
            left="left",
            right="right",
            bottom="bottom",
            top="top",
            source=self.bars,
            fill_color="color",
            line_color="color",
            fill_alpha=0.3,
            legend_field="cls",
            nonselection_fill_alpha=0.2,
            selection_line_color="#111111",
            selection_fill_alpha=0.45,
        )
        plot.quad(
            left="body_left",
            right="right",
            bottom="bottom",
            top="top",
            source=self.bars,
            fill_color="color",
            line_color=None,
            fill_alpha=0.85,
            nonselection_fill_alpha=0.5,
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
            # one tool over bars and waits, one tooltip: overlapping bars never stack theirs
            HoverTool(
                renderers=[bars, waits],
                tooltips=[
                    ("", "@title"),
                    ("step", "@step"),
                    ("", "@detail"),
                    ("", "@timing"),
                    ("", "@phases"),
                ],
                limit=1,
            ),
            TapTool(renderers=[bars]),
        )
        return plot

    def _aggregate_figure(self) -> Any:
        plot = self._time_figure(
            "waterfall-aggregate", 260, y_axis_label="requests", x_axis_label=None
        )
        stacked = plot.vbar_stack(
            list(BUCKET_CLASSES),
            x="middle",
            width=1.0,
            source=self.buckets,
            fill_color=[STATUS_CLASS_COLORS[label] for label in BUCKET_CLASSES.values()],
            line_color=None,
            fill_alpha=0.85,
            legend_label=[f"answered {label}" for label in BUCKET_CLASSES.values()],
        )
        self._stacked = stacked
        plot.step(
            "middle",
            "in_flight",
            source=self.buckets,
            mode="center",
            line_color="#1f3a5f",
            line_width=2,
            legend_label="in flight",
        )
        plot.add_layout(plot.legend[0], "above")  # over the figure, never over the data
        plot.legend.orientation = "horizontal"
        plot.legend.label_text_font_size = "11px"
        plot.legend.click_policy = "hide"
        plot.add_tools(
            HoverTool(
                renderers=list(stacked),
                tooltips=[
                    ("time", "@window"),
                    ("answered", "@answered{0,0}"),
                    ("by status", "@counts"),
                    ("in flight", "@in_flight{0,0}"),
                    ("latency", "@latency"),
                    ("waits begun", "@waits"),
                ],
                limit=1,
            )
        )
        return plot

    def _latency_figure(self) -> Any:
        plot = self._time_figure(
            "waterfall-latency",
            220,
            y_axis_label="latency",
            x_axis_label="time since the run started",
        )
        plot.yaxis.formatter = ms_ticks()
        plot.varea(
            x="middle",
            y1="p50",
            y2="p95",
            source=self.buckets,
            fill_color="#56ccf2",
            fill_alpha=0.4,
            legend_label="p50 to p95",
        )
        plot.line("middle", "p50", source=self.buckets, line_color="#1f77b4", legend_label="p50")
        plot.line(
            "middle",
            "max",
            source=self.buckets,
            line_color="#d93025",
            line_dash="dotted",
            legend_label="slowest",
        )
        plot.add_layout(plot.legend[0], "above")  # over the figure, never over the data
        plot.legend.orientation = "horizontal"
        plot.legend.label_text_font_size = "11px"
        return plot

    # -- state -> figures --------------------------------------------------------------------

    def _draw(self, *events: param.parameterized.Event) -> None:
        with self.state.batch():  # the lanes button's event, too, comes without the lock
            rows = self.state.waterfall
            if self.state.run_id != self._run:
                self._run, self._window = self.state.run_id, None
            elif self._window is not None and rows is not None:
                rows = self._read(*self._window)  # keep the zoom across live refreshes
            self._show(rows, reset_range=self._window is None)

    def _read(self, start_ms: float, end_ms: float) -> WaterfallRows | None:
        run_id = self.state.run_id
        if run_id is None:
            return None
        with self.state.store.read() as db:
            return db.waterfall(run_id, start_ms=start_ms, end_ms=end_ms)

    def _show(self, rows: WaterfallRows | None, *, reset_range: bool) -> None:
        self.shown = rows
        aggregated = rows is not None and rows.aggregated
        if rows is not None and aggregated:
            self._draw_aggregate(rows)
        else:
            self._draw_bars(rows)
        self._bars_pane.visible = not aggregated
        self._aggregate_pane.visible = aggregated
        if reset_range:
            span = rows.span_ms if rows is not None else 1.0
            self.x_range.update(start=0, end=span * 1.02)
        self._note.object = _note(rows)

    def _draw_aggregate(self, rows: WaterfallRows) -> None:
        data = bucket_data(rows)
        width = (rows.end_ms - rows.start_ms) / max(len(rows.buckets), 1)
        for renderer in self._stacked:
            renderer.glyph.width = width * 0.9
        self.buckets.data = data
        self._syncing = True
        try:
            self.bars.data = _bar_data(pd.DataFrame())
            self.waits.data = _wait_data(pd.DataFrame())
            self._select_id(None)
        finally:
            self._syncing = False

    def _draw_bars(self, rows: WaterfallRows | None) -> None:
        order = self.state.graph.paths if self.state.graph else []
        layout = lay_out(rows, order, self.lanes)
        labels = layout["labels"]
        plot = self.figure
        self.buckets.data = bucket_data(None)
        self._syncing = True
        try:
            self.bars.data = layout["bars"]
            self.waits.data = layout["waits"]
            self._select_id(self.state.exchange_id)
        finally:
            self._syncing = False
        plot.y_range.update(start=-(max(len(labels), 1) - 0.5), end=0.5 + 0.9)
        ticks = [-i for i in range(len(labels))]
        if list(self._lanes_ticker.ticks) != ticks:
            self._lanes_ticker.ticks = ticks
        plot.yaxis.major_label_overrides = {-i: label for i, label in enumerate(labels)}
        plot.height = max(160, min(900, 70 + LANE_PX * (len(labels) + 1)))

    # -- figures -> state --------------------------------------------------------------------

    def _on_range(self, event: RangesUpdate) -> None:
        """The visible x-range settled (zoom, pan, reset): read that window of the run."""
        if event.x0 is None or event.x1 is None or self.state.run_id is None:
            return
        start, end = float(event.x0), float(event.x1)
        shown = self.shown
        span = shown.span_ms if shown is not None else 1.0
        window = None if start <= 0 and end >= span else (start, end)
        if window == self._window:
            return
        with self.state.batch():
            try:
                rows = self.state.waterfall if window is None else self._read(*window)
            except Exception as error:  # shown to the user and logged, like a failed refresh
                self.state.report("read the waterfall's window", error)
                return
            self._window = window
            self._show(rows, reset_range=False)

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
            self._bars_pane,
            self._aggregate_pane,
            sizing_mode="stretch_width",
        )


def _note(rows: WaterfallRows | None) -> str:
    if rows is None or rows.total == 0:
        return ""
    if rows.aggregated:
        return (
            f"*{rows.in_window:,} of {rows.total:,} exchanges in view, counted per time bucket: "
            "zoom in (mouse wheel) to see each one.*"
        )
    split = "*pale: waiting for the first byte · solid: reading the body*"
    if rows.in_window < rows.total:
        return f"*{rows.in_window:,} of {rows.total:,} exchanges in view.* {split}"
    return split
