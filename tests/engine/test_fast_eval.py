"""The hot path's compiled expressions and templates (``_fast.py``) answer exactly as
``Expression.search`` and ``Template.render`` do."""

from __future__ import annotations

import pytest

from orchestra.engine._fast import FastTemplate, FastValue, compile_evaluator
from orchestra.errors import TemplateError
from orchestra.expressions import compile_expression, compile_template, compile_value

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


@pytest.mark.parametrize("source", EXPRESSIONS)
def test_compiled_expressions_answer_as_jmespath(source):
    expression = compile_expression(source)
    evaluate = compile_evaluator(expression)
    for scope in SCOPES:
        expected = _answer(expression.search, scope)
        assert _answer(evaluate, scope) == expected, (source, scope)


def _answer(search, scope):
    """The value and its type, or the error jmespath raised (a function's type error)."""
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
]


def _outcome(render, scope):
    try:
        return ("ok", render(scope))
    except TemplateError as error:
        return ("error", str(error))


@pytest.mark.parametrize("source", TEMPLATES)
def test_compiled_templates_render_as_templates_do(source):
    template = compile_template(source, path="steps[0].url")
    fast = FastTemplate(template, compile_evaluator)
    for scope in TEMPLATE_SCOPES:
        assert _outcome(fast.render, scope) == _outcome(template.render, scope)
        assert _outcome(fast.render_url, scope) == _outcome(template.render_url, scope)


def test_compiled_values_leave_out_whole_nulls_as_value_templates_do():
    value = compile_value(
        {"cursor": "{prev.body.next}", "limit": 10, "q": ["{item.id}", "x-{item.id}"]}
    )
    fast = FastValue(value, compile_evaluator)
    for scope in (
        {"prev": None, "item": {"id": 3}},
        {"prev": {"body": {"next": "c2"}}, "item": {"id": 4}},
    ):
        assert fast.render(scope) == value.render(scope)
    static = compile_value({"a": 1})
    assert FastValue(static, compile_evaluator).render({}) == {"a": 1}
