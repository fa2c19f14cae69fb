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

import duckdb

SCHEMA_VERSION = 3  # 2: exchanges.hop (redirects are exchanges); 3: exchanges.first_byte_ms

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
    "records": """
        CREATE TABLE IF NOT EXISTS records (
            run_id VARCHAR,
            seq BIGINT,
            step_path VARCHAR,
            page BIGINT,
            item_index BIGINT,
            exchange_id BIGINT,
            emitted_at TIMESTAMP,
            data JSON
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
}


def ensure_schema(connection: duckdb.DuckDBPyConnection, path: str) -> None:
    """Create the tables, or migrate a file written by an older version."""
    connection.execute(TABLES["meta"])
    row = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        for ddl in TABLES.values():
            connection.execute(ddl)
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
        connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(target)])
        connection.execute("COMMIT")
