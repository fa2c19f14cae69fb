"""The dashboard's reads: every query it sends to the capture file, aggregated in SQL.

Each function opens the file through :class:`~orchestra.capture.Database` for
one query (read-only, retrying while another process holds the write lock) and
closes it, so a dashboard never keeps a writer out. Nothing here returns
response bodies except :func:`exchange`, which reads one exchange; lists and
charts get ids, sizes and timings only, so a run of 10,000 exchanges costs a
few hundred kilobytes, never its bodies.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb
import orjson
import pandas as pd

from orchestra.capture import CaptureStore

RUN_COLUMNS = ["run_id", "plan_key", "status", "started_at", "duration_ms", "requests", "errors"]
RUNS_LIMIT = 500  # the run picker lists the newest runs; filters narrow it
WATERFALL_LIMIT = 20_000  # bars drawn at most; a larger run shows its first exchanges

Params = list[Any] | dict[str, Any] | None


class Reader:
    """Queries over one open connection: one refresh of the dashboard is one connection."""

    def __init__(self, connection: duckdb.DuckDBPyConnection):
        self.connection = connection

    def rows(self, query: str, params: Params = None) -> list[dict[str, Any]]:
        """Rows as dicts of plain Python values (``None`` for NULL, never NaN)."""
        cursor = self.connection.execute(query, params or [])
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def frame(self, query: str, params: Params = None) -> pd.DataFrame:
        return self.connection.execute(query, params or []).df()


@contextmanager
def reading(store: CaptureStore) -> Iterator[Reader]:
    """Open the capture read-only for one refresh (retrying while a writer holds it)."""
    if not store.database.exists:
        raise FileNotFoundError(f"{store.path} does not exist yet")
    with store.database.connect() as connection:
        yield Reader(connection)


# -- runs -------------------------------------------------------------------------------------


def runs(db: Reader, *, plan_key: str = "", status: str = "") -> pd.DataFrame:
    """The newest runs first, with the columns the run picker shows."""
    where, params = [], []
    if plan_key:
        where.append("plan_key = ?")
        params.append(plan_key)
    if status:
        where.append("status = ?")
        params.append(status)
    query = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs"
    if where:
        query += " WHERE " + " AND ".join(where)
    query += f" ORDER BY started_at DESC, run_id DESC LIMIT {RUNS_LIMIT}"
    return db.frame(query, params)


def plan_keys(db: Reader) -> list[str]:
    return [row["plan_key"] for row in db.rows("SELECT DISTINCT plan_key FROM runs ORDER BY 1")]


def run(db: Reader, run_id: str) -> dict[str, Any] | None:
    found = db.rows("SELECT * FROM runs WHERE run_id = ?", [run_id])
    return found[0] if found else None


@dataclass(frozen=True)
class Signature:
    """What changes when a capture file gains data: cheap to read every poll."""

    runs: int = 0
    newest_run: str | None = None
    run_status: str | None = None
    run_requests: int | None = None
    run_errors: int | None = None
    steps: int = 0
    exchanges: int = 0
    events: int = 0


def signature(db: Reader, run_id: str | None) -> Signature:
    """Counts that tell a poller whether anything worth redrawing was written."""
    found = db.rows(
        """
        SELECT (SELECT count(*) FROM runs) AS runs,
               (SELECT run_id FROM runs ORDER BY started_at DESC, run_id DESC LIMIT 1) AS newest,
               r.status, r.requests, r.errors,
               (SELECT count(*) FROM steps WHERE run_id = $run) AS steps,
               (SELECT count(*) FROM exchanges WHERE run_id = $run) AS exchanges,
               (SELECT count(*) FROM events WHERE run_id = $run) AS events
        FROM (SELECT 1) AS one LEFT JOIN runs AS r ON r.run_id = $run
        """,
        {"run": run_id},
    )[0]
    return Signature(
        runs=found["runs"],
        newest_run=found["newest"],
        run_status=found["status"],
        run_requests=found["requests"],
        run_errors=found["errors"],
        steps=found["steps"],
        exchanges=found["exchanges"],
        events=found["events"],
    )


# -- steps ------------------------------------------------------------------------------------

_STEP_STATS = """
WITH finished AS (
    SELECT step_path,
           count(*) AS executions,
           count(*) FILTER (WHERE status = 'ok') AS ok,
           count(*) FILTER (WHERE status IN ('failed', 'aborted')) AS failed,
           count(*) FILTER (WHERE status IN ('interrupted', 'cancelled')) AS cancelled,
           count(*) FILTER (WHERE status IN ('skipped', 'ignored')) AS skipped,
           any_value(kind) AS kind,
           CAST(sum(pages) AS BIGINT) AS pages,
           CAST(sum(items) AS BIGINT) AS items,
           CAST(sum(records) AS BIGINT) AS records,
           min(started_at) AS first_started,
           max(finished_at) AS last_finished,
           any_value(error) FILTER (WHERE error IS NOT NULL) AS error,
           any_value(reason) FILTER (WHERE reason IS NOT NULL) AS reason
    FROM steps WHERE run_id = $run GROUP BY step_path
),
sent AS (
    SELECT step_path,
           count(*) AS requests,
           count(*) FILTER (WHERE attempt > 1) AS retries,
           max(attempt) AS max_attempt,
           count(*) FILTER (WHERE status_code >= 400 OR status_code IS NULL) AS failed_requests,
           CAST(sum(coalesce(request_size, 0) + coalesce(response_size, 0)) AS BIGINT) AS bytes,
           min(started_at) AS first_sent,
           max(started_at + to_microseconds(CAST(coalesce(elapsed_ms, 0) * 1000 AS BIGINT)))
               AS last_answered
    FROM exchanges WHERE run_id = $run GROUP BY step_path
),
unfinished AS (
    SELECT e.step_path, count(DISTINCT e.execution_id) AS running
    FROM exchanges AS e
    WHERE e.run_id = $run
      AND NOT EXISTS (SELECT 1 FROM steps AS s
                      WHERE s.run_id = e.run_id AND s.execution_id = e.execution_id)
    GROUP BY e.step_path
)
SELECT step_path,
       coalesce(f.executions, 0) AS executions,
       coalesce(f.ok, 0) AS ok,
       coalesce(f.failed, 0) AS failed,
       coalesce(f.cancelled, 0) AS cancelled,
       coalesce(f.skipped, 0) AS skipped,
       coalesce(u.running, 0) AS running,
       f.kind,
       coalesce(s.requests, 0) AS requests,
       coalesce(s.retries, 0) AS retries,
       coalesce(s.max_attempt, 0) AS max_attempt,
       coalesce(s.failed_requests, 0) AS failed_requests,
       coalesce(f.pages, 0) AS pages,
       coalesce(f.items, 0) AS items,
       coalesce(f.records, 0) AS records,
       coalesce(s.bytes, 0) AS bytes,
       least(f.first_started, s.first_sent) AS first_started,
       greatest(f.last_finished, s.last_answered) AS last_finished,
       date_diff('microsecond', least(f.first_started, s.first_sent),
                 greatest(f.last_finished, s.last_answered)) / 1000.0 AS duration_ms,
       f.error,
       f.reason
