"""Problems of a ``%%flow`` cell while it is typed, at their place in the cell.

The editor sends the whole cell on the ``orchestra.diagnostics`` comm (see
:func:`register`) and gets back a list of diagnostics, each a range of the
cell (0-based lines and columns) with a severity and a message. They come
from the checks running the cell makes (:func:`orchestra.notebook.commands.cell.check_cell`:
the plan loader in the context of the kernel's current flow), never from a
second validator: unknown fields with the closest valid name, type errors,
JMESPath syntax with its column, ``steps.x`` naming no earlier step.

The loader speaks in plan paths (``steps[0].paginate.limt``); they are mapped
back to the YAML the user wrote through PyYAML's node marks. A problem that
has no place in the cell (a flow setting of an earlier cell) is put on the
``%%flow`` line, so none is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypedDict

import yaml
from IPython.core.error import UsageError

from orchestra.errors import PlanError, PlanIssue
from orchestra.notebook._args import split
from orchestra.notebook._cell import CellSyntaxError, read_body
from orchestra.notebook.commands import CommandContext
from orchestra.notebook.commands.cell import check_cell

TARGET = "orchestra.diagnostics"

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class Diagnostic(TypedDict):
    line: int
    column: int
    end_line: int
    end_column: int
    severity: str
    message: str


def diagnose(ctx: CommandContext, code: str) -> list[Diagnostic]:
    """The problems of the cell ``code`` (its ``%%flow`` line first); [] for another cell."""
    first, _, body = code.partition("\n")
    stripped = first.lstrip()
    if not stripped.startswith("%%flow") or not body.strip():
        return []
    line = stripped[len("%%flow") :].strip()
    try:
        kind = read_body(body, line=line).kind
    except CellSyntaxError as error:
        return [
            _at(error.line, error.column, error.line, error.column + 1, error.issues[0].message)
        ]
    except PlanError as error:
        return [_at(0, 0, 0, len(first), _message(error.issues[0]))]
    try:
        words = split(line)  # no `$name` expansion: typing must never run notebook code
        check_cell(ctx, words, line, body)
    except PlanError as error:
        return _plan_problems(error, first, body, step_cell=kind == "step")
    except UsageError as error:
        return [_at(0, 0, 0, len(first), str(error))]
    return []


def _at(line: int, column: int, end_line: int, end_column: int, message: str) -> Diagnostic:
    return Diagnostic(line=line, column=column, end_line=end_line, end_column=end_column,
                      severity="error", message=message)  # fmt: skip


def _message(issue: PlanIssue) -> str:
    head = issue.message.split("\n")[0]
    return f"{head} ({issue.fix})" if issue.fix else head


def _plan_problems(error: PlanError, first: str, body: str, *, step_cell: bool) -> list[Diagnostic]:
    try:
        root = yaml.compose(body, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        root = None
    found = []
    for issue in error.issues:
        span = _locate(root, body, issue, step_cell=step_cell)
        if span is None:
            found.append(_at(0, 0, 0, len(first), _message(issue)))
        else:
            found.append(_at(*span, _message(issue)))
    return found


def _parts(path: str) -> list[str | int]:
    """``steps[0].sub_steps[1].url (step 'd')`` → ``["steps", 0, "sub_steps", 1, "url"]``."""
    path = path.split(" (")[0]
    return [int(index) if index else name for name, index in _PART.findall(path)]


Span = tuple[int, int, int, int]


def _locate(root: Any, body: str, issue: PlanIssue, *, step_cell: bool) -> Span | None:
    parts = _parts(issue.path)
    if step_cell:
        if parts[:2] != ["steps", 0]:
            return None  # a setting of the flow, not of this cell
        parts = parts[2:]
    if root is None:
        return None
    key, value, complete = _walk(root, parts)
    if not complete:  # a missing field: point at the mapping that lacks it
        return _span(key, body) if key is not None else None
    if issue.message.startswith("unknown field") and key is not None:
        return _span(key, body)
    if value is None:
        return None
    return _inside(value, body, issue) or _span(value, body)


def _walk(node: Any, parts: list[str | int]) -> tuple[Any, Any, bool]:
    key = None
    for part in parts:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            pair = next((p for p in node.value if getattr(p[0], "value", None) == part), None)
            if pair is None:
                return key, node, False
            key, node = pair
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return key, node, False
            node = node.value[part]
        else:
            return key, node, False
    return key, node, True


def _span(node: Any, body: str) -> Span:
    """A node's range in the cell; a block (mapping, list) only on its first line."""
    start, end = node.start_mark, node.end_mark
    if end.line > start.line:
        text = body.split("\n")[start.line]
        return start.line + 1, start.column, start.line + 1, max(len(text), start.column + 1)
    return start.line + 1, start.column, end.line + 1, end.column


def _inside(node: Any, body: str, issue: PlanIssue) -> Span | None:
    """The failing part of a scalar: the caret of a syntax error, or the reference named."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    start, end = node.start_mark.index, node.end_mark.index
    written = body[start:end]
    lines = issue.message.split("\n")
    if len(lines) >= 3 and lines[2].strip() == "^":  # an expression with a caret under it
        indent = len(lines[1]) - len(lines[1].lstrip())
        expression = lines[1][indent:]
        at = written.find(expression)
        if at >= 0:  # a caret past the end ("ends too early") marks the last character
            column = min(lines[2].index("^") - indent, max(len(expression) - 1, 0))
            return _position(body, start + at + column, start + at + column + 1)
        return None
    for fragment in [lines[0].split(" ")[0], *re.findall(r"'([^']+)'", lines[0])]:
        at = written.find(fragment) if fragment else -1
        if at >= 0:
            return _position(body, start + at, start + at + len(fragment))
    return None


def _position(body: str, start: int, end: int) -> Span:
    def where(offset: int) -> tuple[int, int]:
        before = body[:offset]
        return before.count("\n") + 1, offset - (before.rfind("\n") + 1)

    return (*where(start), *where(end))


def register(ctx: Callable[[], CommandContext]) -> bool:
    """Open the ``orchestra.diagnostics`` comm target on the kernel (False: no kernel).

    A message ``{"id": n, "code": cell}`` is answered on the same comm with
    ``{"id": n, "diagnostics": [...]}``.
    """
    try:
        import comm  # ipykernel installs its comm manager here

        manager = comm.get_comm_manager()
    except Exception:
        return False

    def opened(channel: Any, message: dict[str, Any]) -> None:
        def received(msg: dict[str, Any]) -> None:
            data = msg.get("content", {}).get("data") or {}
            code = data.get("code")
            problems = diagnose(ctx(), code) if isinstance(code, str) else []
            channel.send({"id": data.get("id"), "diagnostics": problems})

        channel.on_msg(received)
        if (
            isinstance(message.get("content", {}).get("data"), dict)
            and "code" in message["content"]["data"]
        ):
            received(message)

    manager.register_target(TARGET, opened)
    return True


def unregister() -> None:
    try:
        import comm

        comm.get_comm_manager().targets.pop(TARGET, None)
    except Exception:
        return
