"""The debugger in a real kernel: breakpoints, stepping, scope edits, rerun, replay, stop.

Commands are typed as cells; the panel's buttons are clicked the way
JupyterLab clicks them (a comm message to the button's model). Requests are
counted by the demo API itself (``/_stats``), so "exactly one more request"
is what the server saw, not what the engine says it did.
"""

from __future__ import annotations

import json

import pytest

from orchestra.demo import start_demo_api
from tests.notebook.kernel import KernelSession, value

PAGES = """%%flow pages --no-run
url: "{config.base_url}/items"
params: {limit: 2, offset: "{context.next_offset || `0`}"}
context_updates: {next_offset: response.body.next_offset}
while: response.body.offset < `4`
"""
FAN = """%%flow fan --no-run
url: "{config.base_url}/items"
params: {limit: 2}
sub_steps:
  - name: detail
    iterate_over: response.body.items
    url: "{config.base_url}/items/{item.id}"
"""
LISTING = """%%flow listing --no-run
url: "{config.base_url}/items"
params: {limit: 3}
"""
ONE = """%%flow one --no-run
url: "{config.base_url}/items/{steps.listing.body.items[2].id}"
extract: {name: response.body.name}
"""


def requests(api) -> int:
    """What the demo API has answered since the test's reset."""
    return api.stats()["requests_total"]


def text(cell) -> str:
    return cell.check().texts()[-1]


def where(kernel: KernelSession) -> dict:
    return json.loads(value(kernel, "__import__('json').dumps(dbg.where)")[1:-1])


def add(kernel: KernelSession, *cells: str) -> None:
    for cell in cells:
        kernel.run(cell).check()


def paginated_and_fanned_out(kernel: KernelSession) -> None:
    """``pages``: 3 pages (offsets 0, 2, 4); ``fan``: 1 page and 2 fanout items."""
    add(kernel, PAGES, FAN)
    kernel.run("%flow break pages").check()


def test_a_plan_breakpoint_pauses_the_run_and_leaves_the_kernel_idle(flow, demo_api):
    add(flow, PAGES.replace("while:", "breakpoint: true\nwhile:"), FAN)
    shown = text(flow.run("%flow debug --out dbg"))
    assert shown.startswith("⏸ paused at pages · before the step — breakpoint (in the plan)")
    assert requests(demo_api) == 0
    assert value(flow, "dbg.state") == "'paused'"
    # the kernel is idle: ordinary cells run, and questions are answered at once
    assert value(flow, "sum(range(5))") == "10"
    assert text(flow.run("%flow eval config.base_url")) == repr(demo_api.url)
    assert where(flow) == {"step_path": "pages", "item_index": None, "page": None,
                           "attempt": None, "at": "step",
                           "reason": "breakpoint (in the plan)"}  # fmt: skip
    done = text(flow.run("%flow continue"))
    assert done.startswith("debug run ") and " ended succeeded" in done
    assert requests(demo_api) == 6
    assert value(flow, "dbg.status") == "'succeeded'"
    assert "# pages: ok" in text(flow.run("%flow show"))  # the flow recorded the debug run


def test_a_conditional_breakpoint_stops_before_the_request_where_it_holds(flow, demo_api):
    add(flow, FAN.replace("limit: 2", "limit: 3"))
    listed = text(flow.run("%flow break detail --when 'item.id == `2`'"))
    assert "detail when item.id == `2`  (checked before the request)" in listed
    shown = text(flow.run("%flow debug --out dbg"))
    assert shown.startswith(
        "⏸ paused at fan.detail · item 1 · page 1 · before the request — breakpoint when "
        "item.id == `2`"
    )
    assert value(flow, "dbg.scope.item.id") == "2"
    assert demo_api.stats()["by_path"].get("/items/2") is None  # not sent yet
    assert " ended succeeded" in text(flow.run("%flow continue"))
    assert demo_api.stats()["by_path"]["/items/2"] == 1


def test_a_condition_on_the_response_stops_with_that_response(flow, demo_api):
    add(
        flow,
        '%%flow fine --no-run\nurl: "{config.base_url}/items/1"',
        '%%flow missing --no-run\nurl: "{config.base_url}/items/0"',
    )
    for step in ("fine", "missing"):
        flow.run(f"%flow break {step} --when 'response.status_code != `200`'").check()
    shown = text(flow.run("%flow debug --out dbg"))
    assert shown.startswith("⏸ paused at missing · page 1 · after the response (attempt 1)")
    assert text(flow.run("%flow eval response.status_code")) == "404"
    assert text(flow.run("%flow eval response.body.error")) == "'not found'"
    assert requests(demo_api) == 2  # the 200 of `fine` did not stop the run
    ended = text(flow.run("%flow continue"))
    assert " ended failed" in ended and "answered 404" in ended


