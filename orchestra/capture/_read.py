"""The read API of a capture: every question the CLI, notebook, debugger and dashboard ask.

Surfaces ask a :class:`CaptureReader` by name (runs, one run, steps,
exchanges with filter and paging, one exchange with its bodies, records,
errors, events, the plan, statistics); the SQL over the capture tables lives
here and in :mod:`orchestra.capture._queries` only. A reader wraps one
connection, opened by :meth:`CaptureStore.read() <orchestra.capture.CaptureStore.read>`
read-only (retrying while a writer holds the file) and closed when the block
ends, so a batch of questions — one dashboard refresh — costs one open and
never keeps a writer out.

Tables come back as DataFrames; single rows and small lists as dicts of
plain Python values (``None`` for NULL, never NaN). Lists and charts get ids,
sizes and timings only; bodies are read one exchange at a time.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb
import orjson
import pandas as pd

from orchestra.capture import _queries as sql
from orchestra.capture import _tables as tables
from orchestra.capture._exchange_filter import ERROR_KIND, ExchangeFilter

Params = list[Any] | dict[str, Any] | None

EXCHANGE_LIST_COLUMNS = [
    "exchange_id",
    "page",
    "item_index",
    "attempt",
    "method",
    "url",
    "status_code",
    "elapsed_ms",
    "response_size",
    "error",
]
_LIST_SELECT = {"url": f"{sql.URL_PATH} AS url"}  # lists show the path and query
WATERFALL_LIMIT = 2_000  # bars drawn at most; a window holding more is drawn per time bucket
WATERFALL_BUCKETS = 120  # time buckets of the aggregate waterfall
# The tables holding a run's rows, each with the order its rows happened in; all but
# steps are ordered by a unique key, which pages them (``table_rows(after=…)``).
RUN_TABLES = {
    "records": "seq",
    "exchanges": "exchange_id",
    "steps": "started_at, execution_id",
    "errors": "seq",
    "events": "seq",
}
PAGED_BY = {table: order for table, order in RUN_TABLES.items() if table != "steps"}


class RunNotFound(LookupError):
    """No run in the capture matches the id (or prefix) given."""


@dataclass(frozen=True)
class CaptureSignature:
    """What changes when a capture file gains data: cheap to read every poll."""

    runs: int = 0
    newest_run: str | None = None
    run_status: str | None = None
    run_requests: int | None = None
    run_errors: int | None = None
    steps: int = 0
    exchanges: int = 0
    events: int = 0


@dataclass
class WaterfallRows:
    """A window of a run's waterfall, as offsets in milliseconds from the run's start.

    When the window holds at most the limit asked, ``exchanges`` and ``waits`` are
    its bars (``buckets`` empty); otherwise ``buckets`` summarises it per time
    bucket (``exchanges`` and ``waits`` empty), so a read costs the same at any size.
    """

    exchanges: pd.DataFrame
    waits: pd.DataFrame
    total: int = 0  # exchanges in the run
    buckets: pd.DataFrame = field(default_factory=pd.DataFrame)
    start_ms: float = 0.0  # the window read
    end_ms: float = 1.0
    span_ms: float = 1.0  # the whole run, first send to last answer or wait
    in_window: int = 0  # exchanges overlapping the window

    @property
    def aggregated(self) -> bool:
        """True when the window is summarised per time bucket rather than drawn as bars."""
        return not self.buckets.empty


@dataclass
class RunStatistics:
    """A run's totals, requests by status, latency percentiles per step and throughput."""

    totals: dict[str, Any] = field(default_factory=dict)
    by_status: pd.DataFrame = field(default_factory=pd.DataFrame)
    latency: pd.DataFrame = field(default_factory=pd.DataFrame)
    throughput: pd.DataFrame = field(default_factory=pd.DataFrame)
    bucket_seconds: float = 1.0


_NICE_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)


def bucket_seconds(span_seconds: float, target_buckets: int = 60) -> float:
    """A round bucket width that cuts ``span_seconds`` into about ``target_buckets``."""
    for width in _NICE_BUCKETS:
        if span_seconds / width <= target_buckets:
            return float(width)
    return float(_NICE_BUCKETS[-1])


