"""A response body as a collapsible JSON tree (HTML) or an indented preview (text).

Both renderings are bounded: at most ``max_items`` entries per object or
array, ``max_string`` characters per string and ``budget`` nodes in all, so a
10 MB body renders as fast as a small one and the notebook stays small. What
was left out is said in place (``… 950 more items``). The HTML uses
``<details>``/``<summary>``, which JupyterLab, VS Code and nbviewer render
without JavaScript.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

CSS = """<style>
.orc-tree{font-family:var(--jp-code-font-family,monospace);font-size:12px;line-height:1.45}
.orc-tree details{margin-left:1.1em}
.orc-tree summary{cursor:pointer;margin-left:-1.1em}
.orc-tree .k{color:#7a3e9d}.orc-tree .s{color:#2a7e3b}.orc-tree .n{color:#1f5fa8}
.orc-tree .b{color:#b35c00}.orc-tree .z{color:#888}.orc-tree .more{color:#888;font-style:italic}
.orc-tree .leaf{margin-left:1.1em;white-space:pre-wrap;word-break:break-all}
</style>"""


@dataclass
class Limits:
    max_items: int = 50
    max_string: int = 300
    budget: int = 2000
    open_depth: int = 1
    mask: Callable[[str], str] = field(default=lambda text: text)  # applied before shortening


class _Budget:
    def __init__(self, nodes: int) -> None:
        self.left = nodes

    def take(self) -> bool:
        self.left -= 1
        return self.left >= 0


def _short(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"… ({len(text) - limit:,} more chars)"


def _leaf_html(value: Any, limits: Limits) -> str:
    if isinstance(value, str):
        shown = _short(limits.mask(value), limits.max_string)
        return f'<span class="s">{html.escape(json.dumps(shown, ensure_ascii=False))}</span>'
    if isinstance(value, bool):
        return f'<span class="b">{str(value).lower()}</span>'
    if value is None:
        return '<span class="z">null</span>'
    if isinstance(value, int | float):
        return f'<span class="n">{value}</span>'
    shown = _short(limits.mask(repr(value)), limits.max_string)
    return f'<span class="s">{html.escape(shown)}</span>'


def _count(value: dict | list) -> str:
    n = len(value)
    if isinstance(value, dict):
        return f"{{…}} {n} key{'' if n == 1 else 's'}"
    return f"[…] {n} item{'' if n == 1 else 's'}"


def _node_html(label: str, value: Any, depth: int, limits: Limits, budget: _Budget) -> str:
    if not isinstance(value, dict | list):
        return f'<div class="leaf">{label}{_leaf_html(value, limits)}</div>'
    if not value:
        return f'<div class="leaf">{label}{"{}" if isinstance(value, dict) else "[]"}</div>'
    entries = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
    opened = " open" if depth < limits.open_depth else ""
    parts = [f"<details{opened}><summary>{label}{_count(value)}</summary>"]
    for index, (key, child) in enumerate(entries):
        if index >= limits.max_items or not budget.take():
            parts.append(f'<div class="more leaf">… {len(entries) - index:,} more</div>')
            break
        key_text = (
            json.dumps(limits.mask(key), ensure_ascii=False) if isinstance(key, str) else str(key)
        )
        child_label = f'<span class="k">{html.escape(key_text)}</span>: '
        parts.append(_node_html(child_label, child, depth + 1, limits, budget))
    parts.append("</details>")
    return "".join(parts)


def html_tree(value: Any, limits: Limits | None = None) -> str:
    """``value`` as nested ``<details>`` elements (the first ``open_depth`` levels open)."""
    limits = limits or Limits()
    return f'<div class="orc-tree">{_node_html("", value, 0, limits, _Budget(limits.budget))}</div>'


def text_preview(value: Any, limits: Limits | None = None, *, max_lines: int = 40) -> str:
    """Indented JSON, shortened the same way, at most ``max_lines`` lines."""
    limits = limits or Limits()
    budget = _Budget(limits.budget)

    def shrink(item: Any) -> Any:
        if isinstance(item, str):
            return _short(limits.mask(item), limits.max_string)
        if isinstance(item, dict):
            out: dict[str, Any] = {}
            for index, (key, child) in enumerate(item.items()):
                if index >= limits.max_items or not budget.take():
                    out["…"] = f"{len(item) - index:,} more keys"
                    break
                out[limits.mask(str(key))] = shrink(child)
            return out
        if isinstance(item, list):
            items: list[Any] = []
            for index, child in enumerate(item):
                if index >= limits.max_items or not budget.take():
                    items.append(f"… {len(item) - index:,} more items")
                    break
                items.append(shrink(child))
            return items
        if isinstance(item, bool | int | float) or item is None:
            return item
        return _short(limits.mask(str(item)), limits.max_string)

    lines = json.dumps(shrink(value), indent=2, ensure_ascii=False, default=str).splitlines()
    if len(lines) > max_lines:
        lines = [*lines[:max_lines], f"… {len(lines) - max_lines:,} more lines"]
    return "\n".join(lines)