def test_stepping_three_pages_and_two_items_sends_exactly_one_request_each(flow, demo_api):
    paginated_and_fanned_out(flow)
    flow.run("%flow debug --out dbg").check()
    assert requests(demo_api) == 0
    seen = []
    for command in ["next-page", "next-page", "next-page", "next-item", "next-item"]:
        flow.run(f"%flow {command}").check()
        place = where(flow)
        seen.append((place["step_path"], place["page"], place["item_index"], requests(demo_api)))
    assert seen == [
        ("pages", 2, None, 1),
        ("pages", 3, None, 2),
        ("fan", None, None, 3),
        ("fan.detail", None, 0, 4),
        ("fan.detail", None, 1, 5),
    ]
    assert " ended succeeded" in text(flow.run("%flow next-item"))
    assert requests(demo_api) == 6
    flow.run("rid = dbg.run_id").check()
    counted = flow.run(
        "n = %flow sql SELECT mode, count(*) AS n FROM exchanges JOIN runs USING (run_id) "
        "WHERE run_id = $rid GROUP BY 1"
    ).check()
    assert counted.status == "ok"
    assert value(flow, "n.to_dict('records')") == "[{'mode': 'debug', 'n': 6}]"


def test_debug_takes_the_test_read_caps_of_run(flow, demo_api):
    """``pages`` has 3 pages and ``fan`` 2 items: caps of 2 pages and 1 item leave 4 requests."""
    paginated_and_fanned_out(flow)
    shown = text(flow.run("%flow debug --max-pages 2 --max-fanout-items 1 --out dbg"))
    assert shown.startswith("⏸ paused at pages")
    assert value(flow, "(dbg.caps.max_pages, dbg.caps.max_fanout_items)") == "(2, 1)"
    done = text(flow.run("%flow continue"))
    assert " ended succeeded" in done
    assert "partial: stopped at 2 pages in step 'pages'" in done
    assert "ran 1 of 2 fanout items in step 'fan.detail'" in done
    assert demo_api.stats()["by_path"]["/items"] == 3  # 2 pages of `pages`, 1 of `fan`
    assert requests(demo_api) == 4


def test_debug_caps_are_checked_as_run_checks_them(flow, demo_api):
    add(flow, LISTING + "records: items\n")
    failed = flow.run("%flow debug --max-records 0")
    assert failed.status == "error" and "expected at least 1, got 0" in failed.text
    capped = text(flow.run("%flow debug --max-records 2"))
    assert "partial: stopped at 2 records in step 'listing'" in capped


def test_the_panel_buttons_drive_the_run_through_comm_messages(flow, demo_api):
    paginated_and_fanned_out(flow)
    cell = flow.run("%flow debug --out dbg").check()
    assert "application/vnd.jupyter.widget-view+json" in cell.mimes()  # the panel is shown
    ids = "{name: button.model_id for name, button in dbg.panel.buttons.items()}"
    buttons = json.loads(value(flow, f"__import__('json').dumps({ids})")[1:-1])
    assert set(buttons) == {"step", "next-page", "next-item", "continue", "stop"}
    seen = []
    for name in ["next-page", "next-page", "next-page", "next-item", "next-item"]:
        clicked = flow.click(buttons[name])
        assert clicked.status == "ok", clicked.text
        place = where(flow)
        seen.append((place["step_path"], place["page"], place["item_index"], requests(demo_api)))
    assert seen == [
        ("pages", 2, None, 1),
        ("pages", 3, None, 2),
        ("fan", None, None, 3),
        ("fan.detail", None, 0, 4),
        ("fan.detail", None, 1, 5),
    ]
    panel = value(flow, "dbg.panel.location.value")
    assert "fan.detail" in panel and "<b>item</b> <code>1</code>" in panel
    assert "<b>requests</b> <code>5</code>" in panel
    flow.click(buttons["stop"]).check()
    assert value(flow, "dbg.status") == "'stopped'"
    assert value(flow, "all(b.disabled for b in dbg.panel.buttons.values())") == "True"
    assert requests(demo_api) == 5  # the last item was never requested
    clicked = flow.click(buttons["step"])  # a stale click is answered in the panel
    assert "has ended" in value(flow, "dbg.panel.message.value")
    assert clicked.status == "ok"


