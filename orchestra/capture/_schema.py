"""The DuckDB schema of a capture file, its version and migrations.

Every table is documented column by column in README.md ("Capture tables").
Timestamps are UTC ``TIMESTAMP`` values; bodies and headers are stored as text
(headers as JSON objects), masked before they are written.

Besides these tables (schema ``main``), a file holds views: the typed tables
of each step's records in the schemas ``data`` and ``data_all``, made by
``_tables.py`` over ``main.records``; they are not part of the schema version
(any file can have them made again: ``CaptureStore.refresh_tables()``).
"""

from __future__ import annotations

import re

import duckdb

# 2: exchanges.hop (redirects are exchanges); 3: exchanges.first_byte_ms; 4: records is a
# view over record_rows (the old records table) and record_pages (records by reference)
SCHEMA_VERSION = 4

TABLES: dict[str, str] = {
    "meta": """
        CREATE TABLE IF NOT EXISTS meta (
            key VARCHAR PRIMARY KEY,
            value VARCHAR
        )""",
    "plans": """
        CREATE TABLE IF NOT EXISTS plans (
            plan_hash VARCHAR PRIMARY KEY,
            plan_key VARCHAR,
            plan JSON,
            first_run_id VARCHAR,
            first_seen_at TIMESTAMP
        )""",
    "runs": """
        CREATE TABLE IF NOT EXISTS runs (
            run_id VARCHAR PRIMARY KEY,
            plan_key VARCHAR,
            plan_hash VARCHAR,
            mode VARCHAR,
            status VARCHAR,
            started_at TIMESTAMP,
            finished_at TIMESTAMP,
            duration_ms DOUBLE,
            requests BIGINT,
            errors BIGINT,
            records BIGINT,
            error VARCHAR,
            error_type VARCHAR,
            error_step VARCHAR,
            config JSON,
            orchestra_version VARCHAR
        )""",
    "steps": """
        CREATE TABLE IF NOT EXISTS steps (
            run_id VARCHAR,
            execution_id VARCHAR,
            parent_execution_id VARCHAR,
            step_path VARCHAR,
            kind VARCHAR,
            item_index BIGINT,
            status VARCHAR,
            reason VARCHAR,
            requests BIGINT,
            pages BIGINT,
            items BIGINT,
            records BIGINT,
            started_at TIMESTAMP,
            finished_at TIMESTAMP,
            duration_ms DOUBLE,
            error VARCHAR
        )""",
    "exchanges": """
        CREATE TABLE IF NOT EXISTS exchanges (
            run_id VARCHAR,
            exchange_id BIGINT,
            execution_id VARCHAR,
            step_path VARCHAR,
            page BIGINT,
            item_index BIGINT,
            attempt BIGINT,
            method VARCHAR,
            url VARCHAR,
            request_headers JSON,
            request_body VARCHAR,
            request_body_encoding VARCHAR,
            status_code INTEGER,
            response_headers JSON,
            response_body VARCHAR,
            response_body_encoding VARCHAR,
            request_size BIGINT,
            response_size BIGINT,
            started_at TIMESTAMP,
            elapsed_ms DOUBLE,
            error VARCHAR,
            hop BIGINT,
            first_byte_ms DOUBLE
        )""",
    "record_rows": """
        CREATE TABLE IF NOT EXISTS record_rows (
            run_id VARCHAR,
            seq BIGINT,
            step_path VARCHAR,
            page BIGINT,
            item_index BIGINT,
            exchange_id BIGINT,
            emitted_at TIMESTAMP,
            data JSON
        )""",
    "record_pages": """
        CREATE TABLE IF NOT EXISTS record_pages (
            run_id VARCHAR,
            seq BIGINT,
            step_path VARCHAR,
            page BIGINT,
            item_index BIGINT,
            exchange_id BIGINT,
            emitted_at TIMESTAMP,
            path VARCHAR,
            first_index BIGINT,
            record_count BIGINT
        )""",
    "errors": """
        CREATE TABLE IF NOT EXISTS errors (
            run_id VARCHAR,
            seq BIGINT,
            occurred_at TIMESTAMP,
            step_path VARCHAR,
            kind VARCHAR,
            status_code INTEGER,
            exchange_id BIGINT,
            message VARCHAR
        )""",
    "events": """
        CREATE TABLE IF NOT EXISTS events (
            run_id VARCHAR,
            seq BIGINT,
            occurred_at TIMESTAMP,
            type VARCHAR,
            step_path VARCHAR,
            exchange_id BIGINT,
            delay_seconds DOUBLE,
            detail JSON
        )""",
    "contexts": """
        CREATE TABLE IF NOT EXISTS contexts (
            plan_key VARCHAR,
            config_fingerprint VARCHAR,
            run_id VARCHAR,
            saved_at TIMESTAMP,
            context_values JSON,
            PRIMARY KEY (plan_key, config_fingerprint)
        )""",
}