class CaptureReader:
    """Named reads over one open connection to a capture file (``CaptureStore.read()``)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: str):
        self.connection = connection
        self.path = path
        self._columns: dict[str, set[str]] = {}

    def rows(self, query: str, params: Params = None) -> list[dict[str, Any]]:
        """Rows as dicts of plain Python values (``None`` for NULL, never NaN)."""
        cursor = self.connection.execute(query, params or [])
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def frame(self, query: str, params: Params = None) -> pd.DataFrame:
        return self.connection.execute(query, params or []).df()

    def has_column(self, table: str, column: str) -> bool:
        """Whether ``table`` has ``column`` (a file from an older version, opened read-only,
        is not migrated and may lack the newest columns)."""
        known = self._columns.get(table)
        if known is None:
            cursor = self.connection.execute(f"SELECT * FROM {table} LIMIT 0")
            known = self._columns[table] = {c[0] for c in cursor.description}
        return column in known

    # -- runs --------------------------------------------------------------------------------

    def runs(
        self,
        *,
        plan_key: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        columns: list[str] | None = None,
    ) -> pd.DataFrame:
        """Runs, newest first (every column, or ``columns``); empty filters match all."""
        where, params = [], []
        if plan_key:
            where.append("plan_key = ?")
            params.append(plan_key)
        if status:
            where.append("status = ?")
            params.append(status)
        query = f"SELECT {', '.join(columns) if columns else '*'} FROM runs"
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY started_at DESC, run_id DESC"
        if limit:
            query += f" LIMIT {int(limit)}"
        return self.frame(query, params)

    def run_count(self) -> int:
        """How many runs the file holds."""
        return int(self.rows("SELECT count(*) AS n FROM runs")[0]["n"])

    def plan_keys(self) -> list[str]:
        """The plan keys of the file's runs, sorted."""
        return [
            row["plan_key"] for row in self.rows("SELECT DISTINCT plan_key FROM runs ORDER BY 1")
        ]

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run's row (``config`` and ``plan`` as JSON text), or None."""
        found = self.rows("SELECT * FROM runs WHERE run_id = ?", [run_id])
        return found[0] if found else None

    def resolve_run(self, run: str | None = None) -> str:
        """A full run id from an id, a unique prefix, or ``None``/``"last"`` (newest)."""
        if run in (None, "last", "latest"):
            rows = self.rows("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1")
            if not rows:
                raise RunNotFound(f"{self.path} holds no runs yet")
            return str(rows[0]["run_id"])
        rows = self.rows("SELECT run_id FROM runs WHERE run_id LIKE ? || '%'", [run])
        if len(rows) == 1:
            return str(rows[0]["run_id"])
        if not rows:
            raise RunNotFound(f"no run {run!r} in {self.path}; `orchestra runs` lists them")
        raise RunNotFound(f"{run!r} matches {len(rows)} runs; give more of the id")

    @contextmanager
    def snapshot(self) -> Iterator[CaptureReader]:
        """Reads inside the block see one state of the file (one transaction).

        A writer in this process may commit between two reads of one connection; inside a
        snapshot it cannot change what they see, so views read in one refresh agree.
        """
        self.connection.execute("BEGIN TRANSACTION")
        try:
            yield self
        finally:
            self.connection.execute("ROLLBACK")

    def runs_progress(self) -> tuple[Any, ...]:
        """What changes when any run's row in the run list does (a cheap signature)."""
        row = self.connection.execute(sql.RUNS_PROGRESS).fetchone()
        return tuple(row) if row else ()

    def error_counts(self, run_ids: list[str]) -> dict[str, int]:
        """Errors per run, a run-level error that restates its step's error counted once."""
        if not run_ids:
            return {}
        rows = self.rows(sql.RUN_ERROR_COUNTS, {"runs": list(run_ids)})
        counts = {str(row["run_id"]): int(row["errors"]) for row in rows}
        return {run_id: counts.get(run_id, 0) for run_id in run_ids}

    def records_by_step(self, run_id: str) -> dict[str, int]:
        """Records per step path that emitted them (not what a parent's executions reported)."""
        rows = self.rows(sql.RECORDS_BY_STEP, {"run": run_id})
        return {str(row["step_path"]): int(row["records"]) for row in rows}

    def plan(self, run_id: str) -> dict[str, Any] | None:
        """The plan JSON that ran (secrets as ``{"env": …}`` references), or None."""
        found = self.rows(
            "SELECT p.plan FROM runs AS r JOIN plans AS p USING (plan_hash) WHERE r.run_id = ?",
            [run_id],
        )
        return orjson.loads(found[0]["plan"]) if found and found[0]["plan"] else None

    # -- the tables of a run -----------------------------------------------------------------

    def _table(self, table: str, run_id: str, step_path: str | None) -> pd.DataFrame:
        where, params = "run_id = ?", [run_id]
        if step_path is not None:
            where += " AND step_path = ?"
            params.append(step_path)
        return self.frame(f"SELECT * FROM {table} WHERE {where} ORDER BY {RUN_TABLES[table]}",
                          params)  # fmt: skip

    def table_rows(
        self, table: str, run_id: str, *, after: Any = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Rows of one of ``RUN_TABLES`` for a run as dicts, in order.

        ``after`` and ``limit`` page through a long table by its key (``PAGED_BY``):
        the rows whose key is greater than ``after``.
        """
        if table not in RUN_TABLES:
            raise ValueError(f"table must be one of {', '.join(RUN_TABLES)} (got {table!r})")
        where, params = "run_id = ?", [run_id]
        if after is not None:
            where += f" AND {PAGED_BY[table]} > ?"
            params.append(after)
        query = f"SELECT * FROM {table} WHERE {where} ORDER BY {RUN_TABLES[table]}"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        return self.rows(query, params)

    def steps(self, run_id: str, *, step_path: str | None = None) -> pd.DataFrame:
        """One row per step execution of a run, in the order they started."""
        return self._table("steps", run_id, step_path)

    def exchanges(self, run_id: str, *, step_path: str | None = None) -> pd.DataFrame:
        """One row per HTTP request/response of a run (retries included), bodies too."""
        return self._table("exchanges", run_id, step_path)

    def records(self, run_id: str, *, step_path: str | None = None) -> pd.DataFrame:
        """Emitted records of a run, in emission order (``data`` is JSON text)."""
        return self._table("records", run_id, step_path)

    def errors(self, run_id: str) -> pd.DataFrame:
        """Errors of a run: failed steps, ignored responses, assertions, transport errors."""
        return self._table("errors", run_id, None)

    def events(self, run_id: str, *, step_path: str | None = None) -> pd.DataFrame:
        """The run's event stream as it was captured, in order (``detail`` is JSON text)."""
        return self._table("events", run_id, step_path)

    def partial(self, run_id: str) -> str | None:
        """Where a test read's caps stopped the run (as ``RunResult.partial``), or None."""
        rows = self.rows(
            "SELECT detail->>'message' AS message FROM events "
            "WHERE run_id = ? AND type = 'step_capped' ORDER BY seq",
            [run_id],
        )
        return "; ".join(str(row["message"]) for row in rows) if rows else None

    def executions(self, run_id: str) -> list[dict[str, Any]]:
        """The step executions of a run that were not skipped: id, path, item, status, pages."""
        return self.rows(
            "SELECT execution_id, step_path, item_index, status, pages, error FROM steps "
            "WHERE run_id = ? AND status <> 'skipped'",
            [run_id],
        )

    def record_values(self, run_id: str, *, step_path: str | None = None) -> list[Any]:
        """The records of a run (or one step path) as Python values, in emission order."""
        query = "SELECT data FROM records WHERE run_id = ?"
        params: list[Any] = [run_id]
        if step_path:
            query += " AND step_path = ?"
            params.append(step_path)
        cursor = self.connection.execute(query + " ORDER BY seq", params)
        return [orjson.loads(row[0]) for row in cursor.fetchall()]

    # -- exchanges: a list with filter and paging, one with its bodies -------------------------

    @staticmethod
    def _exchange_filter(
        run_id: str,
        step_path: str | None,
        errors_only: bool,
        filters: ExchangeFilter | None = None,
    ) -> tuple[str, dict[str, Any]]:
        where = ["run_id = $run"]
        params: dict[str, Any] = {"run": run_id}
        if step_path:
            where.append("step_path = $step")
            params["step"] = step_path
        if errors_only:
            where.append(sql.FAILED_EXCHANGE)
        if filters is not None:
            more, more_params = filters.conditions()
            where += more
            params.update(more_params)
        return " AND ".join(where), params

    @staticmethod
    def _exchange_order(filters: ExchangeFilter | None) -> str:
        """The ORDER BY of a list: the filter's sort column (checked), then the exchange id."""
        if filters is None:
            return "exchange_id"
        column = filters.sort_column
        if column not in EXCHANGE_LIST_COLUMNS:
            raise ValueError(
                f"cannot sort exchanges by {column!r}: sort by one of "
                f"{', '.join(EXCHANGE_LIST_COLUMNS)} (a leading '-' sorts descending)"
            )
        direction = "DESC" if filters.descending else "ASC"
        column = _LIST_SELECT.get(column, column).split(" AS ")[0]
        return f"{column} {direction} NULLS LAST, exchange_id {direction}"

    def exchange_page(
        self,
        run_id: str,
        step_path: str | None = None,
        *,
        offset: int = 0,
        limit: int = 25,
        errors_only: bool = False,
        filters: ExchangeFilter | None = None,
    ) -> tuple[pd.DataFrame, int]:
        """One page of exchanges (``EXCHANGE_LIST_COLUMNS``, no bodies) and how many match.

        ``step_path`` narrows to one step; ``errors_only`` to status >= 400 or none;
        ``filters`` by status, error kind, URL, item, page, attempt and body text, and
        sorts (by exchange id without it).
        """
        where, params = self._exchange_filter(run_id, step_path, errors_only, filters)
        order = self._exchange_order(filters)
        total = self.rows(f"SELECT count(*) AS n FROM exchanges WHERE {where}", params)[0]["n"]
        columns = ", ".join(_LIST_SELECT.get(c, c) for c in EXCHANGE_LIST_COLUMNS)
        page = self.frame(
            f"SELECT {columns} FROM exchanges WHERE {where} "
            f"ORDER BY {order} LIMIT {int(limit)} OFFSET {int(offset)}",
            params,
        )
        return page, int(total)

    def exchange_position(
        self,
        run_id: str,
        step_path: str | None,
        exchange_id: int,
        errors_only: bool = False,
        filters: ExchangeFilter | None = None,
    ) -> int | None:
        """Where an exchange stands in its filtered, sorted list (to turn to its page), or None."""
        where, params = self._exchange_filter(run_id, step_path, errors_only, filters)
        params["id"] = exchange_id
        found = self.rows(
            f"SELECT position FROM (SELECT exchange_id, row_number() OVER "
            f"(ORDER BY {self._exchange_order(filters)}) - 1 AS position "
            f"FROM exchanges WHERE {where}) WHERE exchange_id = $id",
            params,
        )
        return int(found[0]["position"]) if found else None

    def exchange(self, run_id: str, exchange_id: int) -> dict[str, Any] | None:
        """One exchange with its (masked) headers and bodies, or None."""
        found = self.rows(
            "SELECT * FROM exchanges WHERE run_id = ? AND exchange_id = ?", [run_id, exchange_id]
        )
        return found[0] if found else None

    def exchange_count(self, run_id: str, step_path: str | None = None) -> int:
        """How many exchanges a run (or one of its step paths) holds, before any filter."""
        where, params = self._exchange_filter(run_id, step_path, False)
        return int(self.rows(f"SELECT count(*) AS n FROM exchanges WHERE {where}", params)[0]["n"])

    def exchange_error_kinds(self, run_id: str, step_path: str | None = None) -> dict[str, int]:
        """The kinds of transport error (``ReadError``…) among a run's exchanges, with counts."""
        where, params = self._exchange_filter(run_id, step_path, False)
        rows = self.rows(
            f"SELECT {ERROR_KIND} AS kind, count(*) AS n FROM exchanges "
            f"WHERE {where} AND error IS NOT NULL GROUP BY ALL ORDER BY n DESC, kind",
            params,
        )
        return {row["kind"]: int(row["n"]) for row in rows}

    def exchange_body(self, run_id: str, exchange_id: int, side: str) -> bytes | None:
        """The full body of one side (``request`` or ``response``) as captured, masked.

        A base64 body (binary) comes back decoded, text as UTF-8; None when the
        exchange is not in the run or has no such body.
        """
        if side not in ("request", "response"):
            raise ValueError(f"side must be 'request' or 'response' (got {side!r})")
        found = self.rows(
            f"SELECT {side}_body AS body, {side}_body_encoding AS encoding FROM exchanges "
            "WHERE run_id = ? AND exchange_id = ?",
            [run_id, exchange_id],
        )
        if not found or found[0]["body"] is None:
            return None
        text, encoding = found[0]["body"], found[0]["encoding"]
        return base64.b64decode(text) if encoding == "base64" else text.encode()

    def last_response(self, run_id: str, step_path: str) -> dict[str, Any] | None:
        """The last response a step received: ``status_code``, ``response_body`` (+ encoding)
        as stored, and ``body``: its JSON value, else the text (base64 stays text)."""
        found = self.rows(
            "SELECT status_code, response_body, response_body_encoding FROM exchanges "
            "WHERE run_id = ? AND step_path = ? AND status_code IS NOT NULL "
            "ORDER BY exchange_id DESC LIMIT 1",
            [run_id, step_path],
        )
        if not found:
            return None
        row = found[0]
        body: Any = row["response_body"]
        if row.get("response_body_encoding") != "base64" and isinstance(body, str):
            with contextlib.suppress(ValueError):  # not JSON: the text
                body = json.loads(body)
        return {**row, "body": body}

    # -- statistics --------------------------------------------------------------------------

    def signature(self, run_id: str | None) -> CaptureSignature:
        """Counts that tell a poller whether anything worth redrawing was written."""
        found = self.rows(sql.SIGNATURE, {"run": run_id})[0]
        return CaptureSignature(
            runs=found["runs"],
            newest_run=found["newest"],
            run_status=found["status"],
            run_requests=found["requests"],
            run_errors=found["errors"],
            steps=found["steps"],
            exchanges=found["exchanges"],
            events=found["events"],
        )

    def step_statistics(self, run_id: str) -> pd.DataFrame:
        """One row per step path: executions by status, requests, retries, bytes, wall time."""
        return self.frame(sql.STEP_STATISTICS, {"run": run_id})

    def waterfall(
        self,
        run_id: str,
        *,
        limit: int = WATERFALL_LIMIT,
        start_ms: float | None = None,
        end_ms: float | None = None,
        buckets: int = WATERFALL_BUCKETS,
    ) -> WaterfallRows:
        """The run's waterfall between ``start_ms`` and ``end_ms`` (default: all of it).

        A window overlapped by at most ``limit`` exchanges comes as bars (its exchanges,
        retry and rate-limit waits); a busier one as ``buckets`` time buckets counted in
        DuckDB: completions per status class, requests in flight, latency p50/p95/max,
        waits begun.

        A bound that is not a number (NaN) is refused with a ``ValueError``: DuckDB orders
        NaN above every number, so a NaN window would count every exchange as in it and
        bucket them at NaN. An infinite bound stands for the run's edge (0 or its span).
        """
        span = self.rows(sql.WATERFALL_SPAN, {"run": run_id})[0]
        total, span_ms = int(span["total"]), max(float(span["span_ms"] or 0.0), 1.0)
        start = max(0.0, _window_bound("start_ms", start_ms, 0.0, span_ms))
        end = _window_bound("end_ms", end_ms, span_ms, span_ms)
        end = max(end, start + 1e-3)
        window = {"run": run_id, "start": start, "end": end}
        in_window = int(self.rows(sql.WATERFALL_IN_WINDOW, window)[0]["n"])
        rows = WaterfallRows(
            pd.DataFrame(), pd.DataFrame(), total, pd.DataFrame(), start, end, span_ms, in_window
        )
        if in_window <= limit:
            query = sql.waterfall_exchanges(limit, self.has_column("exchanges", "first_byte_ms"))
            rows.exchanges = self.frame(query, window)
            rows.waits = self.frame(sql.waterfall_waits(limit), window)
        else:
            count = max(int(buckets), 1)
            params = {**window, "width": (end - start) / count, "buckets": count}
            rows.buckets = self.frame(sql.WATERFALL_BUCKETS, params)
        return rows

    def statistics(self, run_id: str) -> RunStatistics:
        """Totals (requests, retries, waits, errors, bytes, rate), status counts, percentiles."""
        params = {"run": run_id}
        totals = self.rows(sql.RUN_TOTALS, params)[0]
        span = float(totals["span_seconds"] or 0.0)
        totals["requests_per_second"] = totals["requests"] / span if span > 0 else None
        width = bucket_seconds(span)
        return RunStatistics(
            totals,
            self.frame(sql.REQUESTS_BY_STATUS, params),
            self.frame(sql.LATENCY_BY_STEP, params),
            self.frame(sql.throughput(width), params),
            width,
        )

    # -- run-to-run diff ---------------------------------------------------------------------

    def step_latency(self, run_id: str) -> pd.DataFrame:
        """Per step path: requests answered and their p50/p95/p99/max latency in ms."""
        return self.frame(sql.LATENCY_BY_STEP, {"run": run_id})

    def record_change_counts(self, run_a: str, run_b: str, key: str) -> list[dict[str, Any]]:
        """Records of two runs paired per step by the JSON field ``key`` (a dotted path),
        counted by change: ``same``, ``changed``, ``added``, ``removed``.

        Records without the field pair by position among the keyless ones of their step
        (``by_position``).
        """
        return self.rows(sql.RECORD_CHANGE_COUNTS, {"a": run_a, "b": run_b, "path": f"$.{key}"})

    def record_changes(
        self, run_a: str, run_b: str, key: str, *, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """The first ``limit`` records added, removed or changed, with both sides as JSON text."""
        params = {"a": run_a, "b": run_b, "path": f"$.{key}"}
        return self.rows(sql.record_changes(limit), params)

    def record_shapes(self, run_id: str) -> dict[str, Any]:
        """Per step path, the JSON structure DuckDB infers over all of its records."""
        rows = self.rows(sql.RECORD_SHAPES, {"run": run_id})
        return {row["step_path"]: orjson.loads(row["shape"]) for row in rows}

    # -- exports -----------------------------------------------------------------------------

    def exchanges_for_export(
        self,
        run_id: str,
        *,
        step_path: str | None = None,
        errors_only: bool = False,
        exchange_ids: list[int] | None = None,
        filters: ExchangeFilter | None = None,
    ) -> list[dict[str, Any]]:
        """Whole exchange rows (masked headers and bodies) of a selection, in order.

        The selection is the exchange list's (``step_path``, ``errors_only`` and
        ``filters``, in the filter's sort: the rows :meth:`exchange_page` pages
        through), narrowed to ``exchange_ids`` when given.
        """
        where, params = self._exchange_filter(run_id, step_path, errors_only, filters)
        if exchange_ids is not None:
            where += f" AND {sql.EXPORT_EXCHANGE_IDS}"
            params["ids"] = [int(exchange_id) for exchange_id in exchange_ids]
        order = self._exchange_order(filters)
        return self.rows(f"SELECT * FROM exchanges WHERE {where} ORDER BY {order}", params)

    def copy_records(
        self, run_id: str, target: str, *, step_path: str | None = None, file_format: str = "csv"
    ) -> int:
        """Write a run's records (or one step's) to ``target`` as CSV or Parquet; the count.

        A whole run has the columns ``seq, step_path, page, item_index, data`` (the
        record as JSON). One step is its typed table, as :meth:`table` reads it:
        ``run_id`` and a column per field, types inferred over the run's records of
        the step (objects and lists as STRUCTs and LISTs in Parquet, JSON text in CSV).
        Raises :class:`TableNotFound` if the step emitted no records in the run.
        """
        if step_path is None:
            select = (
                "SELECT seq, step_path, page, item_index, data FROM records "
                f"WHERE run_id = {tables.literal(run_id)} ORDER BY seq"
            )
        else:
            select = self.table_select(step_path, run_id, nested_as_json=file_format == "csv")
        written = self.rows(sql.copy_records(select, target, file_format))
        return int(written[0]["Count"]) if written else 0

    # -- typed tables: each step's records as columns (``_tables.py``) -------------------------

    def record_steps(self, run_id: str | None = None) -> list[str]:
        """The step paths that emitted records (in a run, or in the whole file), sorted."""
        return tables.record_steps(self.connection, run_id)

    def table_run(self, step_path: str, run: str | None = None) -> str:
        """The run whose records ``table`` reads: ``run`` resolved, or by default the latest
        run that ran the step (the run ``data.<step>`` shows).

        Raises :class:`TableNotFound` naming the steps with records if this one has none:
        those of the run when one is given, else those of the file.
        """
        if run in (None, "last", "latest"):
            steps = tables.record_steps(self.connection)
            if step_path not in steps:
                listed = ", ".join(steps) if steps else "none yet"
                raise tables.TableNotFound(
                    f"step {step_path!r} emitted no records in {self.path} "
                    f"(steps with records: {listed})"
                )
            run_id = tables.latest_run_of(self.connection, step_path) or self.resolve_run(None)
        else:
            run_id = self.resolve_run(run)
        if step_path not in tables.record_steps(self.connection, run_id):
            listed = ", ".join(tables.record_steps(self.connection, run_id)) or "none"
            raise tables.TableNotFound(
                f"step {step_path!r} emitted no records in run {run_id} (steps with records "
                f"in that run: {listed}); `orchestra runs` lists the runs"
            )
        return run_id

    def table_select(self, step_path: str, run_id: str, *, nested_as_json: bool = False) -> str:
        """The SQL of one run's records of a step as typed columns (types inferred over them).

        Raises :class:`TableNotFound` if the step emitted no records in the run.
        """
        structure = tables.infer(self.connection, step_path, run_id)
        if structure is None:
            listed = ", ".join(tables.record_steps(self.connection, run_id)) or "none"
            raise tables.TableNotFound(
                f"step {step_path!r} emitted no records in run {run_id} "
                f"(steps with records in that run: {listed})"
            )
        where = f"run_id = {tables.literal(run_id)} AND step_path = {tables.literal(step_path)}"
        return tables.typed_select(
            structure,
            where,
            nested_as_json=nested_as_json,
            pages=tables.has_pages(self.connection),
            paths=tables.record_paths(self.connection, where),
        )

    def table(self, step_path: str, run_id: str) -> pd.DataFrame:
        """One run's records of a step as a DataFrame of typed columns (``run_id`` first).

        Nested objects come back as dicts, lists as arrays/lists.
        """
        return self.frame(self.table_select(step_path, run_id))


def _window_bound(name: str, value: float | None, default: float, span_ms: float) -> float:
    """One bound of a waterfall window in ms: ``default`` when None, an infinity clamped to
    the run (0 or ``span_ms``); NaN is refused."""
    if value is None:
        return default
    bound = float(value)
    if math.isnan(bound):
        raise ValueError(f"the waterfall's window needs numbers: {name} is {value!r}")
    if math.isinf(bound):
        return span_ms if bound > 0 else 0.0
    return bound
