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

The selected exchange is shown in either drawing: its bar is highlighted, and in
the aggregate (no bars) two dark vertical lines mark its start and end, and the
note names it with a swatch of its status colour (a line in its status colour
would vanish among the stacked counts of the same colour). The x-range
cannot be zoomed past ``MIN_WINDOW_MS``, and a range that is not a number is
never read (the view stays as it was).
"""

from __future__ import annotations

import heapq
import math
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
    Plot,
    Quad,
    Range1d,
    TapTool,
)
from bokeh.models.annotations import Span
from bokeh.models.glyphs import Line, Step, VArea
from panel.viewable import Viewer

from orchestra.capture import WaterfallRows
from orchestra.dashboard._coalesce import local_axis_layouts
from orchestra.dashboard._plot import (
    FigurePane,
    legend_html,
    nice_ticks,
    renderer,
    time_plot,
    x_zoom_tools,
)
from orchestra.dashboard._serving import when_served_page_drawn
from orchestra.dashboard._state import DashboardState
from orchestra.dashboard._style import (
    RATE_LIMIT_WAIT_COLOR,
    RETRY_WAIT_COLOR,
    STATUS_CLASS_COLORS,
    format_ms,
    status_class,
)

LANE_PX = 18
AGGREGATE_HEIGHT = 260
IN_FLIGHT_COLOR = "#1f3a5f"
P50_P95_COLOR = "#56ccf2"
P50_COLOR = "#1f77b4"
SLOWEST_COLOR = "#d93025"
SELECTED_COLOR = "#111111"  # the selected bar's outline, and the lines marking it in the aggregate
# The aggregate's stacked columns (as the capture's bucket query names them) and their legend.
BUCKET_CLASSES = {
    "s2xx": "2xx",
    "s3xx": "3xx",
    "s4xx": "4xx",
    "s429": "429",
    "s5xx": "5xx",
    "none": "no response",
}
MAX_LANES_PER_STEP = 64  # worker lanes drawn per step; busier steps share the last lane
# The narrowest window the wheel zooms to. Without a floor, a fast wheel-zoom shrinks the
# range until BokehJS computes it as [NaN, NaN] (seen on a 100,000-exchange run).
MIN_WINDOW_MS = 1.0
# The time axes' ticks as _plot.MS_TICKS_JS writes them (850 ms, 1.5 s, 2 min 5 s), with as
# many decimals as the ticks' spacing needs: zoomed to a few ms far into a run, every tick
# read "26.4 s". BasicTicker spaces ticks 1, 2 or 5 times a power of ten apart.
WINDOW_TICKS_JS = """
const a = Math.abs(tick);
const step = ticks.length > 1 ? Math.abs(ticks[1] - ticks[0]) : 0;
const digits = (unit, least) => step > 0
  ? Math.max(least, Math.min(6, Math.ceil(-Math.log10(step / unit) - 1e-9))) : least;
if (a >= 60000 && (step === 0 || step >= 1000)) {
  const m = Math.trunc(tick / 60000);
  const s = Math.round((a % 60000) / 1000);
  return s ? `${m} min ${s} s` : `${m} min`;
}
if (a >= 1000) return `${Number((tick / 1000).toFixed(digits(1000, a >= 10000 ? 1 : 2)))} s`;
return `${Number(tick.toFixed(digits(1, a >= 10 ? 0 : 1)))} ms`;
"""


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
    """The bars' columns: what the glyphs and the tooltip read, the status class (its
    legend) and the exchange id (a tap). URL, status, attempt and times reach the browser
    once, as the tooltip's text: a window holds up to WATERFALL_LIMIT bars."""
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
        "title": what,
        "detail": [reason or "-" for reason in reasons],
        "timing": [
            f"waited {format_ms(d)} · from {format_ms(s)}"
            for s, d in zip(starts, delay.tolist(), strict=True)
        ],
        "phases": [""] * len(starts),  # the bars' line of the shared tooltip
    }


_BUCKET_TIPS_TEXT = ("window", "latency", "counts", "waits")
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


