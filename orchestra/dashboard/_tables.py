"""Cell formats the dashboard's read-only tables share, drawn by Tabulator itself.

A Bokeh cell formatter (``NumberFormatter``, ``StringFormatter``,
``HTMLTemplateFormatter``) is called by Panel's Tabulator once per cell: it
writes HTML (an ``HTMLTemplateFormatter`` compiles its template for each cell)
that is then parsed into an element. These formats are small JavaScript
functions (``panel.io.JSCode``, compiled once per table) that build the cell's
text or element directly. What a person sees is the same: integers with a
thousands comma and ``-`` for a missing number (as Bokeh's ``NumberFormatter``),
empty for missing text, a status bold in its colour.

(Fixed column widths were tried too, to spare Tabulator measuring every cell: they cut
run ids and titles where the font is larger, as in JupyterLab, so columns are measured.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from panel.io import JSCode

# Tabulator draws every row at once instead of only those in view: these tables hold a
# few rows (a page of runs, a plan's steps, a page of exchanges), and its virtual
# renderer measures rows and scrolls to fill the view each time the data changes.
BASIC_RENDERING = {"renderVertical": "basic"}

# Text as a text node: never parsed as HTML, nothing to escape.
TEXT = JSCode(
    "(cell) => { const v = cell.getValue();"
    " return document.createTextNode(v == null || v !== v ? '' : String(v)); }"
)


def number(decimals: int = 0) -> JSCode:
    """``1,234`` (``decimals`` after the point, always shown), ``-`` for a missing number."""
    return JSCode(
        "((f) => (cell) => { const v = cell.getValue();"
        " return document.createTextNode(v == null || v !== v ? '-' : f.format(v)); })"
        f"(new Intl.NumberFormat('en-US', {{minimumFractionDigits: {decimals},"
        f" maximumFractionDigits: {decimals}}}))"
    )


# A duration in ms as people (and ``_style.format_ms``) write it: 0.42 ms, 3.2 ms, 850 ms,
# 1.24 s, 2 min 5 s; ``-`` when missing. The cell keeps the number, so it sorts as one.
DURATION = JSCode(
    "(cell) => { const v = cell.getValue();"
    " if (v == null || v !== v) return document.createTextNode('-');"
    " let t;"
    " if (v === 0) t = '0 ms';"
    " else if (v < 1) t = v.toFixed(2) + ' ms';"
    " else if (v < 9.95) t = v.toFixed(1) + ' ms';"
    " else if (v < 999.5) t = Math.round(v) + ' ms';"
    " else if (v < 59995) t = (v / 1000).toFixed(2) + ' s';"
    " else { const s = Math.round(v / 1000), m = Math.floor(s / 60), r = s % 60;"
    " t = r ? m + ' min ' + r + ' s' : m + ' min'; }"
    " return document.createTextNode(t); }"
)


def _colored(color_js: str) -> JSCode:
    """A bold span in the colour ``color_js`` computes from ``value``; empty when missing."""
    return JSCode(
        "(cell) => { const value = cell.getValue();"
        " if (value == null || value !== value) return document.createTextNode('');"
        " const span = document.createElement('span');"
        f" span.style.color = {color_js}; span.style.fontWeight = '600';"
        " span.textContent = String(value); return span; }"
    )


def colored_status(colors: Mapping[str, str], default: str = "inherit") -> JSCode:
    """A text status in its colour (``default`` for others)."""
    return _colored(f"({json.dumps(dict(colors))})[value] || {json.dumps(default)}")


def colored_status_code(class_colors: Mapping[str, str]) -> JSCode:
    """An HTTP status code in the colour of its class (``2xx`` … ``5xx``, ``429``)."""
    table = json.dumps(dict(class_colors))
    return _colored(
        f"((c) => value == 429 ? c['429']"
        f" : c[Math.min(Math.max(Math.floor(value / 100), 2), 5) + 'xx'])({table})"
    )
