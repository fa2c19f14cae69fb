"""Fast evaluation of a step's compiled templates and expressions, on the hot path.

``jmespath``'s ``ParsedResult.search`` builds a tree interpreter and walks the
AST through a generic ``visit`` dispatch on every call: ~4-8 µs for
``item.id``, and a fanout item evaluates half a dozen such expressions (URL and
header templates, a condition, extracts). Most expressions in plans are field
paths (``item.id``, ``config.base_url``, ``response.body.next``), comparisons of
them with literals, and ``&&``/``||``/``!`` of those. This module compiles those
AST nodes once per run into closures with *the same semantics as jmespath's
TreeInterpreter* (same field lookup via ``.get``, same equality special cases,
same truthiness); every other node (projections, filters, functions, indexes,
slices, multi-selects, pipes …) is evaluated by jmespath itself, so results are
identical by construction.

Template rendering mirrors ``orchestra.expressions._template`` exactly (null
rules, percent-encoding after the host, value templates leaving out
whole-expression nulls), using those compiled evaluators.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from jmespath.visitor import Options, TreeInterpreter, _is_actual_number, _is_comparable

from orchestra.errors import TemplateError
from orchestra.expressions import Expression, Template, ValueTemplate
from orchestra.expressions._compile import EVALUATION_ERRORS, evaluation_error
from orchestra.expressions._template import _past_host, _stringify, render_tree

Evaluator = Callable[[Any], Any]

_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch  # what quote(text, safe="") keeps

_INTERPRETER = TreeInterpreter(Options())
_COMPARATORS = TreeInterpreter.COMPARATOR_FUNC
_EQUALITY = frozenset(TreeInterpreter._EQUALITY_OPS)


def _is_false(value: Any) -> bool:
    return value == "" or value == [] or value == {} or value is None or value is False


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


def _compile_node(node: dict[str, Any], expression: Expression) -> Evaluator:
    chain = _field_chain(node)
    if chain is not None:
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
                    value = value.get(first)
                    return value.get(second)
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
    kind = node.get("type")
    if kind == "literal":
        constant = node["value"]
        return lambda value: constant
    if kind == "current":
        return lambda value: value
    if kind == "comparator":
        op = node["value"]
        compare = _COMPARATORS[op]
        left, right = (_compile_node(child, expression) for child in node["children"])
        if op in _EQUALITY:
            return lambda value: compare(left(value), right(value))

        def ordered(value: Any) -> Any:
            a, b = left(value), right(value)
            if not (_is_comparable(a) and _is_comparable(b)):
                return None
            try:
                return compare(a, b)
            except TypeError as error:  # a string and a number: jmespath raises too
                raise evaluation_error(expression, error) from None

        return ordered
    if kind == "and_expression":
        first, second = (_compile_node(child, expression) for child in node["children"])

        def both(value: Any) -> Any:
            matched = first(value)
            if _is_false(matched):
                return matched
            return second(value)

        return both
    if kind == "or_expression":
        first, second = (_compile_node(child, expression) for child in node["children"])

        def either(value: Any) -> Any:
            matched = first(value)
            if _is_false(matched):
                matched = second(value)
            return matched

        return either
    if kind == "not_expression":
        (inner,) = (_compile_node(child, expression) for child in node["children"])

        def negate(value: Any) -> Any:
            result = inner(value)
            if _is_actual_number(result) and result == 0:
                return False
            return not result

        return negate
    visit = _INTERPRETER.visit  # anything else: jmespath's own interpreter, same answer

    def interpret(value: Any) -> Any:
        try:
            return visit(node, value)
        except EVALUATION_ERRORS as error:  # as Expression.search: a step error, not a bug
            raise evaluation_error(expression, error) from None

    return interpret


def compile_evaluator(expression: Expression) -> Evaluator:
    """A callable equivalent to ``expression.search``."""
    parsed = getattr(expression.parsed, "parsed", None)
    if not isinstance(parsed, dict):
        return expression.search
    try:
        return _compile_node(parsed, expression)
    except (KeyError, TypeError, ValueError):  # an AST shape we do not know: stay generic
        return expression.search


class FastTemplate:
    """A :class:`Template` with compiled evaluators; renders like ``Template``."""

    __slots__ = ("evaluators", "segments", "template", "whole")

    def __init__(self, template: Template, evaluate: Callable[[Expression], Evaluator]):
        self.template = template
        self.segments: tuple[str | tuple[Expression, Evaluator], ...] = tuple(
            segment if isinstance(segment, str) else (segment, evaluate(segment))
            for segment in template.segments
        )
        whole = template.whole
        self.whole = None if whole is None else (whole, evaluate(whole))

    def render(self, scope: Mapping[str, Any]) -> Any:
        if self.whole is not None:
            return self.whole[1](scope)
        return "".join(self._pieces(scope, encode_after_host=False))

    def render_url(self, scope: Mapping[str, Any]) -> str:
        if self.whole is not None:
            expression, evaluate = self.whole
            value = evaluate(scope)
            if value is None:
                raise TemplateError(f"URL expression {{{expression.source}}} is null")
            return _stringify(value)
        return "".join(self._pieces(scope, encode_after_host=True))

    def _pieces(self, scope: Mapping[str, Any], *, encode_after_host: bool) -> list[str]:
        pieces: list[str] = []
        for segment in self.segments:
            if isinstance(segment, str):
                pieces.append(segment)
                continue
            expression, evaluate = segment
            value = evaluate(scope)
            if value is None:
                raise TemplateError(
                    f"expression {{{expression.source}}} in {self.template.source!r} is null; "
                    "a null cannot be part of a longer string",
                    fix="give a default with `||`, e.g. {" + expression.source + " || ''}",
                )
            text = _stringify(value)
            if encode_after_host and _past_host("".join(pieces)) and not _UNRESERVED(text):
                text = quote(text, safe="")  # (unreserved characters are never quoted)
            pieces.append(text)
        return pieces


class FastValue:
    """A :class:`ValueTemplate` with compiled templates; renders like ``ValueTemplate``."""

    __slots__ = ("compiled", "is_static")

    def __init__(self, value: ValueTemplate, evaluate: Callable[[Expression], Evaluator]):
        self.is_static = value.is_static
        self.compiled = value.compiled if value.is_static else _convert(value.compiled, evaluate)

    def render(self, scope: Mapping[str, Any]) -> Any:
        if self.is_static:
            return self.compiled
        return _render(self.compiled, scope)


def _convert(node: Any, evaluate: Callable[[Expression], Evaluator]) -> Any:
    if isinstance(node, Template):
        return FastTemplate(node, evaluate)
    if isinstance(node, dict):
        return {key: _convert(child, evaluate) for key, child in node.items()}
    if isinstance(node, list):
        return [_convert(child, evaluate) for child in node]
    return node


def _render(node: Any, scope: Mapping[str, Any]) -> Any:
    return render_tree(node, scope, FastTemplate)


class FastStep:
    """Everything of one compiled step that is evaluated per request, compiled once per run."""

    __slots__ = (
        "abort_when", "body", "break_when", "context_updates", "expect_that", "extract", "form",
        "headers", "iterate_over", "params", "retry_when", "secrets", "url", "while_",
    )  # fmt: skip

    def __init__(self, step: Any):
        cache: dict[int, tuple[Expression, Evaluator]] = {}

        def evaluate(expression: Expression) -> Evaluator:
            known = cache.get(id(expression))
            if known is None:
                known = cache[id(expression)] = (expression, compile_evaluator(expression))
            return known[1]

        def maybe(expression: Expression | None) -> Evaluator | None:
            return None if expression is None else evaluate(expression)

        self.url = FastTemplate(step.url, evaluate)
        self.headers = FastValue(step.headers, evaluate)
        self.params = FastValue(step.params, evaluate)
        self.body = None if step.body is None else FastValue(step.body, evaluate)
        self.form = None if step.form is None else FastValue(step.form, evaluate)
        self.while_ = maybe(step.while_)
        self.break_when = maybe(step.break_when)
        self.abort_when = maybe(step.abort_when)
        self.retry_when = maybe(step.retry_when)
        self.iterate_over = maybe(step.iterate_over)
        self.extract = {key: evaluate(expr) for key, expr in step.extract.items()}
        self.context_updates = {key: evaluate(e) for key, e in step.context_updates.items()}
        self.expect_that = [(expr, evaluate(expr)) for expr in step.expect_that]
        self.secrets = [evaluate(expr) for expr in step.secrets]