# What the browser reads of the buckets (the in-flight line, the latency bands; the
# counts' tooltip text goes with the stacked boxes, segment_data) and what the page's
# tests and bench/dashboard.py count (answered, the classes).
BUCKET_SOURCE_KEYS = [key for key in BUCKET_KEYS if key not in _BUCKET_TIPS_TEXT]


def bucket_source(data: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The buckets' columns sent to the browser: no tooltip text (the stacked boxes carry
    it, once per box); 120 buckets of four lines of text were ~2/3 of the source."""
    return {key: data[key] for key in BUCKET_SOURCE_KEYS}


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


SEGMENT_KEYS = [
    "left",
    "right",
    "bottom",
    "top",
    "color",
    "window",
    "answered",
    "counts",
    "in_flight",
    "latency",
    "waits",
]
_BUCKET_TIPS = ("window", "answered", "counts", "in_flight", "latency", "waits")


def segment_data(buckets: dict[str, list[Any]], width: float) -> dict[str, list[Any]]:
    """The aggregate's stacked columns as one box per bucket and status class answered in
    it (one glyph renderer draws them all), each with its bucket's tooltip text."""
    data: dict[str, list[Any]] = {key: [] for key in SEGMENT_KEYS}
    half = width * 0.45
    for index, middle in enumerate(buckets["middle"]):
        bottom = 0
        for column, label in BUCKET_CLASSES.items():
            count = buckets[column][index]
            if not count:
                continue
            data["left"].append(middle - half)
            data["right"].append(middle + half)
            data["bottom"].append(bottom)
            data["top"].append(bottom + count)
            data["color"].append(STATUS_CLASS_COLORS[label])
            for key in _BUCKET_TIPS:
                data[key].append(buckets[key][index])
            bottom += count
    return data


def bars_legend(bars: dict[str, list[Any]], waits: dict[str, list[Any]]) -> str:
    """The legend of the bars: the status classes and kinds of wait drawn."""
    classes = set(bars["cls"])
    kinds = set(waits["what"])
    items = [(label, STATUS_CLASS_COLORS[label], "box") for label in STATUS_CLASS_COLORS]
    items = [item for item in items if item[0] in classes]
    if "retry wait" in kinds:
        items.append(("retry wait", RETRY_WAIT_COLOR, "hatch"))
    if "rate-limit wait" in kinds:
        items.append(("rate-limit wait", RATE_LIMIT_WAIT_COLOR, "hatch"))
    return legend_html(items, "orchestra-waterfall-legend")


AGGREGATE_LEGEND = legend_html(
    [
        *(
            (f"answered {label}", STATUS_CLASS_COLORS[label], "box")
            for label in BUCKET_CLASSES.values()
        ),
        ("in flight", IN_FLIGHT_COLOR, "line"),
        ("latency p50 to p95", P50_P95_COLOR, "band"),
        ("p50", P50_COLOR, "line"),
        ("slowest", SLOWEST_COLOR, "dotted"),
    ],
    "orchestra-waterfall-legend",
)


