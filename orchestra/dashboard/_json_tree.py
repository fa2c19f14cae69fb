"""A JSON value of any size as a tree whose children reach the browser only when opened.

Panel's JSON pane sends the whole value to the browser, so a 2 MB body would
ship 2 MB (and a tree of Panel cards costs tens of milliseconds per node to
build). Here the value stays on the server and the browser holds one small
component: it shows the first level; a click on an object or array asks the
server (``request``) for that node's children, which arrive in ``nodes``, at
most :data:`CHILDREN_SHOWN` at a time, with a "show more" line for the next
ones. Each child is sent as a one-line preview, long strings cut at
:data:`STRING_SHOWN` characters.

A ``pickable`` tree (the flow builder's response view) also sends each
child's path, and a click on a field sets ``picked`` to it, so the server can
turn it into an expression.
"""

from __future__ import annotations

from typing import Any

import orjson
import param
from panel.custom import JSComponent

CHILDREN_SHOWN = 100  # children of a node sent per click
STRING_SHOWN = 300  # characters of a string value shown
ROOT = "[]"  # the id of the root node: the JSON list of keys leading to a node


def preview(value: Any) -> str:
    """A one-line summary of a value: ``{3 keys}``, ``[1,204 items]`` or the scalar itself."""
    if isinstance(value, dict):
        return f"{{{len(value):,} key{'' if len(value) == 1 else 's'}}}"
    if isinstance(value, list):
        return f"[{len(value):,} item{'' if len(value) == 1 else 's'}]"
    if isinstance(value, str) and len(value) > STRING_SHOWN:
        shown = orjson.dumps(value[:STRING_SHOWN]).decode()
        return f"{shown}… ({len(value):,} characters)"
    return orjson.dumps(value).decode()


def _entries(
    value: Any, path: list[Any], start: int, *, pickable: bool = False
) -> list[dict[str, Any]]:
    """Children ``start`` to ``start + CHILDREN_SHOWN`` of a node, as previews with ids
    (and, in a pickable tree, each child's path)."""
    if isinstance(value, dict):
        keyed: list[tuple[Any, str, Any]] = [
            (key, str(key), child)
            for key, child in list(value.items())[start : start + CHILDREN_SHOWN]
        ]
    else:
        stop = start + CHILDREN_SHOWN
        keyed = [(i, f"[{i}]", child) for i, child in enumerate(value[start:stop], start)]
    entries = []
    for key, label, child in keyed:
        opens = isinstance(child, dict | list) and bool(child)
        entry = {
            "key": label,
            "preview": preview(child),
            "id": orjson.dumps([*path, key]).decode() if opens else None,
        }
        if pickable:
            entry["path"] = orjson.dumps([*path, key]).decode()
        entries.append(entry)
    return entries


