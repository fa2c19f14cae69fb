"""The dashboard: every view over one state, inline in a notebook or served by Panel.

The page: runs, the selected run's summary and downloads, flow graph and steps,
exchanges, waterfall, metrics, and a comparison of two runs.

``Dashboard(db=...)`` is a ``pn.viewable.Viewer``: display it in a notebook
cell, or serve it (``panel serve orchestra/dashboard/app.py --args --db FILE``,
``orchestra dashboard``, :func:`serve`). Each rendering starts a periodic
callback that polls the capture file; a run in this process can also feed it
directly (:meth:`Dashboard.attach`).
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any, cast

import panel as pn
import param
from panel.io.application import build_applications
from panel.viewable import Viewer

from orchestra.capture import CaptureStore
from orchestra.dashboard._coalesce import coalesce_layouts, local_axis_layouts
from orchestra.dashboard._diff_view import DiffView
from orchestra.dashboard._exports import ExportPanel
from orchestra.dashboard._graph import FlowGraph
from orchestra.dashboard._inspector import ExchangeInspector
from orchestra.dashboard._kernel_loop import handle_on_loop
from orchestra.dashboard._live import LiveFeed
from orchestra.dashboard._metrics import MetricsView
from orchestra.dashboard._offline import keep_stylesheets_inline
from orchestra.dashboard._runs import RunPicker
from orchestra.dashboard._scripts import LoadScripts, code_editor_scripts
from orchestra.dashboard._serving import (
    PreparePage,
    after_page_drawn,
    keep_template_session,
    local_stylesheets,
)
from orchestra.dashboard._state import DashboardState
from orchestra.dashboard._steps import StepTable
from orchestra.dashboard._style import format_count, format_ms, run_status_color
from orchestra.dashboard._waterfall import Waterfall
from orchestra.events import EventBus

logger = logging.getLogger("orchestra.dashboard")

# The JavaScript a page needs beyond Bokeh and Panel: the runs page only Tabulator's. The
# builder's YAML editor is ace ("codeeditor", 530 KB the browser runs on every load): a
# notebook loads both (the builder may follow); the served page loads ace when its Builder
# tab first opens (see _scripts).
RUNS_EXTENSIONS = ("tabulator",)
EXTENSIONS = ("tabulator", "codeeditor")


def run_summary(run: dict[str, Any] | None) -> str:
    """One line of HTML: the run's id, plan, status, start, duration and counts."""
    if not run:
        return "<span style='color:#5f6b7a'>No run selected.</span>"
    status = str(run.get("status"))
    color = run_status_color(status)
    started = run.get("started_at")
    started_text = started.strftime("%Y-%m-%d %H:%M:%S UTC") if started else ""
    live = " <span class='orchestra-live'>● live</span>" if status == "running" else ""
    requests = int(run.get("requests") or 0)
    error = ""
    if run.get("error"):
        error = f"<br><span style='color:#d93025'>{html.escape(str(run['error']))[:400]}</span>"
    return (
        f"<b>{html.escape(str(run.get('plan_key')))}</b> · <code>{run.get('run_id')}</code> · "
        f"<span class='orchestra-run-status' style='color:{color};font-weight:600'>"
        f"{html.escape(status)}</span>{live} · started {started_text} · "
        f"{format_ms(run.get('duration_ms')) or 'running'} · "
        f"<span class='orchestra-run-requests'>{requests:,}</span> "
        f"{'request' if requests == 1 else 'requests'} · "
        f"{format_count(run.get('errors'), 'error')} · {format_count(run.get('records'), 'record')}"
        f"{error}"
    )


