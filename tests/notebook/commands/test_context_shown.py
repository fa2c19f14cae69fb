"""A run's output shows each context change from the value the run started with.

Persistent values (an ``incremental`` cursor, ``persistent_context``) are
loaded when the run starts, so "before" is the loaded cursor, not null.
"""

from __future__ import annotations

from orchestra.notebook.commands import run_cell, run_line

TICKETS = """url: "{config.base_url}/tickets"
paginate: {type: offset, limit: 50}
records: data
incremental: {cursor_path: updated_at, param: updated_since,
              initial_value: "2024-01-01T00:00:00Z"}
"""


def change_line(view) -> str:
    found = [line for line in repr(view).splitlines() if "context.incremental.tickets" in line]
    assert len(found) == 1, repr(view)
    return found[0].strip()


def test_the_loaded_cursor_is_the_before_value_of_each_run(ctx, demo_api):
    first = run_cell(ctx, "tickets", TICKETS)
    first_cursor = first.context["incremental.tickets"]
    assert change_line(first) == (
        f'context.incremental.tickets: "2024-01-01T00:00:00Z" → "{first_cursor}"'
    )
    demo_api.add_tickets({"subject": "new"})
    second = run_line(ctx, "run")
    newest = second.context["incremental.tickets"]
    assert newest > first_cursor and len(second.records) == 1
    assert change_line(second) == f'context.incremental.tickets: "{first_cursor}" → "{newest}"'
    assert "null" not in change_line(second)
    html = second._repr_html_()
    assert f"<code>&quot;{first_cursor}&quot;</code>" in html
    third = run_line(ctx, "run")  # nothing new: the cursor did not move, so no change shown
    assert len(third.records) == 0 and "context.incremental" not in repr(third)
