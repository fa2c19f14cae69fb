"""Errors of the notebook surface and pointing at the failing text of a cell.

``FlowError`` and ``FlowInterrupted`` render as one short line in the cell
(IPython calls ``_render_traceback_``): the rich output above them already
says what went wrong, and a traceback through the magic's internals would
only hide it. Wrong commands and options raise IPython's ``UsageError``.

:func:`locate` finds the expression an error names inside the cell's source,
so the output can underline it like jmespath's caret::

    url: "{config.base_url}/items/{item.idd}"
                                  ^^^^^^^^
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from IPython.core.error import UsageError

from orchestra.errors import ExpressionSyntaxError, PlanError, RunError


class FlowError(Exception):
    """A ``%%flow`` cell or ``%flow`` command failed; shown as one line, no traceback."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31m{type(self).__name__}\x1b[0m: {self}"]


class FlowRunFailed(FlowError):
    """The run did not succeed; the cell's output above shows where and why."""


class FlowInterrupted(KeyboardInterrupt):
    """Kernel → Interrupt stopped the run; what was captured so far is kept."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[31mKeyboardInterrupt\x1b[0m: {self}"]


def closest(word: str, choices: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return found[0] if found else None


def unknown(kind: str, word: str, choices: Iterable[str], where: str) -> UsageError:
    """``unknown command 'epxort' for %flow; did you mean 'export'?``"""
    choices = list(choices)
    suggestion = closest(word, choices)
    hint = f"; did you mean {suggestion!r}?" if suggestion else f"; valid: {', '.join(choices)}"
    return UsageError(f"unknown {kind} {word!r} for {where}{hint} (see %flow help)")


def expression_error(error: ExpressionSyntaxError) -> FlowError:
    """``break … --when``, ``eval``: the reason, the column and a caret under it."""
    caret = " " * error.column + "^"
    return FlowError(
        f"{error.path}: {error.reason} (column {error.column + 1})\n    {error.text}\n    {caret}"
    )


@dataclass(frozen=True)
class Span:
    """``length`` characters from ``column`` of line ``line`` (0-based) of a cell."""

    line: int
    column: int
    length: int


_BRACED = re.compile(r"\{([^{}]+)\}")
_QUOTED = re.compile(r"'([^']+)'")


def _candidates(error: BaseException | str, step_names: Iterable[str]) -> list[tuple[str, int]]:
    """Fragments of the cell an error may be about, best first, with a caret offset."""
    if isinstance(error, ExpressionSyntaxError):
        return [(error.text, error.column)]
    found: list[tuple[str, int]] = []
    if isinstance(error, PlanError):
        for issue in error.issues:
            shown = issue.message.split("\n")
            if len(shown) >= 3 and shown[2].strip() == "^":  # an expression with a caret
                indent = len(shown[1]) - len(shown[1].lstrip())
                found.append((shown[1][indent:], shown[2].index("^") - indent))
                continue
            last = re.split(r"[.\[\]]", issue.path.split(" (")[0].strip("."))
            keys = [part for part in last if part and not part.isdigit()]
            if keys:
                found.append((keys[-1], -1))
        return found
    text = error.message if isinstance(error, RunError) else str(error)
    skip = set(step_names)
    found.extend((match, -1) for match in _BRACED.findall(text))
    found.extend((match, -1) for match in _QUOTED.findall(text) if match not in skip)
    return found


def locate(
    source: str | None, error: BaseException | str, step_names: Iterable[str] = ()
) -> Span | None:
    """Where in ``source`` (a plan file, or a whole cell with its ``%%flow`` line) the
    failing expression (or the bad field) of ``error`` is."""
    if not source:
        return None
    lines = source.splitlines()
    for fragment, caret in _candidates(error, step_names):
        fragment = fragment.strip()
        if not fragment:
            continue
        for number, line in enumerate(lines):
            if number == 0 and line.startswith("%%"):
                continue  # a cell's %%flow line: only its body can be at fault
            column = line.find(fragment)
            if column < 0:
                continue
            if caret >= 0:  # a syntax error: point at the failing column
                return Span(number, column + caret, 1)
            end = column + len(fragment)
            if line[column - 1 : column] == "{" and line[end : end + 1] == "}":
                return Span(number, column - 1, len(fragment) + 2)  # the whole {…}
            return Span(number, column, len(fragment))
    return None


def underline_text(source: str, span: Span, context: int = 1) -> str:
    """The line holding ``span`` (with ``context`` lines around it) and carets under it."""
    lines = source.splitlines()
    start = max(0, span.line - context)
    out = []
    for number in range(start, min(len(lines), span.line + context + 1)):
        out.append(f"{number + 1:>4} | {lines[number]}")
        if number == span.line:
            out.append("     | " + " " * span.column + "^" * max(1, span.length))
    return "\n".join(out)


def underline_html(source: str, span: Span, context: int = 1) -> str:
    """Like :func:`underline_text`, with the span underlined in red."""
    lines = source.splitlines()
    start = max(0, span.line - context)
    out = []
    for number in range(start, min(len(lines), span.line + context + 1)):
        line = lines[number]
        if number == span.line:
            end = span.column + span.length
            line_html = (
                html.escape(line[: span.column])
                + '<u style="text-decoration:underline wavy #d62728;text-underline-offset:3px">'
                + html.escape(line[span.column : end] or " ")
                + "</u>"
                + html.escape(line[end:])
            )
        else:
            line_html = html.escape(line)
        out.append(f'<span style="color:#888">{number + 1:>4} | </span>{line_html}')
    return "<pre style='margin:4px 0'>" + "\n".join(out) + "</pre>"
