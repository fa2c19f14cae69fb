"""A capture file: write runs into it, read them back through one read API.

``CaptureStore.read()`` opens the file for a batch of named reads (a
:class:`~orchestra.capture.CaptureReader`); the methods here (``runs()``,
``exchanges()``, ``plan()``, ``table()`` …) are one-question shortcuts over it, each
on a connection of its own; ``sql()`` runs the user's own SQL (the typed tables
included: ``SELECT name, address.city FROM data.users``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from orchestra.capture._connection import Database
from orchestra.capture._read import CaptureReader, RunNotFound
from orchestra.capture._tables import literal, refresh_all
from orchestra.capture._writer import CaptureWriter


class CaptureStore:
    """A capture file: write runs into it (``writer()``), read them back as DataFrames.

    >>> store = CaptureStore("orchestra.duckdb")
    >>> store.runs().head()
    >>> with store.read() as reader:
    ...     page, total = reader.exchange_page(reader.resolve_run("last"), errors_only=True)
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

    # -- reading ----------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[CaptureReader]:
        """Open the file for a batch of reads: read-only, retrying while a writer holds it.

        Raises ``FileNotFoundError`` if the file (or its tables) does not exist yet.
        """
        with self.database.connect() as connection:
            yield CaptureReader(connection, self.path)

    def _require_file(self) -> None:
        if not self.database.exists:
            raise FileNotFoundError(f"{self.path} does not exist yet: run a plan first")

    def sql(self, query: str, params: list[Any] | dict[str, Any] | None = None) -> pd.DataFrame:
        """Run any SQL over the capture tables and return a DataFrame."""
        self._require_file()
        with self.read() as reader:
            return reader.frame(query, params)

    def runs(self, *, plan_key: str | None = None, status: str | None = None,
             limit: int | None = None) -> pd.DataFrame:  # fmt: skip
        """Runs, newest first."""
        self._require_file()
        with self.read() as reader:
            return reader.runs(plan_key=plan_key, status=status, limit=limit)

    def run(self, run: str | None = None) -> dict[str, Any]:
        """One run's row as a dict (``run`` as for :meth:`resolve_run`)."""
        with self.read() as reader:
            found = reader.run(reader.resolve_run(run))
        if found is None:
            raise RunNotFound(f"no run {run!r} in {self.path}")
        return found

    def resolve_run(self, run: str | None = None) -> str:
        """A full run id from an id, a unique prefix, or ``None``/``"last"`` (newest)."""
        with self.read() as reader:
            return reader.resolve_run(run)

    def steps(self, run: str | None = None, *, step_path: str | None = None) -> pd.DataFrame:
        """One row per step execution of a run."""
        with self.read() as reader:
            return reader.steps(reader.resolve_run(run), step_path=step_path)

    def exchanges(self, run: str | None = None, *, step_path: str | None = None) -> pd.DataFrame:
        """One row per HTTP request/response of a run (retries included)."""
        with self.read() as reader:
            return reader.exchanges(reader.resolve_run(run), step_path=step_path)

    def records(self, run: str | None = None, *, step_path: str | None = None) -> pd.DataFrame:
        """Emitted records of a run, in emission order (``data`` is JSON text)."""
        with self.read() as reader:
            return reader.records(reader.resolve_run(run), step_path=step_path)

    def errors(self, run: str | None = None) -> pd.DataFrame:
        """Errors of a run: failed steps, ignored responses, assertions, transport errors."""
        with self.read() as reader:
            return reader.errors(reader.resolve_run(run))

    def events(self, run: str | None = None, *, step_path: str | None = None) -> pd.DataFrame:
        """The captured events of a run, in order (``detail`` is JSON text)."""
        with self.read() as reader:
            return reader.events(reader.resolve_run(run), step_path=step_path)

    def partial(self, run: str | None = None) -> str | None:
        """Where a test read's caps stopped the run (``stopped at 5 pages in step
        'users'``), or None for a run that read everything."""
        with self.read() as reader:
            return reader.partial(reader.resolve_run(run))

    def record_values(self, run: str | None = None, *, step_path: str | None = None) -> list[Any]:
        """The records of a run as Python values."""
        with self.read() as reader:
            return reader.record_values(reader.resolve_run(run), step_path=step_path)

    def plan(self, run: str | None = None) -> dict[str, Any]:
        """The plan JSON that ran (secrets as ``{"env": …}`` references)."""
        with self.read() as reader:
            run_id = reader.resolve_run(run)
            found = reader.plan(run_id)
        if found is None:
            raise RunNotFound(f"run {run_id} has no stored plan")
        return found

    # -- typed tables ------------------------------------------------------------------------

    def table(self, step_path: str, run: str | None = None) -> pd.DataFrame:
        """A step's records as typed columns: ``run_id`` plus one column per field.

        ``run`` as for :meth:`resolve_run`; by default the latest run that ran the step
        (what ``data.<step>`` shows). Nested objects come back as dicts, lists as lists.
        Raises ``TableNotFound`` (naming the steps that emitted records) if there are none.
        """
        self._require_file()
        with self.read() as reader:
            return reader.table(step_path, reader.table_run(step_path, run))

    def export_table(self, step_path: str, output: str | Path,
                     run: str | None = None) -> tuple[str, int]:  # fmt: skip
        """Write a step's typed records (one run, as :meth:`table`) to a Parquet file.

        Returns the run id and the number of rows written.
        """
        self._require_file()
        with self.read() as reader:
            run_id = reader.table_run(step_path, run)
            select = reader.table_select(step_path, run_id)
            target = literal(str(Path(output)))
            written = reader.connection.execute(f"COPY ({select}) TO {target} (FORMAT parquet)")
            row = written.fetchone()
        return run_id, int(row[0]) if row else 0

    def refresh_tables(self) -> list[str]:
        """(Re)create the ``data`` and ``data_all`` views of every step with records.

        Runs do this for their own steps when they end; call it for a file written
        before typed tables existed. Returns the step paths that have views.
        """
        self._require_file()
        with self.database.connect(write=True) as connection:
            return refresh_all(connection)

    def close(self) -> None:
        self.database.close()
