"""Cell formats the dashboard's read-only tables share, drawn by Tabulator itself.

A Bokeh cell formatter (``NumberFormatter``, ``StringFormatter``,
``HTMLTemplateFormatter``) is called by Panel's Tabulator once per cell: it
writes HTML (an ``HTMLTemplateFormatter`` compiles its template for each cell)
that is then parsed into an element. These formats are small JavaScript
functions (``panel.io.JSCode``, compiled once per table) that build the cell's
text or element directly. What a person sees is the same: integers with a
thousands comma and ``-`` for a missing number (as Bokeh's ``NumberFormatter``),
empty for missing text, a status bold in its colour.

The tables are :class:`ReadOnlyTable`: its columns share one Bokeh formatter and one
editor model (the browser uses neither), so a column costs one model, not three.

(Fixed column widths were tried too, to spare Tabulator measuring every cell: they cut
run ids and titles where the font is larger, as in JupyterLab, so columns are measured.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd
import panel as pn
from bokeh.models.widgets.tables import CellEditor, StringFormatter, TableColumn
from panel.io import JSCode

# Tabulator draws every row at once instead of only those in view: these tables hold a
# few rows (a page of runs, a plan's steps, a page of exchanges), and its virtual
# renderer measures rows and scrolls to fill the view each time the data changes.
#
# Columns are resized from their header only: by default Tabulator also puts a resize
# handle (an element with four listeners) in every cell of every row, each time the
# rows are drawn.
BASIC_RENDERING = {"renderVertical": "basic", "columnDefaults": {"resizable": "header"}}

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


class ReadOnlyTable(pn.widgets.Tabulator):
    """A Tabulator whose every column is drawn by a JavaScript format and never edited.

    Panel gives each column a Bokeh ``TableColumn`` with a cell formatter and an
    editor of its own (``NumberFormatter`` and ``IntEditor`` for an integer column),
    three models per column built, sent and decoded on each page load. In the browser
    a JavaScript format (``formatters``, sent in the table's configuration) takes the
    formatter's place, and a disabled table never opens an editor; Panel's Tabulator
    reads only the editor's type. So the columns of one table share one formatter and
    one plain ``CellEditor`` (whose type sets no editor, as Panel's own index columns):
    a column costs one model. A table with a column of no JavaScript format, an index
    shown or editing on is built by Panel as usual.
    """

    def _get_column_definitions(self, col_names: list[str], df: pd.DataFrame) -> list[Any]:
        formats = self.formatters
        drawn = all(isinstance(formats.get(col), JSCode) for col in col_names)
        if not self.disabled or self.show_index or not drawn:
            return super()._get_column_definitions(col_names, df)
        formatter, editor = StringFormatter(), CellEditor()
        return [
            TableColumn(
                field=str(col),
                title=self.titles.get(col, str(col)),
                width=self._width(str(col)),
                formatter=formatter,
                editor=editor,
            )
            for col in col_names
        ]

    def _width(self, col: str) -> int:
        """A fixed width in pixels (as Panel: a text width such as ``20%`` goes in the
        configuration), 0 for a measured one."""
        widths = self.widths
        width = widths if isinstance(widths, int) else widths.get(col)
        return width if isinstance(width, int) else 0
