"""Reading plan text safely: bytes to text, then JSON or YAML, within fixed budgets.

A plan file may be written to hurt (a YAML "billion laughs", a recursive alias,
JSON nested a hundred thousand levels deep, a number of a million digits). Each
is refused with a :class:`PlanError` giving the position and a fix, quickly and
in bounded memory, before anything is built from it:

* text must be UTF-8 (a UTF-8 byte-order mark is accepted); a UTF-16/UTF-32
  file is refused with "save the file as UTF-8";
* containers nest at most :data:`MAX_NESTING` levels (JSON and YAML, aliases
  expanded);
* YAML aliases are used at most :data:`MAX_ALIASES` times, a document that uses
  them expands to at most :data:`MAX_EXPANDED_NODES` nodes, and an alias inside
  its own anchor is refused;
* integers have at most Python's int-to-text limit of digits (4300);
* YAML tags build JSON values only: ``!!python/…``, ``!!binary``, ``!!set``,
  ``!!omap`` and ``!!pairs`` are refused.
"""

from __future__ import annotations

import codecs
import json
import math
import re
import sys
from typing import Any, NoReturn

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, SequenceNode

from orchestra.errors import PlanError, PlanIssue

MAX_NESTING = 100
"""Deepest nesting of objects/arrays in a plan (YAML aliases expanded)."""

MAX_ALIASES = 1_000
"""Most uses of YAML aliases (``*name``) in one plan."""

MAX_EXPANDED_NODES = 100_000
"""Most nodes a YAML plan that uses aliases may expand to (each alias a full copy)."""

MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300
"""Most digits of an integer literal (Python's limit for turning integers into text)."""

_MAX_INT_BITS = int(MAX_INT_DIGITS * math.log2(10))

_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_SAVE_AS_UTF8 = "save the file as UTF-8 (an editor's 'Save with encoding' or iconv -t UTF-8)"
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_LONG_INTEGER = re.compile(rf"\d{{{MAX_INT_DIGITS + 1},}}")


class _Refused(Exception):
    """A budget or rule of this module was broken at ``(line, column)`` (1-based)."""

    def __init__(self, line: int, column: int, message: str, fix: str):
        self.line, self.column, self.message, self.fix = line, column, message, fix


def _refuse(source: str | None, message: str, fix: str) -> NoReturn:
    raise PlanError(PlanIssue("", message, fix), source=source)


def _refused(error: _Refused, source: str | None) -> NoReturn:
    _refuse(source, f"line {error.line}, column {error.column}: {error.message}", error.fix)


def decode_plan(data: bytes, *, source: str | None = None) -> str:
    """Plan file bytes as text: UTF-8 (with or without a byte-order mark), else a PlanError."""
    for bom, name in _WIDE_BOMS:
        if data.startswith(bom):
            _refuse(
                source,
                f"the file is {name} (it starts with a {name} byte-order mark); "
                "plans are read as UTF-8",
                _SAVE_AS_UTF8,
            )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        bad = data[error.start : error.end].hex(" ")
        _refuse(
            source,
            f"line {line}, column {column} (byte {error.start} of the file): "
            f"bytes {bad} are not UTF-8",
            _SAVE_AS_UTF8,
        )
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        _refuse(
            source,
            f"line {line}: the file holds NUL bytes (is it UTF-16 without a byte-order mark, "
            "or not a text file?)",
            _SAVE_AS_UTF8,
        )
    return text


def parse_text(text: str, *, source: str | None = None) -> Any:
    """Parse JSON or YAML text (YAML is a superset of JSON, JSON is tried first)."""
    text = text.removeprefix("\ufeff")
    try:
        data = json.loads(text)
    except RecursionError:
        _refused(_json_too_deep(text), source)
    except ValueError as error:
        if "integer string conversion" in str(error):
            _refused(_json_long_integer(text), source)
    else:
        if _deeper_than(data, MAX_NESTING):
            _refused(_json_too_deep(text), source)
        return data
    return _parse_yaml(text, source)


def _parse_yaml(text: str, source: str | None) -> Any:
    loader = None
    try:
        loader = _PlanLoader(text)  # (the reader checks every character here)
        return loader.get_single_data()
    except _Refused as error:
        _refused(error, source)
    except ConstructorError as error:  # a tag: !!python/…, !!binary …
        _refuse(source, f"{_where(error, text)}: {_problem(error)}",
                "plans hold JSON values only: remove the tag")  # fmt: skip
    except yaml.YAMLError as error:
        _refuse(source, f"not valid JSON or YAML at {_where(error, text)}: {_problem(error)}",
                "fix the YAML syntax at that position")  # fmt: skip
    except RecursionError:  # a budget above should stop this first; never a traceback
        _refuse(source, "the document is nested too deeply",
                f"nest objects and arrays at most {MAX_NESTING} levels deep")  # fmt: skip
    finally:
        if loader is not None:
            loader.dispose()


