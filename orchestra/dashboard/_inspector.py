"""The exchange inspector: a step's exchanges page by page, and one exchange in full.

The list holds ids, page, fanout index, attempt, status and timing (no
bodies); turning a page reads the next page from DuckDB. The selected
exchange shows the masked request (method, URL, headers, body) and response
(status, headers, body as a collapsible JSON tree, or as text for XML, CSV and
other text) and a "copy as curl" action that copies the command the capture's
curl exporter writes for it.
"""

from __future__ import annotations

import html
from typing import Any, cast

import panel as pn
import param
from bokeh.models.widgets.tables import NumberFormatter
from panel.viewable import Viewer

from orchestra.dashboard._exchange import Body, ExchangeView
from orchestra.dashboard._state import DashboardState
from orchestra.dashboard._style import STATUS_CLASS_COLORS, format_bytes, format_ms, status_class

_COPY_JS = """
const text = area.value;
const done = () => {
  button.label = 'Copied ✓';
  setTimeout(() => { button.label = label; }, 1500);
};
if (navigator.clipboard && window.isSecureContext) {
  navigator.clipboard.writeText(text).then(done, () => { fallback(); });
} else { fallback(); }
function fallback() {
  const node = document.createElement('textarea');
  node.value = text; document.body.appendChild(node); node.select();
  document.execCommand('copy'); node.remove(); done();
}
"""


def exchange_status_style(value: Any) -> str:
    if value is None or value != value:
        return f"color: {STATUS_CLASS_COLORS['no response']}; font-weight: 600"
    return f"color: {STATUS_CLASS_COLORS[status_class(value)]}; font-weight: 600"


def page_label(page: int, size: int, total: int) -> str:
    if total == 0:
        return "no exchanges"
    first = page * size + 1
    last = min(total, (page + 1) * size)
    return f"{first:,}-{last:,} of {total:,}"


def body_pane(body: Body, name: str) -> pn.viewable.Viewable:
    """A JSON tree for JSON, preformatted text for the rest; a note when cut or binary."""
    note = ""
    if body.kind == "empty":
        return pn.pane.Markdown("*(no body)*", name=name)
    if body.kind == "binary":
        note = f"binary body, {body.size:,} base64 characters; the first {len(body.text):,}:"
    elif body.truncated:
        note = f"body of {body.size:,} characters; the first {len(body.text):,} are shown:"
    parts: list[Any] = []
    if note:
        parts.append(pn.pane.Markdown(f"*{note}*", margin=(0, 5)))
    if body.kind == "json":
        parts.append(
            pn.pane.JSON(
                body.value,
                depth=2,
                name=name,
                theme="light",
                sizing_mode="stretch_width",
                hover_preview=True,
            )
        )
    else:
        parts.append(
            pn.pane.HTML(
                f'<pre class="orchestra-body" style="white-space:pre-wrap;word-break:break-all;'
                f'max-height:420px;overflow:auto;margin:0">{html.escape(body.text)}</pre>',
                name=name,
                sizing_mode="stretch_width",
            )
        )
    return pn.Column(*parts, sizing_mode="stretch_width")


def headers_pane(headers: dict[str, str]) -> pn.viewable.Viewable:
    if not headers:
        return pn.pane.Markdown("*(no headers)*")
    rows = "".join(
        f"<tr><td style='padding-right:12px;color:#5f6b7a;white-space:nowrap'>"
        f"{html.escape(k)}</td><td style='word-break:break-all'>{html.escape(v)}</td></tr>"
        for k, v in headers.items()
    )
    return pn.pane.HTML(
        f"<table style='font-size:12px'>{rows}</table>", sizing_mode="stretch_width"
    )


