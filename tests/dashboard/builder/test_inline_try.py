"""Inline, a click on Try it runs the try on the kernel's loop and the views follow it live.

A real kernel shows ``%flow builder``; the test opens Panel's client comm on a
kernel subshell and sends Bokeh's ``button_click`` for the Try it button, as
JupyterLab does, then reads what the kernel pushes to the page on iopub while
the try runs against the demo API's slow endpoint: the step table and flow
graph change while the slow steps are still running, not only when the try ends.
"""

from __future__ import annotations

import json
import queue
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.test_inline import send_on, subshell
from tests.notebook.kernel import KernelSession

pytestmark = pytest.mark.timeout(300)

DELAY = 2.0  # seconds each slow step waits


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[KernelSession]:
    session = KernelSession(tmp_path)
    try:
        yield session
    finally:
        session.shutdown()


def button_click(button: str) -> dict[str, Any]:
    """What BokehJS sends over the comm when a Bokeh ``Button`` is clicked."""
    event = {
        "type": "event",
        "name": "button_click",
        "values": {"type": "map", "entries": [["model", {"id": button}]]},
    }
    return {
        "header": {"msgid": uuid.uuid4().hex, "msgtype": "PATCH-DOC"},
        "metadata": {},
        "content": {
            "events": [{"kind": "MessageSent", "msg_type": "bokeh_event", "msg_data": event}]
        },
    }


def pushed(kernel: KernelSession, until: str, timeout: float) -> list[tuple[float, str]]:
    """(time, text) of every comm message the kernel sends until one contains ``until``."""
    found: list[tuple[float, str]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = kernel.client.get_iopub_msg(timeout=0.1)
        except queue.Empty:
            continue
        if event["msg_type"] != "comm_msg":
            continue
        data = event["content"].get("data")
        text = data if isinstance(data, str) else json.dumps(data, default=str, ensure_ascii=False)
        found.append((time.monotonic(), text))
        if until in text:
            return found
    raise AssertionError(f"{until!r} never pushed in {timeout}s; {len(found)} messages")


def test_a_click_on_try_it_updates_the_inline_views_while_the_try_runs(kernel, demo_api):
    kernel.run("%load_ext orchestra").check()
    kernel.run(f"%flow config base_url={demo_api.url}").check()
    kernel.run('%%flow first\nurl: "{config.base_url}/items/1"').check()
    kernel.run(f'%%flow slow_one\nurl: "{{config.base_url}}/slow?delay={DELAY}"').check()
    kernel.run(f'%%flow slow_two\nurl: "{{config.base_url}}/slow?delay={DELAY}"').check()
    shown = kernel.run("b = %flow builder\nb", timeout=180).check()
    assert "application/vnd.holoviews_exec.v0+json" in shown.mimes()
    ids = kernel.run(
        "import panel as pn\n"
        "b.state.selected = 'steps[2]'\n"
        "ref, (button, _) = next(iter(b.try_button._models.items()))\n"
        "view = pn.state._views[ref][0]\n"
        "print(view._comms[ref][1].id, button.id)"
    ).check()
    client_comm, button = ids.text.split()[:2]

    shell = subshell(kernel)
    comm_id = uuid.uuid4().hex
    send_on(
        kernel, shell, "comm_open", {"comm_id": comm_id, "target_name": client_comm, "data": {}}
    )
    clicked = time.monotonic()
    send_on(kernel, shell, "comm_msg", {"comm_id": comm_id, "data": button_click(button)})
    messages = pushed(kernel, "succeeded \\u00b7 ", timeout=120)  # the try's summary line
    ended = messages[-1][0]
    assert ended - clicked >= 2 * DELAY  # the try took its time …

    # … and the page saw it go: the flow graph's nodes (first, slow_one, slow_two) were
    # pushed with slow_one running, then with slow_two running, before the try's summary
    def first(text: str) -> float:
        times = [t for t, message in messages if text in message]
        assert times, f"never pushed: {text}"
        return min(times)

    one = first('["status",["ok","running","pending"]]')
    two = first('["status",["ok","ok","running"]]')
    assert clicked < one < two < ended
    # slow_one was seen running before slow_two (which takes DELAY) had started
    assert ended - one >= DELAY, (one, two, ended)
    state = kernel.run("print(b.state.running, b.state.error or '-', b.state.run_id)").check()
    assert state.text.split()[:2] == ["False", "-"]
