"""Finding what an expression reads from the scope, by walking its JMESPath AST.

``steps.fetch_user.body.id`` reads ``steps`` → ``fetch_user``; so do
``length(steps.fetch_user.body)``, ``steps.fetch_user || `{}` `` and
``steps | fetch_user``. Inside a projection or filter (``items[?steps.x]``)
the field is read from each element, not from the scope, so it is no
reference. Only references that JMESPath resolves against the scope's root
are reported, which is what plan validation needs to check ``steps.<name>``.
"""

from __future__ import annotations

from typing import Any

from orchestra.expressions._compile import Expression

# Node types whose children are all evaluated against the same current node.
_SAME_NODE = frozenset(
    {
        "function_expression",
        "comparator",
        "and_expression",
        "or_expression",
        "not_expression",
        "multi_select_list",
        "multi_select_dict",
        "key_val_pair",
    }
)
# Node types whose first child is evaluated against the current node and the
# rest against its result (or against each element of it).
_FIRST_CHILD = frozenset(
    {
        "subexpression",
        "index_expression",
        "projection",
        "value_projection",
        "filter_projection",
        "flatten",
        "pipe",
    }
)
_CHAINS = frozenset({"subexpression", "pipe", "index_expression", "projection"})


def _first_field(node: dict[str, Any]) -> str | None:
    """The field a chain starts with: ``x`` for ``x``, ``x[0]``, ``x.y``, ``x[*].y``."""
    while True:
        if node["type"] == "field":
            return node["value"]
        if node["type"] in _CHAINS | {"filter_projection", "flatten"} and node["children"]:
            node = node["children"][0]
            continue
        return None


def _walk(node: dict[str, Any], scope_name: str, found: list[str]) -> None:
    """Collect ``scope_name.<x>`` for every chain evaluated at the scope's root."""
    kind = node["type"]
    children = node.get("children") or []
    if kind in ("subexpression", "pipe") and len(children) >= 2:
        head = children[0]
        if head["type"] == "field" and head["value"] == scope_name:
            name = _first_field(children[1])
            if name is not None:
                found.append(name)
    if kind in _SAME_NODE:
        for child in children:
            _walk(child, scope_name, found)
    elif kind in _FIRST_CHILD and children:
        _walk(children[0], scope_name, found)


def scope_references(expression: Expression, scope_name: str = "steps") -> list[str]:
    """Names ``x`` of every ``<scope_name>.x`` the expression reads from the scope root.

    >>> from orchestra.expressions import compile_expression
    >>> scope_references(compile_expression("steps.a.body.id || steps.b.status"))
    ['a', 'b']
    """
    found: list[str] = []
    _walk(expression.parsed.parsed, scope_name, found)
    return list(dict.fromkeys(found))
