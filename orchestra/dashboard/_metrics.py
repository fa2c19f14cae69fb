"""The metrics view: totals, errors by status, latency percentiles per step, throughput."""

from __future__ import annotations

from typing import Any, cast

import panel as pn
import param
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.models.widgets.tables import NumberFormatter
from bokeh.plotting import figure
from panel.viewable import Viewer

from orchestra.capture import RunStatistics
from orchestra.dashboard._state import DashboardState, typed_frame
from orchestra.dashboard._style import STATUS_CLASS_COLORS

CARDS = [
    ("requests", "requests"),
    ("failed_requests", "failed requests"),
    ("retries", "retries"),
    ("rate_limit_waits", "rate-limit waits"),
    ("errors", "errors"),
    ("records", "records"),
]

BY_STATUS_DTYPES = {"status": "str", "requests": "int64"}
LATENCY_DTYPES = {
    "step_path": "str",
    "requests": "int64",
    **{column: "float64" for column in ("p50_ms", "p95_ms", "p99_ms", "max_ms")},
}


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


class MetricsView(Viewer):
    """Requests, errors by status, retries, rate-limit waits, p50/p95/p99, throughput."""

    # typed as never None (param infers "| None" from the missing default)
    state = cast(
        "param.ClassSelector[DashboardState]",
        param.ClassSelector(class_=DashboardState, doc="The dashboard state it drives."),
    )

    def __init__(self, **params: Any):
        super().__init__(**params)
        # the cards as one pane, not one per card: each pane the browser updates costs style
        # and layout work, and the cards always change together
        self.cards = pn.pane.HTML(
            "", sizing_mode="stretch_width", css_classes=["orchestra-metrics"]
        )
        # empty tables typed as DuckDB returns the data: a column type that changes when the
        # first rows arrive changes the table's configuration, and the browser rebuilds it
        self._by_status = pn.widgets.Tabulator(
            typed_frame(BY_STATUS_DTYPES),
            disabled=True,
            show_index=False,
            width=220,
            selectable=False,
            formatters={"requests": NumberFormatter(format="0,0")},
        )
        ms = NumberFormatter(format="0,0.0")
        self._latency = pn.widgets.Tabulator(
            typed_frame(LATENCY_DTYPES),
            disabled=True,
            show_index=False,
            selectable=False,
            titles={
                "step_path": "step",
                "p50_ms": "p50 ms",
                "p95_ms": "p95 ms",
                "p99_ms": "p99 ms",
                "max_ms": "max ms",
            },
            formatters={
                "requests": NumberFormatter(format="0,0"),
                "p50_ms": ms,
                "p95_ms": ms,
                "p99_ms": ms,
                "max_ms": ms,
            },
            sizing_mode="stretch_width",
            css_classes=["orchestra-latency"],
        )
        self.throughput = ColumnDataSource(
            {"second": [], "ok": [], "failed": []}, name="throughput"
        )
        plot = figure(
            name="throughput-chart",
            height=220,
            sizing_mode="stretch_width",
            tools="xpan,xwheel_zoom,reset",
            toolbar_location="above",
            x_axis_label="seconds since the first request",
            y_axis_label="requests",
        )
        self._bars = plot.vbar_stack(
            ["ok", "failed"],
            x="second",
            width=1.0,
            source=self.throughput,
            fill_color=[STATUS_CLASS_COLORS["2xx"], STATUS_CLASS_COLORS["5xx"]],
            line_color=None,
            legend_label=["answered < 400", "failed"],
        )
        plot.legend.location = "top_right"
        plot.legend.label_text_font_size = "11px"
        plot.add_tools(
            HoverTool(
                tooltips=[("from", "@second s"), ("requests", "@ok ok"), ("failed", "@failed")]
            )
        )
        self.figure = plot
        self.state.param.watch(self._draw, ["metrics"])
        self._draw()

    def _draw(self, *events: param.parameterized.Event) -> None:
        metrics = self.state.metrics
        self.cards.object = cards_html(metrics)
        if metrics is None:
            self.throughput.data = {"second": [], "ok": [], "failed": []}
            return
        self._by_status.value = metrics.by_status.reset_index(drop=True)
        self._latency.value = metrics.latency.reset_index(drop=True)
        width = metrics.bucket_seconds
        frame = metrics.throughput
        self.throughput.data = {
            "second": (frame["second"].astype(float) + width / 2).tolist(),
            "ok": (frame["requests"] - frame["failed"]).astype(int).tolist(),
            "failed": frame["failed"].astype(int).tolist(),
        }
        for renderer in self._bars:
            renderer.glyph.width = width * 0.9

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self.cards,
            pn.Row(
                pn.Column("**Responses by status**", self._by_status),
                pn.Column("**Latency per step**", self._latency, sizing_mode="stretch_width"),
                sizing_mode="stretch_width",
            ),
            pn.pane.Bokeh(self.figure, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )
