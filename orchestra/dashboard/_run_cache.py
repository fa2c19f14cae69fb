"""What the dashboard draws of a finished run, computed once per server process.

A run that has ended is never written again, so its aggregates — the step
statistics, the flow graph's statuses, the metrics, the whole-run waterfall —
are the same on every read. Computing them takes DuckDB a scan of the run's
exchanges, steps and records (a few hundred milliseconds at 100,000
exchanges); switching back to a run, or opening another tab on it, should not
pay that again.

Entries are keyed by the file (path and inode: a file replaced by another is
another file), the run id and the run's own signature (status, counts of its
steps, exchanges and events): if anything of the run changed, the key does
too. A running run is never stored. The cache is shared by every session of
the process and bounded (least recently used entries go first); what it holds
is small (aggregates, at most ``WATERFALL_LIMIT`` bars), never bodies.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

from orchestra.capture import CaptureSignature

MAX_RUNS = 32

Key = tuple[Any, ...]


def run_key(path: str, run_id: str, signature: CaptureSignature) -> Key | None:
    """The cache key of a run as ``signature`` saw it, or None when it must not be cached."""
    if signature.run_status in (None, "running"):
        return None
    try:
        inode = os.stat(path).st_ino
    except OSError:  # an in-memory capture, or a file gone meanwhile
        return None
    return (
        path,
        inode,
        run_id,
        signature.run_status,
        signature.run_requests,
        signature.run_errors,
        signature.steps,
        signature.exchanges,
        signature.events,
    )


class RunCache:
    """A bounded, thread-safe map of finished runs' aggregates (least recently used first out)."""

    def __init__(self, max_runs: int = MAX_RUNS):
        self.max_runs = max_runs
        self._entries: OrderedDict[Key, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Key | None) -> dict[str, Any] | None:
        """A copy of the values stored under ``key`` (None: not stored)."""
        if key is None:
            return None
        with self._lock:
            values = self._entries.get(key)
            if values is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return dict(values)

    def put(self, key: Key | None, values: dict[str, Any]) -> None:
        if key is None:
            return
        with self._lock:
            self._entries[key] = dict(values)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_runs:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


RUNS = RunCache()  # shared by every dashboard of this process
