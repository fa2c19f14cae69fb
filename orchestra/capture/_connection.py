"""Opening a capture file under DuckDB's one-writer-or-many-readers rule.

DuckDB lets one process open a file read-write, or many processes open it
read-only, never both (duckdb.org/docs/connect/concurrency). Orchestra never
keeps a capture file open between uses:

* the capture writer attaches the file for each flush (one transaction) and
  detaches it, so the lock is free most of the time. It ``ATTACH``es the file
  to a private in-memory DuckDB instance (creating one costs over 10 ms of
  CPU, ATTACH + DETACH a millisecond or two); idle instances are kept for the
  next runs of the process, so a notebook's one-request runs do not pay that
  each time;
* readers (``orchestra runs``, a ``panel serve`` dashboard) open read-only for
  one query and close;
* whoever finds the file locked by another process retries with backoff until
  ``lock_timeout`` — buffered rows wait in memory meanwhile, nothing is lost.

When a flush's data reaches the file, and what DuckDB does to it then, is most
of what capture costs. DuckDB's defaults checkpoint at every DETACH, and every
checkpoint vacuums: it merges the newest row groups of a table into one
whenever together they hold fewer than 2,048 rows (or twice the first's rows),
rewriting them — whatever their size in bytes. With pagination rows of tens
of KB a checkpoint would rewrite up to a hundred MB already on disk, so
capture into one file would get slower run after run, and a one-request run
after a pagination run would pay to rewrite its pages. The private instance
is set up instead:

* ``max_vacuum_tasks = 0``: checkpoints do not rewrite what is on disk; each
  writes what it has as new row groups;
* ``checkpoint_on_detach = DISABLED``: a flush commits to the write-ahead log
  (fsynced: a SIGKILL keeps every committed flush; the next opener, read-only
  or not, replays it) and DETACH does not checkpoint. :meth:`Attacher.commit`
  checkpoints a flush of ``WAL_CHECKPOINT_BYTES`` or more in its COMMIT,
  without writing it to the WAL first (a fanout or pagination flush: one write
  instead of two); :meth:`Attacher.committed` checkpoints small flushes at the
  run's end and after ``CHECKPOINT_EVERY`` of them. A WAL is never left behind
  by a run: replaying one costs every later ATTACH and every reader ~10 ms
  plus ~1 ms per flush it holds;
* small checkpoints (a one-request run's) would leave a row group, and a fresh
  256 KB block, per table each time if nothing ever merged them (about a MB
  per run); every ``VACUUM_EVERY``-th of a file (in one process) vacuums,
  merging them and freeing their blocks, so the file stops growing by blocks.
  Only that checkpoint may rewrite a big tail a pagination run left, so one
  small run in ``VACUUM_EVERY`` pays for it, not every one;
* ``threads = 1``: the flush runs on the writer thread only, with no DuckDB
  worker thread competing with the event loop for the core (one DuckDB thread
  inserts with less CPU than several sharing it).

A DuckDB without these settings keeps its defaults (a checkpoint per DETACH):
slower, just as safe. The measurements behind these settings are in
``bench/README.md`` ("Design measurements behind the code").

Inside one process every ``duckdb.connect`` of a file shares one DuckDB
instance, so while this process writes, its own readers connect read-write (a
read-only connection beside a read-write one is refused by DuckDB within a
process). A file attached by the writer's private instance is refused to
other instances of the same process ("Unique file handle conflict") for the
few milliseconds of a flush: both sides treat that like a lock and retry.
``:memory:`` keeps one connection for the life of the store.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb

from orchestra.capture._schema import ensure_schema

MEMORY = ":memory:"
DEFAULT_LOCK_TIMEOUT = 30.0
WAL_CHECKPOINT_BYTES = 1024 * 1024  # a flush this big is checkpointed by its COMMIT
CHECKPOINT_EVERY = 8  # small flushes left in the WAL at most (each slows the next ATTACH)
VACUUM_EVERY = 8  # small checkpoints of a file (in this process) per vacuum

logger = logging.getLogger("orchestra.capture")

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
        self._schema_checked = False  # by _open, for its writing connections
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
        if not write:
            reader = self._attached_reader()
            if reader is not None:
                with reader.reading(self) as connection:
                    yield connection
                return
        connection = self._open(write=write)
        try:
            yield connection
        finally:
            connection.close()

    def _attached_reader(self) -> _Reader | None:
        """A kept instance to attach the file read-only to, or None to open it instead.

        A process that writes the file reads it through its own read-write connection
        (module docstring), as before.
        """
        with _writers_lock:
            if _active_writers.get(self.path, 0) > 0:
                return None
        if not Path(self.path).exists():
            raise FileNotFoundError(f"{self.path} does not exist: no run was captured there yet")
        return _Reader.take()

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
            if not read_only and not self._schema_checked:
                try:  # once per Database: a file another program migrated is refused here
                    with _schema_lock:
                        ensure_schema(connection, self.path)
                except Exception:
                    connection.close()
                    raise
                self._schema_checked = True
            elif read_only and not self._reader_schema_ok(connection):
                connection.close()
                raise FileNotFoundError(f"{self.path} holds no Orchestra capture yet")
            return connection

    def _reader_schema_ok(self, connection: duckdb.DuckDBPyConnection) -> bool:
        """Whether the file holds the tables: asked once per file (path and inode).

        The question costs ~9 ms, a dashboard opens the file for every poll and
        click, and a file's tables are never dropped: a file replaced at the same
        path has another inode and is asked again.
        """
        key = _file_key(self.path)
        if key is not None and key in _schema_ok:
            return True
        if not _has_schema(connection):
            return False
        if key is not None:
            _schema_ok.add(key)
        return True

    def stamp(self) -> tuple[int, ...] | None:
        """What changes whenever a write reaches the file or its WAL (``None``: no file).

        Inode, size and modification time of both: a poller that finds the same
        stamp as at its last read need not open the file to learn nothing changed.
        """
        if self.is_memory:
            return None
        stamp: list[int] = []
        for path in (self.path, self.path + ".wal"):
            try:
                info = os.stat(path)
            except OSError:
                stamp.extend((0, -1, 0))
                continue
            stamp.extend((info.st_ino, info.st_size, info.st_mtime_ns))
        return tuple(stamp) if stamp[1] >= 0 else None

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
_IDLE_INSTANCES = 2  # private instances kept for the next runs of this process
_idle_lock = threading.Lock()
_idle: list[_Instance] = []
_inherited: list[_Instance] = []  # a forked child's copies of its parent's idle instances
_inherited_readers: list[Any] = []  # and of its idle reader instances (_Reader)
_small_checkpoints: dict[str, int] = {}  # path -> checkpoints of a small WAL made here
_schema_ok: set[tuple[str, int]] = set()  # files (path, inode) known to hold the tables


def _forget_idle_after_fork() -> None:
    """In a forked child: never use (nor close) DuckDB instances made by the parent.

    Their threads and locks did not come along; they are kept referenced, unused,
    so that no destructor runs on them in the child.
    """
    global _idle_lock, _readers_lock
    _idle_lock = threading.Lock()
    _inherited.extend(_idle)
    _idle.clear()
    _readers_lock = threading.Lock()
    _inherited_readers.extend(_idle_readers)
    _idle_readers.clear()


os.register_at_fork(after_in_child=_forget_idle_after_fork)


def _file_key(path: str) -> tuple[str, int] | None:
    try:
        return path, os.stat(path).st_ino
    except OSError:
        return None


class _Instance:
    """A private in-memory DuckDB instance, configured for appending flushes."""

    def __init__(self) -> None:
        self.connection = duckdb.connect(MEMORY)
        self.vacuum_tasks = self._current("max_vacuum_tasks")
        self.skip_wal_past = self._current("auto_checkpoint_skip_wal_threshold")
        self.lowered = False  # COMMITs checkpoint (see checkpoint_in_commit)
        _setting(self.connection, "threads = 1")
        # without WAL flushes, a checkpoint per flush that never vacuums would leave every
        # small flush in row groups of its own (a 256 KB block each): keep the defaults then
        self.logs = _setting(self.connection, "checkpoint_on_detach = 'DISABLED'")
        if self.logs:
            _setting(self.connection, "max_vacuum_tasks = 0")
            _setting(self.connection, f"checkpoint_threshold = '{WAL_CHECKPOINT_BYTES}B'")

    def checkpoint_in_commit(self, wanted: bool) -> None:
        """Make the next COMMITs checkpoint (without the WAL), or not (the default)."""
        if wanted == self.lowered:
            return  # a SET costs ~0.3 ms: only when it changes
        if wanted:
            self.lowered = _setting(self.connection, "checkpoint_threshold = '0B'")
            if self.lowered:
                _setting(self.connection, "auto_checkpoint_skip_wal_threshold = 0")
            return
        self.lowered = False
        _setting(self.connection, f"checkpoint_threshold = '{WAL_CHECKPOINT_BYTES}B'")
        if self.skip_wal_past is not None:
            _setting(self.connection, f"auto_checkpoint_skip_wal_threshold = {self.skip_wal_past}")

    def _current(self, name: str) -> str | None:
        try:
            row = self.connection.execute(f"SELECT current_setting('{name}')").fetchone()
        except duckdb.Error:
            return None
        return None if row is None else str(row[0])

    @classmethod
    def take(cls) -> _Instance:
        with _idle_lock:
            if _idle:
                return _idle.pop()
        return cls()

    def give_back(self) -> None:
        self.checkpoint_in_commit(False)
        with _idle_lock:
            if len(_idle) < _IDLE_INSTANCES:
                _idle.append(self)
                return
        self.connection.close()


def _setting(connection: duckdb.DuckDBPyConnection, setting: str) -> bool:
    try:
        connection.execute(f"SET {setting}")
    except duckdb.Error:  # an older DuckDB: its defaults are slower, not unsafe
        logger.debug("capture: this DuckDB does not know SET %s", setting)
        return False
    return True


_IDLE_READERS = 2  # reader instances kept (a poll in a worker thread reads beside a click)
_readers_lock = threading.Lock()
_idle_readers: list[_Reader] = []


class _Reader:
    """A private in-memory instance that attaches a capture file read-only for one read.

    ``duckdb.connect(file, read_only=True)`` makes a new DuckDB instance each
    time: ~17 ms of CPU (more waiting on a busy machine), paid by every read of
    a dashboard (page load, run switch, click, poll that finds a change) and of
    the CLI. ATTACH and DETACH on a kept instance cost ~2 ms. The file's lock is
    held only inside :meth:`reading`, as with a connection of its own; an
    instance whose DETACH fails is closed, never kept with the file attached.
    """

    def __init__(self) -> None:
        self.connection = duckdb.connect(MEMORY)

    @classmethod
    def take(cls) -> _Reader:
        with _readers_lock:
            if _idle_readers:
                return _idle_readers.pop()
        return cls()

    def give_back(self) -> None:
        with _readers_lock:
            if len(_idle_readers) < _IDLE_READERS:
                _idle_readers.append(self)
                return
        self.connection.close()

    @contextmanager
    def reading(self, database: Database) -> Iterator[duckdb.DuckDBPyConnection]:
        connection = self.connection
        try:
            _attach(connection, database, read_only=True)
        except BaseException:
            self.give_back()  # nothing attached
            raise
        try:
            connection.execute(f"USE {_ATTACHED}")
            if not database._reader_schema_ok(connection):
                raise FileNotFoundError(f"{database.path} holds no Orchestra capture yet")
            yield connection
        finally:
            self._detach()

    def _detach(self) -> None:
        connection = self.connection
        try:
            # a transaction the block left open would make the DETACH part of it (the file
            # stays attached until it ends): end it first (~0.3 ms when there is none)
            with suppress(duckdb.Error):
                connection.execute("ROLLBACK")
            connection.execute("USE memory")
            connection.execute(f"DETACH {_ATTACHED}")
        except Exception:  # never keep a file attached: drop the whole instance
            connection.close()
            raise
        self.give_back()


def _attach(connection: duckdb.DuckDBPyConnection, database: Database, *, read_only: bool) -> None:
    """ATTACH ``database``'s file as ``orchestra_capture``, retrying while it is locked."""
    quoted = database.path.replace("'", "''")
    options = " (READ_ONLY)" if read_only else ""
    deadline = time.monotonic() + database.lock_timeout
    delay = 0.01
    while True:
        try:
            connection.execute(f"ATTACH '{quoted}' AS {_ATTACHED}{options}")
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