class ExchangeInspector(Viewer):
    """The selected step's exchanges (paginated) and the selected exchange in full."""

    # typed as never None (param infers "| None" from the missing default)
    state = cast(
        "param.ClassSelector[DashboardState]",
        param.ClassSelector(class_=DashboardState, doc="The dashboard state it drives."),
    )

    def __init__(self, **params: Any):
        super().__init__(**params)
        state = self.state
        self._syncing = False
        self._title = pn.pane.Markdown("", margin=(0, 10))
        self._all_steps = pn.widgets.Button(label="All steps", width=90, color="light")
        self._previous = pn.widgets.Button(label="Previous", width=100)
        self._next = pn.widgets.Button(label="Next", width=90)
        self._position = pn.pane.Markdown(
            "", margin=(12, 10, 0, 10), css_classes=["orchestra-page"]
        )
        self._errors_only = pn.widgets.Checkbox(label="errors only", margin=(18, 10, 0, 10))
        integers = NumberFormatter(format="0,0")
        self._table = pn.widgets.Tabulator(
            state.exchanges,
            disabled=True,
            selectable=1,
            show_index=False,
            sortable=False,  # a page of a longer list: sorting it alone would mislead
            titles={
                "exchange_id": "#",
                "item_index": "item",
                "attempt": "try",
                "url": "path",
                "status_code": "status",
                "elapsed_ms": "ms",
                "response_size": "bytes",
            },
            formatters={
                "elapsed_ms": NumberFormatter(format="0,0.0"),
                "response_size": integers,
            },
            sizing_mode="stretch_width",
            max_height=460,
            layout="fit_columns",
            widths={
                "exchange_id": 52,
                "page": 50,
                "item_index": 50,
                "attempt": 40,
                "method": 66,
                "status_code": 56,
                "elapsed_ms": 60,
                "response_size": 62,
                "error": 90,
            },
            css_classes=["orchestra-exchanges"],
        )
        self._table.style.map(exchange_status_style, subset=["status_code"])
        self._curl = pn.widgets.TextAreaInput(
            label="curl",
            value="",
            height=130,
            sizing_mode="stretch_width",
            disabled=True,
            css_classes=["orchestra-curl"],
        )
        self._copy = pn.widgets.Button(
            label="Copy as curl", color="primary", width=130, css_classes=["orchestra-copy-curl"]
        )
        self._copy.js_on_click(
            args={"area": self._curl, "button": self._copy, "label": "Copy as curl"},
            code=_COPY_JS,
        )
        self._detail = pn.Column(sizing_mode="stretch_width", css_classes=["orchestra-exchange"])
        self._all_steps.on_click(lambda event: setattr(state, "step_path", None))
        self._previous.on_click(self._turn(-1))
        self._next.on_click(self._turn(+1))
        self._errors_only.param.watch(
            lambda event: setattr(state, "errors_only", event.new), "value"
        )
        self._table.param.watch(self._on_select, "selection")
        state.param.watch(
            self._draw_list,
            ["exchanges", "exchange_total", "step_path", "exchange_id", "errors_only"],
        )
        state.param.watch(self._draw_detail, ["exchange"])
        self._draw_list()
        self._draw_detail()

    def _turn(self, by: int) -> Any:
        def turn(event: Any) -> None:
            state = self.state
            last = max(0, (state.exchange_total - 1) // state.page_size)
            state.exchange_page = min(max(0, state.exchange_page + by), last)

        return turn

    def _on_select(self, event: param.parameterized.Event) -> None:
        if self._syncing or not event.new:
            return
        frame = self._table.value
        if 0 <= event.new[0] < len(frame):
            self.state.exchange_id = int(frame["exchange_id"].iloc[event.new[0]])

    def _draw_list(self, *events: param.parameterized.Event) -> None:
        state = self.state
        step = state.step_path
        self._title.object = f"**Exchanges of `{step}`**" if step else "**Exchanges of every step**"
        self._all_steps.visible = step is not None
        self._position.object = page_label(
            state.exchange_page, state.page_size, state.exchange_total
        )
        self._previous.disabled = state.exchange_page == 0
        self._next.disabled = (state.exchange_page + 1) * state.page_size >= state.exchange_total
        exchanges = state.exchanges
        assert exchanges is not None  # DashboardState sets it (possibly empty) before any draw
        frame = exchanges.reset_index(drop=True)
        self._syncing = True
        try:
            self._errors_only.value = state.errors_only
            if not self._table.value.equals(frame):
                self._table.value = frame
            selected = frame.index[frame["exchange_id"] == state.exchange_id].tolist()
            if self._table.selection != selected:
                self._table.selection = selected
        finally:
            self._syncing = False

    def _draw_detail(self, *events: param.parameterized.Event) -> None:
        view: ExchangeView | None = self.state.exchange
        if view is None:
            self._curl.value = ""
            self._detail.objects = [pn.pane.Markdown("*Select an exchange to inspect it.*")]
            return
        self._curl.value = view.curl
        self._copy.label = "Copy as curl"
        self._detail.objects = [
            self._request(view),
            self._response(view),
            pn.Row(self._copy),
            self._curl,
        ]

    @staticmethod
    def _request(view: ExchangeView) -> pn.viewable.Viewable:
        row = view.row
        where = f"step `{row['step_path']}` · page {row['page']} · attempt {row['attempt']}"
        if row.get("item_index") is not None:
            where += f" · item {row['item_index']}"
        return pn.Card(
            pn.pane.Markdown(
                f"**{row['method']}** `{row['url']}`  \n{where}",
                css_classes=["orchestra-request-line"],
            ),
            headers_pane(view.request_headers),
            body_pane(view.request_body, "request-body"),
            title=f"Request #{row['exchange_id']}",
            sizing_mode="stretch_width",
            css_classes=["orchestra-request"],
        )

    @staticmethod
    def _response(view: ExchangeView) -> pn.viewable.Viewable:
        row = view.row
        status = row.get("status_code")
        color = STATUS_CLASS_COLORS[status_class(status)]
        shown = "no response" if status is None else str(status)
        summary = (
            f"<span style='color:{color};font-weight:700;font-size:15px'>{shown}</span>"
            f" &nbsp;{format_ms(row.get('elapsed_ms'))} · {format_bytes(row.get('response_size'))}"
        )
        if row.get("error"):
            summary += f"<br><span style='color:#d93025'>{html.escape(str(row['error']))}</span>"
        return pn.Card(
            pn.pane.HTML(summary, css_classes=["orchestra-response-status"]),
            headers_pane(view.response_headers),
            body_pane(view.response_body, "response-body"),
            title="Response",
            sizing_mode="stretch_width",
            css_classes=["orchestra-response"],
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Row(
            pn.Column(
                pn.Row(self._title, self._all_steps),
                pn.Row(self._previous, self._next, self._position, self._errors_only),
                self._table,
                sizing_mode="stretch_width",
            ),
            self._detail,
            sizing_mode="stretch_width",
        )
