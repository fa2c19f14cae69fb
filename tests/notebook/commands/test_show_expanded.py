"""``%flow show --expanded``: a cell with ``paginate:`` shown as the fields it stands for."""

from __future__ import annotations

import yaml

from orchestra.notebook.commands import run_cell, run_line

USERS = """url: "{config.base_url}/cursor"
params: {limit: 100}
paginate: {type: cursor, cursor_path: next_cursor, max_pages: 2}
records: items
"""


def plan_text(view) -> dict:
    text = repr(view)
    return yaml.safe_load("\n".join(line for line in text.splitlines() if not line.startswith("#")))


def test_show_expanded_prints_the_preset_as_plan_fields_and_the_cell_ran_with_it(ctx, demo_api):
    view = run_cell(ctx, "users", USERS)
    assert view.ok and demo_api.stats()["by_path"]["/cursor"] == 2  # max_pages: 2
    assert [record["id"] for record in view.records] == list(range(1, 201))
    as_written = plan_text(run_line(ctx, "show"))["steps"][0]
    assert as_written["paginate"]["type"] == "cursor"
    expanded = plan_text(run_line(ctx, "show --expanded"))["steps"][0]
    assert "paginate" not in expanded
    assert expanded["params"] == {"limit": 100, "cursor": "{page_state.cursor}"}
    assert expanded["page_state_updates"]["cursor"] == "response.body.next_cursor"
    assert "page_state.pages < `2`" in expanded["while"]
    assert '"page_state"' in repr(run_line(ctx, "show --expanded --format json"))
