"""Templates: typed whole expressions, escapes, nulls, URL encoding, caret errors."""

import pytest

from orchestra.errors import ExpressionSyntaxError, TemplateError
from orchestra.expressions import compile_expression, compile_template, compile_value

SCOPE = {
    "config": {"base_url": "http://api.test/v1", "limit": 50},
    "item": {"id": "a/b c", "n": 7, "ok": True, "tags": ["x", "y"]},
    "context": {},
    "response": {"body": {"has_more": True, "items": [1, 2]}},
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{config.limit}", 50),
        ("{item.tags}", ["x", "y"]),
        ("{item.ok}", True),
        ("limit={config.limit}", "limit=50"),
        ("{item.ok}-{item.n}", "true-7"),
        ("{{literal}} {item.n}", "{literal} 7"),
        ("no expressions", "no expressions"),
        ("{context.missing || 'zero'}", "zero"),
        ("list {item.tags}", 'list ["x","y"]'),
    ],
)
def test_render(template, expected):
    assert compile_template(template).render(SCOPE) == expected


def test_url_values_after_the_host_are_percent_encoded():
    template = compile_template("{config.base_url}/items/{item.id}?q={item.id}")
    assert template.render_url(SCOPE) == "http://api.test/v1/items/a%2Fb%20c?q=a%2Fb%20c"


def test_whole_url_expression_is_not_encoded():
    template = compile_template("{config.base_url}")
    assert template.render_url(SCOPE) == "http://api.test/v1"


def test_null_inside_a_longer_string_is_an_error_naming_the_expression():
    template = compile_template("/items/{context.cursor}", path="steps[0].url")
    with pytest.raises(TemplateError) as info:
        template.render(SCOPE)
    assert "context.cursor" in str(info.value)
    assert "None" not in str(info.value).replace("None ", "")


def test_whole_expression_null_leaves_the_field_out():
    value = compile_value({"cursor": "{context.cursor}", "limit": "{config.limit}", "s": "x"})
    assert value.render(SCOPE) == {"limit": 50, "s": "x"}


def test_static_values_are_returned_untouched():
    value = compile_value({"a": [1, {"b": "c"}]})
    assert value.is_static
    assert value.render(SCOPE) == {"a": [1, {"b": "c"}]}


def test_nested_braces_inside_an_expression():
    template = compile_template("{response.body.{n: has_more}}")
    assert template.render(SCOPE) == {"n": True}


def test_bare_true_false_null_are_literals():
    assert compile_expression("response.body.has_more == true").search(SCOPE) is True
    assert compile_expression("response.body.missing == null").search(SCOPE) is True
    assert compile_expression('response.body."true"').search(SCOPE) is None


@pytest.mark.parametrize(
    ("template", "column", "reason"),
    [
        ("{config.limit ||}", 16, "ends too early"),
        ("x {config", 2, "never closed"),
        ("{config.$x}", 8, "Unknown token"),
        ("{}", 1, "empty"),
    ],
)
def test_syntax_errors_point_at_the_column(template, column, reason):
    with pytest.raises(ExpressionSyntaxError) as info:
        compile_template(template, path="steps[2].url")
    error = info.value
    assert error.column == column
    assert reason in error.reason
    text = str(error)
    assert "steps[2].url" in text
    lines = text.splitlines()
    shown = next(i for i, line in enumerate(lines) if line.strip() == template.strip())
    caret_line = lines[shown + 1]
    assert caret_line.index("^") - lines[shown].index(template[0]) == column


def test_escaped_braces_in_static_values_are_unescaped():
    value = compile_value({"q": "{{literal}}", "n": ["a {{b}}"]})
    assert value.is_static
    assert value.render(SCOPE) == {"q": "{literal}", "n": ["a {b}"]}
