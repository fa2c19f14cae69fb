"""The SQL text of the capture's aggregate reads, kept apart from the code that runs it.

Each query takes the run as the named parameter ``$run``. The aggregations
(counts, sums, percentiles, time buckets) run inside DuckDB, so a reader gets
one small row per step, status or bucket, never the exchanges themselves: a
run of 10,000 exchanges costs a few hundred kilobytes to summarise. Only
:class:`~orchestra.capture.CaptureReader` runs these.
"""

from __future__ import annotations

FAILED_EXCHANGE = "(status_code >= 400 OR status_code IS NULL)"  # an error status, or none
URL_PATH = "regexp_replace(url, '^[a-zA-Z]+://[^/]+', '')"  # the URL without scheme and host

SIGNATURE = """
SELECT (SELECT count(*) FROM runs) AS runs,
       (SELECT run_id FROM runs ORDER BY started_at DESC, run_id DESC LIMIT 1) AS newest,
       r.status, r.requests, r.errors,
       (SELECT count(*) FROM steps WHERE run_id = $run) AS steps,
       (SELECT count(*) FROM exchanges WHERE run_id = $run) AS exchanges,
       (SELECT count(*) FROM events WHERE run_id = $run) AS events
FROM (SELECT 1) AS one LEFT JOIN runs AS r ON r.run_id = $run
"""

STEP_STATISTICS = """
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

_RUN_START = "(SELECT started_at FROM runs WHERE run_id = $run)"

WATERFALL_WAITS = f"""
SELECT seq, type, step_path, exchange_id, delay_seconds * 1000.0 AS delay_ms,
       date_diff('microsecond', {_RUN_START}, occurred_at) / 1000.0 AS start_ms,
       json_extract_string(detail, '$.reason') AS reason,
       json_extract(detail, '$.attempt')::BIGINT AS attempt
FROM events
WHERE run_id = $run AND type IN ('retry_scheduled', 'rate_limit_wait')
ORDER BY seq
"""


def waterfall_exchanges(limit: int) -> str:
    """Exchanges as bars: offsets from the run's start, the first ``limit`` of them."""
    return f"""
SELECT exchange_id, step_path, execution_id, item_index, page, attempt, method,
       left({URL_PATH}, 200) AS url,
       status_code, left(error, 200) AS error,
       date_diff('microsecond', {_RUN_START}, started_at) / 1000.0 AS start_ms,
       coalesce(elapsed_ms, 0) AS elapsed_ms
FROM exchanges WHERE run_id = $run
ORDER BY started_at, exchange_id LIMIT {int(limit)}
"""


RUN_TOTALS = """
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
"""

REQUESTS_BY_STATUS = """
SELECT coalesce(CAST(status_code AS VARCHAR), 'no response') AS status,
       count(*) AS requests
FROM exchanges WHERE run_id = $run
GROUP BY ALL ORDER BY status
"""

LATENCY_BY_STEP = """
SELECT step_path, count(*) AS requests,
       quantile_cont(elapsed_ms, 0.5) AS p50_ms,
       quantile_cont(elapsed_ms, 0.95) AS p95_ms,
       quantile_cont(elapsed_ms, 0.99) AS p99_ms,
       max(elapsed_ms) AS max_ms
FROM exchanges WHERE run_id = $run AND elapsed_ms IS NOT NULL
GROUP BY step_path ORDER BY min(exchange_id)
"""


def throughput(width: float) -> str:
    """Requests (and failed ones) per time bucket of ``width`` seconds from the first send."""
    return f"""
WITH start AS (SELECT min(started_at) AS t0 FROM exchanges WHERE run_id = $run)
SELECT floor(date_diff('microsecond', start.t0, started_at) / 1e6 / {width}) * {width}
           AS second,
       count(*) AS requests,
       count(*) FILTER (WHERE status_code >= 400 OR status_code IS NULL) AS failed
FROM exchanges, start WHERE run_id = $run
GROUP BY ALL ORDER BY second
"""


# -- run-to-run diff: records paired by key (or position), response shapes --------------------

_PAIRED_RECORDS = """
WITH raw AS (
    SELECT true AS is_a, step_path, seq, data, json_extract_string(data, $path) AS k
    FROM records WHERE run_id = $a
    UNION ALL
    SELECT false AS is_a, step_path, seq, data, json_extract_string(data, $path) AS k
    FROM records WHERE run_id = $b
),
keyed AS (
    SELECT is_a, step_path, seq, data, k IS NULL AS by_position,
           coalesce(k, '#' || row_number() OVER (PARTITION BY is_a, step_path, k IS NULL
                                                 ORDER BY seq)) AS key
    FROM raw
),
numbered AS (  -- a key seen twice in a step pairs its occurrences in order
    SELECT *, row_number() OVER (PARTITION BY is_a, step_path, by_position, key
                                 ORDER BY seq) AS nth
    FROM keyed
),
a AS (SELECT * FROM numbered WHERE is_a),
b AS (SELECT * FROM numbered WHERE NOT is_a),
paired AS (
    SELECT coalesce(a.step_path, b.step_path) AS step_path,
           coalesce(a.key, b.key) AS key,
           coalesce(a.by_position, b.by_position) AS by_position,
           CASE WHEN a.key IS NULL THEN 'added'
                WHEN b.key IS NULL THEN 'removed'
                WHEN CAST(a.data AS VARCHAR) = CAST(b.data AS VARCHAR) THEN 'same'
                ELSE 'changed' END AS change,
           CAST(a.data AS VARCHAR) AS before,
           CAST(b.data AS VARCHAR) AS after,
           coalesce(a.seq, b.seq) AS seq,
           b.seq IS NULL AS only_a
    FROM a FULL OUTER JOIN b
      ON a.step_path = b.step_path AND a.by_position = b.by_position
     AND a.key = b.key AND a.nth = b.nth
)
"""

RECORD_CHANGE_COUNTS = (
    _PAIRED_RECORDS
    + """
SELECT step_path, change, bool_or(by_position) AS by_position, count(*) AS n
FROM paired GROUP BY ALL ORDER BY step_path, change
"""
)


def record_changes(limit: int) -> str:
    """The first ``limit`` records added, removed or changed (``$a``, ``$b``, ``$path``)."""
    return (
        _PAIRED_RECORDS
        + f"""
SELECT step_path, key, by_position, change, before, after
FROM paired WHERE change <> 'same'
ORDER BY step_path, only_a, seq LIMIT {int(limit)}
"""
    )


RECORD_SHAPES = """
SELECT step_path, CAST(json_group_structure(data) AS VARCHAR) AS shape
FROM records WHERE run_id = $run GROUP BY step_path ORDER BY step_path
"""

# -- exports: a selection of exchanges, records copied to a file -------------------------------

EXPORT_EXCHANGE_IDS = "list_contains($ids, exchange_id)"


def copy_records(columns: str, where: str, target: str, file_format: str) -> str:
    """``COPY`` a run's records (``columns``, in emission order) to ``target`` (csv|parquet)."""
    options = "FORMAT parquet" if file_format == "parquet" else "FORMAT csv, HEADER"
    quoted = target.replace("'", "''")
    return (
        f"COPY (SELECT {columns} FROM records WHERE {where} ORDER BY seq) TO '{quoted}' ({options})"
    )
