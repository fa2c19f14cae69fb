"""Saving over a hand-written YAML plan without losing its comments and formatting.

The builder edits the plan as JSON data; written with a plain YAML dump, a file
someone wrote by hand would lose its comments, its folded ``>`` text, its quotes
and its indentation on the first Save. Here the file as it is on disk is loaded
with ruamel.yaml's round-trip loader, the builder's plan is applied onto it (a
key whose value did not change keeps its node, comments and style; a changed
value is replaced; a new key is appended; a removed key is removed; lists are
matched item by item) and the result dumped again, so a Save without edits
gives the same bytes and one changed field changes only its line.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

logger = logging.getLogger("orchestra.dashboard")


def _same(old: Any, new: Any) -> bool:
    """Equal values of the same kind (``1``, ``1.0`` and ``true`` are three values)."""
    if isinstance(old, dict | list):
        return type(new) in (dict, list, CommentedMap, CommentedSeq) and old == new
    if isinstance(old, bool) != isinstance(new, bool):
        return False
    if isinstance(old, float) != isinstance(new, float):
        return False
    if isinstance(old, str) != isinstance(new, str):
        return False
    return bool(old == new)


def apply(old: Any, new: Any) -> Any:
    """``new`` as a value, reusing ``old``'s nodes (and so their comments) where they agree."""
    if _same(old, new):
        return old
    if isinstance(old, CommentedMap) and isinstance(new, dict):
        for key in [key for key in old if key not in new]:
            del old[key]
        for key, value in new.items():
            old[key] = apply(old[key], value) if key in old else value
        return old
    if isinstance(old, CommentedSeq) and isinstance(new, list):
        for index, value in enumerate(new):
            if index < len(old):
                old[index] = apply(old[index], value)
            else:
                old.append(value)
        del old[len(new) :]
        return old
    return new


INDENTS = [(m, o + 2, o) for m in (2, 4) for o in (0, 2, 4) if o <= m] + [(4, 4, 2)]
"""(mapping, sequence, dash offset) indentations tried: the one that dumps the file
unchanged is the file's own style."""


def _yaml(indent: tuple[int, int, int]) -> YAML:
    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long line the author kept on one line
    mapping, sequence, offset = indent
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _dump(yaml: YAML, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _style(original: str) -> tuple[int, int, int]:
    """The indentation that reproduces ``original`` best (fewest lines differing)."""
    lines = original.splitlines()
    best: tuple[int, tuple[int, int, int]] | None = None
    for indent in INDENTS:
        yaml = _yaml(indent)
        dumped = _dump(yaml, yaml.load(original)).splitlines()
        differing = sum(a != b for a, b in zip(lines, dumped, strict=False))
        differing += abs(len(lines) - len(dumped))
        if best is None or differing < best[0]:
            best = (differing, indent)
        if differing == 0:
            break
    assert best is not None
    return best[1]


def updated_yaml(original: str, plan: dict[str, Any]) -> str | None:
    """``original`` (a YAML plan file's text) changed to hold ``plan``; None when the
    original cannot be read as one YAML mapping (the caller then writes a plain dump)."""
    try:
        yaml = _yaml(_style(original))
        data = yaml.load(original)
    except Exception as error:  # ruamel's many parser errors: the plain dump is the fallback
        logger.info("plan file is not round-trip YAML (%s); writing it plainly", error)
        return None
    if not isinstance(data, CommentedMap):
        return None
    return _dump(yaml, apply(data, plan))