class Attacher:
    """A writer's connection: a private in-memory instance that attaches the file per use.

    ``connect()`` yields a connection whose default database is the capture
    file (unqualified table names work), holding the file's lock only inside
    the block; :meth:`committed` applies the checkpoint policy after a flush
    (module docstring). ``close()`` gives the instance back for the next run.
    ``:memory:`` stores use their one shared connection, as
    :meth:`Database.connect` does.
    """

    def __init__(self, database: Database):
        self.database = database
        self._instance: _Instance | None = None
        self._logged = 0  # flushes committed to the WAL since the last checkpoint

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        database = self.database
        if database.is_memory:
            with database.connect(write=True) as connection:
                yield connection
            return
        if self._instance is None:
            self._instance = _Instance.take()
        connection = self._instance.connection
        self._attach(connection)
        try:
            connection.execute(f"USE {_ATTACHED}")
            if _file_key(database.path) not in _schema_ok:  # once per file and process
                with _schema_lock:  # (a deleted or replaced file fails its flush: failed())
                    ensure_schema(connection, database.path)
                key = _file_key(database.path)
                if key is not None:
                    _schema_ok.add(key)
            yield connection
        finally:
            try:
                connection.execute("USE memory")
                connection.execute(f"DETACH {_ATTACHED}")
            except Exception:  # never keep a file attached: drop the whole instance
                self._instance, instance = None, self._instance
                if instance is not None:
                    instance.connection.close()
                raise

    def commit(self, connection: duckdb.DuckDBPyConnection, size: int) -> None:
        """Inside ``connect()``: COMMIT a flush of about ``size`` bytes.

        A flush of ``WAL_CHECKPOINT_BYTES`` or more is checkpointed by its COMMIT
        without being written to the WAL first (DuckDB's ``checkpoint_threshold``
        and ``auto_checkpoint_skip_wal_threshold`` lowered for it): one write
        instead of two, which saves a third of a big flush's CPU. If that
        checkpoint fails, the COMMIT fails and the writer keeps the rows.
        """
        instance = self._instance
        if instance is not None and instance.logs:
            instance.checkpoint_in_commit(size >= WAL_CHECKPOINT_BYTES)
        connection.execute("COMMIT")

    def committed(self, connection: duckdb.DuckDBPyConnection, *, last: bool) -> None:
        """Inside ``connect()``, after a flush committed: checkpoint if it is time.

        It is time when the WAL holds ``WAL_CHECKPOINT_BYTES`` or more (DuckDB
        checkpoints only a COMMIT that *starts* past its threshold, so a big
        flush would be replayed by the next ATTACH, ~2 ms per MB, and by every
        reader), at the run's last flush (a WAL left behind costs every later
        ATTACH and reader ~10 ms plus ~1 ms per flush it holds), and after
        ``CHECKPOINT_EVERY`` flushes. These checkpoints never vacuum (the
        instance has ``max_vacuum_tasks = 0``): what is on disk is not rewritten.
        A checkpoint of less than ``WAL_CHECKPOINT_BYTES`` leaves small row
        groups behind, a block each; every ``VACUUM_EVERY``-th of a file vacuums,
        which merges them and frees their blocks.
        """
        instance = self._instance
        if instance is None or not instance.logs:
            return
        path = self.database.path
        try:
            logged = os.stat(path + ".wal").st_size
        except OSError:
            logged = 0
        if not logged:  # checkpointed by the COMMIT, or nothing was logged
            self._logged = 0
            return
        self._logged += 1
        big = logged >= WAL_CHECKPOINT_BYTES
        if not (big or last or self._logged >= CHECKPOINT_EVERY):
            return
        vacuum = False
        if not big:
            with _writers_lock:
                count = _small_checkpoints[path] = _small_checkpoints.get(path, 0) + 1
            vacuum = count % VACUUM_EVERY == 0
        vacuum = vacuum and instance.vacuum_tasks is not None
        if vacuum:
            _setting(connection, f"max_vacuum_tasks = {instance.vacuum_tasks}")
        try:
            connection.execute(f"CHECKPOINT {_ATTACHED}")
        finally:
            if vacuum:
                _setting(connection, "max_vacuum_tasks = 0")
        self._logged = 0

    def failed(self) -> None:
        """A flush failed: check the tables again next time (the file may have been replaced)."""
        _schema_ok.discard(_file_key(self.database.path))

    def _attach(self, connection: duckdb.DuckDBPyConnection) -> None:
        _attach(connection, self.database, read_only=False)

    def close(self) -> None:
        instance, self._instance = self._instance, None
        if instance is not None:
            instance.give_back()


def _has_schema(connection: duckdb.DuckDBPyConnection) -> bool:
    row = connection.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'runs'"
    ).fetchone()
    return bool(row and row[0])
