"""The tables' cell formats (drawn in Chromium) and their rows shown in place."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.dashboard._browser import (
    ARTIFACTS,
    chromium,
    free_port,
    listening_server,
    requires_chromium,
)

ROOT = Path(__file__).resolve().parents[2]

APP = """
import pandas as pd
import panel as pn
from orchestra.dashboard._style import STATUS_CLASS_COLORS
from orchestra.dashboard._tables import (
    DURATION, TEXT, colored_status, colored_status_code, number,
)

pn.extension("tabulator")
frame = pd.DataFrame({
    "name": ["<b>not bold</b>", None],
    "count": [1234567, 0],
    "missing": pd.array([None, 7], dtype="Int64"),
    "ms": [64653.66, float("nan")],
    "status": ["ok", "odd"],
    "code": pd.array([503, None], dtype="Int64"),
    "took": [64653.66, 0.42],
})
pn.widgets.Tabulator(
    frame, disabled=True, show_index=False, css_classes=["formats"],
    formatters={
        "name": TEXT, "count": number(), "missing": number(), "ms": number(1),
        "status": colored_status({"ok": "rgb(1, 2, 3)"}, "rgb(9, 9, 9)"),
        "code": colored_status_code(STATUS_CLASS_COLORS), "took": DURATION,
    },
).servable()
"""


@requires_chromium
def test_cells_show_the_texts_and_colours_of_the_bokeh_formatters(tmp_path: Path) -> None:
    """Integers with commas, '-' for a missing number, text never parsed as HTML, colours."""
    app = tmp_path / "formats.py"
    app.write_text(textwrap.dedent(APP))
    port = free_port()
    command = [
        sys.executable, "-m", "panel", "serve", str(app), "--address", "127.0.0.1",
        "--port", str(port), "--allow-websocket-origin", f"127.0.0.1:{port}",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with (
        listening_server(command, port, tmp_path / "serve.log", "panel serve", env=env),
        chromium() as browser,
    ):
        from playwright.sync_api import expect

        page = browser.new_page()
        messages: list[str] = []
        page.on(
            "console",
            lambda m: messages.append(m.text) if m.type in ("error", "warning") else None,
        )
        page.on("pageerror", lambda error: messages.append(str(error)))
        page.goto(f"http://127.0.0.1:{port}/formats")
        rows = page.locator(".formats .tabulator-row")
        rows.nth(1).wait_for(timeout=60_000)

        def cell(row: int, field: str) -> str:
            return rows.nth(row).locator(f"[tabulator-field={field}]").inner_text().strip()

        fields = ("name", "count", "missing", "ms", "status", "code", "took")
        assert [cell(0, f) for f in fields] == [
            "<b>not bold</b>", "1,234,567", "-", "64,653.7", "ok", "503", "1 min 5 s",
        ]  # fmt: skip
        assert [cell(1, f) for f in fields] == ["", "0", "7", "-", "odd", "", "0.42 ms"]
        assert rows.nth(0).locator("[tabulator-field=name] b").count() == 0
        # to_have_css retries: Tabulator may redraw the rows once its stylesheet arrives
        status = rows.nth(0).locator("[tabulator-field=status] span")
        expect(status).to_have_css("color", "rgb(1, 2, 3)")
        expect(status).to_have_css("font-weight", "600")
        other = rows.nth(1).locator("[tabulator-field=status] span")
        expect(other).to_have_css("color", "rgb(9, 9, 9)")
        code = rows.nth(0).locator("[tabulator-field=code] span")
        expect(code).to_have_css("color", "rgb(217, 48, 37)")  # 5xx: STATUS_CLASS_COLORS
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-table-formats.png"))
        assert messages == []


def test_a_read_only_table_sends_one_formatter_and_one_editor_for_all_its_columns():
    """Drawn by JavaScript formats and never edited, its columns share two models; a
    column without such a format, or an editable table, gets Panel's own per column."""
    import pandas as pd
    from bokeh.document import Document
    from bokeh.models.widgets.tables import CellEditor, IntEditor, NumberFormatter

    from orchestra.dashboard._tables import TEXT, ReadOnlyTable, number

    frame = pd.DataFrame({"name": ["a", "b"], "count": [1, 2], "size": [3, 4]})
    formats = {"name": TEXT, "count": number(), "size": number()}

    def columns(**params: object) -> list[Any]:
        table = ReadOnlyTable(frame, show_index=False, widths={"count": 60}, **params)
        model: Any = table.get_root(Document())
        return list(model.columns)

    shared = columns(disabled=True, formatters=formats, titles={"count": "n"})
    assert [(c.field, c.title, c.width) for c in shared] == [
        ("name", "name", 0), ("count", "n", 60), ("size", "size", 0),
    ]  # fmt: skip
    assert len({id(c.formatter) for c in shared}) == 1
    assert len({id(c.editor) for c in shared}) == 1
    assert type(shared[0].editor) is CellEditor  # sets no editor in the browser

    partly = columns(disabled=True, formatters={"name": TEXT, "count": number()})
    assert isinstance(partly[2].formatter, NumberFormatter)  # "size" has no JS format
    editable = columns(disabled=False, formatters=formats)
    assert isinstance(editable[1].editor, IntEditor)
