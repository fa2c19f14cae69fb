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

# What the run list shows of every run, cheap enough to compare on every poll: a run's row
# changes (status, requests, errors, duration) while it runs and when it ends.
RUNS_PROGRESS = """
SELECT count(*) AS runs,
       count(*) FILTER (WHERE status = 'running') AS running,
       coalesce(sum(requests), 0) AS requests,
       coalesce(sum(errors), 0) AS errors,
       CAST(max(finished_at) AS VARCHAR) AS last_finished
FROM runs
"""

# A run's errors as the dashboard counts them: every row of the errors table, except the
# run-level row (kind 'run_…') that restates the error of the step that ended the run.
RUN_ERROR_COUNTS = """
SELECT e.run_id, count(*) AS errors
FROM errors AS e
WHERE e.run_id IN (SELECT unnest($runs))
  AND NOT (starts_with(e.kind, 'run_') AND EXISTS (
      SELECT 1 FROM errors AS s
      WHERE s.run_id = e.run_id AND starts_with(s.kind, 'step_')
        AND s.step_path IS NOT DISTINCT FROM e.step_path))
GROUP BY e.run_id
"""

# Records per step path that emitted them (a fanout's records belong to its sub-step, as in
# the run result, the CLI summary and the notebook).
RECORDS_BY_STEP = """
SELECT step_path, count(*) AS records FROM records WHERE run_id = $run GROUP BY step_path
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
unfinished AS (  -- executions that sent requests but have no steps row yet
    SELECT e.step_path, count(DISTINCT e.execution_id) AS running
    FROM exchanges AS e
    ANTI JOIN (SELECT execution_id FROM steps WHERE run_id = $run) AS s
      ON s.execution_id = e.execution_id
    WHERE e.run_id = $run
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

# Every exchange (and wait) of the run as an interval on the run's clock, in ms.
_INTERVALS = f"""
intervals AS (
    SELECT date_diff('microsecond', {_RUN_START}, started_at) / 1000.0 AS s,
           coalesce(elapsed_ms, 0) AS d, status_code
    FROM exchanges WHERE run_id = $run
)"""
# A bar overlaps the window [$start, $end] (an instant bar at $start counts).
_OVERLAPS = "s <= $end AND s + d >= $start"

WATERFALL_SPAN = f"""
WITH {_INTERVALS},
waits AS (
    SELECT date_diff('microsecond', {_RUN_START}, occurred_at) / 1000.0
               + coalesce(delay_seconds, 0) * 1000.0 AS e
    FROM events WHERE run_id = $run AND type IN ('retry_scheduled', 'rate_limit_wait')
)
SELECT (SELECT count(*) FROM intervals) AS total,
       greatest((SELECT max(s + d) FROM intervals), (SELECT max(e) FROM waits)) AS span_ms
