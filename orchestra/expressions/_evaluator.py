"""Evaluating parsed JMESPath: closures compiled once, one truthiness rule, clear errors.

Every :class:`~orchestra.expressions.Expression` is compiled here when it is
created (so when its plan loads): the expression's syntax tree becomes a
closure that the engine calls for each request, page and item.

Most expressions in plans are field paths (``item.id``, ``config.base_url``,
``response.body.next``), comparisons of those with literals, and
``&&``/``||``/``!`` of those. Those nodes become plain Python closures with the
semantics of jmespath's ``TreeInterpreter`` (field lookup through ``.get``,
its equality and ordering rules); every other node (projections, filters,
functions, indexes, slices, multi-selects, pipes …) is handed to jmespath's
own interpreter, so the answers are jmespath's. ``tests/expressions/
test_evaluator.py`` checks the two agree.

This is the only module that uses jmespath's interpreter and its helpers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from jmespath import exceptions as jp_errors
from jmespath.parser import ParsedResult
from jmespath.visitor import Options, TreeInterpreter, _is_comparable

from orchestra.errors import ExpressionError

Evaluator = Callable[[Any], Any]
"""A compiled expression: call it with the scope, get the value."""


def truthy(value: Any) -> bool:
    """JMESPath truthiness: false, null, "", [] and {} are false; everything else
    (0 included) is true. Conditions (``while``, ``break_when``, ``abort_when``,
    ``retry_when``, ``expect.that``, ``when``, breakpoints), ``&&``, ``||`` and ``!``
    all use this rule."""
    return not (value is None or value is False or value == "" or value == [] or value == {})


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

_INTERPRETER = TreeInterpreter(Options())
_COMPARATORS = TreeInterpreter.COMPARATOR_FUNC
_EQUALITY = frozenset(("eq", "ne"))  # jmespath compares only these across types


class _Where:
    """The expression a closure belongs to, for its error message (no cycle back to it)."""

    __slots__ = ("path", "source")

    def __init__(self, source: str, path: str):
        self.source = source
        self.path = path

    def error(self, error: BaseException) -> ExpressionError:
        return evaluation_error(self.source, self.path, error)


def compile_evaluator(parsed: ParsedResult, source: str, path: str = "") -> Evaluator:
    """The closure evaluating ``parsed`` (the text ``source`` at plan ``path``).

    Calling it returns what jmespath's ``search`` returns; a failure on the data
    raises :class:`~orchestra.errors.ExpressionError` naming the expression.
    """
    where = _Where(source, path)
    tree = getattr(parsed, "parsed", None)
    if isinstance(tree, dict):
        try:
            return _compile_node(tree, where)
        except (KeyError, TypeError, ValueError, RecursionError):
            pass  # an AST shape we do not know: let jmespath walk it
    return _generic(parsed, where)


def _generic(parsed: ParsedResult, where: _Where) -> Evaluator:
    search = parsed.search

    def generic(value: Any) -> Any:
        try:
            return search(value)
        except EVALUATION_ERRORS as error:
            raise where.error(error) from None

    return generic


def _field_chain(node: dict[str, Any]) -> tuple[str, ...] | None:
    """``a.b.c`` as ``("a", "b", "c")`` when the node is only fields and subexpressions."""
    kind = node.get("type")
    if kind == "field":
        return (node["value"],)
    if kind == "subexpression":
        keys: list[str] = []
        for child in node["children"]:
            chain = _field_chain(child)
            if chain is None:
                return None
            keys.extend(chain)
        return tuple(keys)
    return None


def _compile_node(node: dict[str, Any], where: _Where) -> Evaluator:
    chain = _field_chain(node)
    if chain is not None:
        return _compile_fields(chain)
    kind = node.get("type")
    if kind == "literal":
        constant = node["value"]
        return lambda value: constant
    if kind == "current":
        return lambda value: value
    if kind == "comparator":
        return _compile_comparator(node, where)
    if kind in ("and_expression", "or_expression", "not_expression"):
        children = [_compile_node(child, where) for child in node["children"]]
        return _compile_logic(kind, children, where)
    return _compile_interpreted(node, where)


def _compile_fields(chain: tuple[str, ...]) -> Evaluator:
    """``a``, ``a.b``, ``a.b.c…``: ``.get`` down the chain; a non-object gives null."""
    if len(chain) == 1:
        (key,) = chain

        def field(value: Any) -> Any:
            try:
                return value.get(key)
            except AttributeError:
                return None

        return field
    if len(chain) == 2:
        first, second = chain

        def field2(value: Any) -> Any:
            try:
                return value.get(first).get(second)
            except AttributeError:
                return None

        return field2

    def fields(value: Any) -> Any:
        try:
            for key in chain:
                value = value.get(key)
            return value
        except AttributeError:
            return None

    return fields


def _compile_comparator(node: dict[str, Any], where: _Where) -> Evaluator:
    """``==``/``!=`` compare any two values; ordering needs two numbers or two strings
    (else null), and a string with a number fails as jmespath fails."""
    op = node["value"]
    compare = _COMPARATORS[op]
    left, right = (_compile_node(child, where) for child in node["children"])
    if op in _EQUALITY:

        def equality(value: Any) -> Any:
            try:
                return compare(left(value), right(value))
            except EVALUATION_ERRORS as error:  # e.g. values nested too deeply to compare
                raise where.error(error) from None

        return equality

    def ordered(value: Any) -> Any:
        try:
            a, b = left(value), right(value)
            if not (_is_comparable(a) and _is_comparable(b)):
                return None
            return compare(a, b)
        except EVALUATION_ERRORS as error:
            raise where.error(error) from None

    return ordered


def _compile_logic(kind: str, children: list[Evaluator], where: _Where) -> Evaluator:
    """``a && b``, ``a || b`` (each gives one operand's value) and ``!a``, by :func:`truthy`.

    (Deeply nested conditions can exhaust the stack: that fails as the expression.)
    """
    if kind == "not_expression":
        (inner,) = children

        def negate(value: Any) -> Any:
            try:
                return not truthy(inner(value))
            except RecursionError as error:
                raise where.error(error) from None

        return negate
    first, second = children
    if kind == "and_expression":

        def both(value: Any) -> Any:
            try:
                matched = first(value)
                return second(value) if truthy(matched) else matched
            except RecursionError as error:
                raise where.error(error) from None

        return both

    def either(value: Any) -> Any:
        try:
            matched = first(value)
            return matched if truthy(matched) else second(value)
        except RecursionError as error:
            raise where.error(error) from None

    return either


def _compile_interpreted(node: dict[str, Any], where: _Where) -> Evaluator:
    visit = _INTERPRETER.visit

    def interpret(value: Any) -> Any:
        try:
            return visit(node, value)
        except EVALUATION_ERRORS as error:
            raise where.error(error) from None

    return interpret


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


def evaluation_error(source: str, path: str, error: BaseException) -> ExpressionError:
    """The :class:`ExpressionError` for the expression ``source`` (at plan ``path``)
    failing on its data with ``error``."""
    where = f" ({path})" if path else ""
    return ExpressionError(
        f"expression {source!r}{where} failed: {_reason(error)}",
        fix="check the value's type first (`type(x) == 'number' && ...`), convert it "
        "(to_number, to_string), or fix the data the expression reads",
    )
