"""The flow graph view: a Bokeh figure of the run's steps, coloured by status, tap to select.

The figure is drawn at exactly the layout's size with ranges equal to it, so
one data unit is one screen pixel: the label boxes :mod:`._layout` keeps apart
are the boxes the browser draws, and a node's pixel on the page is its (x, y)
from the figure's top-left corner (``x``, ``height - y``). Tapping a node sets
the state's ``step_path``; selecting a step anywhere else selects the node.
"""

from __future__ import annotations

from typing import Any, cast

import panel as pn
import param
from bokeh.models import (
    ColumnDataSource,
    HoverTool,
    LinearScale,
    MultiLine,
    Plot,
    Range1d,
    Scatter,
    TapTool,
    Text,
    Toolbar,
)
from panel.viewable import Viewer

from orchestra.dashboard._layout import LABEL_GAP, NODE_RADIUS, FlowGraphLayout
from orchestra.dashboard._plot import FigurePane, renderer
from orchestra.dashboard._state import DashboardState
from orchestra.dashboard._style import NODE_STATUSES, STATUS_COLORS, format_ms

_MARKERS = {
    "http": "circle",
    "fanout": "circle",
    "parallel": "square",
    "choice": "diamond",
    "auth": "triangle",
    "compensation": "inverted_triangle",
}
_EDGE_STYLES = {"next": "solid", "fanout": "dashed", "branch": "solid", "compensate": "dotted"}
EMPTY_SIZE = (320, 120)


def node_data(graph: FlowGraphLayout | None) -> dict[str, list[Any]]:
    nodes = list(graph.nodes.values()) if graph else []
    return {
        "path": [n.path for n in nodes],
        "x": [n.x for n in nodes],
        "y": [n.y for n in nodes],
        "label_x": [n.x + NODE_RADIUS + LABEL_GAP for n in nodes],
        "title": [n.title for n in nodes],
        "subtitle": [n.subtitle for n in nodes],
        "kind": [n.kind for n in nodes],
        "marker": [_MARKERS.get(n.kind, "circle") for n in nodes],
        "status": [n.status for n in nodes],
        "color": [STATUS_COLORS.get(n.status, STATUS_COLORS["pending"]) for n in nodes],
        "executions": [n.executions for n in nodes],
        "requests": [n.requests for n in nodes],
        "retries": [n.retries for n in nodes],
        "failed_requests": [n.failed_requests for n in nodes],
        "duration": [format_ms(n.duration_ms) for n in nodes],
        "branch": [n.branch or "" for n in nodes],
        "error": [(n.error or "")[:200] for n in nodes],
    }


def edge_data(graph: FlowGraphLayout | None) -> dict[str, list[Any]]:
    """Elbow edges: down from the source, across half-way, down into the target."""
    xs: list[list[float]] = []
    ys: list[list[float]] = []
    dashes: list[str] = []
    if graph:
        for edge in graph.edges:
            source, target = graph.nodes.get(edge.source), graph.nodes.get(edge.target)
            if source is None or target is None:
                continue
            if edge.kind == "compensate":
                xs.append([source.x + NODE_RADIUS, target.x - NODE_RADIUS])
                ys.append([source.y, target.y])
            else:
                top, bottom = source.y - NODE_RADIUS, target.y + NODE_RADIUS
                middle = target.y + NODE_RADIUS + 12
                xs.append([source.x, source.x, target.x, target.x])
                ys.append([top, middle, middle, bottom])
            dashes.append(_EDGE_STYLES.get(edge.kind, "solid"))
    return {"xs": xs, "ys": ys, "edge_dash": dashes}


