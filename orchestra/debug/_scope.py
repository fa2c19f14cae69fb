"""The scope of a paused step: reading it masked, editing it, evaluating JMESPath on it.

A step's scope holds ``config``, ``auth``, ``context``, ``steps`` (the run's
own objects, shared by every step) and, depending on where it is paused,
``item``, ``parent``, ``prev`` and ``response`` (this step execution's).

Editing (:func:`assign`, :func:`delete`):

* ``context``, ``config`` and ``steps`` are run-wide: an edit changes what
  every later request of the run sees. Before the first nested edit of an
  entry (``steps.listing.body…``) that entry is deep-copied, so objects that
  are shared with earlier results (a notebook's earlier cells) never change.
* ``item``, ``parent``, ``prev`` and ``response`` belong to the paused step
  execution: they are deep-copied before the first edit, so the parent's
  response body (where an item came from) never changes. At a step stop the
  edit holds for the whole execution, at a page stop for that request, at a
  response stop for that response's checks and extraction.
* ``page_state`` (and ``next_url``) is the paused step execution's paging
  state: at its step stop the first page's, at a page or response stop the
  state later pages are computed from — an edit there (one field or the
  whole object) carries to the next pages.
* ``auth`` is read-only (tokens are the authenticator's).

The notebook's ``ScopeView`` reads through these functions and masks what it shows.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from orchestra.expressions import compile_expression

RUN_WIDE = ("config", "context", "steps")
LOCAL = ("item", "parent", "prev", "response")
READ_ONLY = ("auth",)

Key = str | int
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


class ScopeError(ValueError):
    """An edit or a path that does not fit the paused scope."""


def parse_path(text: str) -> tuple[Key, ...]:
    """``context.page`` → ``("context", "page")``; ``item.tags[0]`` → ``("item", "tags", 0)``."""
    text = text.strip()
    keys: list[Key] = []
    position = 0
    while position < len(text):
        if text[position] == ".":
            position += 1
            continue
        match = _SEGMENT.match(text, position)
        if match is None:
            raise ScopeError(f"cannot read the path {text!r} at column {position + 1}")
        name, index = match.groups()
        keys.append(int(index) if index is not None else name)
        position = match.end()
    if not keys or not isinstance(keys[0], str):
        raise ScopeError(f"a path starts with a scope name, e.g. context.page (got {text!r})")
    return tuple(keys)


def show_path(path: tuple[Key, ...]) -> str:
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
    return out


def child(node: Any, key: Key, path: tuple[Key, ...]) -> Any:
    """``node[key]``, or a :class:`ScopeError` naming ``path``."""
    try:
        if isinstance(node, list) and isinstance(key, str) and key.lstrip("-").isdigit():
            key = int(key)
        return node[key]
    except (KeyError, IndexError, TypeError):
        raise ScopeError(f"{show_path(path)} is not in the scope here") from None


def _container(
    scope: dict[str, Any], path: tuple[Key, ...], local: set[Key], shared: set[tuple[Key, Key]]
) -> tuple[Any, Key]:
    """The live container of the last key of ``path`` (copy-on-write applied) and that key.

    ``local`` names the step-local scope names already copied for this stop,
    ``shared`` the run-wide entries (``("steps", "listing")``) already copied in this run.
    """
    top = path[0]
    if top in READ_ONLY:
        raise ScopeError(f"{top} is read-only at a pause")
    if top not in scope:
        names = ", ".join(sorted(scope))
        raise ScopeError(f"{top!r} is not in the scope of this stop (it has {names})")
    if len(path) == 1:
        return scope, top
    if top in LOCAL and top not in local:
        scope[top] = copy.deepcopy(scope[top])
        local.add(top)
    if top in RUN_WIDE and len(path) > 2 and (top, path[1]) not in shared:
        entries = scope[top]
        if isinstance(entries, dict) and path[1] in entries:
            entries[path[1]] = copy.deepcopy(entries[path[1]])
        shared.add((top, path[1]))
    node = scope[top]
    for depth, key in enumerate(path[1:-1], start=1):
        if isinstance(node, dict) and key not in node:
            node[key] = {}  # context.paging.size=10 creates context.paging
        node = child(node, key, path[: depth + 1])
    last = path[-1]
    if isinstance(node, list) and isinstance(last, str) and last.lstrip("-").isdigit():
        last = int(last)
    if not isinstance(node, dict | list):
        raise ScopeError(f"{show_path(path[:-1])} is a {type(node).__name__}, not an object")
    return node, last


def assign(
    scope: dict[str, Any],
    path: tuple[Key, ...],
    value: Any,
    *,
    local: set[Key],
    shared: set[tuple[Key, Key]],
) -> None:
    """Set ``path`` in the live scope (see the module docstring for what an edit reaches)."""
    node, last = _container(scope, path, local, shared)
    if node is scope and last in RUN_WIDE:  # keep the run's object: clear and fill it
        if not isinstance(value, dict):
            raise ScopeError(f"{last} must stay an object")
        scope[last].clear()
        scope[last].update(copy.deepcopy(value))
        return
    paging_state = node is scope and last == "page_state" and isinstance(scope.get(last), dict)
    if paging_state and not isinstance(value, dict):  # paging would drop it, this page break
        raise ScopeError(
            "page_state must stay an object: set one field (page_state.offset=40) or "
            "a whole object ('page_state={\"offset\": 40}')"
        )
    if node is scope:
        local.add(last)
    try:
        node[last] = value
    except (IndexError, TypeError):
        raise ScopeError(f"{show_path(path)} is not in the scope here") from None


def delete(
    scope: dict[str, Any],
    path: tuple[Key, ...],
    *,
    local: set[Key],
    shared: set[tuple[Key, Key]],
) -> None:
    """Remove ``path`` from the live scope."""
    node, last = _container(scope, path, local, shared)
    if node is scope:
        raise ScopeError(f"{last} cannot be removed; set it instead")
    try:
        del node[last]
    except (KeyError, IndexError, TypeError):
        raise ScopeError(f"{show_path(path)} is not in the scope here") from None


def evaluate(scope: dict[str, Any], expression: str) -> Any:
    """A JMESPath expression over the scope (a syntax error names the column)."""
    return compile_expression(expression, path="eval").search(scope)
