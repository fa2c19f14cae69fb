"""Compiling JMESPath expressions with precise, caret-pointing errors.

Orchestra's dialect is standard JMESPath with one convenience taken from the
seed documents: the bare words ``true``, ``false`` and ``null`` are literals
(``response.body.has_more == true``). Write ``"true"`` (quoted) for a field of
that name.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import jmespath
from jmespath import exceptions as jp_errors
from jmespath.functions import Functions
from jmespath.lexer import Lexer
from jmespath.parser import ParsedResult

from orchestra.errors import ExpressionSyntaxError
from orchestra.expressions._evaluator import Evaluator, compile_evaluator

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

    ``search`` is the expression compiled to closures when it is created
    (:mod:`orchestra.expressions._evaluator`); a failure on the data raises
    :class:`~orchestra.errors.ExpressionError`. ``path`` is where the expression
    sits in the plan (``steps[0].extract.n``), so that error can say which one
    failed.
    """

    source: str
    parsed: ParsedResult
    path: str = field(default="", compare=False)
    search: Evaluator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "search", compile_evaluator(self.parsed, self.source, self.path))

    def __reduce__(self) -> tuple[type[Expression], tuple[str, ParsedResult, str]]:
        """Pickle the text and tree; the closures are compiled again when unpickled."""
        return (Expression, (self.source, self.parsed, self.path))

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


def compile_expression(
    text: str, *, path: str = "", offset: int = 0, shown: str | None = None
) -> Expression:
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
    problem = _function_problem(rewritten)
    if problem is not None:
        position, reason, fix = problem
        column = offset + _column(position, text, rewritten)
        raise ExpressionSyntaxError(path, shown or text, column, reason, fix)
    return Expression(text, parsed, path)


FUNCTIONS: dict[str, dict[str, Any]] = dict(Functions.FUNCTION_TABLE)
"""The functions Orchestra evaluates with: jmespath's built-ins (no custom ones)."""

_OPENING = frozenset({"lparen", "lbracket", "lbrace", "filter"})
_CLOSING = frozenset({"rparen", "rbracket", "rbrace"})


def _function_problem(text: str) -> tuple[int, str, str] | None:
    """The first call of an unknown function or with wrong arguments, as
    ``(column, reason, fix)``; None when every call is fine.

    The text has already parsed, so an identifier followed by ``(`` is a call;
    the lexer gives the columns the parsed tree does not keep.
    """
    if "(" not in text and "&" not in text:
        return None
    tokens = list(Lexer().tokenize(text))
    for index, token in enumerate(tokens[:-1]):
        if token["type"] == "unquoted_identifier" and tokens[index + 1]["type"] == "lparen":
            problem = _call_problem(token["value"], _arguments(tokens, index + 1))
            if problem is not None:
                return token["start"], *problem
    return _stray_reference(tokens)


def _stray_reference(tokens: list[dict[str, Any]]) -> tuple[int, str, str] | None:
    """A ``&field`` that is not an argument of a call: its value (an unevaluated
    expression) could never be sent, stored or compared."""
    opened: list[bool] = []  # for each open bracket: is it a function call's "("?
    previous: dict[str, Any] | None = None
    for token in tokens:
        kind = token["type"]
        if kind == "expref" and not (
            opened and opened[-1] and previous is not None
            and previous["type"] in ("lparen", "comma")
        ):  # fmt: skip
            return (
                token["start"],
                "an expression reference (&…) outside a function call",
                (
                    "use '&' only for the argument of sort_by, max_by, min_by or map; "
                    "remove it to use the value"
                ),
            )
        if kind in _OPENING:
            opened.append(kind == "lparen" and previous is not None
                          and previous["type"] == "unquoted_identifier")  # fmt: skip
        elif kind in _CLOSING and opened:
            opened.pop()
        previous = token
    return None


def _arguments(tokens: list[dict[str, Any]], lparen: int) -> list[list[dict[str, Any]]]:
    """The tokens of each argument of the call whose ``(`` is at ``tokens[lparen]``."""
    arguments: list[list[dict[str, Any]]] = [[]]
    depth = 0
    for token in tokens[lparen:]:
        kind = token["type"]
        if kind in _CLOSING:
            depth -= 1
            if depth == 0:
                break
        if depth == 1 and kind == "comma":
            arguments.append([])
        elif depth >= 1:
            arguments[-1].append(token)
        if kind in _OPENING:
            depth += 1
    return [] if arguments == [[]] else arguments


def _call_problem(name: str, arguments: list[list[dict[str, Any]]]) -> tuple[str, str] | None:
    function = FUNCTIONS.get(name)
    if function is None:
        close = difflib.get_close_matches(name, FUNCTIONS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"unknown function {name}()", f"{hint}the functions are {', '.join(FUNCTIONS)}"
    signature = function["signature"]
    usage = f"call it as {_usage(name, signature)}"
    variadic = bool(signature) and signature[-1].get("variadic", False)
    count, needed = len(arguments), len(signature)
    if variadic and count < needed:
        return f"{name}() takes at least {_count(needed)}, got {count}", usage
    if not variadic and count != needed:
        return f"{name}() takes {_count(needed)}, got {count}", usage
    for position, (argument, expected) in enumerate(
        zip(arguments, _expected(signature, count), strict=True), start=1
    ):
        is_reference = argument[0]["type"] == "expref"
        wants_reference = expected == ["expref"]
        if wants_reference and not is_reference:
            return f"{name}() needs an expression reference as argument {position}", (
                f"{usage}, e.g. {name}(..., &price) with '&' before the field"
            )
        if is_reference and expected and "expref" not in expected:
            return f"{name}() does not take an expression reference as argument {position}", (
                f"{usage}; remove the '&'"
            )
    return None


def _expected(signature: tuple[dict[str, Any], ...], count: int) -> list[list[str]]:
    """The accepted types of each of ``count`` arguments (variadic ones repeat the last)."""
    types = [list(parameter["types"]) for parameter in signature]
    return (types + [types[-1]] * count)[:count] if types else []


def _usage(name: str, signature: tuple[dict[str, Any], ...]) -> str:
    parts = []
    for parameter in signature:
        types = parameter["types"]
        shown = "|".join("&expression" if t == "expref" else t for t in types) or "any"
        parts.append(shown + ("..." if parameter.get("variadic") else ""))
    return f"{name}({', '.join(parts)})"


def _count(number: int) -> str:
    return f"{number} argument{'' if number == 1 else 's'}"


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
