"""Reading a capture: DataFrames for runs, steps, exchanges, records, errors, SQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from orchestra.capture._connection import Database
from orchestra.capture._writer import CaptureWriter


class RunNotFound(LookupError):
    """No run in the capture matches the id (or prefix) given."""


class CaptureStore:
    """A capture file: write runs into it (``writer()``), read them back as DataFrames.

    >>> store = CaptureStore("orchestra.duckdb")
    >>> store.runs().head()
    >>> store.sql("SELECT status_code, count(*) FROM exchanges GROUP BY 1")
    """

    def __init__(self, path: str | Path = "orchestra.duckdb", *, lock_timeout: float = 30.0):
        self.database = Database(path, lock_timeout=lock_timeout)

    @property
    def path(self) -> str:
        return self.database.path

    def __repr__(self) -> str:
        return f"CaptureStore({self.path!r})"

    def writer(self, **options: Any) -> CaptureWriter:
        """A subscriber that captures one run into this store."""
        return CaptureWriter(self.database, **options)

    # -- queries ------------------------------------------------------------------------

    def sql(self, query: str, params: list[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run any SQL over the capture tables and return a DataFrame."""
        if not self.database.exists:
            raise FileNotFoundError(f"{self.path} does not exist yet: run a plan first")
        with self.database.connect() as connection:
            return connection.execute(query, params or []).df()

    def _rows(self, query: str, params: list[Any]) -> list[tuple]:
        with self.database.connect() as connection:
            return connection.execute(query, params).fetchall()

    def runs(self, *, plan_key: str | None = None, status: str | None = None,
             limit: int | None = None) -> pd.DataFrame:  # fmt: skip
        """Runs, newest first."""
        where, params = [], []
        if plan_key:
            where.append("plan_key = ?")
            params.append(plan_key)
        if status:
            where.append("status = ?")
            params.append(status)
        query = "SELECT * FROM runs"
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY started_at DESC, run_id DESC"
        if limit:
            query += f" LIMIT {int(limit)}"
        return self.sql(query, params)

    def resolve_run(self, run: str | None = None) -> str:
        """A full run id from an id, a unique prefix, or ``None``/``"last"`` (newest)."""
        if run in (None, "last", "latest"):
            rows = self._rows("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 1", [])
            if not rows:
                raise RunNotFound(f"{self.path} holds no runs yet")
            return rows[0][0]
        rows = self._rows("SELECT run_id FROM runs WHERE run_id LIKE ? || '%'", [run])
        if len(rows) == 1:
            return rows[0][0]
        if not rows:
            raise RunNotFound(f"no run {run!r} in {self.path}; `orchestra runs` lists them")
        raise RunNotFound(f"{run!r} matches {len(rows)} runs; give more of the id")

    def _table(self, table: str, run: str | None, order: str, **filters: Any) -> pd.DataFrame:
        run_id = self.resolve_run(run)
        where, params = ["run_id = ?"], [run_id]
        for column, value in filters.items():
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        return self.sql(f"SELECT * FROM {table} WHERE {' AND '.join(where)} ORDER BY {order}",
                        params)  # fmt: skip

    def steps(self, run: str | None = None, *, step_path: str | None = None) -> pd.DataFrame:
        """One row per step execution of a run."""
        return self._table("steps", run, "started_at, execution_id", step_path=step_path)

    def exchanges(self, run: str | None = None, *, step_path: str | None = None) -> pd.DataFrame:
        """One row per HTTP request/response of a run (retries included)."""
        return self._table("exchanges", run, "exchange_id", step_path=step_path)

    def records(self, run: str | None = None, *, step_path: str | None = None) -> pd.DataFrame:
        """Emitted records of a run, in emission order (``data`` is JSON text)."""
        return self._table("records", run, "seq", step_path=step_path)

    def errors(self, run: str | None = None) -> pd.DataFrame:
        """Errors of a run: failed steps, ignored responses, assertions, transport errors."""
        return self._table("errors", run, "seq")

    def record_values(self, run: str | None = None, *, step_path: str | None = None) -> list[Any]:
        """The records of a run as Python values."""
        run_id = self.resolve_run(run)
        query = "SELECT data FROM records WHERE run_id = ?"
        params: list[Any] = [run_id]
        if step_path:
            query += " AND step_path = ?"
            params.append(step_path)
        return [orjson.loads(row[0]) for row in self._rows(query + " ORDER BY seq", params)]

    def plan(self, run: str | None = None) -> dict[str, Any]:
        """The plan JSON that ran (secrets as ``{"env": …}`` references)."""
        run_id = self.resolve_run(run)
        rows = self._rows(
            "SELECT p.plan FROM runs r JOIN plans p USING (plan_hash) WHERE r.run_id = ?",
            [run_id],
        )
        if not rows:
            raise RunNotFound(f"run {run_id} has no stored plan")
        return orjson.loads(rows[0][0])

    def close(self) -> None:
        self.database.close()