class FlowGraph(Viewer):
    """The run's steps as a layered graph; tap a node to select its step everywhere."""

    # typed as never None (param infers "| None" from the missing default)
    state = cast(
        "param.ClassSelector[DashboardState]",
        param.ClassSelector(class_=DashboardState, doc="The dashboard state it drives."),
    )
    max_width = param.Integer(default=640, doc="Widest the view gets; a wider graph scrolls.")
    max_height = param.Integer(default=640, doc="Tallest the view gets; a taller graph scrolls.")
    model_name = param.String(
        default="flow-graph",
        doc="Name of its Bokeh models (`<name>`, `<name>-nodes` …): unique on a page, so the "
        "Runs tab's graph and the builder's can each be found.",
    )

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._syncing = False
        self._scroller = pn.Column(scroll=True, css_classes=["orchestra-graph-scroll"])
        self.nodes = ColumnDataSource(node_data(None), name=f"{self.model_name}-nodes")
        self.edges = ColumnDataSource(edge_data(None), name=f"{self.model_name}-edges")
        width, height = EMPTY_SIZE
        # built from its models: no axes, grids, title or muted copies (bokeh.plotting's
        # figure() makes them, and each is a model the page builds a view for)
        plot = Plot(
            name=self.model_name,
            width=width,
            height=height,
            x_range=Range1d(start=0, end=width),
            y_range=Range1d(start=0, end=height),
            x_scale=LinearScale(),
            y_scale=LinearScale(),
            title=None,
            toolbar=Toolbar(),
            toolbar_location=None,
            min_border=0,
            outline_line_color=None,
            background_fill_color="#ffffff",
            output_backend="canvas",
        )
        renderer(
            plot,
            self.edges,
            MultiLine(
                xs="xs", ys="ys", line_color="#8c96a3", line_width=1.4, line_dash="edge_dash"
            ),
        )
        node: dict[str, Any] = {
            "x": "x",
            "y": "y",
            "marker": "marker",
            "size": 2 * NODE_RADIUS + 2,
            "fill_color": "color",
            "line_color": "#37474f",
        }
        nodes = renderer(
            plot,
            self.nodes,
            Scatter(**node, line_width=1.2),
            selected=Scatter(**dict(node, line_color="#111111"), line_width=3.5),
            unselected="same",
        )
        nodes.name = f"{self.model_name}-node-glyphs"
        label: dict[str, Any] = {"x": "label_x", "y": "y"}
        title: dict[str, Any] = dict(
            label,
            text="title",
            text_font_size="12px",
            text_font_style="bold",
            text_baseline="bottom",
            text_color="#212121",
            y_offset=-1,
        )
        subtitle: dict[str, Any] = dict(
            label,
            text="subtitle",
            text_font_size="11px",
            text_baseline="top",
            text_color="#5f6b7a",
            y_offset=1,
        )
        # a selected node leaves every label as it is
        renderer(plot, self.nodes, Text(**title), unselected="same")
        renderer(plot, self.nodes, Text(**subtitle), unselected="same")
        plot.add_tools(
            TapTool(renderers=[nodes]),
            HoverTool(
                renderers=[nodes],
                tooltips=[
                    ("step", "@path"),
                    ("kind", "@kind"),
                    ("status", "@status"),
                    ("executions", "@executions"),
                    ("requests", "@requests"),
                    ("retries", "@retries"),
                    ("failed requests", "@failed_requests"),
                    ("duration", "@duration"),
                    ("branch", "@branch"),
                    ("error", "@error"),
                ],
            ),
        )
        self.figure = plot
        self._pane = FigurePane(plot, sizing_mode="fixed")
        self._scroller.objects = [self._pane]
        # the legend, and under it, while there are no steps, a line saying so: one pane (a
        # pane is a model to send and a view to build and lay out on every page load)
        self._legend = pn.pane.HTML(_legend_html(), margin=(0, 10))
        self.nodes.selected.on_change("indices", self._on_tap)
        self.state.param.watch(self._draw, ["graph"])
        self.state.param.watch(self._select, ["step_path"])
        self._draw()

    # -- state -> figure ---------------------------------------------------------------------

    def _draw(self, *events: param.parameterized.Event) -> None:
        graph = self.state.graph
        width, height = (graph.width, graph.height) if graph and graph.nodes else EMPTY_SIZE
        width, height = round(width), round(height)
        plot = self.figure
        edges, nodes = edge_data(graph), node_data(graph)  # both or neither reach the figure
        self._syncing = True
        try:
            if (plot.width, plot.height) != (width, height):
                plot.width, plot.height = width, height
                plot.x_range.update(start=0, end=width)
                plot.y_range.update(start=0, end=height)
            self.edges.data = edges
            self.nodes.data = nodes
            self._select_path(self.state.step_path)
        finally:
            self._syncing = False
        legend = _legend_html(empty=not (graph and graph.nodes))
        if self._legend.object != legend:
            self._legend.object = legend
        # a fixed figure in a narrower scroller must not shrink: its pixels are the layout's
        self._pane.param.update(width=width, height=height, min_width=width, min_height=height)
        self._scroller.width = self.view_width
        self._scroller.height = min(height + 24, self.max_height)

    @property
    def view_width(self) -> int:
        """Pixels the view takes across (the figure plus room for a scroll bar, at most)."""
        return min(int(self.figure.width or 0) + 24, self.max_width)

    def _select(self, event: param.parameterized.Event) -> None:
        # A step selected from a Panel widget's event (a click on a step row) arrives outside
        # Bokeh's document lock: the node source may change only inside the state's batch.
        with self.state.batch():
            self._syncing = True
            try:
                self._select_path(event.new)
            finally:
                self._syncing = False

    def _select_path(self, path: str | None) -> None:
        paths = list(self.nodes.data["path"])
        indices = [paths.index(path)] if path in paths else []
        if list(self.nodes.selected.indices) != indices:
            self.nodes.selected.indices = indices

    # -- figure -> state ---------------------------------------------------------------------

    def _on_tap(self, attr: str, old: list[int], new: list[int]) -> None:
        if self._syncing:
            return
        paths = self.nodes.data["path"]
        path = paths[new[0]] if new and new[0] < len(paths) else None
        if path != self.state.step_path:
            self.state.step_path = path

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self._legend,
            self._scroller,
        )


def _legend_html(*, empty: bool = False) -> str:
    """The node colours' legend; ``empty``: and a line saying there are no steps yet."""
    swatches = "".join(
        f'<span style="display:inline-flex;align-items:center;margin-right:12px">'
        f'<span style="width:11px;height:11px;border-radius:50%;background:{STATUS_COLORS[s]};'
        f'border:1px solid #37474f;margin-right:4px"></span>{s}</span>'
        for s in NODE_STATUSES
    )
    note = '<p class="orchestra-graph-empty"><em>No steps to show yet.</em></p>' if empty else ""
    return f'<div style="font-size:12px;color:#37474f">{swatches}</div>{note}'