"""

WATERFALL_IN_WINDOW = f"""
WITH {_INTERVALS}
SELECT count(*) AS n FROM intervals WHERE {_OVERLAPS}
"""

_STATUS_CLASS = """CASE WHEN status_code IS NULL THEN 'none'
            WHEN status_code = 429 THEN 's429'
            WHEN status_code >= 500 THEN 's5xx'
            WHEN status_code >= 400 THEN 's4xx'
            WHEN status_code >= 300 THEN 's3xx'
            ELSE 's2xx' END"""

# Per bucket of $width ms from $start ($buckets of them, passed in: recomputing the count
# from the width can round up to one too many): exchanges answered in it per status class (named
# s2xx … none), their latency, how many were in flight at the bucket's end, waits begun.
# Bucket -1 gathers what happened before the window, so the in-flight count starts right.
WATERFALL_BUCKETS = f"""
WITH {_INTERVALS},
n AS (SELECT CAST($buckets AS BIGINT) AS n),
grid AS (SELECT range AS bucket FROM n, range(-1, n.n)),
sent AS (
    SELECT bucket, count(*) AS started
    FROM (SELECT least(greatest(floor((s - $start) / $width), -1), n.n - 1) AS bucket
          FROM intervals, n WHERE s <= $end)
    GROUP BY bucket
),
answered AS (
    SELECT bucket,
           count(*) AS answered,
           count(*) FILTER (WHERE cls = 's2xx') AS s2xx,
           count(*) FILTER (WHERE cls = 's3xx') AS s3xx,
           count(*) FILTER (WHERE cls = 's4xx') AS s4xx,
           count(*) FILTER (WHERE cls = 's429') AS s429,
           count(*) FILTER (WHERE cls = 's5xx') AS s5xx,
           count(*) FILTER (WHERE cls = 'none') AS none,
           quantile_cont(d, 0.5) AS p50_ms,
           quantile_cont(d, 0.95) AS p95_ms,
           max(d) AS max_ms
    FROM (SELECT least(greatest(floor((s + d - $start) / $width), -1), n.n - 1) AS bucket,
                 d, {_STATUS_CLASS} AS cls
          FROM intervals, n WHERE s + d <= $end)
    GROUP BY bucket
),
waited AS (
    SELECT bucket,
           count(*) FILTER (WHERE type = 'retry_scheduled') AS retry_waits,
           count(*) FILTER (WHERE type = 'rate_limit_wait') AS rate_limit_waits
    FROM (SELECT least(greatest(floor((w - $start) / $width), -1), n.n - 1) AS bucket, type
          FROM (SELECT date_diff('microsecond', {_RUN_START}, occurred_at) / 1000.0 AS w, type
                FROM events
                WHERE run_id = $run AND type IN ('retry_scheduled', 'rate_limit_wait')), n
          WHERE w <= $end)
    GROUP BY bucket
),
counted AS (
    SELECT grid.bucket,
           coalesce(answered.answered, 0) AS answered,
           coalesce(s2xx, 0) AS s2xx, coalesce(s3xx, 0) AS s3xx, coalesce(s4xx, 0) AS s4xx,
           coalesce(s429, 0) AS s429, coalesce(s5xx, 0) AS s5xx, coalesce(none, 0) AS none,
           p50_ms, p95_ms, max_ms,
           coalesce(retry_waits, 0) AS retry_waits,
           coalesce(rate_limit_waits, 0) AS rate_limit_waits,
           sum(coalesce(started, 0)) OVER (ORDER BY grid.bucket)
             - sum(coalesce(answered.answered, 0)) OVER (ORDER BY grid.bucket) AS in_flight
    FROM grid
    LEFT JOIN sent USING (bucket)
    LEFT JOIN answered USING (bucket)
    LEFT JOIN waited USING (bucket)
)
SELECT $start + bucket * $width AS start_ms, $start + (bucket + 1) * $width AS end_ms,
       CAST(answered AS BIGINT) AS answered,
       CAST(s2xx AS BIGINT) AS s2xx, CAST(s3xx AS BIGINT) AS s3xx,
       CAST(s4xx AS BIGINT) AS s4xx, CAST(s429 AS BIGINT) AS s429,
       CAST(s5xx AS BIGINT) AS s5xx, CAST(none AS BIGINT) AS none,
       p50_ms, p95_ms, max_ms,
       CAST(retry_waits AS BIGINT) AS retry_waits,
       CAST(rate_limit_waits AS BIGINT) AS rate_limit_waits,
       CAST(in_flight AS BIGINT) AS in_flight
FROM counted WHERE bucket >= 0 ORDER BY bucket
"""


def waterfall_waits(limit: int) -> str:
    """Retry and rate-limit waits overlapping the window [``$start``, ``$end``] (ms)."""
    return f"""