def test_editing_the_context_changes_the_next_request(flow, demo_api):
    paginated_and_fanned_out(flow)
    flow.run("%flow debug --out dbg").check()
    flow.run("%flow next-page").check()
    assert text(flow.run("%flow eval context.next_offset")) == "2"
    shown = text(flow.run("%flow set context.next_offset=3"))
    assert '"next_offset": 3' in shown
    flow.run("%flow next-page").check()
    assert text(flow.run("%flow eval prev.body.offset")) == "3"  # page 2 asked for offset 3
    flow.run("dbg.scope.context.next_offset = 40").check()  # assigning through the object
    flow.run("%flow next-page").check()  # offset 40 ends the loop: paused at the next step
    assert where(flow)["step_path"] == "fan"
    assert text(flow.run("%flow eval steps.pages.body.offset")) == "40"
    # an item is the paused step's own copy: the parent's response is not changed
    flow.run("%flow next-item").check()
    flow.run("%flow set item.id=7").check()
    flow.run("%flow next-item").check()
    assert text(flow.run("%flow eval 'parent.body.items[*].id'")) == "[1, 2]"
    assert demo_api.stats()["by_path"].get("/items/7") == 1
    flow.run("%flow continue").check()
    flow.run("rid = dbg.run_id").check()
    urls = flow.run(
        "urls = %flow sql SELECT url FROM exchanges WHERE run_id = $rid ORDER BY exchange_id"
    ).check()
    assert urls.status == "ok"
    offsets = value(flow, "[u.split('offset=')[-1] for u in urls.url if 'offset=' in u]")
    assert offsets == "['0', '3', '40']"
    flow.run("import json").check()
    flow.run(
        "ev = %flow sql SELECT detail FROM events WHERE run_id = $rid AND type = 'debug_action' "
        "ORDER BY seq"
    ).check()
    actions = value(flow, "[json.loads(d)['action'] for d in ev.detail]")
    assert actions == (
        "['pause', 'next-page', 'pause', 'eval', 'set', 'next-page', 'pause', 'eval', 'set', "
        "'next-page', 'pause', 'eval', 'next-item', 'pause', 'set', 'next-item', 'pause', "
        "'eval', 'continue']"
    )
    details = value(flow, "[json.loads(d)['detail'] for d in ev.detail if 'set' in d]")
    assert "'context.next_offset = 3'" in details and "'item.id = 7'" in details


def test_rerun_runs_one_step_against_its_old_scope_without_calling_upstream(flow, demo_api):
    add(flow, LISTING, ONE)
    ended = text(flow.run("%flow debug --out dbg"))  # no breakpoint: runs to the end
    assert " ended succeeded" in ended
    assert value(flow, "dbg.result.response('one')['extract']") == "{'name': 'item-3'}"
    edit = flow.run("%flow edit one").check()
    assert edit.payload[0]["source"] == "set_next_input"
    assert edit.payload[0]["text"].startswith("%%flow edit one\nurl: ")
    demo_api.reset()
    flow.run(
        "%%flow edit one\n"
        'url: "{config.base_url}/items/{steps.listing.body.items[0].id}"\n'
        "extract: {name: response.body.name}"
    ).check()
    assert requests(demo_api) == 0  # editing does not run
    shown = text(flow.run("%flow rerun one --out again"))
    assert shown.startswith("✔ succeeded · rerun one")
    assert "not called again: listing" in shown
    assert demo_api.stats()["by_path"] == {"/items/1": 1}  # `listing` was not called again
    assert value(flow, "again.extract") == "{'name': 'item-1'}"
    assert "# one: ok" in text(flow.run("%flow show"))
    flow.run("rid = again.run_id").check()
    runs = flow.run(
        "r = %flow sql SELECT r.mode, e.detail FROM runs r JOIN events e USING (run_id) "
        "WHERE run_id = $rid"
    ).check()
    assert runs.status == "ok"
    assert value(flow, "r['mode'][0]") == "'debug'"
    assert '"action":"rerun"' in value(flow, "r['detail'][0]")


def test_rerun_while_paused_uses_the_scope_the_step_started_with(flow, demo_api):
    add(flow, LISTING, ONE)
    flow.run("%flow break one").check()
    flow.run("%flow debug --out dbg").check()
    flow.run("%flow set context.marker=1").check()  # after `listing`: not in its old scope
    demo_api.reset()
    shown = text(flow.run("%flow rerun listing"))
    assert shown.startswith("✔ succeeded · rerun listing")
    assert demo_api.stats()["by_path"] == {"/items": 1}
    assert value(flow, "dbg.state") == "'paused'"  # the debug run is still where it was
    flow.run("%flow stop").check()


