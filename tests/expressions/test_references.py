"""What an expression reads from ``steps``: found by walking the JMESPath AST."""

import pytest

from orchestra.expressions import compile_expression, compile_template, scope_references


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("steps.a.body.id", ["a"]),
        ("steps.a", ["a"]),
        ('steps."with-dash".status', ["with-dash"]),
        ("steps.a.body.items[0].id", ["a"]),
        ("steps.a.body.items[*].id", ["a"]),
        ("steps.a[0]", ["a"]),
        ("length(steps.a.body) > `1` && steps.b.status == 'ok'", ["a", "b"]),
        ("steps.a || steps.b", ["a", "b"]),
        ("[steps.a.x, {y: steps.b.y}]", ["a", "b"]),
        ("not_null(steps.a.x, config.y)", ["a"]),
        ("steps | c", ["c"]),
        ("steps.a.body.items[?steps.z]", ["a"]),  # inside a filter: read from each element
        ("items[?steps.z]", []),
        ("sort_by(items, &steps.z)", []),
        ("steps.a.body | steps.w", ["a"]),  # right of a pipe: read from the left's result
        ("steps.*.status", []),
        ("steps[0]", []),
        ("config.steps.a", []),
        ("response.body", []),
        ("steps.a.x && steps.a.y", ["a"]),
    ],
)
def test_scope_references(expression, names):
    assert scope_references(compile_expression(expression)) == names


def test_other_scopes_and_templates():
    template = compile_template("{config.base_url}/{context.cursor}/{steps.a.body.id}")
    found = [scope_references(e, "context") for e in template.expressions]
    assert found == [[], ["cursor"], []]
    assert [scope_references(e) for e in template.expressions] == [[], [], ["a"]]
