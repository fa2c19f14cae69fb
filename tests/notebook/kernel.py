"""A real Jupyter kernel for the magic tests, driven through jupyter_client.

:class:`KernelSession` sends code to an ``ipykernel`` process exactly as
JupyterLab does (execute requests on the shell channel, outputs on iopub,
``getpass`` prompts on stdin, interrupts as a signal from the manager) and
collects what the cell showed.
"""

from __future__ import annotations

import os
import queue
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager


@dataclass
class Cell:
    """What one execution produced."""

    status: str
    outputs: list[dict[str, Any]] = field(default_factory=list)
    ename: str | None = None
    evalue: str | None = None
    traceback: list[str] = field(default_factory=list)
    seconds: float = 0.0
    payload: list[dict[str, Any]] = field(default_factory=list)  # e.g. the pager of `%flow?`
    comms: list[dict[str, Any]] = field(default_factory=list)  # comm_open contents it sent

    def texts(self, mime: str = "text/plain") -> list[str]:
        found = []
        for output in self.outputs:
            if output["type"] == "stream":
                found.append(output["text"])
            elif mime in output.get("data", {}):
                found.append(output["data"][mime])
        return found

    @property
    def text(self) -> str:
        return "\n".join(self.texts()) + "\n" + "\n".join(self.traceback)

    @property
    def html(self) -> str:
        return "\n".join(self.texts("text/html"))

    def mimes(self) -> set[str]:
        return {mime for output in self.outputs for mime in output.get("data", {})}

    def check(self) -> Cell:
        assert self.status == "ok", f"{self.ename}: {self.evalue}\n{self.text}"
        return self