def test_replaying_a_failed_run_offline_pauses_where_it_failed(flow):
    api = start_demo_api()  # stopped below: the replay must not need it
    try:
        flow.run(f"%flow config base_url={api.url}").check()
        add(
            flow,
            LISTING,
            PAGES.replace("while:", "expect: {that: ['response.body.offset < `4`']}\nwhile:"),
        )
        failed = flow.run("%flow run")
        assert failed.ename == "FlowRunFailed"
        flow.run(
            "rows = %flow sql SELECT run_id FROM runs WHERE status = 'failed' "
            "ORDER BY started_at DESC LIMIT 1"
        ).check()
        flow.run("failed = rows.run_id[0]").check()
        assert api.stats()["requests_total"] == 4
    finally:
        api.stop()
    shown = text(flow.run("%flow debug --replay $failed --out dbg"))
    assert shown.startswith(
        "⏸ paused at pages · page 3 · before the request — the captured run failed here"
    )
    assert text(flow.run("%flow eval context.next_offset")) == "4"  # scope restored
    assert text(flow.run("%flow eval 'steps.listing.body.items[*].id'")) == "[1, 2, 3]"
    assert value(flow, "dbg.requests") == "3"  # listing and two pages, answered by the capture
    ended = text(flow.run("%flow next-page"))
    assert " ended failed" in ended and "expectation failed" in ended
    assert "connect" not in ended
    flow.run("rid = dbg.run_id").check()
    flow.run(
        "x = %flow sql SELECT mode, count(*) AS n, min(status_code) AS lo FROM exchanges "
        "JOIN runs USING (run_id) WHERE run_id = $rid GROUP BY 1"
    ).check()
    assert value(flow, "x.to_dict('records')") == "[{'mode': 'debug', 'n': 4, 'lo': 200}]"


def test_stop_ends_the_run_cleanly_as_stopped_and_the_next_run_works(flow, demo_api):
    paginated_and_fanned_out(flow)
    flow.run("%flow debug --out dbg").check()
    flow.run("%flow next-page").check()
    stopped = text(flow.run("%flow stop"))
    assert " ended stopped" in stopped
    assert requests(demo_api) == 1
    flow.run("rid = dbg.run_id").check()
    flow.run("row = %flow sql SELECT mode, status, error FROM runs WHERE run_id = $rid").check()
    assert value(flow, "row.to_dict('records')") == (
        "[{'mode': 'debug', 'status': 'stopped', 'error': None}]"
    )
    flow.run(
        "ev = %flow sql SELECT detail FROM events WHERE run_id = $rid AND type = 'debug_action' "
        "ORDER BY seq"
    ).check()
    flow.run("import json").check()
    actions = value(flow, "[json.loads(d)['action'] for d in ev.detail]")
    assert actions == "['pause', 'next-page', 'pause', 'stop']"
    late = flow.run("%flow step")
    assert late.ename == "FlowError" and "has ended: run" in late.evalue
    assert "succeeded" in text(flow.run("%flow run"))  # the kernel and the loop are fine
    again = text(flow.run("%flow debug --out dbg"))
    assert again.startswith("⏸ paused at pages")
    flow.run("%flow stop").check()


@pytest.mark.parametrize(
    ("setup", "line", "message"),
    [
        ((), "%flow step", "no debug session: start one with %flow debug"),
        ((), "%flow break pages --when 'items[?'", "expression ends too early (column 8)"),
        ((), "%flow rerun nowhere", "no root step 'nowhere'"),
        ((), "%flow debug no/such/plan.yaml", "debug: cannot read no/such/plan.yaml"),
        ((), "%flow debug --replay nosuchrun", "no run 'nosuchrun'"),
        (("%flow config 'token={\"env\": \"ORCHESTRA_UNSET_VARIABLE\"}'",), "%flow debug",
         "ConfigError"),
        (("%flow break pages", "%flow debug"), "%flow set nothing.x=1",
         "'nothing' is not in the scope of this stop"),
        (("%flow break pages", "%flow debug"), "%flow set auth.token=x", "auth is read-only"),
        (("%flow break pages", "%flow debug"), "%flow debug", "a debug session is paused"),
        (("%flow break pages", "%flow debug --out dbg", "s = dbg.scope", "%flow next-page"),
         "s.context", "the run has moved on"),
    ],
)  # fmt: skip
def test_mistakes_are_named(flow, demo_api, setup, line, message):
    add(flow, PAGES)
    for cell in setup:
        flow.run(cell).check()
    cell = flow.run(line)
    assert cell.status == "error"
    assert message in cell.text
    flow.run("%flow reset").check()  # also stops a paused session
    flow.run(f"%flow config base_url={demo_api.url}").check()
    add(flow, PAGES)
    flow.run("%flow break pages").check()
    assert text(flow.run("%flow debug")).startswith("⏸ paused at pages")  # nothing is stuck
    flow.run("%flow stop").check()


