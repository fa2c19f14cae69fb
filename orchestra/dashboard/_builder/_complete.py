"""JMESPath completion for the builder's expression fields, from what the builder knows.

As in a ``%%flow`` cell (the kernel's completion, ``orchestra.notebook._completion``,
which the dashboard may not import): at the end of the focused field's text,
the scope names (``config.``, ``steps.``, ``response.`` …), the plan's step
names after ``steps.``, the keys of the plan's ``config``, and the keys of the
last response the builder shows (``response.body.items`` …). A field that
reads a page's body (``records``, ``*_path``) completes keys of the body
itself; in a template (``url``) the part inside the last open ``{``.
Completions are whole texts, so choosing one replaces the field's value.
"""

from __future__ import annotations

import re
from typing import Any

from orchestra.dashboard._builder import _plan_edit
from orchestra.expressions import key_names, path_segments, value_at

SCOPES = ("config", "context", "auth", "steps", "response", "prev", "parent", "item", "page_state")
RESPONSE_FIELDS = ("body", "status_code", "headers", "url", "elapsed_ms", "links")
STEP_FIELDS = (*RESPONSE_FIELDS, "status", "pages", "extract")
LIMIT = 12

_TOKEN = re.compile(r"[A-Za-z_][\w-]*(?:\[[^\[\]]*\]|\.[A-Za-z_][\w-]*|\.)*$")


def complete(
    text: str,
    *,
    plan: dict[str, Any],
    response: Any,
    body_relative: bool = False,
    template: bool = False,
) -> list[str]:
    """Whole texts continuing ``text`` at its end (at most :data:`LIMIT`); in a
    ``template`` only inside a ``{`` left open."""
    opened = text.rfind("{")
    if (opened < 0 and template) or (opened >= 0 and "}" in text[opened:]):
        return []  # plain text of a template, or its last expression is closed
    match = _TOKEN.search(text)
    token = match.group() if match else ""
    if text and not token and not text.endswith(("{", " ", "(", "&", "|", "!", ",")):
        return []
    head = text[: len(text) - len(token)]
    if body_relative:
        base, _, fragment = token.rpartition(".")
        keys = key_names(value_at(response, path_segments(base)) if base else response)
        prefix = f"{base}." if base else ""
    elif "." not in token:
        keys, fragment, prefix = [f"{scope}." for scope in SCOPES], token, ""
    else:
        base, _, fragment = token.rpartition(".")
        keys, prefix = _keys(path_segments(base), plan, response), f"{base}."
    found = [f"{head}{prefix}{key}" for key in keys if key.startswith(fragment)]
    return [item for item in found if item != text][:LIMIT]


def _keys(segments: list[tuple[str, list[str]]], plan: dict[str, Any], response: Any) -> list[str]:
    scope, rest = segments[0][0], segments[1:]
    if scope == "steps":
        if not rest:
            names = [str(step.get("name")) for _, _, step in _plan_edit.all_steps(plan)]
            return [name for name in names if name and name != "None"]
        return list(STEP_FIELDS) if len(rest) == 1 else []
    if scope in ("response", "prev", "parent"):
        if not rest:
            return list(RESPONSE_FIELDS)
        return key_names(value_at({"body": response}, rest))
    if scope == "config":
        return key_names(value_at(plan.get("config") or {}, rest))
    return []
