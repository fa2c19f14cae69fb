"""Tab completion in ``%%flow`` cells and on ``%flow`` lines, through the kernel.

Completion is an IPython matcher (:func:`install`), so every frontend that
sends a ``complete_request`` gets it: JupyterLab, the classic notebook,
VS Code, the IPython terminal. What it offers at the cursor:

* in a cell's YAML, at a key: the plan fields valid in that mapping, read from
  the plan models (:mod:`orchestra.notebook._plan_fields`) — step fields in a
  step, ``paginate`` preset fields under ``paginate:``, auth fields under
  ``auth:`` …; after ``key:``, the field's literal values (``method: P``);
* in an expression or template: the scope names (``config.``, ``steps.`` …),
  ``steps.<name>`` from the kernel's current flow, and the keys of what the
  kernel's last run left behind: ``response.body.``, ``steps.x.body.``,
  ``config.``, ``context.``;
* on a ``%flow`` line: the commands, their options (from each command's
  ``usage``) and option values; on the ``%%flow`` line, its options.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from IPython.core.completer import (
    CompletionContext,
    SimpleCompletion,
    SimpleMatcherResult,
    context_matcher,
)

from orchestra.expressions import key_names, path_segments, value_at
from orchestra.notebook._flow import NotebookFlow
from orchestra.notebook._help import CELL
from orchestra.notebook._plan_fields import fields_at, values_at
from orchestra.notebook._yaml_cursor import place
from orchestra.notebook.commands import COMMANDS

MATCHER_ID = "orchestra.flow"

Item = tuple[str, str]  # (text, kind)
Found = tuple[str, list[Item]]  # (the fragment it replaces, the completions)

SCOPES = ("config", "context", "auth", "steps", "response", "prev", "parent", "item", "page_state")
RESPONSE_FIELDS = ("body", "status_code", "headers", "url", "elapsed_ms", "links")
STEP_FIELDS = (*RESPONSE_FIELDS, "status", "pages", "extract")

_EXPRESSION = re.compile(r"[A-Za-z_][\w-]*(?:\[[^\[\]]*\]|\.[A-Za-z_][\w-]*|\.)*$")
_OPTION = re.compile(r"(--[\w-]+)(?:[ =]([\w-]+(?:\|[\w-]+)+))?")
_IDENTIFIER = re.compile(r"[A-Za-z_][\w-]*")


def complete(flow: NotebookFlow, text: str, row: int, column: int) -> Found | None:
    """Completions at ``column`` of line ``row`` of a cell's ``text``; None: not Orchestra's."""
    lines = text.split("\n")
    if row >= len(lines):
        return None
    before = lines[row][:column]
    if lines[0].lstrip().startswith("%%flow"):
        if row == 0:
            return _cell_line(flow, before.lstrip()[len("%%flow") :])
        return _body(flow, lines, row, column)
    if before.lstrip().startswith("%flow"):
        return _line_magic(flow, before.lstrip()[len("%flow") :])
    return None


def _matching(fragment: str, candidates: Iterable[str], kind: str) -> list[Item]:
    return [(c, kind) for c in dict.fromkeys(candidates) if c.startswith(fragment)]


# -- %flow and %%flow lines ---------------------------------------------------------------


def _options(usage: str) -> dict[str, list[str]]:
    """``--format plan|har|curl`` → ``{"--format": ["plan", "har", "curl"]}``."""
    return {flag: choices.split("|") if choices else [] for flag, choices in _OPTION.findall(usage)}


def _words(rest: str) -> tuple[list[str], str, str | None] | None:
    """The finished words, the word being typed and the one before it."""
    if rest and not rest[0].isspace():
        return None  # `%flowx`
    words = rest.split()
    if rest.endswith((" ", "\t")) or not words:
        return words, "", words[-1] if words else None
    return words[:-1], words[-1], words[-2] if len(words) > 1 else None


def _line_magic(flow: NotebookFlow, rest: str) -> Found | None:
    parsed = _words(rest)
    if parsed is None:
        return None
    done, fragment, previous = parsed
    if not done:
        return fragment, _matching(fragment, COMMANDS, "command")
    command = COMMANDS.get(done[0])
    if command is None:
        return None
    options = _options(command.usage)
    return fragment, _arguments(flow, command.usage, options, done, fragment, previous)


def _cell_line(flow: NotebookFlow, rest: str) -> Found | None:
    parsed = _words(rest)
    if parsed is None:
        return None
    done, fragment, previous = parsed
    usage = CELL.splitlines()[0]
    if done[:1] == ["edit"] and len(done) == 1:
        return fragment, _matching(fragment, flow.names(), "step")
    return fragment, _arguments(flow, usage, _options(usage), done, fragment, previous)


def _arguments(
    flow: NotebookFlow,
    usage: str,
    options: dict[str, list[str]],
    done: Sequence[str],
    fragment: str,
    previous: str | None,
) -> list[Item]:
    if fragment.startswith("-"):
        return _matching(fragment, [o for o in options if o not in done], "option")
    if previous is not None and options.get(previous):
        return _matching(fragment, options[previous], "value")
    if done and done[0] == "help":
        return _matching(fragment, COMMANDS, "command")
    if "STEP" in usage or "NAME]" in usage:
        return _matching(fragment, flow.names(), "step")
    return []


# -- the YAML body ------------------------------------------------------------------------


def _body(flow: NotebookFlow, lines: list[str], row: int, column: int) -> Found | None:
    body = lines[1:]
    at = place(body, row - 1, column)
    before = lines[row][:column]
    if at.key is None and _IDENTIFIER.fullmatch(before.strip(" -") or "a"):
        fragment = before.strip(" -")
        fields = fields_at(at.path, at.siblings, whole_plan=at.whole_plan)
        if fields:
            return fragment, _matching(fragment, [name for name, _ in fields], "field")
    if at.key and _IDENTIFIER.fullmatch(at.value or "a"):
        values = values_at(at.path, at.key, at.siblings, whole_plan=at.whole_plan)
        if values:  # a field of fixed values (method, on_error, type …) takes no expression
            return at.value, _matching(at.value, values, "value")
    return _expression(flow, lines, before)


def _expression(flow: NotebookFlow, lines: list[str], before: str) -> Found:
    match = _EXPRESSION.search(before)
    token = match.group() if match else ""
    if "." not in token:
        return token, _matching(token, [f"{scope}." for scope in SCOPES], "scope")
    base, _, fragment = token.rpartition(".")
    segments = path_segments(base)
    keys = _keys(flow, lines, segments)
    return fragment, _matching(fragment, keys, "key")


def _keys(flow: NotebookFlow, lines: list[str], segments: list[tuple[str, list[str]]]) -> list[str]:
    scope, rest = segments[0][0], segments[1:]
    if scope == "steps":
        published = _published(flow)
        if not rest:
            return [*flow.names(), *published]
        name, indexes = rest[0]
        if indexes:
            return []
        result = published.get(name)
        if len(rest) == 1:
            return [*STEP_FIELDS, *key_names(result)]
        return key_names(value_at(result, rest[1:]))
    if scope in ("response", "prev", "parent"):
        if not rest:
            return list(RESPONSE_FIELDS)
        return key_names(value_at(_last_response(flow, lines), rest))
    if scope == "config":
        return key_names(value_at(flow.config, rest))
    if scope == "context":
        return key_names(value_at(flow.context, rest))
    return []


def _published(flow: NotebookFlow) -> dict[str, Any]:
    published: dict[str, Any] = {}
    for step in flow.steps:
        published.update(step.published)
    return published


def _last_response(flow: NotebookFlow, lines: list[str]) -> Any:
    """What the cell's step last answered; else the last answer of the flow's last run."""
    name = _cell_step_name(lines)
    published = _published(flow)
    if name and isinstance(published.get(name), dict):
        return published[name]
    for step in reversed(flow.steps):
        if isinstance(step.published.get(step.name), dict):
            return step.published[step.name]
    return None


def _cell_step_name(lines: list[str]) -> str | None:
    words = [w for w in lines[0].split()[1:] if not w.startswith("-")]
    if words and words[0] != "edit":
        return words[0]
    for line in lines[1:]:
        match = re.match(r"name *: *['\"]?([\w-]+)", line)
        if match:
            return match.group(1)
    return None


# -- IPython ------------------------------------------------------------------------------


def matcher(flow: Callable[[], NotebookFlow]) -> Any:
    """An IPython matcher (API v2) completing from the flow ``flow()`` returns."""

    @context_matcher(identifier=MATCHER_ID, priority=100)
    def match(context: CompletionContext) -> SimpleMatcherResult:
        found = complete(flow(), context.full_text, context.cursor_line, context.cursor_position)
        if found is None:
            return {"completions": [], "suppress": False}
        fragment, items = found
        return {
            "completions": [SimpleCompletion(text, type=kind) for text, kind in items],
            "matched_fragment": fragment,
            "suppress": True,  # no Python names inside a plan
        }

    return match


def install(shell: Any, flow: Callable[[], NotebookFlow]) -> None:
    """Add the matcher to the shell's completer (once)."""
    uninstall(shell)
    shell.Completer.custom_matchers.append(matcher(flow))


def uninstall(shell: Any) -> None:
    completer = getattr(shell, "Completer", None)
    if completer is None:
        return
    completer.custom_matchers[:] = [
        m for m in completer.custom_matchers if getattr(m, "matcher_identifier", "") != MATCHER_ID
    ]
