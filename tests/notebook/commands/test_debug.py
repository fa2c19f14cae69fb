"""The debugger's commands without a kernel: breakpoints, a paused session, stepping, scope."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from orchestra.notebook._errors import FlowError
from orchestra.notebook.commands import run_cell, run_line

DETAIL = """url: "{config.base_url}/items"
params: {limit: 2}
sub_steps:
  - name: detail
    iterate_over: response.body.items
    url: "{config.base_url}/items/{item.id}"
"""


def test_break_names_a_step_of_the_flow_and_rejects_groups(ctx):
    run_cell(ctx, "items --no-run", DETAIL)
    run_cell(ctx, "group --no-run", 'parallel:\n  - {name: left, url: "{config.base_url}/items/1"}')
    with pytest.raises(FlowError, match=r"no step 'itmes'; its steps \(closest first\): items, "):
        run_line(ctx, "break itmes")
    with pytest.raises(FlowError, match=r"'group' is a parallel group; .*: group\.left"):
        run_line(ctx, "break group")
    with pytest.raises(FlowError, match=r"column \d+\)\n"):
        run_line(ctx, "break items --when 'response.status_code =='")
    listed = run_line(ctx, "break items.detail --when 'item.id == `2`'")
    assert repr(listed).startswith("breakpoints:\n  items.detail when item.id == `2`")
    with pytest.raises(UsageError, match="--clear takes no --when"):
        run_line(ctx, "break --clear --when x")
    assert repr(run_line(ctx, "break --clear")).startswith("no breakpoints")


def test_a_session_pauses_steps_edits_the_scope_and_stops(ctx, demo_api):
    run_cell(ctx, "items --no-run", DETAIL)
    run_line(ctx, "break items.detail")
    session = run_line(ctx, "debug --out dbg")
    assert ctx.namespace["dbg"] is session and ctx.debug.session is session
    assert session.paused and session.where["step_path"] == "items.detail"
    assert run_line(ctx, "eval item.id") == 1
    assert run_line(ctx, "where") is session
    with pytest.raises(FlowError, match="a debug session is paused"):
        run_line(ctx, "debug")
    run_line(ctx, "set context.marker=7")
    assert run_line(ctx, "eval context.marker") == 7
    run_line(ctx, "next-item")
    assert run_line(ctx, "eval item.id") == 2
    assert run_line(ctx, "stop").status == "stopped"
    assert ctx.debug.live() is None
    with pytest.raises(FlowError, match=r"the debug session has ended: run \S+ stopped"):
        run_line(ctx, "step")


def test_continue_runs_to_the_end_and_records_the_flow(ctx):
    run_cell(ctx, "items --no-run", DETAIL)
    session = run_line(ctx, "debug --step")
    assert session.paused and session.where["step_path"] == "items"
    assert run_line(ctx, "continue").status == "succeeded"
    assert ctx.flow.find("items").status == "ok"  # a whole-flow debug run is recorded


def test_commands_without_a_session(ctx):
    with pytest.raises(FlowError, match="no debug session: start one with %flow debug"):
        run_line(ctx, "where")
    with pytest.raises(FlowError, match="the flow has no steps yet"):
        run_line(ctx, "debug")
    with pytest.raises(UsageError, match="give PATH=VALUE"):
        run_line(ctx, "set")
    ctx.flow.config["deep"] = {"k": [1, 2]}
    assert run_line(ctx, "eval 'config.deep.k[1]'") == 2
    with pytest.raises(FlowError, match=r"\(column \d+\)\n    config\.\["):
        run_line(ctx, "eval config.[")


PAGED = """url: "{config.base_url}/items"
page_state: {offset: 0, size: 2}
page_state_updates: {offset: "sum([page_state.offset, page_state.size])"}
params: {offset: "{page_state.offset}", limit: "{page_state.size}"}
records: items
while: "length(response.body.items) == page_state.size && page_state.offset < `30`"
"""


def sent(ctx, session) -> list[tuple[int, int]]:
    """(offset, limit) of each request the debug run sent, in order."""
    ctx.namespace["rid"] = session.run_id
    urls = run_line(ctx, "sql SELECT url FROM exchanges WHERE run_id = $rid ORDER BY exchange_id")
    pairs = []
    for url in urls.url:
        query = dict(part.split("=") for part in url.split("?")[1].split("&"))
        pairs.append((int(query["offset"]), int(query["limit"])))
    return pairs


def test_page_state_set_at_a_pause_carries_to_the_next_pages(ctx):
    """At a page stop a field or the whole object; at a step stop, where paging starts."""
    run_cell(ctx, "items --no-run", PAGED)
    run_line(ctx, "break items --when 'page_state.offset == `2`'")
    session = run_line(ctx, "debug")
    assert session.where["page"] == 2 and run_line(ctx, "eval page_state.size") == 2
    run_line(ctx, "set page_state.size=5")  # a field no update touches
    run_line(ctx, "next-page")
    assert run_line(ctx, "eval page_state") == {"offset": 7, "size": 5}
    run_line(ctx, """set 'page_state={"offset": 20, "size": 4}'""")  # the whole object
    assert run_line(ctx, "continue").status == "succeeded"
    assert sent(ctx, session) == [(0, 2), (2, 5), (20, 4), (24, 4), (28, 4), (32, 4)]

    run_line(ctx, "break --clear")
    run_line(ctx, "break items")
    session = run_line(ctx, "debug")
    assert session.where["at"] == "step" and run_line(ctx, "eval page_state.offset") == 0
    run_line(ctx, "set page_state.offset=26")
    assert run_line(ctx, "continue").status == "succeeded"
    assert sent(ctx, session) == [(26, 2), (28, 2), (30, 2)]


def test_page_state_set_after_a_response_is_what_the_next_page_builds_on(ctx):
    run_cell(ctx, "items --no-run", PAGED)
    run_line(ctx, "break items --when 'response.body.offset == `2`'")
    session = run_line(ctx, "debug")
    assert session.where["at"] == "response"
    run_line(ctx, "set page_state.offset=24")
    assert run_line(ctx, "continue").status == "succeeded"
    assert sent(ctx, session) == [(0, 2), (2, 2), (26, 2), (28, 2), (30, 2)]


def test_context_set_at_a_step_stop_still_sets_where_paging_starts(ctx):
    """``page_state`` shown at the step stop is rendered again when it was not edited there,
    so an edit of what it reads (``context.start``) counts, as in a run without a debugger."""
    run_cell(
        ctx, "items --no-run", PAGED.replace("offset: 0,", 'offset: "{context.start || `0`}",')
    )
    run_line(ctx, "break items")
    session = run_line(ctx, "debug")
    assert run_line(ctx, "eval page_state.offset") == 0
    run_line(ctx, "set context.start=26")
    assert run_line(ctx, "continue").status == "succeeded"
    assert sent(ctx, session) == [(26, 2), (28, 2), (30, 2)]


def test_page_state_set_to_what_is_not_an_object_is_refused(ctx):
    run_cell(ctx, "items --no-run", PAGED)
    run_line(ctx, "break items --when 'page_state.offset == `2`'")
    session = run_line(ctx, "debug")
    with pytest.raises(FlowError, match=r"page_state must stay an object: set one field"):
        run_line(ctx, "set page_state=5")
    assert run_line(ctx, "eval page_state") == {"offset": 2, "size": 2}
    assert run_line(ctx, "continue").status == "succeeded"
    assert sent(ctx, session)[:3] == [(0, 2), (2, 2), (4, 2)]