FROM finished AS f
FULL OUTER JOIN sent AS s USING (step_path)
LEFT JOIN unfinished AS u USING (step_path)
ORDER BY first_started NULLS LAST, step_path
"""


def step_stats(db: Reader, run_id: str) -> pd.DataFrame:
    """One row per step path: executions by status, requests, retries, bytes, wall time."""
    return db.frame(_STEP_STATS, {"run": run_id})


# -- exchanges --------------------------------------------------------------------------------

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


_LIST_SELECT = {"url": "regexp_replace(url, '^[a-zA-Z]+://[^/]+', '') AS url"}  # path and query


def _exchange_filter(run_id: str, step_path: str | None, errors_only: bool) -> tuple[str, dict]:
    where = ["run_id = $run"]
    params: dict[str, Any] = {"run": run_id}
    if step_path:
        where.append("step_path = $step")
        params["step"] = step_path
    if errors_only:
        where.append("(status_code >= 400 OR status_code IS NULL)")
    return " AND ".join(where), params


def exchange_page(
    db: Reader,
    run_id: str,
    step_path: str | None,
    *,
    offset: int,
    limit: int,
    errors_only: bool = False,
) -> tuple[pd.DataFrame, int]:
    """One page of a step's exchanges (no bodies) and how many there are in all."""
    where, params = _exchange_filter(run_id, step_path, errors_only)
    total = db.rows(f"SELECT count(*) AS n FROM exchanges WHERE {where}", params)[0]["n"]
    columns = ", ".join(_LIST_SELECT.get(c, c) for c in EXCHANGE_LIST_COLUMNS)
    page = db.frame(
        f"SELECT {columns} FROM exchanges WHERE {where} "
        f"ORDER BY exchange_id LIMIT {int(limit)} OFFSET {int(offset)}",
        params,
    )
    return page, int(total)


