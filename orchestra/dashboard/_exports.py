"""Downloads of the selected run: plan (JSON, YAML), HAR, curl for a selection, records.

Each button is a ``pn.widgets.FileDownload`` whose callback produces the file
only when it is clicked, through the capture's exporters
(:mod:`orchestra.capture._export`): everything downloaded comes from the
masked capture, so a secret appears as its ``${NAME}`` reference or ``***``,
never as its value. curl covers a selection — the inspected exchange, the
selected step's exchanges, or the exchange list as filtered — and records come
as CSV or Parquet for the whole run or one step (picked in "Records of"; one step
is its typed table, as ``orchestra export --format parquet --step`` writes it).
"Records of" offers only the steps that emitted records in the run (the counts
read with the run's other views), so every choice downloads a file that loads back.
The exchange list's curl follows every filter of the list (step, errors only,
status, error kind, URL, item, page, attempt, body text) and its sort; its file
name says which.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import panel as pn
import param
from panel.viewable import Viewer

from orchestra.capture import (
    ExchangeFilter,
    export_curl,
    export_har,
    export_plan,
    export_plan_yaml,
    export_records,
)
from orchestra.dashboard._state import DashboardState

WHOLE_RUN = "(whole run)"
BUTTON = {"color": "light", "width": 190, "margin": (4, 6)}
NAME_PART = 40  # characters of a typed filter (URL, body text) kept in a file name


def _safe(name: str) -> str:
    """A file-name part: letters, digits, dot, dash and underscore only."""
    return "".join(c if c.isalnum() or c in ".-_" else "_" for c in name)


def list_name(step_path: str | None, errors_only: bool, filters: ExchangeFilter) -> str:
    """The exchange list's part of a file name: its step, filters and sort, in that order.

    ``exchanges`` alone is the whole run's list by exchange id; each filter set adds
    one part (``5xx`` or ``no-status``, ``status-404``, ``error-timeout``, ``url-…``, ``item-3``,
    ``page-2``, ``attempt-2``, ``text-…``), and a sort other than by exchange id adds
    ``by-<column>`` (``-desc`` when descending).
    """
    parts = [_safe(step_path)] if step_path else []
    parts.append("exchanges")
    if errors_only:
        parts.append("errors")
    if filters.status_class:
        parts.append("no-status" if filters.status_class == "none" else filters.status_class)
    labelled = {
        "status": filters.status_code,
        "error": filters.error_kind or None,
        "url": filters.url or None,
        "item": filters.item_index,
        "page": filters.page,
        "attempt": filters.attempt,
        "text": filters.text or None,
    }
    for label, value in labelled.items():
        if value is not None:
            parts.append(f"{label}-{_safe(str(value))[:NAME_PART]}")
    if filters.sort != ExchangeFilter().sort:
        parts.append(f"by-{_safe(filters.sort_column)}{'-desc' if filters.descending else ''}")
    return ".".join(parts)


class ExportPanel(Viewer):
    """Download buttons for the selected run, each producing its file on click."""

    # typed as never None (param infers "| None" from the missing default)
    state = cast(
        "param.ClassSelector[DashboardState]",
        param.ClassSelector(class_=DashboardState, doc="The dashboard state it exports from."),
    )

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._records_of = pn.widgets.Select(
            label="Records of", options=[WHOLE_RUN], value=WHOLE_RUN, width=220
        )
        self.downloads: dict[str, pn.widgets.FileDownload] = {
            "plan-json": self._button("Plan · JSON", self._plan_json),
            "plan-yaml": self._button("Plan · YAML", self._plan_yaml),
            "har": self._button("HAR", self._har),
            "curl-exchange": self._button("curl · exchange", self._curl_exchange),
            "curl-step": self._button("curl · step", self._curl_step),
            "curl-list": self._button("curl · exchange list", self._curl_list),
            "records-csv": self._button("Records · CSV", self._records_csv),
            "records-parquet": self._button("Records · Parquet", self._records_parquet),
        }
        for key, button in self.downloads.items():
            button.css_classes = [f"orchestra-export-{key}"]
        self._records_of.param.watch(self._name_files, "value")
        self.state.param.watch(
            self._on_state,
            ["run_id", "step_path", "exchange_id", "errors_only", "exchange_filter", "steps",
             "record_counts"],
        )  # fmt: skip
        self._on_state()

    def _button(self, label: str, make: Callable[[], bytes]) -> pn.widgets.FileDownload:
        return pn.widgets.FileDownload(
            callback=lambda: self._produce(label, make), label=label, filename="export", **BUTTON
        )

    # -- keeping names and availability current ------------------------------------------------

    def _on_state(self, *events: param.parameterized.Event) -> None:
        state = self.state
        options = [WHOLE_RUN, *self._record_steps()]
        if self._records_of.options != options:
            self._records_of.options = options
        records_of = self._records_of.value
        if any(event.name == "step_path" for event in events) and state.step_path in options:
            records_of = state.step_path
        elif records_of not in options:
            records_of = WHOLE_RUN
        # each property set once, and only if it changes: every set is a message to the
        # browser, a flip of ``disabled`` (off, then on again) re-renders the button there and
        # lays out the page, and Panel recomputes the design's stylesheets for each one
        has_run = state.run_id is not None
        disabled = dict.fromkeys(self.downloads, not has_run)
        disabled["curl-exchange"] = state.exchange_id is None
        disabled["curl-step"] = state.step_path is None
        for key, button in self.downloads.items():
            if button.disabled != disabled[key]:
                button.disabled = disabled[key]
        if records_of != self._records_of.value:
            self._records_of.value = records_of  # names the files (its watcher)
        else:
            self._name_files()

    def _name_files(self, *events: param.parameterized.Event) -> None:
        state = self.state
        run = _safe(state.run_id or "run")
        scope = self._records_scope()
        records = f"{run}.records" + (f".{_safe(scope)}" if scope else "")
        exchange_list = list_name(state.step_path, state.errors_only, state.exchange_filter)
        names = {
            "plan-json": f"{run}.plan.json",
            "plan-yaml": f"{run}.plan.yaml",
            "har": f"{run}.har",
            "curl-exchange": f"{run}.exchange-{state.exchange_id}.curl.sh",
            "curl-step": f"{run}.{_safe(state.step_path or 'step')}.curl.sh",
            "curl-list": f"{run}.{exchange_list}.curl.sh",
            "records-csv": f"{records}.csv",
            "records-parquet": f"{records}.parquet",
        }
        for key, name in names.items():
            if self.downloads[key].filename != name:
                self.downloads[key].filename = name

    def _record_steps(self) -> list[str]:
        """The steps that emitted records in the run: in graph order, then any other."""
        counts = self.state.record_counts or {}
        steps = self.state.steps
        ordered = [] if steps is None else [str(path) for path in steps["step_path"]]
        return [path for path in ordered if counts.get(path)] + sorted(
            path for path, count in counts.items() if count and path not in ordered
        )

    def _records_scope(self) -> str | None:
        value = self._records_of.value
        return None if value in (None, WHOLE_RUN) else str(value)

    # -- producing files (on click) ------------------------------------------------------------

    def _produce(self, label: str, make: Callable[[], bytes]) -> io.BytesIO:
        try:
            return io.BytesIO(make())
        except LookupError as error:  # nothing selected to export: no fault to trace
            self.state.report(f"export {label}", error, log_traceback=False)
            return io.BytesIO(f"Could not export {label}: {error}\n".encode())
        except Exception as error:
            self.state.report(f"export {label}", error)
            return io.BytesIO(f"Could not export {label}: {error}\n".encode())

    def _run(self) -> str:
        if self.state.run_id is None:
            raise LookupError("no run is selected")
        return self.state.run_id

    def _plan_json(self) -> bytes:
        plan = export_plan(self.state.store, self._run())
        return (json.dumps(plan, indent=2, ensure_ascii=False) + "\n").encode()

    def _plan_yaml(self) -> bytes:
        return export_plan_yaml(self.state.store, self._run()).encode()

    def _har(self) -> bytes:
        return json.dumps(export_har(self.state.store, self._run()), indent=1).encode()

    def _curl_exchange(self) -> bytes:
        if self.state.exchange_id is None:
            raise LookupError("no exchange is selected: click one in the exchange list")
        run = self._run()
        return export_curl(self.state.store, run, exchange_ids=[self.state.exchange_id]).encode()

    def _curl_step(self) -> bytes:
        if self.state.step_path is None:
            raise LookupError("no step is selected: click one in the step table or graph")
        return export_curl(self.state.store, self._run(), step_path=self.state.step_path).encode()

    def _curl_list(self) -> bytes:
        state = self.state
        text = export_curl(
            state.store,
            self._run(),
            step_path=state.step_path,
            errors_only=state.errors_only,
            filters=state.exchange_filter,
        )
        return text.encode()

    def _records(self, file_format: str) -> bytes:
        run, scope = self._run(), self._records_scope()
        with tempfile.TemporaryDirectory(prefix="orchestra-export-") as folder:
            target = Path(folder) / f"records.{file_format}"
            export_records(self.state.store, target, run, file_format=file_format, step_path=scope)
            return target.read_bytes()

    def _records_csv(self) -> bytes:
        return self._records("csv")

    def _records_parquet(self) -> bytes:
        return self._records("parquet")

    def __panel__(self) -> pn.viewable.Viewable:
        buttons = self.downloads
        return pn.Column(
            pn.Row(buttons["plan-json"], buttons["plan-yaml"], buttons["har"]),
            pn.Row(buttons["curl-exchange"], buttons["curl-step"], buttons["curl-list"]),
            pn.Row(self._records_of, buttons["records-csv"], buttons["records-parquet"]),
            pn.pane.HTML(
                "<span style='font-size:12px;color:#5f6b7a'>From the capture, masked: secrets "
                "appear as <code>${NAME}</code> or <code>***</code>. curl · step and the "
                "exchange list follow the step table and the list's filter.</span>",
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
            css_classes=["orchestra-exports"],
        )
