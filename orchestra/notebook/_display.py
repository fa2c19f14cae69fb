"""The rich output of a run in a cell: :class:`FlowRun` (HTML in Jupyter, text elsewhere).

A ``%%flow`` cell and ``%flow run`` return a :class:`FlowRun`, so Jupyter
shows it and binds it to ``_`` (and to ``--out NAME``). It shows the status,
each step path's method, masked URL, HTTP statuses, attempts, pages, fanout
counts, records and timing (a step the finished run never reached is
``skipped``, as in the CLI summary and the dashboard); what ``paginate:
auto`` chose, with the YAML to paste (a response that looked paginated but
matched no rule is a warning, even in a ``--quiet`` cell's one line); for
each root step the extracted values, the context it changed and its last
response body as a collapsible JSON tree; and an error with the failing
expression underlined in the cell's source.

Everything shown or returned is masked with the run's masker: the values
kept for later cells are raw, the values a user sees are not.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pandas as pd

from orchestra.capture import RunNotFound, TableNotFound
from orchestra.engine import RunResult
from orchestra.events import StepTotals
from orchestra.masking import Masker
from orchestra.notebook._errors import FlowError, locate, underline_html, underline_text
from orchestra.notebook._flow import SKIPPED
from orchestra.notebook._jsontree import CSS, Limits, html_tree, text_preview
from orchestra.notebook._monitor import RunSnapshot
from orchestra.notebook._secrets import masked
from orchestra.types import RunStatus

STATUS_COLOURS = {
    "succeeded": "#2ca02c",
    "ok": "#2ca02c",
    "failed": "#d62728",
    "aborted": "#d62728",
    "interrupted": "#ff7f0e",
    "stopped": "#ff7f0e",
    "paused": "#9467bd",
    "cancelled": "#ff7f0e",
    "ignored": "#7f7f7f",
    "skipped": "#7f7f7f",
    "stale": "#bcbd22",
    "pending": "#7f7f7f",
    "running": "#1f77b4",
}
CELL_STYLE = "text-align:left;padding:1px 8px"
SYMBOLS = {
    "succeeded": "✔",
    "ok": "✔",
    "failed": "✘",
    "aborted": "✘",
    "interrupted": "■",
    "stopped": "■",
}


def badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#7f7f7f")
    return (
        f'<span style="background:{colour};color:white;border-radius:3px;'
        f'padding:0 6px;font-weight:600">{html.escape(status)}</span>'
    )


def milliseconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _codes(codes: dict[int, int]) -> str:
    return ", ".join(f"{c} x{n}" if n > 1 else str(c) for c, n in sorted(codes.items())) or "—"


def _fanout(stats: StepTotals) -> str:
    if not stats.items_total:
        return "—"
    text = f"{stats.items_done}/{stats.items_total}"
    return text + (f" ({stats.items_not_ok} not ok)" if stats.items_not_ok else " ok")


def _attempts(stats: StepTotals) -> str:
    return f"{stats.requests}" + (f" ({_plural(stats.retries, 'retry')})" if stats.retries else "")


@dataclass
class FlowRun:
    """One run started from a cell, as shown; attributes are masked values."""

    title: str
    run_id: str
    status: str
    duration_ms: float | None
    snapshot: RunSnapshot
    roots: list[str]
    planned: list[str] = field(default_factory=list)  # every step path of the plan that ran
    db: str | None = None
    stale: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    limits: Limits = field(default_factory=Limits)
    quiet: bool = False  # one line only
    _masker: Masker = field(default_factory=Masker, repr=False)
    _published: dict[str, Any] = field(default_factory=dict, repr=False)
    _context_before: dict[str, Any] = field(default_factory=dict, repr=False)
    _context_after: dict[str, Any] = field(default_factory=dict, repr=False)
    _result: RunResult | None = field(default=None, repr=False)
    _sources: dict[str, str] = field(default_factory=dict, repr=False)
    failed_response: dict[str, Any] | None = None  # from the capture (masked there)
    partial: str | None = None  # where a test read's caps stopped the run (masked)

    def __post_init__(self) -> None:
        self.limits.mask = self._masker.text

    # -- values for the user (masked) -----------------------------------------------------

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    @property
    def steps(self) -> dict[str, StepTotals]:
        """Totals per step path (requests, pages, fanout items, statuses …)."""
        return self.snapshot.paths

    def response(self, step: str | None = None) -> dict[str, Any] | None:
        """``steps.<step>`` of this run (the last root step by default), masked."""
        name = step or (self.roots[-1] if self.roots else None)
        value = self._published.get(name) if name else None
        return None if value is None else self._masker.value(value)

    @cached_property
    def body(self) -> Any:
        """The last response body of the last root step, masked."""
        response = self.response()
        return None if response is None else response.get("body")

    @property
    def extract(self) -> dict[str, Any]:
        response = self.response()
        return {} if response is None else response.get("extract") or {}

    @property
    def context(self) -> dict[str, Any]:
        return self._masker.value(self._context_after)

    @cached_property
    def records(self) -> list[Any]:
        """Emitted records (if the run kept them), masked."""
        if self._result is None:
            return []
        return [self._masker.value(record.data) for record in self._result.records]

    def table(self, step: str) -> pd.DataFrame:
        """This run's records of ``step`` (a step path) as a DataFrame of typed columns.

        Read from the run's capture (the ``data_all`` view's rows of this run),
        masked like ``%flow sql``; a run that was not captured, or a step without
        records in it, is a :class:`FlowError` saying which steps have records.
        """
        if self._result is None or self.db is None:
            raise FlowError(
                f"run {self.run_id} was not captured, so it has no typed tables: "
                "%config FlowMagic.capture = True, run it again, then .table(step); "
                ".records holds the records kept in memory"
            )
        try:
            frame = self._result.table(step)
        except (TableNotFound, RunNotFound) as error:
            raise FlowError(f"table: {error}") from None
        return masked(frame, self._masker)

    @property
    def error(self) -> str | None:
        """Why the run did not succeed (masked), without the ``step 'x':`` prefix."""
        text, step = self.snapshot.error, self.snapshot.error_step
        prefix = f"step {step!r}: "
        if text and step and text.startswith(prefix):
            return text[len(prefix) :]
        return text

    # -- pieces -------------------------------------------------------------------------

    def _request(self, stats: StepTotals) -> str:
        """Method and masked URL: a fanout's first item, a paginated step's last page."""
        if not stats.method:
            return ""
        if stats.items_total:
            url, note = stats.first_url, f" (first of {stats.items_total} items)"
        else:
            url, note = stats.last_url, " (last page)" if stats.pages_finished > 1 else ""
        return f"{stats.method} {self._masker.url(url or '')}{note}"

    def _context_changes(self) -> list[tuple[str, Any, Any]]:
        before, after = self._context_before, self._context_after
        mask = self._masker.value
        return [
            (key, mask(before.get(key)), mask(after.get(key)))
            for key in after
            if key not in before or before[key] != after[key]
        ]

    def _error_span(self) -> tuple[str, Any] | None:
        """The cell source and span of the failing expression, if it can be found."""
        error = self._result.error if self._result is not None else None
        step = self.snapshot.error_step
        if error is None or not step:
            return None
        source = self._sources.get(step.split(".")[0])
        span = locate(source, error, self.roots)
        return (source, span) if source and span else None

    @property
    def skipped(self) -> list[str]:
        """Step paths of the plan that the finished run never ran (masked)."""
        if self.status in (RunStatus.RUNNING, "paused"):
            return []
        ran = self.snapshot.paths
        return [self._masker.text(path) for path in self.planned if path not in ran]

    def _headline(self) -> str:
        stats = self.snapshot.paths.values()
        requests = sum(s.requests for s in stats)
        records = sum(s.records for s in stats)
        parts = [
            self.title,
            f"run {self.run_id}",
            milliseconds(self.duration_ms),
            _plural(requests, "request"),
            _plural(records, "record"),
        ]
        if self.partial:
            parts.append(f"partial: {self.partial}")
        return " · ".join(parts)

    # -- HTML ---------------------------------------------------------------------------

    def _repr_html_(self) -> str:
        if self.quiet:  # one line, and the warnings that must not go unsaid
            warnings = "".join(
                _warning_html(text) for text in self.snapshot.detected.warnings(self._masker)
            )
            return f"<div>{badge(self.status)} {html.escape(self._headline())}</div>{warnings}"
        out = [CSS, '<div style="font-size:13px">']
        out.append(f"<div>{badge(self.status)} {html.escape(self._headline())}</div>")
        out.append(self._table_html())
        out.append(self._detected_html())
        for name in self.roots:
            out.append(self._root_html(name))
        out.append(self._error_html())
        for text in self._notes():
            out.append(_warning_html(text))
        out.append("</div>")
        return "".join(out)

    def _table_html(self) -> str:
        head = ["step", "status", "request", "HTTP", "attempts", "pages", "fanout", "records",
                "time"]  # fmt: skip
        rows = []
        for path, s in self.snapshot.paths.items():
            cells = [
                f"<code>{html.escape(self._masker.text(path))}</code>",
                badge(s.status),
                f"<code>{html.escape(self._request(s))}</code>",
                _codes(s.codes) + (f", {s.transport_errors} errors" if s.transport_errors else ""),
                _attempts(s),
                "—" if s.items_total else str(s.pages_finished),
                _fanout(s),
                str(s.records),
                _timing(s),
            ]
            rows.append("<tr>" + "".join(f"<td style='{CELL_STYLE}'>{c}</td>" for c in cells))
        for path in self.skipped:
            cells = [f"<code>{html.escape(path)}</code>", badge(SKIPPED), *["—"] * 7]
            rows.append("<tr>" + "".join(f"<td style='{CELL_STYLE}'>{c}</td>" for c in cells))
        header = "".join(f"<th style='{CELL_STYLE}'>{h}</th>" for h in head)
        return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>"

    def _root_html(self, name: str) -> str:
        scope = self._published.get(name)
        if not isinstance(scope, dict):
            return ""
        parts = []
        extract = scope.get("extract")
        if extract:
            parts.append(f"<div><b>extract</b>{html_tree(extract, self.limits)}</div>")
        if "body" in scope:
            size = _size(scope.get("body"))
            label = f"response body of <code>{html.escape(name)}</code>"
            if size is not None:
                label += f" ({size:,} bytes as JSON)"
            limits = Limits(**{**self.limits.__dict__, "open_depth": 0 if len(self.roots) > 1
                                 else self.limits.open_depth})  # fmt: skip
            parts.append(f"<div><b>{label}</b>{html_tree(scope.get('body'), limits)}</div>")
        if name == self.roots[-1]:
            changes = self._context_changes()
            if changes:
                rows = "".join(
                    f"<tr><td><code>context.{html.escape(k)}</code></td>"
                    f"<td><code>{html.escape(_json(old))}</code></td><td>→</td>"
                    f"<td><code>{html.escape(_json(new))}</code></td></tr>"
                    for k, old, new in changes
                )
                parts.append(f"<div><b>context updates</b><table>{rows}</table></div>")
        return "".join(parts)

    def _error_html(self) -> str:
        if not self.snapshot.error:
            return ""
        where = self.snapshot.error_step
        out = ['<div style="color:#d62728;margin-top:4px"><b>error</b>']
        if where:
            out.append(f" in <code>{html.escape(where)}</code>")
        out.append(f": {html.escape(self.error or '')}</div>")
        found = self._error_span()
        if found:
            out.append(underline_html(*found))
        failed = self.failed_response
        if failed is not None:
            label = f"last response of <code>{html.escape(where or '')}</code>"
            label += f" (status {failed.get('status_code')}, from the capture)"
            out.append(f"<div><b>{label}</b>{html_tree(failed.get('body'), self.limits)}</div>")
        return "".join(out)

    def _detected_html(self) -> str:
        lines = self.snapshot.detected.lines(self._masker, warnings=False)
        if not lines:
            return ""
        text = html.escape("\n".join(lines))
        return f'<div><b>paginate: auto detected</b><pre style="margin:2px 0">{text}</pre></div>'

    def _notes(self) -> list[str]:
        """The warnings under the output: paginate: auto that read one page, stale steps …"""
        detected = self.snapshot.detected.warnings(self._masker)
        return [*detected, *self._stale_notes(), *self.notes]

    def _stale_notes(self) -> list[str]:
        if not self.stale:
            return []
        names = ", ".join(self.stale)
        return [
            f"stale now (they ran against the old result): {names} — re-run their cells, "
            "or %flow run to run the whole flow"
        ]

    # -- text ---------------------------------------------------------------------------

    def __repr__(self) -> str:
        symbol = SYMBOLS.get(self.status, "•")
        lines = [f"{symbol} {self.status} · {self._headline()}"]
        if self.quiet:
            warnings = self.snapshot.detected.warnings(self._masker)
            return "\n".join([lines[0], *(f"  ⚠ {text}" for text in warnings)])
        for path, s in self.snapshot.paths.items():
            line = f"  {self._masker.text(path)}: {s.status}"
            if s.method:
                line += f" · {self._request(s)} → {_codes(s.codes)}"
            line += f" · {_plural(s.requests, 'attempt')}"
            if s.retries:
                line += f" ({_plural(s.retries, 'retry')})"
            if s.pages_finished > 1 and not s.items_total:
                line += f" · {s.pages_finished} pages"
            if s.items_total:
                line += f" · fanout {_fanout(s)}"
            if s.records:
                line += f" · {_plural(s.records, 'record')}"
            lines.append(line + f" · {_timing(s)}")
        lines.extend(f"  {path}: {SKIPPED}" for path in self.skipped)
        detected = self.snapshot.detected.lines(self._masker, warnings=False)
        if detected:
            lines.append("  paginate: auto detected:")
            lines.extend(f"    {line}" for line in detected)
        for name in self.roots:
            scope = self._published.get(name)
            if not isinstance(scope, dict):
                continue
            if scope.get("extract"):
                preview = text_preview(scope["extract"], self.limits, max_lines=12)
                lines.append(f"  extract of {name}: " + preview.replace("\n", "\n  "))
            if "body" in scope and name == self.roots[-1]:
                preview = text_preview(scope.get("body"), self.limits, max_lines=20)
                lines.append(f"  response body of {name}:\n    " + preview.replace("\n", "\n    "))
        for key, old, new in self._context_changes():
            lines.append(f"  context.{key}: {_json(old)} → {_json(new)}")
        if self.snapshot.error:
            where = f" in {self.snapshot.error_step}" if self.snapshot.error_step else ""
            lines.append(f"  error{where}: {self.error}")
            found = self._error_span()
            if found:
                lines.append(underline_text(*found))
            failed = self.failed_response
            if failed is not None:
                preview = text_preview(failed.get("body"), self.limits, max_lines=20)
                lines.append(
                    f"  last response (status {failed.get('status_code')}, from the capture):"
                    "\n    " + preview.replace("\n", "\n    ")
                )
        lines.extend(f"  ⚠ {text}" for text in self._notes())
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _warning_html(text: str) -> str:
    return f'<div style="color:#8a6d00">⚠ {html.escape(text)}</div>'


def _plural(count: int, word: str) -> str:
    if count == 1:
        return f"1 {word}"
    return f"{count} {word[:-1]}ies" if word.endswith("y") else f"{count} {word}s"


def _timing(stats: StepTotals) -> str:
    """Wall time of a step; for a fanout (items overlap) the mean time per item."""
    if stats.items_total and stats.executions:
        return f"{milliseconds(stats.duration_ms / stats.executions)} per item"
    return milliseconds(stats.duration_ms)


def _json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 120 else text[:120] + "…"


def _size(value: Any) -> int | None:
    try:
        import orjson

        return len(orjson.dumps(value))
    except TypeError:
        return None
