"""The paused scope as a Python object: ``session.scope`` of a debug session.

Reads come back masked (secrets as ``${NAME}`` or ``***``); writes go to the
live scope of the paused step through :func:`orchestra.debug.assign` (see
:mod:`orchestra.debug._scope` for what an edit reaches).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any, Protocol

from orchestra.debug import Key, child, show_path
from orchestra.notebook._jsontree import CSS, Limits, html_tree


class Pause(Protocol):
    """What a :class:`ScopeView` reads and writes through (a paused debug session)."""

    def live_scope(self) -> dict[str, Any]: ...

    def assign(self, path: tuple[Key, ...], value: Any) -> None: ...

    def delete(self, path: tuple[Key, ...]) -> None: ...

    def mask(self, value: Any) -> Any: ...


class ScopeView:
    """The paused scope as a Python object: reads masked, writes to the run.

    ``view.context.page``, ``view["item"]["id"]`` and ``view.response.body.items[0]``
    read (objects and arrays come back as views, other values masked);
    ``view.context.page = 7`` and ``view["context"]["page"] = 7`` write;
    ``view.to_python()`` is a masked plain copy. A view belongs to one pause:
    once the run has moved on it raises instead of showing stale values.
    """

    __slots__ = ("_path", "_pause")

    def __init__(self, pause: Pause, path: tuple[Key, ...] = ()) -> None:
        object.__setattr__(self, "_pause", pause)
        object.__setattr__(self, "_path", path)

    def _live(self) -> Any:
        node: Any = self._pause.live_scope()
        for depth, key in enumerate(self._path, start=1):
            node = child(node, key, self._path[:depth])
        return node

    def _wrap(self, key: Key, value: Any) -> Any:
        if isinstance(value, dict | list):
            return ScopeView(self._pause, (*self._path, key))
        return self._pause.mask(value)

    def __getitem__(self, key: Key) -> Any:
        node = self._live()
        if isinstance(node, list) and isinstance(key, int):
            return self._wrap(key, node[key])
        if isinstance(node, dict) and key in node:
            return self._wrap(key, node[key])
        raise KeyError(key)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except (KeyError, TypeError):
            raise AttributeError(f"{show_path(self._path) or 'scope'} has no {name!r}") from None

    def __setitem__(self, key: Key, value: Any) -> None:
        self._pause.assign((*self._path, key), value)

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __delitem__(self, key: Key) -> None:
        self._pause.delete((*self._path, key))

    def __contains__(self, key: object) -> bool:
        node = self._live()
        return key in node if isinstance(node, dict) else False

    def __iter__(self) -> Iterator[Any]:
        node = self._live()
        if isinstance(node, dict):
            return iter(list(node))
        return iter([self._wrap(index, value) for index, value in enumerate(node)])

    def __len__(self) -> int:
        return len(self._live())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ScopeView):
            other = other.to_python()
        return self.to_python() == other

    __hash__ = None  # type: ignore[assignment]

    def to_python(self) -> Any:
        """A masked plain copy (dicts, lists, values) of this part of the scope."""
        return self._pause.mask(copy.deepcopy(self._live()))

    def __repr__(self) -> str:
        return json.dumps(self.to_python(), indent=2, ensure_ascii=False, default=str)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_html_(self) -> str:
        return CSS + html_tree(self.to_python(), Limits(open_depth=1))
