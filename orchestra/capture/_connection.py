"""Opening a capture file under DuckDB's one-writer-or-many-readers rule.

DuckDB lets one process open a file read-write, or many processes open it
read-only, never both (duckdb.org/docs/connect/concurrency). Orchestra never
keeps a capture file open between uses:

* the capture writer attaches the file for each flush (one transaction) and
  detaches it, so the lock is free most of the time. It keeps one private
  in-memory DuckDB instance for the whole run and ``ATTACH``es the file to it:
  creating a DuckDB instance costs ~16 ms of CPU and closing a file-backed one
  checkpoints it, while ATTACH + DETACH of the same file costs ~5 ms — at one
  flush a second that is the difference between a few percent of a fast
  fanout's CPU and a fifth of it (bench/capture.py);
* readers (``orchestra runs``, a ``panel serve`` dashboard) open read-only for
  one query and close;
* whoever finds the file locked by another process retries with backoff until
  ``lock_timeout`` — buffered rows wait in memory meanwhile, nothing is lost.

Inside one process every ``duckdb.connect`` of a file shares one DuckDB
instance, so while this process writes, its own readers connect read-write (a
read-only connection beside a read-write one is refused by DuckDB within a
process). A file attached by the writer's private instance is refused to
other instances of the same process ("Unique file handle conflict") for the
few milliseconds of a flush: both sides treat that like a lock and retry.
``:memory:`` keeps one connection for the life of the store.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from orchestra.capture._schema import ensure_schema

MEMORY = ":memory:"
DEFAULT_LOCK_TIMEOUT = 30.0

_writers_lock = threading.Lock()
_schema_lock = threading.Lock()  # two threads creating the tables of a new file would conflict
_active_writers: dict[str, int] = {}  # resolved path -> writers open in this process


def _is_lock_conflict(error: Exception) -> bool:
    text = str(error)
    return (
        "Could not set lock" in text
        or "Conflicting lock" in text
        or ("different configuration" in text)
        or "Unique file handle conflict" in text  # attached by another instance of this process
    )


class CaptureLockTimeout(RuntimeError):
    """Another process kept the capture file locked for longer than ``lock_timeout``."""


class Database:
    """A capture file (or ``:memory:``) that can be opened for a moment at a time."""

    def __init__(
        self, path: str | Path = "orchestra.duckdb", *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    ):
        self.path = str(path)
        self.is_memory = self.path == MEMORY
        self.lock_timeout = lock_timeout
        self._memory: duckdb.DuckDBPyConnection | None = None
        self._schema_checked = False
        self._memory_lock = threading.RLock()
        if self.is_memory:
            self._memory = duckdb.connect(MEMORY)
            ensure_schema(self._memory, MEMORY)
        else:
            self.path = str(Path(self.path).resolve())

    def __repr__(self) -> str:
        return f"Database({self.path!r})"

    @property
    def exists(self) -> bool:
        return self.is_memory or Path(self.path).exists()

    @contextmanager
    def connect(self, *, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one unit of work; closed (lock released) afterwards."""
        if self._memory is not None:
            with self._memory_lock:
                cursor = self._memory.cursor()
                try:
                    yield cursor
                finally:
                    cursor.close()
            return
        connection = self._open(write=write)
        try:
            yield connection
        finally:
            connection.close()

    def _open(self, *, write: bool) -> duckdb.DuckDBPyConnection:
        with _writers_lock:
            in_process_writer = _active_writers.get(self.path, 0) > 0
        if not write and not Path(self.path).exists():
            raise FileNotFoundError(f"{self.path} does not exist: no run was captured there yet")
        read_only = not write and not in_process_writer
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.01
        while True:
            try:
                connection = duckdb.connect(self.path, read_only=read_only)
            except duckdb.Error as error:
                if not _is_lock_conflict(error):
                    raise
                if time.monotonic() >= deadline:
                    raise CaptureLockTimeout(
                        f"{self.path} stayed locked by another process for "
                        f"{self.lock_timeout:g}s ({error}); close the other program or "
                        "use another --db file"
                    ) from None
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.25)
                continue
            if not read_only and not (self._schema_checked and Path(self.path).exists()):
                try:
                    with _schema_lock:
                        ensure_schema(connection, self.path)
                except Exception:
                    connection.close()
                    raise
                self._schema_checked = True
            elif read_only and not _has_schema(connection):
                connection.close()
                raise FileNotFoundError(f"{self.path} holds no Orchestra capture yet")
            return connection

    def attacher(self) -> Attacher:
        """The writer's way in: one private instance, the file attached per flush."""
        return Attacher(self)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Mark this process as a writer of the file while the block runs."""
        with _writers_lock:
            _active_writers[self.path] = _active_writers.get(self.path, 0) + 1
        try:
            yield
        finally:
            with _writers_lock:
                _active_writers[self.path] -= 1

    def close(self) -> None:
        if self._memory is not None:
            self._memory.close()
            self._memory = None


_ATTACHED = "orchestra_capture"
# The writer's private instance. Its checkpoint on DETACH would otherwise merge
# the table's newest row groups back into one (DuckDB's vacuum), rewriting —
# in memory — nearly every row a run wrote so far: a 100,000-item fanout
# peaked at ~390 MB RSS instead of ~250 MB, and each flush cost more CPU as the
# run grew. One thread: the flush runs on the writer thread only, no DuckDB
# workers competing with the event loop for a core. (bench/memory.py)
_WRITER_CONFIG = {"max_vacuum_tasks": 0, "threads": 1}


class Attacher:
    """A writer's connection: a private in-memory instance that attaches the file per use.

    ``connect()`` yields a connection whose default database is the capture
    file (unqualified table names work), holding the file's lock only inside
    the block. ``close()`` ends the instance. ``:memory:`` stores use their one
    shared connection, as :meth:`Database.connect` does.
    """

    def __init__(self, database: Database):
        self.database = database
        self._connection: duckdb.DuckDBPyConnection | None = None

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        database = self.database
        if database.is_memory:
            with database.connect(write=True) as connection:
                yield connection
            return
        if self._connection is None:
            self._connection = duckdb.connect(MEMORY, config=_WRITER_CONFIG)
        connection = self._connection
        self._attach(connection)
        try:
            connection.execute(f"USE {_ATTACHED}")
            if not (database._schema_checked and Path(database.path).exists()):
                with _schema_lock:
                    ensure_schema(connection, database.path)
                database._schema_checked = True
            yield connection
        finally:
            try:
                connection.execute("USE memory")
                connection.execute(f"DETACH {_ATTACHED}")
            except Exception:  # never keep a file attached: drop the whole instance
                self.close()
                raise

    def _attach(self, connection: duckdb.DuckDBPyConnection) -> None:
        database = self.database
        quoted = database.path.replace("'", "''")
        deadline = time.monotonic() + database.lock_timeout
        delay = 0.01
        while True:
            try:
                connection.execute(f"ATTACH '{quoted}' AS {_ATTACHED}")
                return
            except duckdb.Error as error:
                if not _is_lock_conflict(error):
                    raise
                if time.monotonic() >= deadline:
                    raise CaptureLockTimeout(
                        f"{database.path} stayed locked by another process for "
                        f"{database.lock_timeout:g}s ({error}); close the other program or "
                        "use another --db file"
                    ) from None
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.25)

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _has_schema(connection: duckdb.DuckDBPyConnection) -> bool:
    row = connection.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'runs'"
    ).fetchone()
    return bool(row and row[0])
