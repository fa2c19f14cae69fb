"""Capture: every run in a DuckDB file, masked, queryable, exportable, replayable.

``CaptureStore(path).writer()`` is an event subscriber that writes a run;
``CaptureStore.read()`` opens the file for named reads (a ``CaptureReader``:
runs, steps, exchanges with filters and paging, one exchange with its bodies,
records, errors, events, the plan, statistics) — the one way the CLI, the
notebook, the debugger and the dashboard read a capture. ``export_plan``,
``export_har``, ``export_curl`` and ``export_jsonl`` turn a captured run into
files (``orchestra export``); ``diff_runs`` compares two runs (``orchestra diff``).
Each step's records are also typed tables: views ``data.<step>`` (latest run)
and ``data_all.<step>`` (every run, ``run_id``) in the file, and
``CaptureStore.table(step)`` as a DataFrame (``_tables.py``).
"""

from orchestra.capture._connection import MEMORY, CaptureLockTimeout, Database
from orchestra.capture._context_store import CaptureContextStore
from orchestra.capture._diff import (
    DEFAULT_KEY,
    DiffInputError,
    RecordChange,
    RecordDiff,
    RunDiff,
    ShapeDiff,
    StepDelta,
    diff_runs,
)
from orchestra.capture._exchange_filter import STATUS_CLASSES, ExchangeFilter
from orchestra.capture._export import (
    JSONL_TABLES,
    RECORD_FORMATS,
    curl_command,
    curl_comment,
    export_curl,
    export_har,
    export_jsonl,
    export_plan,
    export_plan_yaml,
    export_records,
)
from orchestra.capture._read import (
    EXCHANGE_LIST_COLUMNS,
    CaptureReader,
    CaptureSignature,
    RunNotFound,
    RunStatistics,
    WaterfallRows,
)
from orchestra.capture._replay import ReplayMiss, ReplayTransport
from orchestra.capture._schema import SCHEMA_VERSION, SchemaVersionError
from orchestra.capture._store import CaptureStore
from orchestra.capture._tables import ALL_SCHEMA, LATEST_SCHEMA, TableNotFound
from orchestra.capture._writer import CaptureWriter

__all__ = [
    "ALL_SCHEMA",
    "DEFAULT_KEY",
    "EXCHANGE_LIST_COLUMNS",
    "JSONL_TABLES",
    "LATEST_SCHEMA",
    "MEMORY",
    "RECORD_FORMATS",
    "SCHEMA_VERSION",
    "STATUS_CLASSES",
    "CaptureContextStore",
    "CaptureLockTimeout",
    "CaptureReader",
    "CaptureSignature",
    "CaptureStore",
    "CaptureWriter",
    "Database",
    "DiffInputError",
    "ExchangeFilter",
    "RecordChange",
    "RecordDiff",
    "ReplayMiss",
    "ReplayTransport",
    "RunDiff",
    "RunNotFound",
    "RunStatistics",
    "SchemaVersionError",
    "ShapeDiff",
    "StepDelta",
    "TableNotFound",
    "WaterfallRows",
    "curl_command",
    "curl_comment",
    "diff_runs",
    "export_curl",
    "export_har",
    "export_jsonl",
    "export_plan",
    "export_plan_yaml",
    "export_records",
]
