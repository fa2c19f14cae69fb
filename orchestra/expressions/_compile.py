"""Compiling JMESPath expressions with precise, caret-pointing errors.

Orchestra's dialect is standard JMESPath with one convenience taken from the
seed documents: the bare words ``true``, ``false`` and ``null`` are literals
(``response.body.has_more == true``). Write ``"true"`` (quoted) for a field of
that name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import jmespath
from jmespath import exceptions as jp_errors
from jmespath.lexer import Lexer
from jmespath.parser import ParsedResult

from orchestra.errors import ExpressionError, ExpressionSyntaxError

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
    """A compiled JMESPath expression: ``search(scope)`` evaluates it.

    ``path`` is where the expression sits in the plan (``steps[0].extract.n``),
    so a failure at run time can say which one failed.
    """

    source: str
    parsed: ParsedResult
    path: str = field(default="", compare=False)

    def search(self, scope: Any) -> Any:
        """Evaluate; a failure on the data raises :class:`ExpressionError`."""
        try:
            return self.parsed.search(scope)
        except EVALUATION_ERRORS as error:
            raise evaluation_error(self, error) from None

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
    return Expression(text, parsed, path)


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


EVALUATION_ERRORS = (
    jp_errors.JMESPathError,
    TypeError,
    ValueError,
    ArithmeticError,
    RecursionError,
)
"""What evaluating a parsed expression can raise because of the data it is given
(jmespath checks function argument types; Python's own errors come from values
jmespath does not expect, e.g. an integer too long to turn into text)."""

_UNORDERABLE = re.compile(r"'(.+)' not supported between instances of '(\w+)' and '(\w+)'")

_TYPE_NAMES = {
    "number": "a number",
    "string": "a string",
    "array": "an array",
    "object": "an object",
    "boolean": "a boolean",
    "null": "null",
    "expref": "an expression reference (&field)",
    "any": "any value",
    "array-number": "an array of numbers",
    "array-string": "an array of strings",
}


def describe_value(value: Any, limit: int = 40) -> str:
    """A short description of a value for an error message: its type and a preview."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean {str(value).lower()}"
    if isinstance(value, str):
        shown = value if len(value) <= limit else value[: limit - 1] + "…"
        return f"a string {shown!r}"
    if isinstance(value, int | float):
        text = repr(value) if isinstance(value, float) or value.bit_length() < 128 else "…"
        return f"a number {text}"
    if isinstance(value, dict):
        return f"an object with {len(value)} key{'' if len(value) == 1 else 's'}"
    if isinstance(value, list):
        return f"an array of {len(value)} item{'' if len(value) == 1 else 's'}"
    return f"a {type(value).__name__}"


def _reason(error: BaseException) -> str:
    if isinstance(error, jp_errors.JMESPathTypeError):
        expected = " or ".join(_TYPE_NAMES.get(name, name) for name in error.expected_types)
        got = describe_value(error.current_value)
        if error.actual_type == "expref":
            got = "an expression reference (&field)"
        return f"{error.function_name}() expected {expected}, got {got}"
    if isinstance(error, jp_errors.ArityError | jp_errors.UnknownFunctionError):
        return str(error)
    if isinstance(error, RecursionError):
        return "the value is nested too deeply to evaluate"
    compared = _UNORDERABLE.fullmatch(str(error))
    if isinstance(error, TypeError) and compared:  # `a > b` with a string and a number
        operator, left, right = compared.groups()
        kinds = {"str": "a string", "int": "a number", "float": "a number"}
        return (
            f"cannot compare {kinds.get(left, left)} with {kinds.get(right, right)} "
            f"using {operator!r} (ordering needs two numbers or two strings)"
        )
    return f"{type(error).__name__}: {error}"


def evaluation_error(expression: Expression, error: BaseException) -> ExpressionError:
    """The :class:`ExpressionError` for ``expression`` failing on its data with ``error``."""
    where = f" ({expression.path})" if expression.path else ""
    return ExpressionError(
        f"expression {expression.source!r}{where} failed: {_reason(error)}",
        fix="check the value's type first (`type(x) == 'number' && ...`), convert it "
        "(to_number, to_string), or fix the data the expression reads",
    )