SELECT * FROM (
    SELECT seq, type, step_path, exchange_id, delay_seconds * 1000.0 AS delay_ms,
           date_diff('microsecond', {_RUN_START}, occurred_at) / 1000.0 AS start_ms,
           json_extract_string(detail, '$.reason') AS reason,
           json_extract(detail, '$.attempt')::BIGINT AS attempt
    FROM events
    WHERE run_id = $run AND type IN ('retry_scheduled', 'rate_limit_wait')
)
WHERE start_ms <= $end AND start_ms + coalesce(delay_ms, 0) >= $start
ORDER BY seq LIMIT {int(limit)}
"""


def waterfall_exchanges(limit: int, first_byte: bool = True) -> str:
    """Exchanges overlapping the window [``$start``, ``$end``] (ms) as bars, at most ``limit``.

    ``first_byte=False`` reads a file from before ``first_byte_ms`` (opened read-only, not
    migrated): the column is NULL.
    """
    first = "least(first_byte_ms, elapsed_ms)" if first_byte else "CAST(NULL AS DOUBLE)"
    return f"""
SELECT * FROM (
    SELECT exchange_id, step_path, execution_id, item_index, page, attempt, method,
           left({URL_PATH}, 200) AS url,
           status_code, left(error, 200) AS error,
           date_diff('microsecond', {_RUN_START}, started_at) / 1000.0 AS start_ms,
           coalesce(elapsed_ms, 0) AS elapsed_ms,
           {first} AS first_byte_ms
    FROM exchanges WHERE run_id = $run
)
WHERE start_ms <= $end AND start_ms + elapsed_ms >= $start
ORDER BY start_ms, exchange_id LIMIT {int(limit)}
"""


RUN_TOTALS = """
WITH sent AS (  -- one pass over the run's exchanges, one over its events
    SELECT count(*) AS requests,
           count(*) FILTER (WHERE status_code >= 400 OR status_code IS NULL) AS failed_requests,
           count(*) FILTER (WHERE attempt > 1) AS retries,
           CAST(coalesce(sum(response_size), 0) AS BIGINT) AS response_bytes,
           date_diff('microsecond', min(started_at),
               max(started_at + to_microseconds(CAST(coalesce(elapsed_ms, 0) * 1000
                   AS BIGINT)))) / 1e6 AS span_seconds
    FROM exchanges WHERE run_id = $run
),
waited AS (
    SELECT count(*) FILTER (WHERE type = 'retry_scheduled') AS retries_scheduled,
           coalesce(sum(delay_seconds) FILTER (WHERE type = 'retry_scheduled'), 0)
               AS retry_wait_seconds,
           count(*) FILTER (WHERE type = 'rate_limit_wait') AS rate_limit_waits,
           coalesce(sum(delay_seconds) FILTER (WHERE type = 'rate_limit_wait'), 0)
               AS rate_limit_wait_seconds
    FROM events WHERE run_id = $run AND type IN ('retry_scheduled', 'rate_limit_wait')
)
SELECT sent.requests, sent.failed_requests, sent.retries,
       waited.retries_scheduled, waited.retry_wait_seconds,
       waited.rate_limit_waits, waited.rate_limit_wait_seconds,
       (SELECT count(*) FROM errors WHERE run_id = $run) AS errors,
       (SELECT count(*) FROM records WHERE run_id = $run) AS records,
       sent.response_bytes, sent.span_seconds
FROM sent, waited
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
                -- the same value written two ways: a record read out of its page's body
                -- (record_pages) is DuckDB's JSON text, one stored as text orjson's
                -- (1e+22 and 1e22, a \\u escape in upper or lower case): as DuckDB writes both
                WHEN CAST(json(a.data) AS VARCHAR) = CAST(json(b.data) AS VARCHAR) THEN 'same'
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


def copy_records(select: str, target: str, file_format: str) -> str:
    """``COPY`` the rows of ``select`` (a run's records, in emission order) to ``target``."""
    options = "FORMAT parquet" if file_format == "parquet" else "FORMAT csv, HEADER"
    quoted = target.replace("'", "''")
    return f"COPY ({select}) TO '{quoted}' ({options})"
