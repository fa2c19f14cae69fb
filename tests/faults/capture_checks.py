"""What every fault test asserts about a capture file, read with SQL.

DuckDB compresses strings, so a byte search of the file can miss a stored
value: secrets are looked for with SQL in every text column of every table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import duckdb

REPO = Path(__file__).resolve().parents[2]
SECRET_ENV = "ORCH_FAULTS_SECRET"
# Characters that servers and serialisers escape differently (issue 14, item 1).
SECRET = 'Zq8+r/T1==a"b\\c-f4ults'


def secret_forms(secret: str = SECRET) -> dict[str, str]:
    """The forms in which a server or a serialiser may write ``secret`` back."""
    json_escaped = json.dumps(secret)[1:-1]
    return {
        "raw": secret,
        "percent": quote(secret, safe=""),
        "percent-slash-kept": quote(secret, safe="/"),
        "form": quote_plus(secret),
        "json": json_escaped,
        "json-twice": json.dumps(json_escaped)[1:-1],
    }


def leaks_in_text(text: str) -> list[str]:
    """The names of the secret's forms found in ``text``."""
    return [name for name, form in secret_forms().items() if form in text]


def connect(db: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(db), read_only=True)


def exchange_rows(db: Path, run_id: str) -> int:
    with connect(db) as connection:
        query = "SELECT count(*) FROM exchanges WHERE run_id = ?"
        return connection.execute(query, [run_id]).fetchone()[0]


def run_row(db: Path, run_id: str | None = None) -> dict[str, Any]:
    """The run's row (the only, or the latest, run when ``run_id`` is None)."""
    with connect(db) as connection:
        if run_id is None:
            cursor = connection.execute("SELECT * FROM runs ORDER BY started_at DESC LIMIT 1")
        else:
            cursor = connection.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
        names = [column[0] for column in cursor.description]
        row = cursor.fetchone()
    assert row is not None, f"no run row for {run_id or 'the latest run'} in {db}"
    return dict(zip(names, row, strict=True))


def unfinished_steps(db: Path, run_id: str) -> list[str]:
    with connect(db) as connection:
        query = "SELECT step_path FROM steps WHERE run_id = ? AND status = 'running'"
        return [row[0] for row in connection.execute(query, [run_id]).fetchall()]


def secret_leaks_in_db(db: Path) -> list[str]:
    """``table.column (form)`` for every text column holding a form of the secret."""
    found = []
    with connect(db) as connection:
        columns = connection.execute(  # the typed-table views (schemas data, data_all) too
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type IN ('VARCHAR', 'JSON') ORDER BY ALL"
        ).fetchall()
        for schema, table, column in columns:
            for name, form in secret_forms().items():
                query = (
                    f'SELECT count(*) FROM "{schema}"."{table}" '
                    f'WHERE contains(CAST("{column}" AS VARCHAR), ?)'
                )
                if connection.execute(query, [form]).fetchone()[0]:
                    found.append(f"{table}.{column} ({name})")
    return found


def wal_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.glob("*.wal"))


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for an ``orchestra`` child process importing this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env[SECRET_ENV] = SECRET
    env.update(extra)
    return env


def orchestra_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestra", *args]


def run_cli(args: list[str], timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        orchestra_command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=subprocess_env(**env),
    )
