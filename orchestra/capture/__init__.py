"""Capture: every run in a DuckDB file, masked, queryable, exportable, replayable.

``CaptureStore(path).writer()`` is an event subscriber that writes a run;
``CaptureStore`` reads runs back as pandas DataFrames; ``export_plan``,
``export_har``, ``export_curl`` and ``export_jsonl`` turn a captured run into
files (``orchestra export``).
"""

from orchestra.capture._connection import CaptureLockTimeout, Database
from orchestra.capture._export import export_curl, export_har, export_jsonl, export_plan
from orchestra.capture._schema import SCHEMA_VERSION, SchemaVersionError
from orchestra.capture._store import CaptureStore, RunNotFound
from orchestra.capture._writer import CaptureWriter

__all__ = [
    "SCHEMA_VERSION",
    "CaptureLockTimeout",
    "CaptureStore",
    "CaptureWriter",
    "Database",
    "RunNotFound",
    "SchemaVersionError",
    "export_curl",
    "export_har",
    "export_jsonl",
    "export_plan",
]