class Waterfall(Viewer):
    """Exchanges over time: bars (one lane per step or worker) or, when many, an aggregate.

    Tap a bar to inspect its exchange; zoom into the aggregate to get bars.

    One figure draws the bars or the aggregate's stacked counts (never both: the
    other's sources are empty; the counts and their tooltip join the figure with the
    first aggregate), a second under it the aggregate's
    latency bands (shown only with the aggregate, and on the page from the first
    aggregate on); the legend is a line of HTML above them.
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
        self.buckets = ColumnDataSource(bucket_source(bucket_data(None)), name="waterfall-buckets")
        self.segments = ColumnDataSource(
            {key: [] for key in SEGMENT_KEYS}, name="waterfall-segments"
        )
        self.x_range = Range1d(start=0, end=1, min_interval=MIN_WINDOW_MS)
        self._view_range: tuple[float, float] = (0.0, 1.0)  # the last finite x-range
        # the selected exchange in the aggregate: lines at its start and end (hidden otherwise)
        self.selected_start, self.selected_end = (
            Span(
                name=f"waterfall-selected-{edge}",
                dimension="height",
                line_color=SELECTED_COLOR,
                line_width=2,
                visible=False,
            )
            for edge in ("start", "end")
        )
        self._aggregate_drawn = False  # see _add_aggregate_drawing
        self.figure = self._main_figure()
        self.aggregate = self.figure  # the aggregate's counts are drawn in the same figure
        self._latency: Plot | None = None  # see latency
        self._follow_time_axis(self.figure)
        # the aggregate's stacked counts are in the figure from the start: built in the
        # browser with the page, they cost a run switch to a big run ~0.1 s of the browser's
        # time when they arrived with its first aggregate (bench/dashboard.py's switch)
        self._add_aggregate_drawing()
        self._note = pn.pane.HTML("", margin=(0, 10), css_classes=["orchestra-waterfall-note"])
        self._legend = pn.pane.HTML("", margin=(0, 10))
        self._mode = pn.widgets.RadioButtonGroup(
            options={"lane per step": "step", "lane per worker": "worker"},
            value=self.lanes,
            color="light",
        )
        self._mode.link(self, value="lanes")
        # a Bokeh pane's own ``visible`` follows its figure's: toggle a column around it,
        # hidden unless aggregated; a Spacer until the figure comes (Bokeh warns of an empty
        # layout). The figure comes with the first aggregate, or, on a served page, once the
        # page is drawn (see __panel__)
        self._latency_pane = pn.Column(
            pn.Spacer(height=0), sizing_mode="stretch_width", visible=False
        )
        self.bars.selected.on_change("indices", self._on_tap)
        self.state.param.watch(self._draw, ["waterfall", "graph"])
        # a step selected resets the exchange without an event (DashboardState._on_selection
        # discards it): follow the state's exchange on either change
        self.state.param.watch(self._select, ["exchange_id", "step_path"])
        self.state.param.watch(self._on_exchange, ["exchange"])
        self.param.watch(self._draw, ["lanes"])
        self._draw()

    @property
    def latency(self) -> Plot:
        """The latency bands' figure, under the main one: made when first needed (the first
        aggregate, or a served page once drawn), so a page load, a notebook output or a saved
        page of a run drawn as bars does not build its ~30 models. It lays out only itself
        when its axes resize (_coalesce)."""
        if self._latency is None:
            self._latency = self._latency_figure()
            self._follow_time_axis(self._latency)
            local_axis_layouts(self._latency)
        return self._latency

    def _follow_time_axis(self, plot: Any) -> None:
        """A zoom or pan of ``plot`` (a time_plot) reads that window; its ticks read 850 ms,
        1.5 s (Any: Bokeh types on_event's callback and the axis too narrowly)."""
        plot.on_event(RangesUpdate, self._on_range)
        formatter = plot.below[0].formatter
        if isinstance(formatter, CustomJSTickFormatter):
            formatter.code = WINDOW_TICKS_JS

    @property
    def aggregated(self) -> bool:
        """Whether the aggregate is drawn (else the bars)."""
        return self.shown is not None and self.shown.aggregated

    # -- figures -----------------------------------------------------------------------------

    def _main_figure(self) -> Any:
        self._lanes_ticker = FixedTicker(ticks=[])  # one model, its ticks updated in place
        plot = time_plot(
            "waterfall",
            height=160,
            x_range=self.x_range,
            y_range=Range1d(start=-0.5, end=0.5),
            tools=x_zoom_tools(),
            x_label="time since the run started",
            y_ticker=self._lanes_ticker,
            y_grid=False,
        )
        plot.yaxis.major_label_text_font_size = "11px"
        box: dict[str, Any] = {"left": "left", "right": "right", "bottom": "bottom", "top": "top"}
        # the whole exchange, pale (waiting for the first byte), under the body's solid part
        pale: dict[str, Any] = dict(box, fill_color="color", line_color="color")
        bars = renderer(
            plot,
            self.bars,
            Quad(**pale, fill_alpha=0.3),
            selected=Quad(**dict(pale, line_color=SELECTED_COLOR), fill_alpha=0.45),
            unselected=Quad(**pale, fill_alpha=0.2),
        )
        solid: dict[str, Any] = dict(box, left="body_left", fill_color="color", line_color=None)
        renderer(
            plot,
            self.bars,
            Quad(**solid, fill_alpha=0.85),
            selected=Quad(**solid, fill_alpha=1.0),
            unselected=Quad(**solid, fill_alpha=0.5),
        )
        waits = renderer(
            plot,
            self.waits,
            Quad(
                **box,
                fill_color="color",
                line_color=None,
                fill_alpha=0.9,
                hatch_pattern="/",
                hatch_color="#ffffff",
                hatch_alpha=0.6,
            ),
        )
        renderer(
            plot,
            self.buckets,
            Step(
                x="middle", y="in_flight", mode="center", line_color=IN_FLIGHT_COLOR, line_width=2
            ),
        )
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
        # the selection's marks (aggregate only, hidden until then) are there from the start:
        # BokehJS lays the figure out from its annotations' views, and one added later to a
        # shown figure can be laid out before its view exists ("cannot find a view for Span")
        plot.add_layout(self.selected_start)
        plot.add_layout(self.selected_end)
        return plot

    def _add_aggregate_drawing(self) -> None:
        """The aggregate's stacked counts and their tooltip, added to the figure (once).

        Called as the figure is made: added with the first aggregate instead, they saved
        a bars-only page five glyph views but cost the run switch that brought that
        aggregate ~0.1 s of the browser's time, past the half second a switch may take."""
        if self._aggregate_drawn:
            return
        self._aggregate_drawn = True
        plot = self.figure
        box: dict[str, Any] = {"left": "left", "right": "right", "bottom": "bottom", "top": "top"}
        stacked = renderer(
            plot,
            self.segments,
            Quad(**box, fill_color="color", line_color=None, fill_alpha=0.85),
            at=len(plot.renderers) - 1,  # under the in-flight line, the last renderer
        )
        plot.add_tools(
            HoverTool(
                renderers=[stacked],
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

    def _latency_figure(self) -> Any:
        plot = time_plot(
            "waterfall-latency",
            height=200,
            x_range=self.x_range,
            y_range=Range1d(start=0, end=1),
            # the figure above holds the toolbar (and its reset); pan and wheel-zoom work here
            # too
            tools=x_zoom_tools(reset=False),
            show_toolbar=False,
            x_label="time since the run started",
            y_label="latency",
            y_ms=True,
        )
        renderer(
            plot,
            self.buckets,
            VArea(x="middle", y1="p50", y2="p95", fill_color=P50_P95_COLOR, fill_alpha=0.4),
        )
        renderer(plot, self.buckets, Line(x="middle", y="p50", line_color=P50_COLOR))
        renderer(
            plot,
            self.buckets,
            Line(x="middle", y="max", line_color=SLOWEST_COLOR, line_dash="dotted"),
        )
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

    def _add_latency_figure(self) -> None:
        """Put the latency bands' figure in its pane (shown only while aggregated)."""
        if not isinstance(self._latency_pane[0], FigurePane):
            self._latency_pane.objects = [FigurePane(self.latency, sizing_mode="stretch_width")]

    def _read(self, start_ms: float, end_ms: float) -> WaterfallRows | None:
        run_id = self.state.run_id
        if run_id is None:
            return None
        with self.state.store.read() as db:
            return db.waterfall(run_id, start_ms=start_ms, end_ms=end_ms)

    def _show(self, rows: WaterfallRows | None, *, reset_range: bool) -> None:
        self.shown = rows
        if rows is not None and rows.aggregated:
            self._draw_aggregate(rows)
        else:
            self._draw_bars(rows)
        if self.aggregated:
            self._add_latency_figure()
        if self._latency_pane.visible != self.aggregated:
            self._latency_pane.visible = self.aggregated
        if reset_range:
            span = rows.span_ms if rows is not None else 1.0
            self._view_range = (0.0, span * 1.02)
            self.x_range.update(start=0, end=span * 1.02)
        self._mark()

    def _draw_aggregate(self, rows: WaterfallRows) -> None:
        self._add_aggregate_drawing()
        data = bucket_data(rows)
        width = (rows.end_ms - rows.start_ms) / max(len(rows.buckets), 1)
        segments = segment_data(data, width)
        top = max([*segments["top"], *data["in_flight"], 1])
        ticks = nice_ticks(top, whole=True)
        slowest = [v for v in data["max"] if not pd.isna(v)]
        self.buckets.data = bucket_source(data)
        self.segments.data = segments
        self._syncing = True
        try:
            self.bars.data = _bar_data(pd.DataFrame())
            self.waits.data = _wait_data(pd.DataFrame())
            self._select_id(None)
        finally:
            self._syncing = False
        self.latency.y_range.update(start=0, end=max(slowest, default=1.0) * 1.05)
        # every count tick labelled explicitly: BokehJS (3.9) keeps the label of a tick whose
        # override was removed (AxisView never clears its map of override views), so tick 0
        # would still read as the first lane's step
        labels = {int(tick): f"{tick:,.0f}" for tick in ticks}
        self._axes(ticks, labels, "requests", top=top * 1.05, bottom=0, height=AGGREGATE_HEIGHT)
        _set(self._legend, "object", AGGREGATE_LEGEND)

    def _draw_bars(self, rows: WaterfallRows | None) -> None:
        order = self.state.graph.paths if self.state.graph else []
        layout = lay_out(rows, order, self.lanes)
        labels = layout["labels"]
        self.buckets.data = bucket_source(bucket_data(None))
        self.segments.data = {key: [] for key in SEGMENT_KEYS}
        self._syncing = True
        try:
            self.bars.data = layout["bars"]
            self.waits.data = layout["waits"]
            self._select_id(self.state.exchange_id)
        finally:
            self._syncing = False
        self._axes(
            [-i for i in range(len(labels))],
            {-i: label for i, label in enumerate(labels)},
            None,
            top=0.5,
            bottom=-(max(len(labels), 1) - 0.5),
            height=max(160, min(900, 50 + LANE_PX * (len(labels) + 1))),
        )
        _set(self._legend, "object", bars_legend(layout["bars"], layout["waits"]))

    def _axes(
        self,
        ticks: list[float],
        labels: dict[int, str],
        title: str | None,
        *,
        top: float,
        bottom: float,
        height: int,
    ) -> None:
        """The main figure's y-axis: lanes (labelled ticks) or counts (a grid, a title)."""
        plot = self.figure
        plot.y_range.update(start=bottom, end=top)
        if list(self._lanes_ticker.ticks) != ticks:
            self._lanes_ticker.ticks = ticks
        axis = plot.yaxis[0]
        if axis.major_label_overrides != labels:
            axis.major_label_overrides = labels
        if axis.axis_label != title:
            axis.axis_label = title
        grid = plot.ygrid[0]
        if grid.visible != (title is not None):
            grid.visible = title is not None
        if plot.height != height:
            plot.height = height

    # -- figures -> state --------------------------------------------------------------------

    def _on_range(self, event: RangesUpdate) -> None:
        """The visible x-range settled (zoom, pan, reset): read that window of the run.

        A range that is not finite (BokehJS computed NaN) is not read: the view stays
        as it was, and the figure's x-range is put back to the last finite one.
        """
        if event.x0 is None or event.x1 is None or self.state.run_id is None:
            return
        start, end = float(event.x0), float(event.x1)
        if not (math.isfinite(start) and math.isfinite(end) and start < end):
            with self.state.batch():
                self.x_range.update(start=self._view_range[0], end=self._view_range[1])
            return
        self._view_range = (start, end)
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

    def _select(self, event: param.parameterized.Event | None) -> None:
        # A selection set from a Panel widget's event (a click on an exchange row) arrives
        # outside Bokeh's document lock: a raw Bokeh model may change only inside the
        # state's batch (pn.io.hold), or Bokeh raises "_pending_writes should be non-None".
        with self.state.batch():
            self._syncing = True
            try:
                self._select_id(self.state.exchange_id)
            finally:
                self._syncing = False

    def _on_exchange(self, event: param.parameterized.Event) -> None:
        with self.state.batch():  # like _select: a row click's event comes without the lock
            self._mark()

    def _mark(self) -> None:
        """Mark the selected exchange in the aggregate (its bar is highlighted otherwise)."""
        found = _selected_interval(self.state) if self.aggregated else None
        lines = (self.selected_start, self.selected_end)
        if found is not None:
            for line, at in zip(lines, found[:2], strict=True):
                if line.location != at:
                    line.location = at
        for line in lines:
            if line.visible != (found is not None):
                line.visible = found is not None
        note = _note(self.shown)
        _set(self._note, "object", note if found is None else f"{note} <em>{found[3]}</em>")

    def _select_id(self, exchange_id: int | None) -> None:
        ids = list(self.bars.data["exchange_id"])
        indices = [ids.index(exchange_id)] if exchange_id in ids else []
        if list(self.bars.selected.indices) != indices:
            self.bars.selected.indices = indices

    def _on_tap(self, attr: str, old: list[int], new: list[int]) -> None:
        if self._syncing or not new:
            return
        ids = self.bars.data["exchange_id"]
        index = topmost_hit(old, new)
        if index >= len(ids):
            return
        if ids[index] != self.state.exchange_id:
            self.state.select_exchange(ids[index])
        else:  # the bar already inspected: keep it alone highlighted, not every bar hit
            self._select(None)

    def __panel__(self) -> pn.viewable.Viewable:
        # called as the page is laid out, in its session (the waterfall itself may be made
        # ahead, in a worker thread): building and sending the latency figure's ~30 models
        # at a first switch to a big run cost that switch ~0.1 s (bench/dashboard.py)
        when_served_page_drawn(self._add_latency_figure)
        return pn.Column(
            pn.Row(self._mode, self._note),
            self._legend,
            FigurePane(self.figure, sizing_mode="stretch_width"),
            self._latency_pane,
            sizing_mode="stretch_width",
        )


def topmost_hit(selected: list[int], hits: list[int]) -> int:
    """The bar a tap on overlapping bars (concurrent requests of a step share its lane) meant:
    the one drawn on top where the person clicked. Bokeh draws the selected bar over the
    others, and the others in their order (a later bar over an earlier one); a tap selects
    every bar under the pointer, in no useful order."""
    on_top = [index for index in selected if index in hits]
    return on_top[0] if on_top else max(hits)


def _set(pane: pn.pane.HTML, name: str, value: Any) -> None:
    """Set a pane's parameter only when it changes: each change is a message and a layout."""
    if getattr(pane, name) != value:
        setattr(pane, name, value)


def _selected_interval(state: DashboardState) -> tuple[float, float, str, str] | None:
    """The selected exchange's start and end in ms since the run started, its status colour
    and a line saying so; None when none is selected (or its times are unknown)."""
    view, run = state.exchange, state.run
    if view is None or not run or view.row.get("run_id") != run.get("run_id"):
        return None
    started, run_started = view.row.get("started_at"), run.get("started_at")
    if started is None or run_started is None or pd.isna(started) or pd.isna(run_started):
        return None
    start = (pd.Timestamp(started) - pd.Timestamp(run_started)).total_seconds() * 1000.0
    elapsed = view.row.get("elapsed_ms")
    took = 0.0 if elapsed is None or pd.isna(elapsed) else max(float(elapsed), 0.0)
    code = view.row.get("status_code")
    status = None if code is None or pd.isna(code) else int(code)
    color = STATUS_CLASS_COLORS[status_class(status)]
    swatch = f"<span style='display:inline-block;width:10px;height:10px;background:{color}'></span>"
    text = (
        f"Selected: {swatch} exchange #{view.exchange_id} ({status or 'no response'}), "
        f"the dark lines at {format_ms(start)} and {format_ms(start + took)}."
    )
    return start, start + took, color, text


def _note(rows: WaterfallRows | None) -> str:
    if rows is None or rows.total == 0:
        return ""
    if rows.aggregated:
        return (
            f"<em>{rows.in_window:,} of {rows.total:,} exchanges in view, counted per time "
            "bucket: zoom in (mouse wheel) to see each one.</em>"
        )
    split = "<em>pale: waiting for the first byte · solid: reading the body</em>"
    if rows.in_window < rows.total:
        return f"<em>{rows.in_window:,} of {rows.total:,} exchanges in view.</em> {split}"
    return split