def exchange_position(
    db: Reader, run_id: str, step_path: str | None, exchange_id: int, errors_only: bool
) -> int | None:
    """Where an exchange stands in its step's list (to turn to its page), or None."""
    where, params = _exchange_filter(run_id, step_path, errors_only)
    params["id"] = exchange_id
    found = db.rows(
        f"SELECT (SELECT count(*) FROM exchanges WHERE {where} AND exchange_id < $id) AS before, "
        f"EXISTS (SELECT 1 FROM exchanges WHERE {where} AND exchange_id = $id) AS present",
        params,
    )[0]
    return int(found["before"]) if found["present"] else None


def exchange(db: Reader, run_id: str, exchange_id: int) -> dict[str, Any] | None:
    """One exchange with its (masked) headers and bodies."""
    found = db.rows(
        "SELECT * FROM exchanges WHERE run_id = ? AND exchange_id = ?",
        [run_id, exchange_id],
    )
    return found[0] if found else None


# -- waterfall --------------------------------------------------------------------------------


@dataclass
class WaterfallRows:
    """Exchanges and waits of a run, as offsets in milliseconds from the run's start."""

    exchanges: pd.DataFrame
    waits: pd.DataFrame
    total: int = 0  # exchanges in the run (``exchanges`` holds at most WATERFALL_LIMIT)


def waterfall(db: Reader, run_id: str, *, limit: int = WATERFALL_LIMIT) -> WaterfallRows:
    params = {"run": run_id}
    start = "(SELECT started_at FROM runs WHERE run_id = $run)"
    exchanges_ = db.frame(
        f"""
        SELECT exchange_id, step_path, execution_id, item_index, page, attempt, method,
               left(regexp_replace(url, '^[a-zA-Z]+://[^/]+', ''), 200) AS url,
               status_code, left(error, 200) AS error,
               date_diff('microsecond', {start}, started_at) / 1000.0 AS start_ms,
               coalesce(elapsed_ms, 0) AS elapsed_ms
        FROM exchanges WHERE run_id = $run
        ORDER BY started_at, exchange_id LIMIT {int(limit)}
        """,
        params,
    )
    waits = db.frame(
        f"""
        SELECT seq, type, step_path, exchange_id, delay_seconds * 1000.0 AS delay_ms,
               date_diff('microsecond', {start}, occurred_at) / 1000.0 AS start_ms,
               json_extract_string(detail, '$.reason') AS reason,
               json_extract(detail, '$.attempt')::BIGINT AS attempt
        FROM events
        WHERE run_id = $run AND type IN ('retry_scheduled', 'rate_limit_wait')
        ORDER BY seq
        """,
        params,
    )
    total = db.rows("SELECT count(*) AS n FROM exchanges WHERE run_id = $run", params)[0]["n"]
    return WaterfallRows(exchanges_, waits, int(total))


