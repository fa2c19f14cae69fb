"""Keeping the garbage collector off the heap that was there before a run.

A fanout or a long pagination allocates millions of short-lived objects
(events, scopes, decoded bodies). Every so often CPython's cyclic collector
runs a full collection that walks *every* tracked object — the imported
modules, pydantic models, aiohttp, the user's notebook data: ~100,000 objects
even in a small process, tens of milliseconds each time, which adds up to a
sizeable share of the CPU of a fast fanout or pagination (``bench/README.md``,
"Design measurements behind the code").

While the engine runs a root step, the objects that existed before it are
moved to CPython's permanent generation (``gc.freeze()``) and moved back
afterwards (``gc.unfreeze()``): collections during the run only walk what the
run allocated. Nothing is leaked — frozen objects are still freed by reference
counting, and cycles among them are collected after the run. The engine stays
out of the way when the process manages the collector itself (collector
disabled, or objects already frozen), and ``ORCHESTRA_GC_FREEZE=0`` turns it off.
"""

from __future__ import annotations

import gc
import os
import threading

_lock = threading.Lock()
_depth = 0
_froze = False


def _enabled() -> bool:
    return os.environ.get("ORCHESTRA_GC_FREEZE", "1") not in ("0", "false", "no")


def enter() -> None:
    """A root step starts (nesting and concurrent runs are counted)."""
    global _depth, _froze
    with _lock:
        _depth += 1
        if _depth == 1 and _enabled() and gc.isenabled() and gc.get_freeze_count() == 0:
            gc.freeze()
            _froze = True


def leave() -> None:
    """A root step ended; the last one gives the old heap back to the collector."""
    global _depth, _froze
    with _lock:
        _depth -= 1
        if _depth == 0 and _froze:
            _froze = False
            gc.unfreeze()
