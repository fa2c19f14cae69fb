"""The exchange inspector: a run's exchanges filtered, sorted and paged, and one in full.

The list holds ids, page, fanout index, attempt, status and timing (no
bodies). Its filters (status class and code, error kind, URL substring, fanout
item, page, attempt, text in a body), its sort and the page to jump to are
set in the state's :class:`~orchestra.capture.ExchangeFilter`, and DuckDB
answers with one page and the counts ("1,204 of 100,000 exchanges match").
The selected exchange shows the masked request (method, URL, headers, body)
and response (status, headers, body: a lazy JSON tree, pretty XML, a CSV
table, or text; binary described), a download of each full body read from
the capture when clicked, and a "copy as curl" action that copies the
command the capture's curl exporter writes for it.
"""

from __future__ import annotations

import html
import io
from typing import Any, cast

import pandas as pd
import panel as pn
import param
from panel.viewable import Viewer

from orchestra.capture import STATUS_CLASSES, ExchangeFilter
from orchestra.dashboard._exchange import Body, ExchangeView
from orchestra.dashboard._json_tree import JsonTree, json_tree
from orchestra.dashboard._state import DashboardState
from orchestra.dashboard._style import (
    STATUS_CLASS_COLORS,
    format_bytes,
    format_ms,
    status_class,
)
from orchestra.dashboard._tables import (
    BASIC_RENDERING,
    TEXT,
    ReadOnlyTable,
    colored_status_code,
    number,
)

# A plain HTML button: a Panel js_on_click link would make Panel search the whole
# Bokeh document for linked models each time the inspector's contents change (~0.1 s
# of server CPU per click on a large run's page).
_COPY_JS = (
    "const b = this, text = b.dataset.curl;"
    "const done = () => { b.textContent = 'Copied \u2713';"
    " setTimeout(() => { b.textContent = 'Copy as curl'; }, 1500); };"
    "const fallback = () => { const node = document.createElement('textarea');"
    " node.value = text; document.body.appendChild(node); node.select();"
    " document.execCommand('copy'); node.remove(); done(); };"
    "if (navigator.clipboard && window.isSecureContext) {"
    " navigator.clipboard.writeText(text).then(done, fallback); } else { fallback(); }"
)
_COPY_STYLE = (
    "background:#0072b5;color:#fff;border:1px solid #0072b5;border-radius:4px;"
    "padding:6px 12px;font-size:14px;cursor:pointer;width:130px"
)


def copy_button(curl: str) -> pn.pane.HTML:
    """A "Copy as curl" button that puts ``curl`` on the clipboard (in the browser only)."""
    return pn.pane.HTML(
        f'<button type="button" data-curl="{html.escape(curl)}" style="{_COPY_STYLE}"'
        f' onclick="{html.escape(_COPY_JS)}">Copy as curl</button>',
        css_classes=["orchestra-copy-curl"],
        margin=(5, 10),
    )


def page_label(page: int, size: int, total: int) -> str:
    if total == 0:
        return "no exchanges"
    first = page * size + 1
    last = min(total, (page + 1) * size)
    return f"{first:,}-{last:,} of {total:,}"


def _note(body: Body) -> str:
    if body.kind == "binary":
        kind = f" ({body.content_type})" if body.content_type else ""
        return f"binary body{kind}, {format_bytes(body.size)}; base64, the first characters:"
    if body.kind == "csv":
        shown = len(body.value) - 1
        cut = f"; the first {shown:,}" if shown < body.rows else ""
        return f"CSV, {body.rows:,} rows{cut}:"
    if body.truncated:
        return f"body of {body.size:,} characters; the first {len(body.text):,} are shown:"
    return ""


def _csv_table(rows: list[list[str]]) -> pn.viewable.Viewable:
    header, data = rows[0], rows[1:]
    width = max(len(header), *(len(row) for row in data)) if data else len(header)
    columns = [*header, *(f"column {i + 1}" for i in range(len(header), width))]
    frame = pd.DataFrame([row + [""] * (width - len(row)) for row in data], columns=columns)
    return pn.pane.DataFrame(
        frame, index=False, max_rows=len(frame), sizing_mode="stretch_width",
        max_height=420, css_classes=["orchestra-csv"],
    )  # fmt: skip


