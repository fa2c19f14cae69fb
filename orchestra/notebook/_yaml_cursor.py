"""Where the cursor is in the YAML of a ``%%flow`` cell body, while it is being typed.

A half-written cell rarely parses, so the place is read from indentation the
way YAML itself nests block mappings: walking up from the cursor's line, the
nearest key less indented than the cursor's mapping is its parent (a ``- ``
list item bounds the mapping it opens). :func:`place` returns the keys from
the body's top to the mapping holding the cursor, the keys already written in
that mapping (with their one-line values, to narrow a union such as
``type: offset``), and whether the cursor is at a key or in a field's value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

_KEY_LINE = re.compile(r"^( *)((?:- +)*)([A-Za-z_][\w-]*) *:(?: +(.*)|$)")
_AT_KEY = re.compile(r"( *)((?:- +)*)([A-Za-z_][\w-]*)?")
_PLAN_TOP = re.compile(r"^(steps|step) *:")


@dataclass
class Place:
    """The cursor's place in a body: ``key`` is None at a key, else the field being valued."""

    path: list[str] = field(default_factory=list)
    siblings: dict[str, str] = field(default_factory=dict)
    key: str | None = None
    value: str = ""  # the value written so far before the cursor (after ``key:``)
    whole_plan: bool = False


def _key_line(text: str) -> tuple[int, int | None, str, str] | None:
    """``(key column, dash column or None, key, one-line value)`` of a ``key: …`` line."""
    match = _KEY_LINE.match(text)
    if match is None or text.lstrip().startswith("#"):
        return None
    indent, dashes, key, value = match.groups()
    dash = len(indent) if dashes else None
    return len(indent) + len(dashes), dash, key, _scalar(value or "")


def _scalar(text: str) -> str:
    text = text.split(" #")[0].strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def place(lines: Sequence[str], row: int, column: int) -> Place:
    """The place of the cursor at ``column`` of ``lines[row]`` (lines of the body only)."""
    before = lines[row][:column]
    found = Place(whole_plan=any(_PLAN_TOP.match(line) for line in lines))
    at_key = _AT_KEY.fullmatch(before)
    if at_key is not None:
        indent, dashes = at_key.group(1), at_key.group(2)
        col, dash = len(indent) + len(dashes), (len(indent) if dashes else None)
    else:
        parsed = _key_line(before)
        if parsed is None:  # inside a multi-line value or a list of scalars
            col, dash = len(before) - len(before.lstrip(" ")), None
            found.key = ""
        else:
            col, dash, found.key, _ = parsed
            match = _KEY_LINE.match(before)
            found.value = (match.group(4) if match else None) or ""
    _siblings_below(lines, row, col, dash, found)
    _walk_up(lines, row, col, dash, found)
    return found


def _siblings_below(lines: Sequence[str], row: int, col: int, dash: int | None, at: Place) -> None:
    for text in lines[row + 1 :]:
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        parsed = _key_line(text)
        indent = len(text) - len(text.lstrip(" "))
        if parsed is None:
            if indent < col:
                return
            continue
        kcol, its_dash, key, value = parsed
        if kcol < col or (its_dash is not None and its_dash < col):
            return  # the mapping ends: a parent's key, or the next item of its list
        if kcol == col:
            at.siblings.setdefault(key, value)


def _walk_up(lines: Sequence[str], row: int, col: int, dash: int | None, at: Place) -> None:
    """Collect the siblings above the cursor and the parent keys up to the body's top."""
    collecting = True
    for text in reversed(lines[:row]):
        parsed = _key_line(text)
        if parsed is None:
            continue
        kcol, its_dash, key, value = parsed
        if dash is None and kcol == col:
            if collecting:
                at.siblings.setdefault(key, value)
            if its_dash is not None:
                dash = its_dash  # this line opens the list item that holds the mapping
            continue
        if dash is None and kcol > col:
            continue
        parent = (
            kcol < col if dash is None else (kcol < dash or (kcol == dash and its_dash is None))
        )
        if not parent:
            continue
        at.path.insert(0, key)
        collecting = False
        col, dash = kcol, its_dash
