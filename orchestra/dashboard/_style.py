"""Colours and names shared by the dashboard's views: node statuses and HTTP status classes."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from bokeh.models.widgets.tables import HTMLTemplateFormatter

PENDING = "pending"
RUNNING = "running"
OK = "ok"
FAILED = "failed"
SKIPPED = "skipped"
CANCELLED = "cancelled"

NODE_STATUSES = (PENDING, RUNNING, OK, FAILED, SKIPPED, CANCELLED)
DONE = frozenset({OK, FAILED, SKIPPED, CANCELLED})

STATUS_COLORS = {
    PENDING: "#c9ced6",
    RUNNING: "#2f80ed",
    OK: "#27a567",
    FAILED: "#d93025",
    SKIPPED: "#f2c94c",
    CANCELLED: "#f2994a",
}

# Runs: green when they succeeded, blue while running, orange when cut short, red otherwise.
RUN_STATUS_COLORS = {
    "running": STATUS_COLORS[RUNNING],
    "succeeded": STATUS_COLORS[OK],
    "interrupted": STATUS_COLORS[CANCELLED],
    "stopped": STATUS_COLORS[CANCELLED],
    "compensated": STATUS_COLORS[CANCELLED],
}


def run_status_color(status: str) -> str:
    return RUN_STATUS_COLORS.get(status, STATUS_COLORS[FAILED])


# Bars of the waterfall and the throughput chart, by what the response was.
STATUS_CLASS_COLORS = {
    "2xx": "#27a567",
    "3xx": "#56ccf2",
    "4xx": "#f2994a",
    "429": "#9b51e0",
    "5xx": "#d93025",
    "no response": "#4f4f4f",
}
RETRY_WAIT_COLOR = "#bdbdbd"
RATE_LIMIT_WAIT_COLOR = "#9b51e0"


def status_class(status_code: Any) -> str:
    """``2xx`` … ``5xx``, ``429`` on its own (rate limited), or ``no response``."""
    if status_code is None or (isinstance(status_code, float) and math.isnan(status_code)):
        return "no response"
    try:
        code = int(status_code)
    except (TypeError, ValueError):
        return "no response"
    if code == 429:
        return "429"
    return f"{min(max(code // 100, 2), 5)}xx"


def format_ms(value: Any) -> str:
    """``0.42 ms``, ``850 ms``, ``1.24 s``, ``2 min 5 s`` (as the axes and the CLI write
    durations); an empty string when unknown."""
    if value is None:
        return ""
    try:
        ms = float(value)
    except (TypeError, ValueError):
        return ""
    if math.isnan(ms):
        return ""
    if ms == 0:
        return "0 ms"
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 9.95:
        return f"{ms:.1f} ms"
    if ms < 999.5:  # 999.6 ms reads 1.00 s, not 1000 ms
        return f"{ms:.0f} ms"
    if ms < 59_995:
        return f"{ms / 1000:.2f} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"


def format_count(count: Any, noun: str) -> str:
    """``1 error``, ``2 errors``, ``12,400 requests``: a count with its noun."""
    number = int(count or 0)
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"


def format_bytes(value: Any) -> str:
    try:
        size = float(value)
    except (TypeError, ValueError):
        return ""
    if math.isnan(size):
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


# A status cell coloured by the browser from the cell's value: no per-cell styles travel with
# the table's data (pandas Styler output is a second change per update, and the browser
# redraws every row for it).
_CELL = (
    '<span style="color:<%= {color} %>;font-weight:600">'
    '<%- value == null || value !== value ? "" : value %></span>'  # NaN: empty, as Tabulator
)


def colored_status(colors: Mapping[str, str], default: str = "inherit") -> HTMLTemplateFormatter:
    """A table formatter writing a text status in its colour (``default`` for others)."""
    table = json.dumps(dict(colors))
    return HTMLTemplateFormatter(template=_CELL.format(color=f"({table})[value] || {default!r}"))


def colored_status_code() -> HTMLTemplateFormatter:
    """A table formatter writing an HTTP status code in the colour of its class."""
    table = json.dumps(STATUS_CLASS_COLORS)
    color = (
        f"(function(c){{ if (value == null || isNaN(value)) return c['no response'];"
        f" if (value == 429) return c['429'];"
        f" return c[Math.min(Math.max(Math.floor(value / 100), 2), 5) + 'xx']; }})({table})"
    )
    return HTMLTemplateFormatter(template=_CELL.format(color=color))