# ``records``: every record, one row each, whichever way it is stored. A record is a row
# of ``record_rows`` (its JSON text, masked) or one of the ``record_count`` records of a
# ``record_pages`` row: elements ``first_index`` ... of the list at the DuckDB JSON
# ``path`` in the body of its exchange (``exchanges.response_body``), which DuckDB reads
# when the view is queried (``capture/_rows.py`` says when a page is stored so; a page
# row covers the whole list: first_index is 0, kept for a future partial page). The
# page's records have the sequence numbers ``seq`` ... ``seq + record_count - 1`` and
# the page's emission time. The list is taken once per page (the inner query), so a
# query that does not read ``data`` (count(*), step_path) parses no body.
RECORDS_VIEW = """
    CREATE OR REPLACE VIEW records AS
    SELECT run_id, seq, step_path, page, item_index, exchange_id, emitted_at, data
    FROM main.record_rows
    UNION ALL
    SELECT run_id, seq + i AS seq, step_path, page, item_index, exchange_id, emitted_at,
           records_list[first_index + i + 1] AS data
    FROM (
        SELECT p.*, unnest(range(p.record_count)) AS i
        FROM (
            SELECT p.*, CAST(json_extract(e.response_body, p.path) AS JSON[]) AS records_list
            FROM main.record_pages AS p
            JOIN main.exchanges AS e ON e.run_id = p.run_id AND e.exchange_id = p.exchange_id
        ) AS p
    )"""

_PATH_KEY = re.compile(r'\."([^"]*)"')


def path_keys(path: str) -> list[str]:
    """The keys of a ``record_pages.path`` (``$."data"."items"``: data, items; ``$``: none).

    Paths are written by ``plan.records_json_path``: every key quoted, none with a quote.
    """
    return _PATH_KEY.findall(path)


# Columns in insertion order, used to build Arrow batches.
COLUMNS: dict[str, list[str]] = {}


def _columns(ddl: str) -> list[str]:
    body = ddl[ddl.index("(") + 1 : ddl.rindex(")")]
    return [line.split()[0] for line in body.strip().splitlines() if line.strip()]


for _name, _ddl in TABLES.items():
    COLUMNS[_name] = [c for c in _columns(_ddl) if c != "PRIMARY"]


class SchemaVersionError(RuntimeError):
    """The file was written by a newer Orchestra, or cannot be migrated."""


# version -> statements that migrate version-1 -> version. New columns go last, as
# ALTER TABLE puts them there, so that new and migrated files have one column order.
MIGRATIONS: dict[int, list[str]] = {
    # each redirect hop is an exchange, numbered from 0; older rows were all hop 0
    # (their transports followed redirects unseen)
    2: ["ALTER TABLE exchanges ADD COLUMN hop BIGINT DEFAULT 0"],
    # time to first byte; unknown (NULL) for what older versions captured
    3: ["ALTER TABLE exchanges ADD COLUMN first_byte_ms DOUBLE"],
    # records stored by reference to their page's body: the records table keeps its rows
    # as record_rows, and records is the view over both (see _migrate_records)
    4: [],
}


def ensure_schema(connection: duckdb.DuckDBPyConnection, path: str) -> None:
    """Create the tables, or migrate a file written by an older version."""
    connection.execute(TABLES["meta"])
    row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        for ddl in TABLES.values():
            connection.execute(ddl)
        connection.execute(RECORDS_VIEW)
        connection.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        return
    version = int(row[0])
    if version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path} was written by a newer Orchestra (capture schema {version}, this "
            f"version reads up to {SCHEMA_VERSION}); upgrade Orchestra "
            "(pip install -U orchestra) or capture into another file with --db"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        if target not in MIGRATIONS:
            raise SchemaVersionError(
                f"{path} has capture schema {version}, which cannot be migrated to "
                f"{SCHEMA_VERSION}; move it aside and capture into a new file with --db"
            )
        connection.execute("BEGIN TRANSACTION")
        for statement in MIGRATIONS[target]:
            connection.execute(statement)
        if target == 4:
            _migrate_records(connection)
        connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(target)])
        connection.execute("COMMIT")


def _migrate_records(connection: duckdb.DuckDBPyConnection) -> None:
    """Version 4: the ``records`` table becomes ``record_rows`` (its rows kept as they
    are), ``record_pages`` is made, and ``records`` is the view over both."""
    kind = connection.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = 'records' "
        "AND table_schema = 'main' AND table_catalog = current_database()"
    ).fetchone()
    if kind is not None and kind[0] == "BASE TABLE":
        has_rows = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'record_rows' "
            "AND table_schema = 'main' AND table_catalog = current_database()"
        ).fetchone()
        if has_rows is not None and has_rows[0]:
            connection.execute("INSERT INTO record_rows SELECT * FROM records")
            connection.execute("DROP TABLE records")
        else:
            connection.execute("ALTER TABLE records RENAME TO record_rows")
    connection.execute(TABLES["record_rows"])
    connection.execute(TABLES["record_pages"])
    connection.execute(RECORDS_VIEW)
