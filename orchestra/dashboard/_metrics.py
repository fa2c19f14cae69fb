"""The metrics view: totals, errors by status, latency percentiles per step, throughput.

The cards and the two small tables (responses by status, latency per step) are
HTML: nothing in them is clicked, and a Tabulator costs the browser ~50 ms to
build and lay out per table on each page load. The throughput chart is one
figure with two bar renderers (answered, failed stacked on it) and its legend
a line of HTML. Cards, tables and legend are one HTML pane: each pane is a
Bokeh model the server serialises and a view (a shadow root with its style
sheets) the browser builds, styles and lays out, and they change together.
"""

from __future__ import annotations

import html
import math
from typing import Any, cast

import pandas as pd
import panel as pn
import param
from bokeh.models import ColumnDataSource, HoverTool, Range1d, VBar
from panel.viewable import Viewer

from orchestra.capture import RunStatistics
from orchestra.dashboard._plot import FigurePane, legend_html, renderer, time_plot, x_zoom_tools
from orchestra.dashboard._state import DashboardState
from orchestra.dashboard._style import STATUS_CLASS_COLORS

CARDS = [
    ("requests", "requests"),
    ("failed_requests", "failed requests"),
    ("retries", "retries"),
    ("rate_limit_waits", "rate-limit waits"),
    ("errors", "errors"),
    ("records", "records"),
]

# the tables' columns: (column of the frame, title, number format: "count" or "ms")
BY_STATUS_COLUMNS = [("status", "status", None), ("requests", "requests", "count")]
LATENCY_COLUMNS = [
    ("step_path", "step", None),
    ("requests", "requests", "count"),
    ("p50_ms", "p50 ms", "ms"),
    ("p95_ms", "p95 ms", "ms"),
    ("p99_ms", "p99 ms", "ms"),
    ("max_ms", "max ms", "ms"),
]
OK_COLOR = STATUS_CLASS_COLORS["2xx"]
FAILED_COLOR = STATUS_CLASS_COLORS["5xx"]


def card_values(metrics: RunStatistics | None) -> dict[str, str]:
    """The numbers of the summary cards as text."""
    totals = metrics.totals if metrics else {}
    values = {key: f"{int(totals.get(key) or 0):,}" for key, _ in CARDS}
    rate = totals.get("requests_per_second")
    values["throughput"] = "-" if rate is None else f"{rate:,.1f}/s"
    waited = float(totals.get("rate_limit_wait_seconds") or 0)
    retry_waited = float(totals.get("retry_wait_seconds") or 0)
    values["waited"] = f"{waited:,.2f} s rate limit · {retry_waited:,.2f} s retry backoff"
    return values


def _card_html(key: str, label: str, value: str) -> str:
    return (
        f"<div class='orchestra-metric orchestra-metric-{key}' style='border:1px solid #dfe3e8;"
        "border-radius:6px;padding:6px 14px;min-width:110px;margin:4px 8px'>"
        f"<div style='font-size:11px;color:#5f6b7a'>{label}</div>"
        f"<div class='value' style='font-size:22px;font-weight:600'>{value}</div></div>"
    )


def cards_html(metrics: RunStatistics | None) -> str:
    """The summary cards (a flex row) and the time waited: one pane, one update per refresh."""
    values = card_values(metrics)
    labels = dict([*CARDS, ("throughput", "requests / s")])
    cards = "".join(_card_html(key, labels[key], values[key]) for key in labels)
    return (
        f"<div style='display:flex;flex-wrap:wrap'>{cards}</div>"
        f"<p class='orchestra-waited' style='margin:8px 10px'>Waited: {values['waited']}</p>"
    )


def _cell(value: Any, number: str | None) -> str:
    if number is None:
        return html.escape("" if value is None or value is pd.NA else str(value))
    try:
        value = float(value)
    except (TypeError, ValueError):
        return ""
    if math.isnan(value):
        return ""
    return f"{value:,.0f}" if number == "count" else f"{value:,.1f}"


_TABLE = "border-collapse:collapse;font-size:13px"
_HEAD = "text-align:{align};padding:4px 10px;border-bottom:2px solid #dfe3e8;font-weight:600"
_CELL = "text-align:{align};padding:3px 10px;border-bottom:1px solid #eef0f3"