_ESM = """
export function render({ model, el }) {
  const open = new Set();
  let generation = model.generation;
  const root = document.createElement('div');
  root.className = 'orchestra-json-tree';
  root.style.cssText = 'font:12px monospace;word-break:break-all;max-height:420px;overflow:auto';
  el.appendChild(root);
  function ask(id, start) { model.request = JSON.stringify([id, start]); }
  function draw(parent, id) {
    const node = model.nodes[id];
    if (!node) { return; }
    const list = document.createElement('div');
    list.style.paddingLeft = id === '[]' ? '0' : '14px';
    for (const entry of node.entries) {
      const row = document.createElement('div');
      const line = document.createElement('div');
      const key = document.createElement('span');
      key.style.color = '#5f6b7a';
      const value = document.createElement('span');
      value.style.color = '#1a5fb4';
      value.textContent = entry.preview;
      if (entry.id) {
        const isOpen = open.has(entry.id);
        line.className = 'orchestra-json-node';
        line.style.cursor = 'pointer';
        key.textContent = (isOpen ? '▾ ' : '▸ ') + entry.key + ': ';
        line.onclick = () => {
          if (open.has(entry.id)) { open.delete(entry.id); redraw(); return; }
          open.add(entry.id);
          if (model.nodes[entry.id]) { redraw(); } else { ask(entry.id, 0); }
        };
      } else {
        line.className = 'orchestra-json-leaf';
        key.textContent = entry.key + ': ';
      }
      if (entry.path !== undefined) {
        const pick = document.createElement('span');
        pick.className = 'orchestra-json-pick';
        pick.title = 'use this path in the focused field';
        pick.textContent = entry.id ? ' ⊕' : '';
        pick.style.cssText = 'cursor:copy;color:#1a73e8';
        const choose = (event) => {
          event.stopPropagation();
          model.picked = JSON.stringify([JSON.parse(entry.path), Date.now()]);
        };
        pick.onclick = choose;
        if (!entry.id) { key.style.cursor = 'copy'; key.onclick = choose; value.onclick = choose; }
        line.append(key, value, pick);
      } else {
        line.append(key, value);
      }
      row.appendChild(line);
      if (entry.id && open.has(entry.id)) { draw(row, entry.id); }
      list.appendChild(row);
    }
    const left = node.total - node.entries.length;
    if (left > 0) {
      const more = document.createElement('div');
      more.className = 'orchestra-json-more';
      more.style.cssText = 'cursor:pointer;color:#1a73e8';
      more.textContent = `show ${Math.min(left, node.step).toLocaleString('en-US')} more of `
        + `${left.toLocaleString('en-US')}`;
      more.onclick = () => ask(id, node.entries.length);
      list.appendChild(more);
    }
    parent.appendChild(list);
  }
  function redraw() {
    if (model.generation !== generation) { open.clear(); generation = model.generation; }
    const top = root.scrollTop;
    root.replaceChildren();
    draw(root, '[]');
    root.scrollTop = top;
  }
  model.on('nodes', redraw);
  model.on('generation', redraw);
  redraw();
}
"""


class JsonTree(JSComponent):
    """A JSON value kept on the server, its nodes sent to the browser as they are opened."""

    nodes = param.Dict(default={}, doc="The nodes sent so far: id -> entries and total.")
    request = param.String(default="", doc="Set by the browser: [node id, first child].")
    generation = param.Integer(default=0, doc="Counts the values shown (the browser closes all).")
    pickable = param.Boolean(default=False, doc="A click on a field picks its path.")
    picked = param.String(default="", doc="Set by the browser: [path of the picked node, time].")

    _esm = _ESM

    def __init__(self, value: Any, **params: Any):
        super().__init__(**params)
        self.value = value
        self.param.watch(self._on_request, "request")
        self.open_node(ROOT)

    def replace_value(self, value: Any) -> None:
        """Show another value in this tree (cheaper for the server than a new tree)."""
        self.value = value if isinstance(value, dict | list) else {"value": value}
        self.param.update(generation=self.generation + 1, nodes={})
        self.open_node(ROOT)

    def open_node(self, node_id: str, start: int = 0) -> None:
        """Send the children of a node (the next ones when ``start`` > 0)."""
        path = orjson.loads(node_id)
        value = self.value
        for key in path:
            value = value[key]
        if not isinstance(value, dict | list):
            raise ValueError(f"node {node_id} is not an object or an array")
        known = self.nodes.get(node_id, {"entries": []})["entries"][:start]
        entries = known + _entries(value, path, start, pickable=self.pickable)
        self.nodes = {
            **self.nodes,
            node_id: {"entries": entries, "total": len(value), "step": CHILDREN_SHOWN},
        }

    def _on_request(self, event: param.parameterized.Event) -> None:
        if not event.new:
            return
        node_id, start = orjson.loads(event.new)
        self.request = ""
        self.open_node(str(node_id), int(start))


def json_tree(value: Any, name: str = "") -> Any:
    """The tree of ``value``: its first level shown, every deeper level sent on demand."""
    if not isinstance(value, dict | list):
        value = {"value": value}
    return JsonTree(value, name=name, sizing_mode="stretch_width", css_classes=["orchestra-json"])
