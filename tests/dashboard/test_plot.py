"""The dashboard's figure pane renders what Panel's Bokeh pane renders, without its walk."""

from __future__ import annotations

from collections import Counter

import panel as pn
from bokeh.document import Document
from bokeh.models import ColumnDataSource, CustomJS, Range1d, VBar

from orchestra.dashboard._coalesce import coalesce_layouts
from orchestra.dashboard._plot import FigurePane, renderer, time_plot, x_zoom_tools


def figure() -> object:
    plot = time_plot(
        "a-figure",
        height=120,
        x_range=Range1d(start=0, end=1),
        y_range=Range1d(start=0, end=1),
        tools=x_zoom_tools(),
    )
    source = ColumnDataSource({"x": [0.5], "top": [1.0]})
    renderer(plot, source, VBar(x="x", top="top", width=0.5))
    coalesce_layouts(plot)
    return plot


def served(pane_type: type[pn.pane.Bokeh]) -> tuple[Document, object]:
    plot = figure()
    doc = Document()
    root = pn.Column(pane_type(plot, sizing_mode="stretch_width")).get_root(doc)
    doc.add_root(root)
    return doc, plot


def test_the_figure_pane_sends_the_same_models_as_panels_pane():
    ours, plot = served(FigurePane)
    panels, _ = served(pn.pane.Bokeh)
    assert plot in ours.roots[0].children  # the figure itself, on the page
    kinds = Counter(type(model).__name__ for model in ours.models)
    assert kinds == Counter(type(model).__name__ for model in panels.models)
    assert kinds["Plot"] == 1 and kinds["CustomJS"] == 1
    code = next(iter(plot.select({"type": CustomJS}))).code
    assert "invalidate_layout" in code  # the callback as written, untouched


def test_a_figure_shown_again_on_another_page_moves_there():
    plot = figure()
    pane = FigurePane(plot)
    first, second = Document(), Document()
    first.add_root(pn.Column(pane).get_root(first))
    second.add_root(pn.Column(pane).get_root(second))
    assert plot.document is second
    assert second.get_model_by_name("a-figure") is plot