def body_pane(
    body: Body, name: str, download: pn.widgets.FileDownload | None = None
) -> pn.viewable.Viewable:
    """A lazy tree for JSON, a table for CSV, text for the rest, and the full body's download."""
    if body.kind == "empty":
        return pn.pane.Markdown("*(no body)*", name=name)
    parts: list[Any] = []
    note = _note(body)
    if note or download is not None:
        parts.append(
            pn.Row(
                pn.pane.Markdown(f"*{note}*" if note else "", margin=(0, 5)),
                *([download] if download is not None else []),
            )
        )
    if body.kind == "json":
        parts.append(json_tree(body.value, name))
    elif body.kind == "csv":
        parts.append(_csv_table(body.value))
    else:
        parts.append(
            pn.pane.HTML(
                f'<pre class="orchestra-body" style="white-space:pre-wrap;word-break:break-all;'
                f'max-height:420px;overflow:auto;margin:0">{html.escape(body.text)}</pre>',
                name=name,
                sizing_mode="stretch_width",
            )
        )
    return pn.Column(*parts, sizing_mode="stretch_width", css_classes=[f"orchestra-{name}"])


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


STATUS_OPTIONS = {"any status": "", **{c: c for c in STATUS_CLASSES[:-1]}, "no response": "none"}
SORT_OPTIONS = {
    "# (order sent)": "exchange_id",
    "status": "status_code",
    "ms": "elapsed_ms",
    "bytes": "response_size",
    "path": "url",
    "page": "page",
    "item": "item_index",
    "try": "attempt",
    "method": "method",
    "error": "error",
}
_EXTENSIONS = {"json": "json", "xml": "xml", "csv": "csv", "binary": "bin"}


def match_label(matching: int, scope: int) -> str:
    """``1,204 of 100,000 exchanges match`` (or ``100,000 exchanges`` when nothing filters)."""
    if matching == scope:
        return f"{scope:,} exchange{'' if scope == 1 else 's'}"
    return f"{matching:,} of {scope:,} exchanges match"


def _int_filter(name: str, width: int = 70) -> pn.widgets.IntInput:
    return pn.widgets.IntInput(label=name, value=None, start=0, width=width)


# What differs between two exchanges' panes of one type. The inspector sets these on
# the panes shown rather than showing new ones: new Bokeh models make Bokeh walk every
# model of the document (~0.1 s on a large run's page), new values cost next to nothing.
_PANE_VALUES: dict[type, tuple[str, ...]] = {
    pn.pane.Markdown: ("object",),
    pn.pane.HTML: ("object",),
    pn.widgets.FileDownload: ("callback", "filename", "label"),
    pn.widgets.TextAreaInput: ("value",),
}


def _same_layout(shown: Any, wanted: Any) -> bool:
    """Whether ``shown`` can show what ``wanted`` does by taking its values."""
    if type(shown) is not type(wanted) or shown.css_classes != wanted.css_classes:
        return False
    if isinstance(shown, JsonTree) or type(shown) in _PANE_VALUES:
        return True
    if isinstance(shown, pn.layout.ListPanel):
        return len(shown.objects) == len(wanted.objects) and all(
            _same_layout(a, b) for a, b in zip(shown.objects, wanted.objects, strict=True)
        )
    return False


def _copy_values(shown: Any, wanted: Any) -> None:
    if isinstance(shown, JsonTree):
        shown.replace_value(wanted.value)
    elif isinstance(shown, pn.layout.ListPanel):
        if isinstance(shown, pn.Card) and shown.title != wanted.title:
            shown.title = wanted.title
        for a, b in zip(shown.objects, wanted.objects, strict=True):
            _copy_values(a, b)
    else:
        changed = {
            name: getattr(wanted, name)
            for name in _PANE_VALUES[type(shown)]
            if getattr(shown, name) != getattr(wanted, name)
        }
        if changed:
            shown.param.update(**changed)