# -- metrics ----------------------------------------------------------------------------------


@dataclass
class Metrics:
    """The numbers of the metrics view, all computed by DuckDB."""

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


def metrics(db: Reader, run_id: str) -> Metrics:
    params = {"run": run_id}
    totals = db.rows(
        """
        SELECT (SELECT count(*) FROM exchanges WHERE run_id = $run) AS requests,
               (SELECT count(*) FROM exchanges WHERE run_id = $run
                  AND (status_code >= 400 OR status_code IS NULL)) AS failed_requests,
               (SELECT count(*) FROM exchanges WHERE run_id = $run AND attempt > 1) AS retries,
               (SELECT count(*) FROM events WHERE run_id = $run
                  AND type = 'retry_scheduled') AS retries_scheduled,
               (SELECT coalesce(sum(delay_seconds), 0) FROM events WHERE run_id = $run
                  AND type = 'retry_scheduled') AS retry_wait_seconds,
               (SELECT count(*) FROM events WHERE run_id = $run
                  AND type = 'rate_limit_wait') AS rate_limit_waits,
               (SELECT coalesce(sum(delay_seconds), 0) FROM events WHERE run_id = $run
                  AND type = 'rate_limit_wait') AS rate_limit_wait_seconds,
               (SELECT count(*) FROM errors WHERE run_id = $run) AS errors,
               (SELECT count(*) FROM records WHERE run_id = $run) AS records,
               (SELECT CAST(coalesce(sum(response_size), 0) AS BIGINT) FROM exchanges
                  WHERE run_id = $run) AS response_bytes,
               (SELECT date_diff('microsecond', min(started_at),
                    max(started_at + to_microseconds(CAST(coalesce(elapsed_ms, 0) * 1000
                        AS BIGINT)))) / 1e6
                  FROM exchanges WHERE run_id = $run) AS span_seconds
        """,
        params,
    )[0]
    span = float(totals["span_seconds"] or 0.0)
    totals["requests_per_second"] = totals["requests"] / span if span > 0 else None
    by_status = db.frame(
        """
        SELECT coalesce(CAST(status_code AS VARCHAR), 'no response') AS status,
               count(*) AS requests
        FROM exchanges WHERE run_id = $run
        GROUP BY ALL ORDER BY status
        """,
        params,
    )
    latency = db.frame(
        """
        SELECT step_path, count(*) AS requests,
               quantile_cont(elapsed_ms, 0.5) AS p50_ms,
               quantile_cont(elapsed_ms, 0.95) AS p95_ms,
               quantile_cont(elapsed_ms, 0.99) AS p99_ms,
               max(elapsed_ms) AS max_ms
        FROM exchanges WHERE run_id = $run AND elapsed_ms IS NOT NULL
        GROUP BY step_path ORDER BY min(exchange_id)
        """,
        params,
    )
    width = bucket_seconds(span)
    throughput = db.frame(
        f"""
        WITH start AS (SELECT min(started_at) AS t0 FROM exchanges WHERE run_id = $run)
        SELECT floor(date_diff('microsecond', start.t0, started_at) / 1e6 / {width}) * {width}
                   AS second,
               count(*) AS requests,
               count(*) FILTER (WHERE status_code >= 400 OR status_code IS NULL) AS failed
        FROM exchanges, start WHERE run_id = $run
        GROUP BY ALL ORDER BY second
        """,
        params,
    )
    return Metrics(totals, by_status, latency, throughput, width)


def plan(db: Reader, run_id: str) -> dict[str, Any] | None:
    """The plan JSON that ran, or None if the capture lacks it."""
    found = db.rows(
        "SELECT p.plan FROM runs AS r JOIN plans AS p USING (plan_hash) WHERE r.run_id = ?",
        [run_id],
    )
    return orjson.loads(found[0]["plan"]) if found and found[0]["plan"] else None
