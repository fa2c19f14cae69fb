"""Kernel → Interrupt during a long fanout, and progress bars drawn from the event stream."""

from __future__ import annotations

import pytest

from tests.notebook.kernel import value

WIDGET = "application/vnd.jupyter.widget-view+json"


def slow_fanout(name: str, items: int, delay: float, concurrency: int) -> str:
    return f"""%%flow {name} --out {name}_run
url: "{{config.base_url}}/items"
params: {{limit: {items}}}
sub_steps:
  - name: wait
    iterate_over: response.body.items
    url: "{{config.base_url}}/slow"
    params: {{delay: {delay}, id: "{{item.id}}"}}
    concurrency: {concurrency}
"""


def test_an_interrupt_cancels_the_run_marks_it_interrupted_and_keeps_the_capture(flow):
    # 200 items of 1 s at concurrency 4 would take 50 s; interrupt after 2.5 s.
    cell = flow.run(slow_fanout("slow", 200, 1, 4), interrupt_after=2.5, timeout=30)
    assert cell.status == "error"
    assert cell.ename == "FlowInterrupted"  # a KeyboardInterrupt, shown in one line
    assert "interrupted; what ran so far is captured" in cell.evalue
    assert cell.seconds < 2.5 + 2.0, f"the run took {cell.seconds:.1f}s to stop"
    shown = cell.texts()[-1]
    assert shown.startswith("■ interrupted") and "wait: interrupted" in shown
    assert WIDGET in cell.mimes()  # progress bars were up while it ran …
    assert any(o["type"] == "update_display_data" and o["data"] == {"text/plain": ""}
               for o in cell.outputs)  # … and were closed  # fmt: skip

    flow.run("run_id = slow_run.run_id").check()
    runs = flow.run("%flow sql SELECT status FROM runs WHERE run_id = $run_id").check()
    assert "interrupted" in runs.texts()[-1]
    flow.run(
        "done = %flow sql SELECT count(*) FILTER (status_code = 200) AS ok, "
        "count(*) FILTER (error = 'cancelled while in flight') AS cancelled "
        "FROM exchanges WHERE run_id = $run_id AND step_path = 'slow.wait'"
    ).check()
    assert int(value(flow, "int(done.ok[0])")) >= 4  # the first items finished and were kept
    assert value(flow, "int(done.cancelled[0])") == "4"  # the four in flight were cancelled
    assert "# slow: interrupted" in flow.run("%flow show").check().texts()[-1]

    # the kernel and the engine are fine: the next cell runs
    after = flow.run('%%flow after\nurl: "{config.base_url}/items"').check()
    assert "succeeded" in after.texts()[-1]


def test_an_interrupt_outside_a_run_is_an_ordinary_keyboard_interrupt(flow):
    cell = flow.run("import time\ntime.sleep(30)", interrupt_after=1, timeout=20)
    assert cell.ename == "KeyboardInterrupt"
    flow.run('%%flow fine\nurl: "{config.base_url}/items"').check()


@pytest.mark.parametrize(("mode", "mime"), [("widgets", WIDGET), ("text", "text/plain")])
def test_progress_is_drawn_while_fanout_items_run(flow, mode, mime):
    flow.run(f"%config FlowMagic.progress = {mode!r}").check()
    try:
        cell = flow.run(slow_fanout("progress", 12, 0.2, 3)).check()
    finally:
        flow.run("%config FlowMagic.progress = 'auto'").check()
    live = [o for o in cell.outputs if o["type"] in ("display_data", "update_display_data")]
    assert any(mime in o["data"] for o in live[:-1])
    if mode == "text":
        lines = [o["data"]["text/plain"] for o in live if "items" in o["data"]["text/plain"]]
        assert any("progress.wait: " in line and "/12 items" in line for line in lines)
    updates = [o for o in cell.outputs if o["type"] == "update_display_data"]
    assert updates[-1]["data"] == {"text/plain": ""}  # the bars are gone once the run ends
    assert "fanout 12/12 ok" in cell.texts()[-1]


def test_quick_runs_show_no_progress_at_all(flow):
    cell = flow.run('%%flow quick\nurl: "{config.base_url}/items"').check()
    assert [o["type"] for o in cell.outputs] == ["execute_result"]
