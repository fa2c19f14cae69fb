"""Rewrite the running cell in IPython's input history, so a pasted secret is not kept there.

When ``%%flow import curl`` takes a secret out of the running cell (the
frontend replaces the cell's text through ``set_next_input(replace=True)``),
the original text still sits in the kernel's history: ``In``/``_ih``, the
``_i``/``_iN`` variables, and IPython's history database (``history.sqlite``
in the profile, written by a background thread, kept across sessions and
searched by ``%history -g``). :func:`rewrite_running_input` puts the rewritten
text in all of those places, so the secret lives only in the flow's secrets.
"""

from __future__ import annotations

import sqlite3
from typing import Any


def rewrite_running_input(shell: Any, text: str) -> None:
    """Replace the running cell's source with ``text`` wherever IPython kept it.

    ``shell`` is the ``InteractiveShell``; the running cell is the last input it
    stored. Its entries are found by their text (the cell's number as IPython
    stored it is not reliably ``execution_count`` under every kernel). Best
    effort against IPython's internals: no history manager, nothing to do.
    """
    history = getattr(shell, "history_manager", None)
    if history is None or len(history.input_hist_raw) < 2:
        return
    old_raw, old_parsed = history.input_hist_raw[-1], history.input_hist_parsed[-1]
    running = _running_source(shell)
    if running is not None and running.rstrip("\n") != old_raw:
        return  # the running cell was not stored (a silent execution): nothing to rewrite
    text = text.rstrip("\n")
    parsed = shell.transform_cell(text).rstrip("\n")
    history.input_hist_raw[-1] = text
    history.input_hist_parsed[-1] = parsed  # the list `In` and `_ih` are
    if history._i00 == old_raw:
        history._i00 = text
    namespace = getattr(shell, "user_ns", {})
    for name, value in list(namespace.items()):
        if name.startswith("_i") and isinstance(value, str) and value == old_raw:
            namespace[name] = text
    with history.db_input_cache_lock:
        history.db_input_cache = [
            (number, parsed, text) if raw == old_raw else (number, source, raw)
            for number, source, raw in history.db_input_cache
        ]
        _rewrite_saved_rows(history, (old_parsed, old_raw), (parsed, text))


def _running_source(shell: Any) -> str | None:
    """The running cell's source as the frontend sent it (``None`` outside a kernel)."""
    kernel = getattr(shell, "kernel", None)
    try:
        parent = kernel.get_parent() if kernel is not None else None
    except Exception:
        parent = None
    if not isinstance(parent, dict):
        parent = getattr(shell, "parent_header", None)
    content = parent.get("content") if isinstance(parent, dict) else None
    code = content.get("code") if isinstance(content, dict) else None
    return code if isinstance(code, str) else None


def _rewrite_saved_rows(history: Any, old: tuple[str, str], new: tuple[str, str]) -> None:
    """The history thread may already have written the row: rewrite it in the database.

    Called under ``db_input_cache_lock``, which the history thread holds while it
    writes and clears the cache, so the row is either still cached or already saved.
    """
    database = getattr(history, "db", None)
    if not getattr(history, "enabled", False) or database is None:
        return
    try:
        with database:
            database.execute(
                "UPDATE history SET source = ?, source_raw = ? "
                "WHERE session = ? AND source_raw = ?",
                (*new, history.session_number, old[1]),
            )
    except sqlite3.Error:
        return  # a locked database: the in-memory history and the cache are rewritten anyway
