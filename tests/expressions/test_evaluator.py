"""Compiled expressions and templates answer exactly as jmespath and the template rules do.

Expressions are compiled to closures when they are created
(``orchestra.expressions._evaluator``); these tests hold them against
jmespath's own interpreter, and templates against a plain reference renderer
written out here from the rules in the README ("Templates and expressions").
"""

from __future__ import annotations

import copy
import pickle
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jmespath.visitor
import pytest

from orchestra.errors import ExpressionError, TemplateError
from orchestra.expressions import (
    Expression,
    Template,
    compile_expression,
    compile_template,
    compile_value,
    stringify,
    truthy,
)
from orchestra.expressions._evaluator import EVALUATION_ERRORS, evaluation_error
from orchestra.plan import load_plan

EXPRESSIONS = [
    "item",
    "item.id",
    "response.body.next_page",
    "response.body.a.b.c.d",
    "response.body.items",
    "response.body.items[0].id",
    "response.body.items[*].id",
    "response.body.items[?id > `1`].id",
    "length(response.body.items)",
    "response.body.id != item.id",
    "response.body.id == item.id",
    "response.body.count > `2`",
    "response.body.count >= item.id",
    "response.body.name < 'm'",
    "response.body.flag == true",
    "response.body.zero == false",
    "response.body.one == true",
    "response.body.next_page != null",
    "response.body.missing == null",
    "response.body.has_more && response.body.next_page",
    "response.body.empty || 'default'",
    "response.body.empty_list || response.body.items",
    "!response.body.has_more",
    "!response.body.zero",
    "!response.body.empty",
    "response.body.count > `1` && !response.body.flag || item.id",
    "@",
    "`[1, 2]`",
    "'literal'",
    "response.status_code == `200`",
    "response.body.text.length",
    "response.body.items.id",
    "{a: item.id, b: response.body.name}",
    "[item.id, response.body.count]",
    "response.body | keys(@)",
    "response.body.nested.*",
]

SCOPES = [
    {
        "item": {"id": 1},
        "response": {
            "status_code": 200,
            "body": {
                "id": 1,
                "next_page": 2,
                "items": [{"id": 1}, {"id": 2}, {"id": 3}],
                "count": 3,
                "name": "alpha",
                "flag": True,
                "zero": 0,
                "one": 1,
                "has_more": True,
                "empty": "",
                "empty_list": [],
                "text": "abc",
                "nested": {"x": 1, "y": 2},
                "a": {"b": {"c": {"d": "deep"}}},
            },
        },
    },
    {
        "item": {"id": 2},
        "response": {
            "status_code": 404,
            "body": {"id": 1, "next_page": None, "items": [], "flag": False, "zero": False},
        },
    },
    {"item": None, "response": {"status_code": 200, "body": None}},
    {"item": 5, "response": {"status_code": 200, "body": "text"}},
    {"item": {"id": 1.0}, "response": {"body": {"id": 1, "count": "3", "name": 7}}},
    {"item": {"id": True}, "response": {"body": {"id": 1, "one": True}}},
    {},
]


def reference_search(expression: Expression, scope: Any) -> Any:
    """jmespath's own interpreter, failing as an expression fails (the oracle)."""
    try:
        return expression.parsed.search(scope)
    except EVALUATION_ERRORS as error:
        raise evaluation_error(expression.source, expression.path, error) from None


@pytest.mark.parametrize("source", EXPRESSIONS)
def test_compiled_expressions_answer_as_jmespath(source):
    expression = compile_expression(source, path="steps[0].extract.x")
    for scope in SCOPES:
        expected = _answer(lambda s: reference_search(expression, s), scope)
        assert _answer(expression.search, scope) == expected, (source, scope)


def _answer(search, scope):
    """The value and its type, or the error raised (a function's type error)."""
    try:
        value = search(scope)
    except Exception as error:
        return ("error", type(error).__name__, str(error))
    return ("value", type(value).__name__, value)


TEMPLATES = [
    "{config.base_url}/items/{item.id}",
    "{config.base_url}/items/{item.name}",
    "{config.base_url}/search/{item.query}?x=1",
    "{config.base_url}/{item.id}/{item.name}",
    "{item.id}",
    "{item}",
    "item-{item.id}",
    "{{literal}} {item.id}",
    "{config.prefix}{item.id}",
    "{config.host_only}{item.name}",
]
TEMPLATE_SCOPES = [
    {
        "config": {"base_url": "http://api.test:8080", "prefix": "http://h/p/", "host_only": "x"},
        "item": {"id": 7, "name": "a b/c?d", "query": "é&x"},
    },
    {
        "config": {"base_url": "http://api.test/v1", "prefix": "p", "host_only": "http://h"},
        "item": {"id": 1.5, "name": "ok-_.~", "query": ["a", 1]},
    },
    {"config": {"base_url": "http://api.test"}, "item": {"id": True, "name": None}},
    {"config": {"base_url": "http://api.test"}, "item": None},
    {
        "config": {"base_url": "http://api.test/"},
        "item": {"id": "x/y", "name": "50%", "query": "+"},
    },
]


def reference_render(template: Template, scope: Any, *, url: bool = False) -> Any:
    """The template rules written out plainly, over jmespath's interpreter."""
    expressions = template.expressions
    if len(template.segments) == 1 and expressions:
        value = reference_search(expressions[0], scope)
        if url and value is None:
            raise TemplateError(f"URL expression {{{expressions[0].source}}} is null")
        return stringify(value) if url else value
    text = ""
    for segment in template.segments:
        if isinstance(segment, str):
            text += segment
            continue
        value = reference_search(segment, scope)
        if value is None:
            raise TemplateError(
                f"expression {{{segment.source}}} in {template.source!r} is null; "
                "a null cannot be part of a longer string",
                fix="give a default with `||`, e.g. {" + segment.source + " || ''}",
            )
        piece = stringify(value)
        scheme = text.find("://")
        past_host = "/" in text if scheme < 0 else text.find("/", scheme + 3) >= 0
        text += quote(piece, safe="") if url and past_host else piece
    return text


