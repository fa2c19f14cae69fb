"""``%%flow`` cells and ``%flow run`` as functions of a context, against the demo API."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from orchestra.notebook._errors import FlowError, FlowRunFailed
from orchestra.notebook.commands import run_cell, run_line
from tests.notebook.commands.conftest import ITEMS

PLAN_FILE = """key: from-file
config: {base_url: "http://127.0.0.1:9"}
steps:
  - name: listing
    url: "{config.base_url}/items"
    params: {limit: 3}
  - name: one
    url: "{config.base_url}/items/{steps.listing.body.items[2].id}"
"""


def test_a_step_cell_runs_joins_the_flow_and_binds_out(ctx, demo_api):
    view = run_cell(ctx, "items --out got", ITEMS)
    assert view.ok and ctx.namespace["got"] is view
    assert ctx.flow.names() == ["items"] and ctx.flow.find("items").status == "ok"
    assert demo_api.stats()["requests_total"] == 3
    later = run_cell(ctx, "one", 'url: "{config.base_url}/items/{steps.items.body.items[0].id}"')
    assert later.response("one")["body"]["id"] == 11  # steps.items: the earlier cell's last page


def test_run_runs_the_whole_flow_and_a_file_without_touching_it(ctx, demo_api, tmp_path):
    run_cell(ctx, "items --no-run", ITEMS)
    assert ctx.flow.find("items").status == "pending"
    whole = run_line(ctx, "run --out whole --quiet")
    assert whole.title == f"flow {ctx.flow.key}" and whole.quiet and ctx.namespace["whole"]
    assert ctx.flow.find("items").status == "ok"
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN_FILE, encoding="utf-8")
    ctx.namespace["plan_file"] = str(plan)
    ran = run_line(ctx, f"run $plan_file --config base_url={demo_api.url}")
    assert ran.title == "plan plan.yaml" and ran.response("one")["body"]["id"] == 3
    assert ctx.flow.names() == ["items"]


def test_a_failed_run_is_displayed_then_raised_and_its_steps_recorded(ctx, screen):
    with pytest.raises(FlowRunFailed, match="failed at 'missing'"):
        run_cell(ctx, "missing", 'url: "{config.base_url}/status/404"')
    assert screen.shown and screen.shown[0].status == "failed"
    ctx.settings.raise_on_failure = False
    assert run_cell(ctx, "missing", 'url: "{config.base_url}/status/404"').status == "failed"


def test_cell_and_run_errors(ctx):
    with pytest.raises(FlowError, match="no steps yet"):
        run_line(ctx, "run")
    with pytest.raises(UsageError, match="--config and --replay go with a FILE"):
        run_line(ctx, "run --config a=1")
    with pytest.raises(UsageError, match="plan settings take no NAME"):
        run_cell(ctx, "named", "config: {page: 2}")
    with pytest.raises(UsageError, match="names the step 'a', the body 'b'"):
        run_cell(ctx, "a", "name: b\nurl: http://x")
    run_cell(ctx, "", "config: {page: 2}")
    assert ctx.flow.config["page"] == 2 and not len(ctx.flow)


def test_a_step_the_finished_run_never_reached_is_skipped_as_in_the_cli(ctx):
    """``pending``: no run has reached it yet; ``skipped``: the run is over and did not."""
    ctx.settings.raise_on_failure = False
    run_cell(ctx, "missing --no-run", 'url: "{config.base_url}/status/404"')
    run_cell(ctx, "after --no-run", ITEMS)
    assert "# after: pending" in repr(run_line(ctx, "show"))
    view = run_line(ctx, "run")
    assert view.status == "failed"
    assert ctx.flow.find("after").status == "skipped"
    assert "  after: skipped" in repr(view).splitlines()
    assert "<code>after</code></td><td style='text-align:left;padding:1px 8px'>" in (
        view._repr_html_()
    )
    assert ">skipped</span>" in view._repr_html_() and view.skipped == ["after"]
    assert "# after: skipped" in repr(run_line(ctx, "show"))
    graph = run_line(ctx, "graph")
    assert [(node.name, node.status) for node in graph.nodes] == [
        ("missing", "failed"),
        ("after", "skipped"),
    ]


CURSOR = """url: "{config.base_url}/cursor"
params: {limit: 10}
paginate: {type: cursor, cursor_path: next_cursor}
records: items
"""


def test_run_with_caps_is_a_test_read_and_shows_the_partial_flag(ctx, demo_api):
    run_cell(ctx, "users --no-run", CURSOR)
    view = run_line(ctx, "run --max-pages 3 --max-records 25")
    assert view.ok and view.partial == "stopped at 25 records in step 'users'"  # page 3's
    assert demo_api.stats()["by_path"]["/cursor"] == 3
    assert len(view.records) == 25
    assert f"partial: {view.partial}" in repr(view).splitlines()[0]
    assert "partial: stopped at 25 records" in view._repr_html_()
    quiet = run_line(ctx, "run --max-pages 2 --quiet")
    assert "partial: stopped at 2 pages in step &#x27;users&#x27;" in quiet._repr_html_()
    whole = run_line(ctx, "run")
    assert whole.partial is None and len(whole.records) == 1000


def test_run_caps_must_be_whole_numbers(ctx):
    with pytest.raises(UsageError, match="--max-pages: expected at least 1"):
        run_line(ctx, "run --max-pages 0")
    with pytest.raises(UsageError, match="--max-records: expected a whole number"):
        run_line(ctx, "run --max-records many")


def test_a_step_run_on_a_test_reads_context_is_a_test_read_and_saves_nothing(ctx, tmp_path):
    """After ``%flow run --max-pages 2`` the flow's context holds what page 2 left; a step
    cell run from it must not save that as persistent context (a later full run would
    start from it)."""
    run_cell(ctx, "", "persistent_context: [last_cursor]\n")
    run_cell(
        ctx,
        "users --no-run",
        CURSOR + "context_updates: {last_cursor: response.body.next_cursor}\n",
    )
    run_cell(ctx, "one --no-run", 'url: "{config.base_url}/items/1"')
    capped = run_line(ctx, "run --max-pages 2")
    left = capped.context["last_cursor"]
    assert capped.partial == "stopped at 2 pages in step 'users'" and left is not None
    one = run_cell(ctx, "one", 'url: "{config.base_url}/items/1"')
    saved = run_line(ctx, "sql SELECT * FROM contexts")
    assert left not in saved.to_string()  # the capped run's cursor was never saved
    assert one.ok and any("a test read" in note for note in one.notes)
    whole = run_line(ctx, "run")
    assert whole.partial is None and whole.context["last_cursor"] is None
    again = run_cell(ctx, "one", 'url: "{config.base_url}/items/1"')
    assert not any("a test read" in note for note in again.notes)
