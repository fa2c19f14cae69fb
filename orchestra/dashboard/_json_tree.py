"""A JSON value of any size as a tree whose children reach the browser only when opened.

Panel's JSON pane sends the whole value to the browser, so a 2 MB body would
ship 2 MB. Here the value stays on the server: each object or array is a
collapsed card, and opening one (a click in the browser, a ``collapsed``
change on the server) builds its children then — at most :data:`CHILDREN_SHOWN`
of them, with a button for the next ones. Scalars are shown one line each,
long strings cut at :data:`STRING_SHOWN` characters.
"""

from __future__ import annotations

import html
from typing import Any

import orjson
import panel as pn
import param

CHILDREN_SHOWN = 100  # children of a node built per click
STRING_SHOWN = 300  # characters of a string value shown


def _preview(value: Any) -> str:
    """A one-line summary of a value: ``{3 keys}``, ``[1,204 items]`` or the scalar itself."""
    if isinstance(value, dict):
        return f"{{{len(value):,} key{'' if len(value) == 1 else 's'}}}"
    if isinstance(value, list):
        return f"[{len(value):,} item{'' if len(value) == 1 else 's'}]"
    if isinstance(value, str) and len(value) > STRING_SHOWN:
        shown = orjson.dumps(value[:STRING_SHOWN]).decode()
        return f"{shown}… ({len(value):,} characters)"
    return orjson.dumps(value).decode()


def _children(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [(str(key), child) for key, child in value.items()]
    return [(f"[{index}]", child) for index, child in enumerate(value)]


def _leaves_html(leaves: list[tuple[str, Any]]) -> pn.pane.HTML:
    rows = "".join(
        f"<div class='orchestra-json-leaf'><span style='color:#5f6b7a'>{html.escape(key)}</span>"
        f": <span style='color:#1a5fb4'>{html.escape(_preview(child))}</span></div>"
        for key, child in leaves
    )
    return pn.pane.HTML(
        f"<div style='font:12px monospace;word-break:break-all'>{rows}</div>",
        sizing_mode="stretch_width",
        margin=(0, 0, 0, 4),
    )


class JsonNode(param.Parameterized):
    """One object or array of the tree: a card filled with its children when first opened."""

    shown = param.Integer(default=0, doc="Children built so far.")

    def __init__(
        self, key: str, value: Any, *, collapsed: bool = True, css_classes: tuple[str, ...] = ()
    ):
        super().__init__()
        self.value = value
        self._items = _children(value)
        self._more = pn.widgets.Button(
            label="", color="light", css_classes=["orchestra-json-more"], margin=(2, 4)
        )
        self._more.on_click(lambda event: self._grow())
        self.card = pn.Card(
            title=f"{key}: {_preview(value)}",
            collapsed=collapsed,
            sizing_mode="stretch_width",
            css_classes=["orchestra-json-node", *css_classes],
            margin=(2, 0, 2, 8),
        )
        self.card.param.watch(self._on_toggle, "collapsed")
        if not collapsed:
            self._grow()

    def _on_toggle(self, event: param.parameterized.Event) -> None:
        if not event.new and self.shown == 0:
            self._grow()

    def _grow(self) -> None:
        """Build the next :data:`CHILDREN_SHOWN` children (scalars grouped in one pane)."""
        start, stop = self.shown, min(len(self._items), self.shown + CHILDREN_SHOWN)
        parts: list[Any] = []
        leaves: list[tuple[str, Any]] = []
        for key, child in self._items[start:stop]:
            if isinstance(child, dict | list) and child:
                if leaves:
                    parts.append(_leaves_html(leaves))
                    leaves = []
                parts.append(JsonNode(key, child).card)
            else:
                leaves.append((key, child))
        if leaves:
            parts.append(_leaves_html(leaves))
        self.shown = stop
        objects = [o for o in self.card.objects if o is not self._more] + parts
        if stop < len(self._items):
            left = len(self._items) - stop
            self._more.label = f"show {min(left, CHILDREN_SHOWN):,} more of {left:,}"
            objects.append(self._more)
        if not self._items:
            objects.append(pn.pane.Markdown("*(empty)*"))
        self.card.objects = objects


def json_tree(value: Any, name: str = "") -> pn.viewable.Viewable:
    """The tree of ``value``: its first level shown, every deeper level built on demand."""
    if not isinstance(value, dict | list):
        return pn.pane.HTML(
            f"<code>{html.escape(_preview(value))}</code>", name=name, sizing_mode="stretch_width"
        )
    return JsonNode("body", value, collapsed=False, css_classes=("orchestra-json-root",)).card
