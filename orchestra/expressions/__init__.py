"""JMESPath expressions and ``{…}`` templates, compiled when a plan loads."""

from orchestra.expressions._compile import Expression, compile_expression
from orchestra.expressions._evaluator import truthy
from orchestra.expressions._paths import key_names, path_segments, value_at
from orchestra.expressions._references import scope_references
from orchestra.expressions._template import (
    Template,
    ValueTemplate,
    compile_template,
    compile_value,
    past_host,
    stringify,
)

__all__ = [
    "Expression",
    "Template",
    "ValueTemplate",
    "compile_expression",
    "compile_template",
    "compile_value",
    "key_names",
    "past_host",
    "path_segments",
    "scope_references",
    "stringify",
    "truthy",
    "value_at",
]