class KernelSession:
    """One ipykernel process with its own IPython directory and working directory."""

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        environment = {**os.environ, **(env or {})}
        environment.setdefault("IPYTHONDIR", str(workdir / "ipython"))
        environment.setdefault("ORCHESTRA_DB", str(workdir / "capture.duckdb"))
        environment.pop("JPY_PARENT_PID", None)
        self.workdir = workdir
        self.env = environment
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(cwd=str(workdir), env=environment)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(
        self,
        code: str,
        *,
        timeout: float = 60,
        stdin: list[str] | None = None,
        interrupt_after: float | None = None,
        cell_id: str | None = None,
        store_history: bool = True,
    ) -> Cell:
        """Execute ``code``; answer prompts from ``stdin``; optionally interrupt the kernel."""
        client = self.client
        started = time.monotonic()
        content = {
            "code": code,
            "silent": False,
            "store_history": store_history,
            "user_expressions": {},
            "allow_stdin": stdin is not None,
            "stop_on_error": False,
        }
        metadata = {"cellId": cell_id} if cell_id else {}
        message = client.session.msg("execute_request", content, metadata=metadata)
        client.shell_channel.send(message)
        msg_id = message["header"]["msg_id"]
        answers = list(stdin or [])
        cell = Cell(status="pending")
        interrupted = False
        deadline = started + timeout
        idle = False
        reply: dict[str, Any] | None = None
        while not (idle and reply is not None):
            if time.monotonic() > deadline:
                raise TimeoutError(f"cell did not finish in {timeout}s: {code[:80]!r}")
            late = interrupt_after is not None and time.monotonic() - started >= interrupt_after
            if late and not interrupted:
                self.manager.interrupt_kernel()
                interrupted = True
            if stdin is not None:
                try:
                    request = client.get_stdin_msg(timeout=0.01)
                except queue.Empty:
                    pass
                else:
                    if request["msg_type"] == "input_request":
                        client.input(answers.pop(0))
            try:
                event = client.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                event = None
            if event is not None and event["parent_header"].get("msg_id") == msg_id:
                kind, content = event["msg_type"], event["content"]
                if kind == "status" and content["execution_state"] == "idle":
                    idle = True
                elif kind == "stream":
                    cell.outputs.append({"type": "stream", "text": content["text"]})
                elif kind in ("display_data", "execute_result", "update_display_data"):
                    cell.outputs.append({"type": kind, "data": content["data"]})
                elif kind == "comm_open":  # the kernel asks the frontend for something
                    cell.comms.append(content)
                elif kind == "error":
                    cell.ename, cell.evalue = content["ename"], content["evalue"]
                    cell.traceback = content["traceback"]
            if reply is None:
                try:
                    shell = client.get_shell_msg(timeout=0.01)
                except queue.Empty:
                    pass
                else:
                    if shell["parent_header"].get("msg_id") == msg_id:
                        reply = shell["content"]
        cell.status = reply["status"]
        cell.payload = reply.get("payload", [])
        cell.seconds = time.monotonic() - started
        return cell

    def comm_msg(self, comm_id: str, data: dict[str, Any], *, timeout: float = 60) -> Cell:
        """Send a comm message as a front end does and wait until the kernel has handled it.

        Comm messages get no reply; the kernel reports busy → idle on iopub with
        the message as parent, and whatever the handler printed in between.
        """
        client = self.client
        started = time.monotonic()
        message = client.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        client.shell_channel.send(message)
        msg_id = message["header"]["msg_id"]
        cell = Cell(status="pending")
        while True:
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"comm message to {comm_id} not handled in {timeout}s")
            try:
                event = client.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                continue
            if event["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = event["msg_type"], event["content"]
            if kind == "status" and content["execution_state"] == "idle":
                break
            if kind == "stream":
                cell.outputs.append({"type": "stream", "text": content["text"]})
            elif kind == "error":
                cell.ename, cell.evalue = content["ename"], content["evalue"]
        cell.status = "ok" if cell.ename is None else "error"
        cell.seconds = time.monotonic() - started
        return cell

    def click(self, model_id: str, *, timeout: float = 60) -> Cell:
        """Click an ipywidgets 8 ``Button`` exactly as JupyterLab does: a custom comm message
        ``{"event": "click"}`` to the button's model (``Button._handle_button_msg``)."""
        return self.comm_msg(
            model_id, {"method": "custom", "content": {"event": "click"}}, timeout=timeout
        )

    def close_comm(self, comm_id: str, *, timeout: float = 60) -> None:
        """Close a comm as a frontend does (JupyterLab closes one whose target it lacks)."""
        self._send_and_wait(
            "comm_close",
            {"comm_id": comm_id, "data": {}},
            lambda event: (
                event["msg_type"] == "status" and event["content"]["execution_state"] == "idle"
            ),
            timeout,
            f"comm_close of {comm_id} not handled in {timeout}s",
        )

    def complete(self, code: str, cursor_pos: int | None = None) -> dict[str, Any]:
        """A ``complete_request`` as JupyterLab sends on Tab; the reply's content."""
        cursor = len(code) if cursor_pos is None else cursor_pos
        reply = self.client.complete(code, cursor, reply=True, timeout=60)
        return reply["content"]

    def open_comm(self, target: str, data: dict[str, Any] | None = None) -> str:
        """Open a comm to a kernel target as a frontend does; its id."""
        comm_id = uuid.uuid4().hex
        content = {"comm_id": comm_id, "target_name": target, "data": data or {}}
        self.client.shell_channel.send(self.client.session.msg("comm_open", content))
        return comm_id

    def ask_comm(self, comm_id: str, data: dict[str, Any], *, timeout: float = 60) -> Any:
        """Send ``data`` on a comm and return the data of the kernel's answer on it."""
        answer = self._send_and_wait(
            "comm_msg",
            {"comm_id": comm_id, "data": data},
            lambda event: event["msg_type"] == "comm_msg",
            timeout,
            f"no answer on comm {comm_id} in {timeout}s",
        )
        return answer["content"]["data"]

    def _send_and_wait(
        self,
        msg_type: str,
        content: dict[str, Any],
        wanted: Callable[[dict[str, Any]], bool],
        timeout: float,
        failure: str,
    ) -> dict[str, Any]:
        """Send a shell message; the first iopub message it caused that is ``wanted``."""
        message = self.client.session.msg(msg_type, content)
        self.client.shell_channel.send(message)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.client.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                continue
            if event["parent_header"].get("msg_id") == message["header"]["msg_id"] and wanted(
                event
            ):
                return dict(event)
        raise TimeoutError(failure)

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=False)


def start_kernel(workdir: Path, base_url: str, **env: str) -> KernelSession:
    session = KernelSession(workdir, env=env)
    session.run("%load_ext orchestra").check()
    session.run(f"%flow config base_url={base_url}").check()
    return session


ITEMS = """%%flow items --out items_run
url: "{config.base_url}/items"
params:
  limit: 5
  offset: "{context.next_offset || `0`}"
context_updates:
  next_offset: response.body.next_offset
while: response.body.next_offset != null && response.body.offset < `10`
sub_steps:
  - name: detail
    iterate_over: response.body.items
    url: "{config.base_url}/items/{item.id}"
    concurrency: 4
    extract: {description: response.body.detail.description}
"""


def value(kernel: KernelSession, expression: str) -> str:
    """``repr`` of a Python expression evaluated in the kernel."""
    cell = kernel.run(f"print(repr({expression}))").check()
    # one print can arrive as several stream messages ("'x'" then "\n") when the kernel is busy
    return "".join(o["text"] for o in cell.outputs if o["type"] == "stream").strip()