def _outcome(render, scope):
    try:
        return ("ok", render(scope))
    except TemplateError as error:
        return ("error", str(error))


@pytest.mark.parametrize("source", TEMPLATES)
def test_compiled_templates_render_as_the_rules_say(source):
    template = compile_template(source, path="steps[0].url")
    for scope in TEMPLATE_SCOPES:
        expected = _outcome(lambda s: reference_render(template, s), scope)
        assert _outcome(template.render, scope) == expected
        expected_url = _outcome(lambda s: reference_render(template, s, url=True), scope)
        assert _outcome(template.render_url, scope) == expected_url


def test_compiled_values_leave_out_whole_nulls():
    value = compile_value(
        {"cursor": "{prev.body.next}", "limit": 10, "q": ["{item.id}", "x-{item.id}"]}
    )
    assert value.render({"prev": None, "item": {"id": 3}}) == {"limit": 10, "q": [3, "x-3"]}
    assert value.render({"prev": {"body": {"next": "c2"}}, "item": {"id": 4}}) == {
        "cursor": "c2",
        "limit": 10,
        "q": [4, "x-4"],
    }
    static = compile_value({"a": 1})
    assert static.render({}) == {"a": 1}


# -- one truthiness rule -------------------------------------------------------

VALUES = [None, False, True, 0, 0.0, -0.0, 1, 2.5, "", "x", "false", [], [0], [None], {}, {"a": 0}]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_one_truthiness_rule_for_conditions_and_operators(value):
    """``truthy`` (conditions) agrees with jmespath's ``&&``, ``||`` and ``!``, and the
    compiled operators agree with it."""
    scope = {"v": value}
    jmespath_true = jmespath.search("v && `true` || `false`", scope)
    assert truthy(value) is jmespath_true
    assert compile_expression("v && `true` || `false`").search(scope) is truthy(value)
    assert compile_expression("!v").search(scope) is (not truthy(value))
    assert compile_expression("!v").search(scope) is jmespath.search("!v", scope)


def test_zero_is_true_and_empty_things_are_false():
    assert [truthy(v) for v in (0, "", [], {}, None, False)] == [
        True,
        False,
        False,
        False,
        False,
        False,
    ]


# -- compiled once, when the plan loads -----------------------------------------

PLAN = {
    "key": "compiled",
    "config": {"base_url": "http://api.test"},
    "steps": [
        {
            "name": "items",
            "url": "{config.base_url}/items/{context.id}",
            "headers": {"X-Id": "{context.id}"},
            "while": "response.body.has_more && response.body.next != null",
            "extract": {"ids": "response.body.items[*].id", "size": "abs(response.body.next)"},
        }
    ],
}
PLAN_SCOPE = {
    "config": {"base_url": "http://api.test"},
    "context": {"id": "a b"},
    "response": {"body": {"has_more": True, "next": 2, "items": [{"id": 1}]}},
}


def test_field_paths_and_conditions_do_not_walk_jmespaths_tree(monkeypatch):
    """The common expressions are closures compiled at load time; only the rest
    (projections, functions …) go through jmespath's interpreter on each call."""
    step = load_plan(PLAN).steps[0]
    visits: list[str] = []
    real_visit = jmespath.visitor.TreeInterpreter.visit

    def counting_visit(self, node, value):
        visits.append(node["type"])
        return real_visit(self, node, value)

    monkeypatch.setattr(jmespath.visitor.TreeInterpreter, "visit", counting_visit)
    assert step.url.render_url(PLAN_SCOPE) == "http://api.test/items/a%20b"
    assert step.headers.render(PLAN_SCOPE) == {"X-Id": "a b"}
    assert step.while_.search(PLAN_SCOPE) is True
    assert visits == []
    assert step.extract["ids"].search(PLAN_SCOPE) == [1]
    assert visits  # the projection is jmespath's to walk


def test_a_compiled_plan_pickles_and_copies_with_working_expressions():
    plan = load_plan(PLAN)
    for clone in (pickle.loads(pickle.dumps(plan)), copy.deepcopy(plan)):
        step = clone.steps[0]
        assert step.url.render_url(PLAN_SCOPE) == "http://api.test/items/a%20b"
        assert step.while_.search(PLAN_SCOPE) is True
        assert step.extract["ids"].search(PLAN_SCOPE) == [1]
        assert step.while_.path == plan.steps[0].while_.path == "steps[0].while"
        with pytest.raises(ExpressionError, match=r"'abs\(response.body.next\)' \(steps"):
            step.extract["size"].search({"response": {"body": {"next": "x"}}})


def test_comparing_values_nested_too_deeply_is_an_expression_error():
    deep_a: list[Any] = []
    deep_b: list[Any] = []
    for _ in range(5000):
        deep_a, deep_b = [deep_a], [deep_b]
    expression = compile_expression("a == b", path="steps[0].while")
    with pytest.raises(ExpressionError, match="nested too deeply"):
        expression.search({"a": deep_a, "b": deep_b})


def test_jmespath_internals_are_used_only_by_the_expression_compiler():
    package = Path(__file__).resolve().parents[2] / "orchestra"
    private = re.compile(r"^\s*(from|import) jmespath\.(visitor|parser|lexer|ast)\b", re.M)
    users = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if private.search(path.read_text()) and path.parent.name != "expressions"
    )
    assert users == []
