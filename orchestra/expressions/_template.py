"""``{…}`` templates: JMESPath expressions inside strings and JSON values.

* ``"{config.base_url}/users"`` renders to a string;
* ``"{response.body.items}"`` (exactly one expression) keeps the value's type;
* ``{{`` and ``}}`` are literal braces;
* a null inside a longer string is an error, never the text "None";
* in URLs, values substituted after the host are percent-encoded.

Templates are compiled once, when the plan loads; rendering only evaluates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson

from orchestra.errors import ExpressionSyntaxError, TemplateError
from orchestra.expressions._compile import Expression, compile_expression

_QUOTES = {"'": "'", '"': '"', "`": "`"}


def _scan_expression_end(text: str, start: int, path: str) -> int:
    """Index of the ``}`` closing the expression opened at ``text[start] == '{'``."""
    depth = 0
    index = start
    quote_char: str | None = None
    while index < len(text):
        char = text[index]
        if quote_char:
            if char == "\\":
                index += 2
                continue
            if char == quote_char:
                quote_char = None
        elif char in _QUOTES:
            quote_char = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise ExpressionSyntaxError(
        path, text, start, "'{' is never closed (write '{{' for a literal brace)"
    )


def _stringify(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    try:
        if isinstance(value, int | float):
            return repr(value) if isinstance(value, float) else str(value)
        return orjson.dumps(value).decode()
    except (TypeError, ValueError):  # orjson: integers beyond 64 bits; str: beyond 4300 digits
        return _stringify_slowly(value)


def _stringify_slowly(value: Any) -> str:
    """JSON text for what orjson refuses (an integer beyond 64 bits), or a TemplateError."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TemplateError(
            f"a value cannot be written as text: {error}",
            fix="select a smaller part of the value, or convert it with to_string()",
        ) from None


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled string template. ``segments`` alternate literals and expressions.

    ``whole`` is the expression when the template is exactly one ``{…}`` (its
    value keeps its type), else None.
    """

    source: str
    segments: tuple[str | Expression, ...]
    path: str = ""
    whole: Expression | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        only = self.segments[0] if len(self.segments) == 1 else None
        object.__setattr__(self, "whole", only if isinstance(only, Expression) else None)

    @property
    def is_static(self) -> bool:
        return all(isinstance(s, str) for s in self.segments)

    @property
    def expressions(self) -> list[Expression]:
        return [s for s in self.segments if isinstance(s, Expression)]

    def render(self, scope: Mapping[str, Any]) -> Any:
        """Evaluate: a single-expression template keeps its type, others give a string."""
        whole = self.whole
        if whole is not None:
            return whole.search(scope)
        return "".join(self._pieces(scope, encode_after_host=False))

    def render_url(self, scope: Mapping[str, Any]) -> str:
        """Render as a URL, percent-encoding values substituted into path and query."""
        whole = self.whole
        if whole is not None:
            value = whole.search(scope)
            if value is None:
                raise TemplateError(f"URL expression {{{whole.source}}} is null")
            return _stringify(value)
        return "".join(self._pieces(scope, encode_after_host=True))

    def _pieces(self, scope: Mapping[str, Any], *, encode_after_host: bool) -> list[str]:
        pieces: list[str] = []
        for segment in self.segments:
            if isinstance(segment, str):
                pieces.append(segment)
                continue
            value = segment.search(scope)
            if value is None:
                raise TemplateError(
                    f"expression {{{segment.source}}} in {self.source!r} is null; "
                    "a null cannot be part of a longer string",
                    fix="give a default with `||`, e.g. {" + segment.source + " || ''}",
                )
            text = _stringify(value)
            if encode_after_host and not _UNRESERVED(text) and past_host("".join(pieces)):
                text = quote(text, safe="")
            pieces.append(text)
        return pieces

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch
"""Text that ``quote(text, safe="")`` leaves as it is (checked first: it is the common case)."""


def past_host(prefix: str) -> bool:
    """True when ``prefix`` already holds the scheme, host and the first path slash."""
    scheme = prefix.find("://")
    if scheme < 0:
        return "/" in prefix
    return prefix.find("/", scheme + 3) >= 0


def compile_template(text: str, *, path: str = "") -> Template:
    """Compile a ``{…}`` template string; syntax errors point at the column."""
    segments: list[str | Expression] = []
    literal: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "{" and text.startswith("{{", index):
            literal.append("{")
            index += 2
        elif char == "}" and text.startswith("}}", index):
            literal.append("}")
            index += 2
        elif char == "{":
            end = _scan_expression_end(text, index, path)
            if literal:
                segments.append("".join(literal))
                literal = []
            inner = text[index + 1 : end]
            segments.append(compile_expression(inner, path=path, offset=index + 1, shown=text))
            index = end + 1
        else:
            literal.append(char)
            index += 1
    if literal:
        segments.append("".join(literal))
    return Template(text, tuple(segments), path)


@dataclass(frozen=True, slots=True)
class ValueTemplate:
    """A JSON value (dict, list, scalar) with templates inside its strings.

    Rendering a mapping leaves out keys whose whole value is one expression
    that yields null (the first page of a cursor loop sends no cursor).
    """

    compiled: Any
    is_static: bool

    def render(self, scope: Mapping[str, Any]) -> Any:
        if self.is_static:
            return self.compiled
        return render_tree(self.compiled, scope)

    def templates(self) -> list[Template]:
        """Every template inside the value (each knows its plan path)."""
        found: list[Template] = []
        if not self.is_static:
            _collect_templates(self.compiled, found)
        return found


def _collect_templates(node: Any, found: list[Template]) -> None:
    if isinstance(node, Template):
        found.append(node)
    elif isinstance(node, dict):
        for child in node.values():
            _collect_templates(child, found)
    elif isinstance(node, list):
        for child in node:
            _collect_templates(child, found)


def render_tree(node: Any, scope: Mapping[str, Any]) -> Any:
    """Render a tree of dicts/lists with :class:`Template` leaves.

    A mapping leaves out keys whose whole value is one expression yielding null.
    """
    if isinstance(node, Template):
        return node.render(scope)
    if isinstance(node, dict):
        out = {}
        for key, child in node.items():
            value = render_tree(child, scope)
            if value is None and isinstance(child, Template) and child.whole is not None:
                continue  # a whole-expression null leaves the field out
            out[key] = value
        return out
    if isinstance(node, list):
        return [render_tree(child, scope) for child in node]
    return node


def compile_value(value: Any, *, path: str = "") -> ValueTemplate:
    """Compile every string inside a JSON value as a template."""
    compiled, dynamic = _compile_node(value, path)
    return ValueTemplate(compiled, not dynamic)  # static strings are unescaped ({{ → {)


def _compile_node(node: Any, path: str) -> tuple[Any, bool]:
    if isinstance(node, str):
        template = compile_template(node, path=path)
        if template.is_static:
            return "".join(template.segments), False  # type: ignore[arg-type]
        return template, True
    if isinstance(node, dict):
        out, dynamic = {}, False
        for key, child in node.items():
            out[key], child_dynamic = _compile_node(child, f"{path}.{key}" if path else key)
            dynamic = dynamic or child_dynamic
        return out, dynamic
    if isinstance(node, list):
        items, dynamic = [], False
        for i, child in enumerate(node):
            compiled, child_dynamic = _compile_node(child, f"{path}[{i}]")
            items.append(compiled)
            dynamic = dynamic or child_dynamic
        return items, dynamic
    return node, False


def stringify(value: Any) -> str:
    """How a template value is written into a string (JSON for lists and objects)."""
    return _stringify(value)
