"""JMESPath function names, arities and ``&`` references are checked when a plan loads.

What load time can see is an :class:`ExpressionSyntaxError` with the caret
under the function's name and a fix; what only the data can show (a type) is
a step error at run time (``tests/engine/test_expression_errors.py``).
"""

from __future__ import annotations

import pickle

import pytest

from orchestra import load_plan
from orchestra.errors import ExpressionSyntaxError
from orchestra.expressions import compile_expression, compile_template

# (expression, caret column, fragments of the message and fix)
BAD_CALLS = [
    ("abs(a, `1`)", 0, ["abs() takes 1 argument, got 2", "call it as abs(number)"]),
    ("lenght(items)", 0, ["unknown function lenght()", "did you mean 'length'?"]),
    ("frobnicate(x)", 0, ["unknown function frobnicate()", "the functions are abs, avg"]),
    ("a.b && length(x, y)", 7, ["length() takes 1 argument, got 2"]),
    ("length()", 0, ["length() takes 1 argument, got 0"]),
    ("merge()", 0, ["merge() takes at least 1 argument, got 0", "merge(object...)"]),
    ("sort_by(items, price)", 0, ["sort_by() needs an expression reference as argument 2"]),
    ("length(&a)", 0, ["length() does not take an expression reference", "remove the '&'"]),
    ("items[?starts_with(name)]", 7, ["starts_with() takes 2 arguments, got 1"]),
    ("items[*].max_by(@)", 9, ["max_by() takes 2 arguments, got 1"]),
    ("to_string(abs(a, b))", 10, ["abs() takes 1 argument, got 2"]),
    ("flag == true && abs(a, b)", 16, ["abs() takes 1 argument"]),  # bare `true` is rewritten
    ("&response.body", 0, ["an expression reference (&…) outside a function call"]),
    ("[a, &b]", 4, ["outside a function call", "sort_by, max_by, min_by or map"]),
]

GOOD_CALLS = [
    "length(items)",
    "not_null(a, b, c, d)",
    "merge(a, b, c)",
    "sort_by(items, &price)[-1].name",
    "map(&id, items)",
    "max_by(items, &to_number(price))",
    "contains(name, '(') && length([a, b]) > `1`",
    "join(', ', items[*].name)",
    "items[?length(tags) > `0`] | length(@)",
    "{n: length(items), m: abs(x)}",
    "a && b || c",
    "sort_by(items, &price) | [0]",
]


@pytest.mark.parametrize(("text", "column", "fragments"), BAD_CALLS)
def test_bad_calls_are_rejected_with_a_caret_under_the_function(text, column, fragments):
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression(text, path="steps[0].while")
    error = caught.value
    assert error.column == column
    assert error.path == "steps[0].while"
    message = str(error)
    assert "\n      " + " " * column + "^" in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize("text", GOOD_CALLS)
def test_good_calls_load(text):
    assert compile_expression(text).source == text


def test_the_caret_counts_from_the_whole_template():
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_template("{config.base_url}/items/{lenght(item)}", path="steps[0].url")
    assert caught.value.column == len("{config.base_url}/items/{")
    assert "did you mean 'length'?" in str(caught.value)


def test_the_error_pickles_with_its_fix():
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression("lenght(x)", path="p")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert str(copy) == str(caught.value)
    assert copy.fix == caught.value.fix


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("extract", {"n": "abs(a, b)"}, "steps[0].extract.n"),
        ("while", "lenght(response.body.items) > `0`", "steps[0].while"),
        ("url", "http://x/{lenght(item)}", "steps[0].url"),
        ("expect", {"that": ["sort_by(a, b)"]}, "steps[0].expect.that[0]"),
    ],
)
def test_a_plan_with_a_bad_call_does_not_load(field, value, where):
    plan = {"key": "p", "steps": [{"name": "s", "url": "http://x/", field: value}]}
    with pytest.raises(ExpressionSyntaxError) as caught:
        load_plan(plan)
    assert where in str(caught.value)