class Dashboard(Viewer):
    """Run picker, flow graph, step table, exchanges, waterfall, metrics, exports and diff.

    >>> Dashboard(db="orchestra.duckdb")          # display in a notebook cell
    >>> Dashboard(db="orchestra.duckdb").state.select_run("20261122-091500-3f9a1c")
    """

    # typed as never None (param infers "| None" from the missing default)
    state = cast(
        "param.ClassSelector[DashboardState]",
        param.ClassSelector(class_=DashboardState, doc="Selections and data of the views."),
    )
    live = param.Boolean(default=True, doc="Poll the capture file for new data.")

    def __init__(
        self,
        db: str | Path | CaptureStore | None = None,
        *,
        run: str | None = None,
        state: DashboardState | None = None,
        refresh_interval: float = 0.5,
        **params: Any,
    ):
        if state is None:
            state = DashboardState(db, run=run, refresh_interval=refresh_interval)
        super().__init__(state=state, **params)
        state.batch = pn.io.hold
        self.run_picker = RunPicker(state=state)
        self.flow_graph = FlowGraph(state=state)
        self.step_table = StepTable(state=state)
        self.inspector = ExchangeInspector(state=state)
        self.waterfall = Waterfall(state=state)
        self.metrics = MetricsView(state=state)
        self._exports: ExportPanel | None = None  # made when its section is first opened
        self.diff_view = DiffView(state=state)
        # one browser layout per batch of updates (see _coalesce); two figures, in case a
        # card holding one is collapsed
        coalesce_layouts(self.flow_graph.figure)
        coalesce_layouts(self.metrics.figure)
        # a figure whose tick labels changed width lays out itself, not the page (see
        # _coalesce); the waterfall's latency figure, made with the first aggregate, does too
        for plot in (self.metrics.figure, self.waterfall.figure):
            local_axis_layouts(plot)
        self._summary = pn.pane.HTML(
            "", sizing_mode="stretch_width", css_classes=["orchestra-run-summary"]
        )
        self._error = pn.pane.Alert(
            "", alert_type="danger", visible=False, sizing_mode="stretch_width"
        )
        self._message = pn.pane.Alert(
            "", alert_type="info", visible=False, sizing_mode="stretch_width"
        )
        # Export starts collapsed: its buttons join the page when it is first opened (eight
        # download buttons and a picker made, sent and laid out hidden were ~10 % of a load)
        self._export_card = pn.Card(
            title="Export",
            collapsed=True,
            collapsible=True,
            sizing_mode="stretch_width",
            css_classes=["orchestra-export-card"],
        )
        self._export_card.param.watch(self._open_exports, "collapsed")
        self._graph_card = pn.Card(
            self.flow_graph,
            title="Flow graph",
            collapsible=True,
            css_classes=["orchestra-graph-card"],
        )
        state.param.watch(self._draw_header, ["run", "error", "message"])
        state.param.watch(self._size_graph, ["graph"])
        self._draw_header()
        self._size_graph()
        self._callbacks: list[Any] = []

    @property
    def exports(self) -> ExportPanel:
        """The Export section's downloads (made on first use: the section starts collapsed)."""
        if self._exports is None:
            self._exports = ExportPanel(state=self.state)
        return self._exports

    def _open_exports(self, *events: param.parameterized.Event) -> None:
        if not self._export_card.collapsed and not len(self._export_card):
            self._export_card.append(self.exports)

    def attach(self, bus: EventBus) -> LiveFeed:
        """Follow a run of this process as it happens (``dashboard.attach(runner.bus)``)."""
        return self.state.attach(bus)

    def _draw_header(self, *events: param.parameterized.Event) -> None:
        state = self.state
        self._summary.object = run_summary(state.run)
        self._error.object = html.escape(state.error)
        self._error.visible = bool(state.error)
        self._message.object = html.escape(state.message)
        self._message.visible = bool(state.message)

    def _size_graph(self, *events: param.parameterized.Event) -> None:
        self._graph_card.width = max(self.flow_graph.view_width + 30, 400)

    def _start_polling(self) -> None:
        if not self.live:
            return
        period = int(self.state.refresh_interval * 1000)
        # Panel's typed signature omits coroutine functions, which it accepts.
        callback = pn.state.add_periodic_callback(self.state.poll, period=period)  # type: ignore[arg-type]
        self._callbacks.append(callback)

    def stop(self) -> None:
        """Stop polling (the views keep what they show)."""
        for callback in self._callbacks:
            callback.stop()
        self._callbacks.clear()

    def _exchanges_card(self, section: dict[str, Any]) -> pn.Card:
        """The Exchanges section; in a served page its list joins once the rest is drawn.

        The exchange list (filters, table, detail) is a fifth of the page's Bokeh models and
        its largest table: made, sent and drawn after the graph, steps, waterfall and metrics,
        those show ~0.15 s sooner, and the list follows a moment later.
        """
        card = pn.Card(title="Exchanges", **section)
        card.append(
            pn.pane.HTML(
                "<div style='color:#5f6b7a'>Loading the exchanges…</div>",
                min_height=320,
                sizing_mode="stretch_width",
                css_classes=["orchestra-exchanges-loading"],
            )
        )

        def show_list() -> None:
            card[:] = [self.inspector]

        after_page_drawn(show_list)
        return card

    def __panel__(self) -> pn.viewable.Viewable:
        self._start_polling()
        section = {"sizing_mode": "stretch_width", "collapsible": True}
        return pn.Column(
            pn.pane.HTML(
                "<div style='font-size:20px;font-weight:700'>Orchestra · runs</div>"
                f"<div style='font-size:12px;color:#5f6b7a'>{html.escape(self.state.db)}</div>",
                sizing_mode="stretch_width",
            ),
            self._error,
            self._message,
            pn.Card(self.run_picker, title="Runs", **section),
            self._summary,
            self._export_card,
            pn.Row(
                self._graph_card,
                pn.Card(self.step_table, title="Steps", **section),
                sizing_mode="stretch_width",
            ),
            self._exchanges_card(section),
            pn.Card(self.waterfall, title="Waterfall", **section),
            pn.Card(self.metrics, title="Metrics", **section),
            self.diff_view,
            sizing_mode="stretch_width",
            css_classes=["orchestra-dashboard"],
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        # A notebook needs Panel's JavaScript (and Tabulator's) before the first display,
        # inlined into the output: a notebook must work with no internet, so never a CDN.
        if not pn.extension._loaded:
            pn.extension(*EXTENSIONS, inline=True)
        view = self._create_view()
        if pn.config.inline:
            keep_stylesheets_inline(view)
        bundle = view._repr_mimebundle_(include, exclude)
        # clicks arrive on a kernel subshell's thread: handle them on the poller's loop
        handle_on_loop(view)
        return bundle


def _runs_and_builder(dashboard: Dashboard, plan: str | Path | None) -> pn.Tabs:
    """The served page: "Runs" (the dashboard) and "Builder", made when first opened.

    The builder's forms are made (and sent to the browser) only when its tab is first
    shown: a page load then costs what the runs page costs.
    """
    from orchestra.dashboard._builder import FlowBuilder

    builder = pn.Column(
        pn.pane.HTML("Opening the builder…"),
        sizing_mode="stretch_width",
        css_classes=["orchestra-builder-tab"],
    )
    tabs = pn.Tabs(
        ("Runs", dashboard.__panel__()),
        ("Builder", builder),
        sizing_mode="stretch_width",
        css_classes=["orchestra-tabs"],
    )
    opened: list[bool] = []
    made: list[pn.viewable.Viewable] = []
    loaded: list[bool] = []

    def show_builder() -> None:
        if made and loaded:  # both, whichever came last
            builder[:] = [made[0]]

    def make_builder() -> None:
        # runs while the browser loads the editor's JavaScript: the page has ace once
        # LoadScripts says so, and the builder joins it then
        pn.extension("codeeditor")
        made.append(FlowBuilder(plan, db=dashboard.state.db).__panel__())
        show_builder()

    def on_loaded(event: param.parameterized.Event) -> None:
        loaded.append(True)
        show_builder()

    def show_failure(event: param.parameterized.Event) -> None:
        builder[:] = [
            pn.pane.Alert(
                f"The YAML editor's script {html.escape(event.new)} did not load from this "
                "server: reload the page; if it stays, Panel's installation lacks it.",
                alert_type="danger",
            )
        ]

    def open_builder(event: param.parameterized.Event) -> None:
        if event.new == 1 and not opened:
            opened.append(True)
            # the page came without the editor's JavaScript (see RUNS_EXTENSIONS): load it
            # and, once that is on its way (next tick), make the builder meanwhile
            scripts = LoadScripts(sources=code_editor_scripts())
            scripts.param.watch(on_loaded, "loaded")
            scripts.param.watch(show_failure, "failed")
            builder.append(scripts)
            pn.state.execute(make_builder, schedule=True)

    tabs.param.watch(open_builder, "active")
    return tabs


def _from_url(args: dict[str, list[bytes]], db: str, run: str | None) -> tuple[str, str | None]:
    """The capture file and run a tab's URL asks for (``db``, ``run``), else the defaults."""
    if args.get("db") and args["db"][0]:
        db = str(Path(args["db"][0].decode()).expanduser().resolve())
    if args.get("run") and args["run"][0]:
        run = args["run"][0].decode()
    return db, run


def serve(
    db: str | Path | None = None,
    port: int = 5006,
    show: bool = False,
    *,
    address: str = "127.0.0.1",
    run: str | None = None,
    threaded: bool = False,
    plan: str | Path | None = None,
    url_args: bool = False,
    interval: float = 0.5,
    **kwargs: Any,
) -> Any:
    """Serve the dashboard of ``db`` on ``address:port`` (blocks unless ``threaded``).

    Every browser tab gets its own :class:`Dashboard` ("Runs") and
    :class:`~orchestra.dashboard.FlowBuilder` ("Builder", editing ``plan`` or
    starting from an empty plan; its tries are captured into the tab's capture
    file). ``orchestra dashboard`` calls this; ``threaded=True`` returns the
    server thread (``.stop()``). ``url_args=True`` lets each tab name its
    capture file and run in its URL (``?db=/path/capture.duckdb&run=ID``, ``~``
    expanded), the way the JupyterLab tab opens the capture of the directory it
    was opened from. Each tab polls the capture file every ``interval`` seconds.
    """
    from orchestra._run import default_db

    path = str(Path(db if db is not None else default_db()).resolve())

    def dashboard_for(arguments: dict[str, list[bytes]]) -> Dashboard:
        """The Runs tab of a page: the capture file and run of its URL when ``url_args``."""
        tab_db, tab_run = _from_url(arguments, path, run) if url_args else (path, run)
        return Dashboard(db=tab_db, run=tab_run, refresh_interval=interval)

    # each tab's Dashboard is made in a worker thread while the browser loads the page's
    # JavaScript (see _serving); the page below only makes its Bokeh models
    prepare = PreparePage(
        dashboard_for, current=lambda dashboard: dashboard.state.unchanged_since_read()
    )

    def app() -> pn.viewable.Viewable:
        pn.extension(*RUNS_EXTENSIONS)  # the builder's editor loads its own when opened
        local_stylesheets(pn.state.curdoc)
        dashboard = prepare.take(pn.state.curdoc)
        if dashboard is None:  # the server's template session, or preparing it failed
            dashboard = dashboard_for(pn.state.session_args)
        return _runs_and_builder(dashboard, plan)

    application = build_applications({"/": app}, title="Orchestra dashboard")["/"]
    application.add(prepare)
    # every page's HTML comes from a template session, at once; the tab's own session is
    # built while the browser fetches the JavaScript (see _serving)
    pn.config.global_loading_spinner = True  # the page spins until its document is drawn
    prefix = "/" + kwargs.get("prefix", "").strip("/")
    keep_template_session(application, sorted({prefix, prefix.rstrip("/") + "/"}))
    if not url_args:  # the first page's (a URL with a query makes its own)
        prepare.keep_spare({})
    if address in ("0.0.0.0", "::"):  # every interface: pages come from any host name
        origins = ["*"]
    else:
        origins = [f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"]
    return pn.serve(
        {"/": application},
        port=port,
        address=address,
        show=show,
        threaded=threaded,
        title="Orchestra dashboard",
        websocket_origin=kwargs.pop("websocket_origin", origins),
        **kwargs,
    )