class ExchangeInspector(Viewer):
    """The selected step's exchanges (filtered, sorted, paginated) and one exchange in full."""

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
        self._match = pn.pane.Markdown("", margin=(12, 10, 0, 10), css_classes=["orchestra-match"])
        self._jump = pn.widgets.IntInput(
            label="go to page", value=1, start=1, width=90, css_classes=["orchestra-jump"]
        )
        self._errors_only = pn.widgets.Checkbox(label="errors only", margin=(18, 10, 0, 10))
        self._filters = self._filter_widgets()
        self._clear = pn.widgets.Button(label="Clear filters", width=110, margin=(23, 5, 0, 5))
        self._table = self._exchange_table()
        self._curl = pn.widgets.TextAreaInput(
            label="curl",
            value="",
            height=130,
            sizing_mode="stretch_width",
            disabled=True,
            css_classes=["orchestra-curl"],
        )
        self._detail = pn.Column(sizing_mode="stretch_width", css_classes=["orchestra-exchange"])
        self._all_steps.on_click(lambda event: setattr(state, "step_path", None))
        self._previous.on_click(self._turn(-1))
        self._next.on_click(self._turn(+1))
        self._jump.param.watch(self._on_jump, "value")
        self._clear.on_click(self._on_clear)
        self._errors_only.param.watch(
            lambda event: setattr(state, "errors_only", event.new), "value"
        )
        for widget in self._filters.values():
            widget.param.watch(self._on_filter, "value")
        self._table.param.watch(self._on_select, "selection")
        state.param.watch(
            self._draw_list,
            [
                "exchanges",
                "exchange_total",
                "exchange_scope_total",
                "exchange_error_kinds",
                "exchange_filter",
                "step_path",
                "exchange_id",
                "errors_only",
            ],
        )
        state.param.watch(self._draw_detail, ["exchange"])
        self._draw_list()
        self._draw_detail()

    @staticmethod
    def _filter_widgets() -> dict[str, Any]:
        """The filter widgets by the :class:`ExchangeFilter` field they set."""
        return {
            "status_class": pn.widgets.Select(
                label="status", options=STATUS_OPTIONS, width=110, css_classes=["orchestra-status"]
            ),
            "status_code": _int_filter("code"),
            "error_kind": pn.widgets.Select(label="error", options={"any": ""}, width=130),
            "url": pn.widgets.TextInput(
                label="URL contains", placeholder="/items", width=150, css_classes=["orchestra-url"]
            ),
            "text": pn.widgets.TextInput(
                label="search bodies",
                placeholder="text in a body",
                width=160,
                css_classes=["orchestra-search"],
            ),
            "item_index": _int_filter("item"),
            "page": _int_filter("page"),
            "attempt": _int_filter("try", 60),
            "sort": pn.widgets.Select(
                label="sort by", options=SORT_OPTIONS, width=130, css_classes=["orchestra-sort"]
            ),
            "descending": pn.widgets.Checkbox(label="descending", margin=(28, 5, 0, 5)),
        }

    def _exchange_table(self) -> ReadOnlyTable:
        table = ReadOnlyTable(
            self.state.exchanges,
            disabled=True,
            selectable=1,
            show_index=False,
            sortable=False,  # sorted in DuckDB over every match ("sort by"), not page by page
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
                **{c: number() for c in ("exchange_id", "page", "item_index", "attempt")},
                **{c: TEXT for c in ("method", "url", "error")},
                "elapsed_ms": number(1),
                "response_size": number(),
                "status_code": colored_status_code(STATUS_CLASS_COLORS),
            },
            text_align={c: "right" for c in ("exchange_id", "page", "item_index", "attempt")},
            sizing_mode="stretch_width",
            max_height=460,
            layout="fit_columns",
            configuration=dict(BASIC_RENDERING),
            widths={
                "exchange_id": 52,
                "page": 50,
                "item_index": 50,
                "attempt": 40,
                "method": 66,
                "status_code": 56,
                "elapsed_ms": 60,
                "response_size": 76,
                "error": 90,
            },
            css_classes=["orchestra-exchanges"],
        )
        return table

    def _last_page(self) -> int:
        state = self.state
        return max(0, (state.exchange_total - 1) // state.page_size)

    def _turn(self, by: int) -> Any:
        def turn(event: Any) -> None:
            state = self.state
            state.exchange_page = min(max(0, state.exchange_page + by), self._last_page())

        return turn

    def _on_jump(self, event: param.parameterized.Event) -> None:
        if self._syncing or event.new is None:
            return
        self.state.exchange_page = min(max(0, int(event.new) - 1), self._last_page())

    def _on_filter(self, event: param.parameterized.Event) -> None:
        if self._syncing:
            return
        values = {name: widget.value for name, widget in self._filters.items()}
        descending = values.pop("descending")
        values["sort"] = ("-" if descending else "") + values["sort"]
        for name in ("status_class", "error_kind"):
            values[name] = values[name] or None
        values["url"] = (values["url"] or "").strip()
        values["text"] = (values["text"] or "").strip()
        self.state.exchange_filter = ExchangeFilter(**values)

    def _on_clear(self, event: Any) -> None:
        self.state.param.update(
            exchange_filter=ExchangeFilter(sort=self.state.exchange_filter.sort),
            errors_only=False,
        )

    def _on_select(self, event: param.parameterized.Event) -> None:
        if self._syncing or not event.new:
            return
        frame = self._table.value
        if 0 <= event.new[0] < len(frame):
            self.state.exchange_id = int(frame["exchange_id"].iloc[event.new[0]])

    def _sync_filters(self) -> None:
        """Show the state's filter in the widgets (it may change elsewhere: a cleared filter)."""
        filters = self.state.exchange_filter
        kinds = self.state.exchange_error_kinds or {}
        options = {"any": "", **{f"{kind} ({n:,})": kind for kind, n in kinds.items()}}
        if filters.error_kind and filters.error_kind not in kinds:
            options[f"{filters.error_kind} (0)"] = filters.error_kind
        widgets = self._filters
        if widgets["error_kind"].options != options:
            widgets["error_kind"].options = options
        values = {
            name: getattr(filters, name)
            for name in widgets
            if name not in ("descending", "sort") and hasattr(filters, name)
        }
        values["status_class"] = values["status_class"] or ""
        values["error_kind"] = values["error_kind"] or ""
        values["sort"] = filters.sort_column
        values["descending"] = filters.descending
        for name, value in values.items():
            if widgets[name].value != value:
                widgets[name].value = value

    def _draw_list(self, *events: param.parameterized.Event) -> None:
        state = self.state
        step = state.step_path
        self._title.object = f"**Exchanges of `{step}`**" if step else "**Exchanges of every step**"
        self._all_steps.visible = step is not None
        self._position.object = page_label(
            state.exchange_page, state.page_size, state.exchange_total
        )
        self._match.object = match_label(state.exchange_total, state.exchange_scope_total)
        self._previous.disabled = state.exchange_page == 0
        self._next.disabled = (state.exchange_page + 1) * state.page_size >= state.exchange_total
        exchanges = state.exchanges
        assert exchanges is not None  # DashboardState sets it (possibly empty) before any draw
        frame = exchanges.reset_index(drop=True)
        self._syncing = True
        try:
            self._errors_only.value = state.errors_only
            self._sync_filters()
            self._jump.end = self._last_page() + 1
            if self._jump.value != state.exchange_page + 1:
                self._jump.value = state.exchange_page + 1
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
        wanted = [self._request(view), self._response(view), copy_button(view.curl)]
        shown = self._detail.objects[:-1]
        if len(shown) == len(wanted) and all(map(_same_layout, shown, wanted)):
            for old, new in zip(shown, wanted, strict=True):
                _copy_values(old, new)
            return
        self._detail.objects = [*wanted, self._curl]

    def _download(self, view: ExchangeView, side: str, body: Body) -> pn.widgets.FileDownload:
        """A button that reads the full body from the capture when clicked (not before)."""
        state, run_id, exchange_id = self.state, str(view.row["run_id"]), view.exchange_id

        def read() -> io.BytesIO:
            with state.store.read() as db:
                data = db.exchange_body(run_id, exchange_id, side)
            return io.BytesIO(data or b"")

        extension = _EXTENSIONS.get(body.kind, "txt")
        return pn.widgets.FileDownload(
            callback=read,
            filename=f"{side}-{exchange_id}.{extension}",
            label=f"Download the {side} body",
            color="light",
            width=210,
            css_classes=[f"orchestra-download-{side}"],
        )

    def _request(self, view: ExchangeView) -> pn.viewable.Viewable:
        row = view.row
        where = f"step `{row['step_path']}` · page {row['page']} · attempt {row['attempt']}"
        if row.get("item_index") is not None:
            where += f" · item {row['item_index']}"
        body = view.request_body
        download = self._download(view, "request", body) if body.kind != "empty" else None
        return pn.Card(
            pn.pane.Markdown(
                f"**{row['method']}** `{row['url']}`  \n{where}",
                css_classes=["orchestra-request-line"],
            ),
            headers_pane(view.request_headers),
            body_pane(body, "request-body", download),
            title=f"Request #{row['exchange_id']}",
            sizing_mode="stretch_width",
            css_classes=["orchestra-request"],
        )

    def _response(self, view: ExchangeView) -> pn.viewable.Viewable:
        row = view.row
        status = row.get("status_code")
        color = STATUS_CLASS_COLORS[status_class(status)]
        shown = "no response" if status is None else str(status)
        summary = (
            f"<span style='color:{color};font-weight:700;font-size:15px'>{shown}</span>"
            f" &nbsp;{format_ms(row.get('elapsed_ms'))} · {format_bytes(row.get('response_size'))}"
        )
        first_byte = row.get("first_byte_ms")
        if first_byte is not None and first_byte == first_byte:  # not NaN
            summary += f" · first byte after {format_ms(first_byte)}"
        if row.get("error"):
            summary += f"<br><span style='color:#d93025'>{html.escape(str(row['error']))}</span>"
        body = view.response_body
        download = self._download(view, "response", body) if body.kind != "empty" else None
        return pn.Card(
            pn.pane.HTML(summary, css_classes=["orchestra-response-status"]),
            headers_pane(view.response_headers),
            body_pane(body, "response-body", download),
            title="Response",
            sizing_mode="stretch_width",
            css_classes=["orchestra-response"],
        )

    def __panel__(self) -> pn.viewable.Viewable:
        filters = self._filters
        return pn.Row(
            pn.Column(
                pn.Row(self._title, self._all_steps),
                pn.FlexBox(*filters.values(), self._errors_only, self._clear),
                pn.Row(self._previous, self._next, self._jump, self._position, self._match),
                self._table,
                sizing_mode="stretch_width",
            ),
            self._detail,
            sizing_mode="stretch_width",
        )
