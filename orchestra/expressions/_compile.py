"""Compiling JMESPath expressions with precise, caret-pointing errors.

Orchestra's dialect is standard JMESPath with one convenience taken from the
seed documents: the bare words ``true``, ``false`` and ``null`` are literals
(``response.body.has_more == true``). Write ``"true"`` (quoted) for a field of
that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jmespath
from jmespath import exceptions as jp_errors
from jmespath.lexer import Lexer
from jmespath.parser import ParsedResult

from orchestra.errors import ExpressionSyntaxError

_BARE_LITERALS = {"true": "`true`", "false": "`false`", "null": "`null`"}


def _rewrite_bare_literals(text: str) -> str:
    """Turn unquoted ``true``/``false``/``null`` (not after a dot) into JSON literals."""
    if not any(word in text for word in _BARE_LITERALS):
        return text
    try:
        tokens = list(Lexer().tokenize(text))
    except jp_errors.LexerError:
        return text  # let the real compile report the error
    pieces: list[str] = []
    cursor = 0
    previous = None
    for token in tokens:
        if (
            token["type"] == "unquoted_identifier"
            and token["value"] in _BARE_LITERALS
            and (previous is None or previous["type"] != "dot")
        ):
            pieces.append(text[cursor : token["start"]])
            pieces.append(_BARE_LITERALS[token["value"]])
            cursor = token["end"]
        previous = token
    pieces.append(text[cursor:])
    return "".join(pieces)


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled JMESPath expression: ``search(scope)`` evaluates it."""

    source: str
    parsed: ParsedResult

    def search(self, scope: Any) -> Any:
        return self.parsed.search(scope)

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


def compile_expression(text: str, *, path: str = "", offset: int = 0, shown: str | None = None):
    """Compile ``text`` or raise :class:`ExpressionSyntaxError` pointing at the column.

    ``shown`` is the full text to print (e.g. the whole template the expression
    sits in) and ``offset`` the expression's start column within it.
    """
    stripped = text.strip()
    if not stripped:
        raise ExpressionSyntaxError(path, shown or text, offset, "empty expression")
    rewritten = _rewrite_bare_literals(text)
    try:
        parsed = jmespath.compile(rewritten)
    except jp_errors.LexerError as error:
        column = _column(error.lexer_position, text, rewritten)
        reason = error.message or "cannot read this expression"
        raise ExpressionSyntaxError(path, shown or text, offset + column, reason) from None
    except jp_errors.IncompleteExpressionError:
        raise ExpressionSyntaxError(
            path, shown or text, offset + len(text.rstrip()), "expression ends too early"
        ) from None
    except jp_errors.ParseError as error:
        column = _column(error.lex_position, text, rewritten)
        reason = f"unexpected {error.token_value!r}" if error.token_value else error.msg
        raise ExpressionSyntaxError(path, shown or text, offset + column, reason) from None
    return Expression(text, parsed)


def _column(position: int | None, original: str, rewritten: str) -> int:
    """Map a position in the rewritten text back to the original (literals grow by 2)."""
    if position is None or position < 0:
        return 0
    if original == rewritten:
        return position
    # Each rewritten literal adds two backticks; walk until we pass `position`.
    shift = 0
    index = 0
    while index < len(rewritten) and index < position:
        if rewritten[index] == "`" and original[index - shift : index - shift + 1] != "`":
            shift += 1
        index += 1
    return max(0, position - shift)