def _where(error: yaml.YAMLError, text: str) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}"
    position = getattr(error, "position", None)  # a ReaderError: a character YAML refuses
    if isinstance(position, int):
        line = text.count("\n", 0, position) + 1
        return f"line {line}, column {position - (text.rfind(chr(10), 0, position) + 1) + 1}"
    return "unknown position"


def _problem(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.reader.ReaderError):
        return f"character {error.character!r} is not allowed in YAML"
    return getattr(error, "problem", None) or str(error)


def _deeper_than(data: Any, limit: int) -> bool:
    """True when lists/dicts in ``data`` nest more than ``limit`` levels (no recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _json_too_deep(text: str) -> _Refused:
    depth = 0
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return _Refused(*_position(text, match.start()), *_TOO_DEEP)
        elif token in "]}":
            depth -= 1
    return _Refused(1, 1, *_TOO_DEEP)


_TOO_DEEP = (
    f"objects and arrays nest more than {MAX_NESTING} levels deep here",
    f"nest at most {MAX_NESTING} levels (move deep data into a file the plan reads)",
)


def _json_long_integer(text: str) -> _Refused:
    match = _LONG_INTEGER.search(text)
    offset = match.start() if match else 0
    return _Refused(*_position(text, offset), *_LONG_INTEGER_PROBLEM)


_LONG_INTEGER_PROBLEM = (
    f"an integer with more than {MAX_INT_DIGITS} digits",
    "write it as a string (in quotes) if it is an identifier",
)


def _mark(node_or_event: Any) -> tuple[int, int]:
    mark = node_or_event.start_mark
    return mark.line + 1, mark.column + 1


class _PlanLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` within budgets: nesting, alias uses and expansion, no cycles."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.depth = 0
        self.alias_uses = 0
        self.open_anchors: set[str] = set()

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self.alias_uses += 1
            if event.anchor in self.open_anchors:
                name = event.anchor
                raise _Refused(
                    *_mark(event),
                    f"alias *{name} is inside its own anchor &{name} (a recursive document)",
                    "copy the values instead of referring to the enclosing anchor",
                )
            if self.alias_uses > MAX_ALIASES:
                raise _Refused(
                    *_mark(event),
                    f"more than {MAX_ALIASES} uses of YAML aliases",
                    "write the values out, or use fewer aliases",
                )
            return super().compose_node(parent, index)
        if not isinstance(event, yaml.CollectionStartEvent):
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _Refused(*_mark(event), *_TOO_DEEP)
        anchor = event.anchor
        if anchor is not None:
            self.open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1
            self.open_anchors.discard(anchor)

    def fetch_flow_collection_start(self, token_class: type) -> None:
        """Refuse deep ``[[[…`` while scanning: the scanner looks ~1000 tokens ahead at a
        cost that grows with the flow level, long before the composer sees the depth."""
        if self.flow_level >= MAX_NESTING:
            mark = self.get_mark()
            raise _Refused(mark.line + 1, mark.column + 1, *_TOO_DEEP)
        super().fetch_flow_collection_start(token_class)

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        if self.alias_uses:
            _Expansion().measure(node, 1)
        return self.construct_document(node)

    def construct_yaml_int(self, node: Node) -> int:
        try:
            value = super().construct_yaml_int(node)
        except ValueError:
            raise _Refused(*_mark(node), *_LONG_INTEGER_PROBLEM) from None
        if value.bit_length() > _MAX_INT_BITS:
            raise _Refused(*_mark(node), *_LONG_INTEGER_PROBLEM)
        return value

    def construct_not_json(self, node: Node) -> NoReturn:
        raise ConstructorError(
            None, None, f"the tag {node.tag!r} builds no JSON value", node.start_mark
        )


_PlanLoader.add_constructor("tag:yaml.org,2002:int", _PlanLoader.construct_yaml_int)
for _tag in ("binary", "set", "omap", "pairs"):
    _PlanLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _PlanLoader.construct_not_json)


class _Expansion:
    """Size and height of a composed YAML graph with aliases expanded, memoised per node."""

    def __init__(self) -> None:
        self.known: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, height)

    def measure(self, node: Node, depth: int) -> tuple[int, int]:
        known = self.known.get(id(node))
        if known is None:
            known = self.known[id(node)] = self._measure(node, depth)
        if depth + known[1] - 1 > MAX_NESTING:
            raise _Refused(*_mark(node), *_TOO_DEEP)
        return known

    def _measure(self, node: Node, depth: int) -> tuple[int, int]:
        if isinstance(node, SequenceNode):
            children: list[Node] = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            return 1, 0
        if depth > MAX_NESTING:
            raise _Refused(*_mark(node), *_TOO_DEEP)
        size, height = 1, 0
        for child in children:
            child_size, child_height = self.measure(child, depth + 1)
            size += child_size
            height = max(height, child_height)
            if size > MAX_EXPANDED_NODES:
                raise _Refused(
                    *_mark(node),
                    f"YAML aliases here expand the plan beyond {MAX_EXPANDED_NODES:,} values "
                    "(a 'billion laughs' document?)",
                    "write the values out, or nest fewer aliases inside each other",
                )
        return size, height + 1