PLAN_FILE = """key: from-file
config: {base_url: "http://127.0.0.1:9"}
steps:
  - name: listing
    url: "{config.base_url}/items"
    params: {limit: 3}
  - name: one
    url: "{config.base_url}/items/{steps.listing.body.items[2].id}"
    breakpoint: true
"""


def test_a_plan_file_is_debugged_edited_and_rerun_without_touching_the_flow(flow, demo_api):
    plan = flow.workdir / "debug-plan.yaml"
    plan.write_text(PLAN_FILE, encoding="utf-8")
    flow.run(f"plan_file = {str(plan)!r}").check()
    add(flow, LISTING)  # the notebook's own flow has a `listing` too
    shown = text(flow.run(f"%flow debug $plan_file --config base_url={demo_api.url} --out dbg"))
    assert shown.startswith("⏸ paused at one · before the step — breakpoint (in the plan)")
    assert requests(demo_api) == 1
    flow.run(
        "%%flow edit one\n"
        'url: "{config.base_url}/items/{steps.listing.body.items[1].id}"\n'
        "breakpoint: true"
    ).check()
    assert value(flow, "dbg.plan['steps'][1]['url']").endswith("items[1].id}'")
    demo_api.reset()
    rerun = text(flow.run("%flow rerun one"))
    assert rerun.startswith("✔ succeeded · rerun one") and "/items/2" in rerun
    assert demo_api.stats()["by_path"] == {"/items/2": 1}
    assert value(flow, "dbg.state") == "'paused'"
    assert "one" not in text(flow.run("%flow show"))  # the flow is not touched
    assert " ended succeeded" in text(flow.run("%flow continue"))
    assert demo_api.stats()["by_path"] == {"/items/2": 1, "/items/3": 1}  # the file's own `one`


def test_an_interrupt_while_a_debug_run_goes_on_ends_it_interrupted(flow):
    add(
        flow,
        '%%flow first --no-run\nurl: "{config.base_url}/items"\nbreakpoint: true',
        '%%flow slow --no-run\nurl: "{config.base_url}/slow"\nparams: {delay: 20}',
    )
    flow.run("%flow debug --out dbg").check()
    cell = flow.run("%flow continue", interrupt_after=1.0, timeout=30)
    assert cell.ename == "FlowInterrupted" and "interrupted" in cell.evalue
    assert cell.seconds < 6
    assert value(flow, "dbg.status") == "'interrupted'"
    assert text(flow.run("%flow debug --out dbg")).startswith("⏸ paused at first")
    flow.run("%flow stop").check()


def test_secrets_stay_masked_at_a_pause_in_the_scope_eval_set_and_the_capture(flow, demo_api):
    secret = "sk-debug-" + "7f3a9c1e5b"
    flow.run("%flow secret API_KEY", stdin=[secret]).check()
    add(
        flow,
        '%%flow guarded --no-run\nurl: "{config.base_url}/protected/apikey"\n'
        'headers: {X-API-Key: "{config.API_KEY}"}\nbreakpoint: true',
    )
    shown = flow.run("%flow debug --out dbg").check()
    outputs = [shown]
    outputs.append(flow.run("%flow eval config").check())
    outputs.append(flow.run("print(dbg.scope.config, dbg.scope.config.API_KEY)").check())
    outputs.append(flow.run(f"%flow set context.copy={secret}").check())
    outputs.append(flow.run("%flow eval context.copy").check())
    outputs.append(flow.run("%flow where").check())
    for cell in outputs:
        assert secret not in cell.text + cell.html
    assert "${API_KEY}" in shown.texts()[-1]
    assert value(flow, "dbg.scope.context.copy") == "'${API_KEY}'"
    flow.run("%flow continue").check()
    flow.run("rid = dbg.run_id").check()
    stored = flow.run("ev = %flow sql SELECT detail FROM events WHERE run_id = $rid").check()
    assert stored.status == "ok"
    details = value(flow, "list(ev.detail)")
    assert "context.copy" in details and "${API_KEY}" in details  # the `set` action, masked
    assert secret not in details
