"""Reading the path typed so far (``response.body.items[0].``) against a sample value.

Completion in a ``%%flow`` cell (the kernel) and in the flow builder's fields both
walk the part of an expression before the last ``.`` through a value they hold
(the last response, the config) to list the keys that can come next. This is the
one place that walk and the quoting of those keys are written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

Segment = tuple[str, list[str]]  # a name and the bracket contents after it: ("items", ["0"])

_SEGMENT = re.compile(r"([A-Za-z_][\w-]*)((?:\[[^\[\]]*\])*)")
_BRACKET = re.compile(r"\[([^\[\]]*)\]")
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")  # JMESPath: any other key is written quoted


def path_segments(base: str) -> list[Segment]:
    """``a.b[0][*]`` as ``[("a", []), ("b", ["0", "*"])]``."""
    return [(name, _BRACKET.findall(brackets)) for name, brackets in _SEGMENT.findall(base)]


def value_at(value: Any, segments: Sequence[Segment]) -> Any:
    """What ``segments`` reach in ``value``; a projection (``[]``, ``[*]``, a filter) stands
    for all its elements by the first. ``None`` when the path leaves the value."""
    for name, indexes in segments:
        value = value.get(name) if isinstance(value, dict) else None
        for index in indexes:
            if not isinstance(value, list) or not value:
                return None
            if re.fullmatch(r"-?\d+", index):
                position = int(index)
                if not -len(value) <= position < len(value):
                    return None
                value = value[position]
            else:
                value = value[0]
    return value


def key_names(value: Any) -> list[str]:
    """The keys of a mapping as a JMESPath expression writes them (quoted unless an
    identifier: ``"total-count"``); nothing for any other value."""
    if not isinstance(value, dict):
        return []
    return [k if _IDENTIFIER.fullmatch(k) else f'"{k}"' for k in value if isinstance(k, str)]