def table_html(
    frame: pd.DataFrame | None, columns: list[tuple[str, str, str | None]], css_class: str
) -> str:
    """A small read-only table: text left, numbers right with thousands separators."""
    aligns = ["left" if number is None else "right" for _, _, number in columns]
    head = "".join(
        f"<th style='{_HEAD.format(align=align)}'>{html.escape(title)}</th>"
        for (_, title, _), align in zip(columns, aligns, strict=True)
    )
    rows = []
    if frame is not None:
        for record in frame.itertuples(index=False):
            values = record._asdict()
            cells = "".join(
                f"<td data-column='{name}' style='{_CELL.format(align=align)}'>"
                f"{_cell(values.get(name), number)}</td>"
                for (name, _, number), align in zip(columns, aligns, strict=True)
            )
            rows.append(f"<tr>{cells}</tr>")
    return (
        f"<table class='{css_class}' style='{_TABLE}'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def tables_html(metrics: RunStatistics | None) -> str:
    """Responses by status and latency per step, side by side."""
    by_status = metrics.by_status if metrics else None
    latency = metrics.latency if metrics else None
    title = "<div style='font-weight:600;margin:6px 0'>{}</div>"
    return (
        "<div style='display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start'>"
        f"<div style='min-width:220px'>{title.format('Responses by status')}"
        f"{table_html(by_status, BY_STATUS_COLUMNS, 'orchestra-by-status')}</div>"
        f"<div style='flex:1;overflow-x:auto'>{title.format('Latency per step')}"
        f"{table_html(latency, LATENCY_COLUMNS, 'orchestra-latency')}</div></div>"
    )


# the throughput chart's legend, under the tables and over the chart
LEGEND = legend_html(
    [("answered < 400", OK_COLOR, "box"), ("failed", FAILED_COLOR, "box")],
    "orchestra-throughput-legend",
    style="margin:6px 0 0",
)
EMPTY_THROUGHPUT: dict[str, list[Any]] = {"second": [], "ok": [], "failed": [], "total": []}


class MetricsView(Viewer):
    """Requests, errors by status, retries, rate-limit waits, p50/p95/p99, throughput."""

    # typed as never None (param infers "| None" from the missing default)
    state = cast(
        "param.ClassSelector[DashboardState]",
        param.ClassSelector(class_=DashboardState, doc="The dashboard state it drives."),
    )

    def __init__(self, **params: Any):
        super().__init__(**params)
        # the cards, the tables and the chart's legend as one pane, not one per card or
        # table: each pane the browser updates costs style and layout work, and they always
        # change together
        self.cards = pn.pane.HTML(
            "",
            sizing_mode="stretch_width",
            css_classes=["orchestra-metrics", "orchestra-metric-tables"],
        )
        self.throughput = ColumnDataSource(dict(EMPTY_THROUGHPUT), name="throughput")
        plot = time_plot(
            "throughput-chart",
            height=220,
            x_range=Range1d(start=0, end=1),
            y_range=Range1d(start=0, end=1),
            tools=x_zoom_tools(),
            scroll_zooms="auto",
            x_label="seconds since the first request",
            y_label="requests",
            x_ms=False,
        )
        # answered below failed, stacked: two renderers of one source, no Stack transforms
        self._bars = [
            renderer(
                plot,
                self.throughput,
                VBar(x="second", width=1.0, top="ok", fill_color=OK_COLOR, line_color=None),
            ),
            renderer(
                plot,
                self.throughput,
                VBar(
                    x="second",
                    width=1.0,
                    bottom="ok",
                    top="total",
                    fill_color=FAILED_COLOR,
                    line_color=None,
                ),
            ),
        ]
        plot.add_tools(
            HoverTool(
                renderers=list(self._bars),
                tooltips=[("from", "@second s"), ("requests", "@ok ok"), ("failed", "@failed")],
                limit=1,
            )
        )
        self.figure = plot
        self.state.param.watch(self._draw, ["metrics"])
        self._draw()

    def _draw(self, *events: param.parameterized.Event) -> None:
        metrics = self.state.metrics
        self.cards.object = cards_html(metrics) + tables_html(metrics) + LEGEND
        if metrics is None:
            self.throughput.data = dict(EMPTY_THROUGHPUT)
            return
        width = metrics.bucket_seconds
        frame = metrics.throughput
        seconds = frame["second"].astype(float)
        self.throughput.data = {
            "second": (seconds + width / 2).tolist(),
            "ok": (frame["requests"] - frame["failed"]).astype(int).tolist(),
            "failed": frame["failed"].astype(int).tolist(),
            "total": frame["requests"].astype(int).tolist(),
        }
        for item in self._bars:
            item.glyph.width = width * 0.9
        end = float(seconds.max()) + width if len(frame) else 1.0
        top = float(frame["requests"].max()) if len(frame) else 1.0
        # the reset tool goes back to the whole run, not to what the page first showed
        self.figure.x_range.update(start=0, end=end, reset_start=0, reset_end=end)
        self.figure.y_range.update(start=0, end=max(top, 1.0) * 1.05)

    @property
    def tables(self) -> pn.pane.HTML:
        """The pane holding the tables (the cards' pane: one pane for both)."""
        return self.cards

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self.cards,
            FigurePane(self.figure, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
