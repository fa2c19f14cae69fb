"""Bokeh figures for the dashboard built from their models, and legends as a line of HTML.

``bokeh.plotting.figure()`` and its glyph helpers build what a figure may need:
a title, a toolbar of five tools, a selection, non-selection and muted copy of
every glyph, ``Stack`` transforms for stacked bars, a ``Legend`` and a
``LegendItem`` per series. Each is a Bokeh model the server serialises and the
browser builds a view for on every page load. The dashboard's figures need
fewer: :func:`time_plot` builds a figure with exactly the axes, grids and tools
asked for, :func:`renderer` a glyph renderer whose selection looks are given
only where something is selected, and :func:`legend_html` the legend as a line
of text above the figure (one HTML pane, no Bokeh model per item).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import panel as pn
from bokeh.models import (
    BasicTicker,
    ColumnDataSource,
    CustomJSTickFormatter,
    Grid,
    LinearAxis,
    LinearScale,
    Plot,
    Range,
    Ticker,
    Toolbar,
)
from bokeh.models.glyph import Glyph
from bokeh.models.renderers import GlyphRenderer
from bokeh.models.tools import PanTool, ResetTool, Tool, WheelZoomTool
from panel.io import remove_root

if TYPE_CHECKING:
    from bokeh.document import Document
    from bokeh.model import Model

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


def x_zoom_tools(*, reset: bool = True) -> list[Tool]:
    """Pan and wheel-zoom along x, and reset: what a person uses on a time axis (a figure
    without a toolbar has no reset button: ``reset=False``)."""
    tools: list[Tool] = [PanTool(dimensions="width"), WheelZoomTool(dimensions="width")]
    return [*tools, ResetTool()] if reset else tools


def time_plot(
    name: str,
    *,
    height: int,
    x_range: Range,
    y_range: Range,
    tools: Sequence[Tool] = (),
    show_toolbar: bool = True,
    scroll_zooms: bool | Literal["auto"] = True,
    x_label: str | None = None,
    y_label: str | None = None,
    x_ticker: Ticker | None = None,
    y_ticker: Ticker | None = None,
    x_ms: bool = True,
    y_ms: bool = False,
    y_grid: bool = True,
) -> Plot:
    """A figure stretched to its column's width with an axis below and one on the left.

    ``tools`` act whether or not their toolbar shows (``show_toolbar``); with
    ``scroll_zooms`` the mouse wheel zooms (a wheel-zoom tool among ``tools``), with
    ``"auto"`` once the figure was clicked (BokehJS's default: the page scrolls over it).
    An axis in milliseconds (``x_ms``, ``y_ms``) reads 850 ms, 1.5 s, 2 min 5 s.
    """
    wheel = [tool for tool in tools if isinstance(tool, WheelZoomTool)]
    toolbar = Toolbar(tools=list(tools), active_scroll=wheel[0] if wheel and scroll_zooms else None)
    plot = Plot(
        name=name,
        height=height,
        sizing_mode="stretch_width",
        x_range=x_range,
        y_range=y_range,
        x_scale=LinearScale(),
        y_scale=LinearScale(),
        title=None,
        toolbar=toolbar,
        toolbar_location="above" if show_toolbar else None,
        # canvas: a 2D canvas paints what the dashboard draws (at most WATERFALL_LIMIT bars,
        # or buckets) in milliseconds; WebGL costs more than it saves here (shader set-up,
        # and a copy of each frame onto the page, slow without a GPU)
        output_backend="canvas",
    )
    below = _axis(x_ticker, x_label, ms=x_ms)
    left = _axis(y_ticker, y_label, ms=y_ms)
    plot.add_layout(below, "below")
    plot.add_layout(left, "left")
    plot.add_layout(Grid(dimension=0, ticker=below.ticker))
    plot.add_layout(Grid(dimension=1, ticker=left.ticker, visible=y_grid))
    return plot


def _axis(ticker: Ticker | None, label: str | None, *, ms: bool) -> LinearAxis:
    # Bokeh's typed signature narrows the ticker and formatter to the default's types
    options: dict[str, Any] = {"ticker": ticker or BasicTicker(), "axis_label": label}
    if ms:
        options["formatter"] = ms_ticks()
    return LinearAxis(**options)


def renderer(
    plot: Plot,
    source: ColumnDataSource,
    glyph: Glyph,
    *,
    selected: Glyph | None = None,
    unselected: Glyph | Literal["same"] | None = None,
    at: int | None = None,
) -> GlyphRenderer:
    """Add ``glyph`` drawn from ``source`` to ``plot``; its looks when a row is selected
    (``selected``, and the other rows: ``unselected``) only where a row can be;
    ``unselected="same"``: the other rows look as they do with nothing selected (the
    glyph itself, not a copy: a model fewer to send).

    Drawn over the renderers before it (``at``: that many of them; all by default)."""
    options: dict[str, Any] = {}
    if selected is not None:
        options["selection_glyph"] = selected
    if unselected is not None:
        options["nonselection_glyph"] = glyph if unselected == "same" else unselected
    # no muted copy: nothing in the dashboard mutes a series
    item = GlyphRenderer(data_source=source, glyph=glyph, muted_glyph=None, **options)
    if at is None:
        plot.renderers.append(item)
    else:
        plot.renderers.insert(at, item)
    return item


def nice_ticks(top: float, count: int = 4, *, whole: bool = False) -> list[float]:
    """About ``count`` round ticks (1, 2 or 5 times a power of ten apart) from 0 to ``top``;
    ``whole``: at least 1 apart (counts)."""
    if not top > 0:
        return [0.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next((m * power for m in (1, 2, 5, 10) if m * power >= raw), 10 * power)
    if whole:
        step = max(step, 1)
    return [i * step for i in range(int(top // step) + 1)]


# swatches of the legend line: a box (bars), a line, a dotted line, a hatched box (waits)
_SWATCH = {
    "box": "display:inline-block;width:11px;height:11px;background:{c};opacity:.85",
    "band": "display:inline-block;width:14px;height:9px;background:{c};opacity:.4",
    "line": "display:inline-block;width:16px;border-top:2px solid {c}",
    "dotted": "display:inline-block;width:16px;border-top:2px dotted {c}",
    "hatch": "display:inline-block;width:11px;height:11px;background:repeating-linear-gradient("
    "-45deg,{c} 0 3px,#ffffff 3px 4px)",
}


def legend_html(items: Sequence[tuple[str, str, str]], css_class: str = "", style: str = "") -> str:
    """A legend as one line of text: ``(label, colour, swatch)`` with swatch ``box``,
    ``band``, ``line``, ``dotted`` or ``hatch``; ``style``: more CSS for its line."""
    spans = "".join(
        "<span style='display:inline-flex;align-items:center;gap:4px;margin-right:12px'>"
        f"<span style='{_SWATCH[swatch].format(c=color)}'></span>{html.escape(label)}</span>"
        for label, color, swatch in items
    )
    return (
        f"<div class='orchestra-legend {css_class}' style='font-size:11px;color:#37474f;{style}'>"
        f"{spans}</div>"
    )


class FigurePane(pn.pane.Bokeh):
    """A Bokeh pane for the dashboard's figures, a walk over every model of the figure
    cheaper on each page load.

    Panel's pane rewrites, on every rendering, the code of each ``CustomJS`` in the figure
    that names the figure's id (a plot made elsewhere may), which walks every model the
    figure references (~3 ms per figure on the server). The dashboard's callbacks
    (_coalesce) never name an id: served, the figure goes on the page as it is. In a
    notebook (``comm``) Panel's own path runs (it also wraps the figure's callbacks)."""

    def _get_model(
        self,
        doc: Document,
        root: Model | None = None,
        parent: Model | None = None,
        comm: Any = None,
    ) -> Model:
        if root is None or comm is not None or self.object is None:
            return super()._get_model(doc, root, parent, comm)
        model = self.object
        if model.document is not None and doc is not model.document:
            remove_root(model, doc)
        self._models[root.ref["id"]] = (model, parent)
        self._design.apply_bokeh_theme_to_model(model, self.theme)
        return model
