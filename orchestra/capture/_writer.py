"""The capture writer: an event subscriber that turns a run into rows in DuckDB.

On a fanout the engine spends ~200 µs of CPU per request, so capture has to
stay in the tens of µs, and it must never lose what it was given. The work is
split between the event loop and one writer thread accordingly:

* on the event loop, each event becomes its row at once
  (``_rows.RowBuilder``: request, response, step, record). No event object
  waits in a queue for the writer thread, so the garbage collector has no
  extra live objects to walk again and again, and the two threads do not hand
  the GIL back and forth over the same Python work;
* a writer thread wakes every ``flush_interval`` seconds, or sooner past
  ``batch_size`` rows or ``batch_bytes`` of bodies, takes the rows, builds
  one Arrow table per table (``build_table``: whole columns at once, C loops
  under the GIL), masks text by value if the run has secrets, and inserts
  them with the run row in one transaction. DuckDB releases the GIL while it
  inserts and checkpoints, which is most of a flush's time;
* the file is attached only for the flush (``_connection.py``: WAL, when to
  checkpoint, no rewriting of what is on disk), so a dashboard in another
  process reads between flushes. The first flush comes ``flush_interval``
  after the run starts (the run row is visible within a second; a shorter run
  makes a single flush, at its end), a flush with nothing new (no rows, the
  same run row) leaves the file alone, and ``RunFinished`` writes everything
  before the run returns, then (re)creates the typed views of the steps the run
  emitted (``_tables.py``). If another process holds the file, the built batches
  stay in memory and the next flush retries: nothing captured is dropped.

A one-request run (a notebook cell) makes one flush, on a pooled DuckDB
instance, with statements that take parameters rather than scan Arrow, so its
capture stays in the tens of milliseconds of CPU. The measurements behind
these choices are in ``bench/README.md`` ("Design measurements behind the
code").
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from orchestra.capture._connection import Attacher, CaptureLockTimeout, Database
from orchestra.capture._rows import (
    HANDLED_EVENTS,
    MASKED_COLUMNS,
    ROW_TABLES,
    WIDTHS,
    RowBuilder,
    RunState,
    fix_bodies,
    mask_column,
    page_rows,
)
from orchestra.capture._schema import COLUMNS, TABLES
from orchestra.capture._tables import refresh_run
from orchestra.events import Event, RunFinished, RunStarted
from orchestra.masking import Masker

logger = logging.getLogger("orchestra.capture")

_TIMESTAMP_COLUMNS = {
    "started_at", "finished_at", "emitted_at", "occurred_at", "first_seen_at", "saved_at",
}  # fmt: skip
try:  # JSON text Arrow marks as such: DuckDB stores it without parsing it again
    _JSON_TYPE: pa.DataType = pa.json_()
except AttributeError:  # pyarrow < 19: plain text, which DuckDB checks while inserting
    _JSON_TYPE = pa.string()
_TIMESTAMP_TYPE = pa.timestamp("us")
_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "JSON": _JSON_TYPE,
    "BIGINT": pa.int64(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "TIMESTAMP": _TIMESTAMP_TYPE,  # from seconds since the epoch (time.time())
}


def _column_types(table: str) -> dict[str, str]:
    ddl = TABLES[table]
    body = ddl[ddl.index("(") + 1 : ddl.rindex(")")]
    types = {}
    for line in body.strip().splitlines():
        name, kind = line.split()[:2]
        types[name] = kind.rstrip(",")
    return types


_BATCH_TABLES = tuple(table for table in ROW_TABLES if table != "plans")  # Arrow batches
_SCHEMAS = {
    table: pa.schema([(c, _ARROW_TYPES[t]) for c, t in _column_types(table).items()])
    for table in _BATCH_TABLES
}
# DuckDB finds the Arrow table in the local variable of that name in the frame that calls
# execute() (a replacement scan): ~1 ms a statement less than register() + INSERT ...
# SELECT. Should that ever fail (execute() wrapped by a tracer...), register() it is.
_SCANNED = "_orchestra_capture_batch"
_INSERTS = {table: f"INSERT INTO {table} FROM {_SCANNED}" for table in _BATCH_TABLES}
_replacement_scans = True
_TIMESTAMP = "make_timestamp(CAST(round(? * 1000000) AS BIGINT))"
_RUN_INSERT = (
    "INSERT OR REPLACE INTO runs VALUES ("
    + ", ".join(_TIMESTAMP if c in _TIMESTAMP_COLUMNS else "?" for c in COLUMNS["runs"])
    + ")"
)
_PLAN_INSERT = (
    "INSERT OR IGNORE INTO plans VALUES ("
    + ", ".join(_TIMESTAMP if c in _TIMESTAMP_COLUMNS else "?" for c in COLUMNS["plans"])
    + ")"
)
_RUN_UPDATE = (  # the run row after its first flush: in place, no deleted row versions
    f"UPDATE runs SET status = ?, finished_at = {_TIMESTAMP}, duration_ms = ?, requests = ?, "
    "errors = ?, records = ?, error = ?, error_type = ?, error_step = ?, config = ? "
    "WHERE run_id = ?"
)


def _timestamps(values: list[Any]) -> pa.Array:
    """Seconds since the epoch (``time.time()`` floats) as whole microseconds, rounded
    half away from zero as DuckDB's ``round`` does for the run row (``_TIMESTAMP``)."""
    seconds = pa.array(values, pa.float64())
    micros = pc.round(pc.multiply(seconds, 1_000_000), round_mode="half_towards_infinity")
    return pc.cast(micros, pa.int64()).cast(_TIMESTAMP_TYPE)


def _json_array(values: list[Any]) -> pa.Array:
    return pa.ExtensionArray.from_storage(_JSON_TYPE, pa.array(values, pa.string()))


def _converter(kind: pa.DataType) -> Callable[[list[Any]], pa.Array]:
    if kind == _TIMESTAMP_TYPE:
        return _timestamps
    if kind == _JSON_TYPE and kind != pa.string():
        return _json_array
    return lambda values: pa.array(values, kind)


_CONVERTERS = {table: [_converter(field.type) for field in _SCHEMAS[table]] for table in _SCHEMAS}


def build_table(table: str, values: list[Any], masker: Masker | None) -> pa.Table:
    """One table's rows (flat, ``WIDTHS[table]`` values each) as Arrow columns.

    ``masker`` (given when the run has secrets) masks text columns by value.
    """
    width = WIDTHS[table]
    converters = _CONVERTERS[table]
    # (a record_pages row has one more value, its body, which is not stored)
    columns = [values[index::width] for index in range(len(converters))]
    if masker is not None:
        for index in MASKED_COLUMNS.get(table, ()):
            columns[index] = mask_column(masker, columns[index])
        if table == "exchanges":
            fix_bodies(columns, masker)
    try:
        arrays = [convert(column) for convert, column in zip(converters, columns, strict=True)]
    except pa.ArrowInvalid:  # a body that said it was text is not UTF-8: store it as base64
        if table != "exchanges":
            raise
        fix_bodies(columns, None)
        arrays = [convert(column) for convert, column in zip(converters, columns, strict=True)]
    return pa.Table.from_arrays(arrays, schema=_SCHEMAS[table])


def insert_tables(
    connection: Any,
    tables: list[tuple[str, Any]],
    run_row: tuple | None,
    run_written: bool,
    commit: Callable[[Any, int], None],
) -> None:
    """Insert the batches and write the run row, in one transaction.

    A batch is an Arrow table, or for ``plans`` (one row a run) the rows
    themselves: a statement with parameters costs ~1 ms less than one that
    scans Arrow. ``commit(connection, bytes)`` commits (``Attacher.commit``).
    """
    connection.execute("BEGIN TRANSACTION")
    try:
        for table, batch in tables:
            if table == "plans":
                connection.executemany(_PLAN_INSERT, batch)
                continue
            if _replacement_scans:
                _orchestra_capture_batch = batch  # read by DuckDB (see _INSERTS)
                connection.execute(_INSERTS[table])
                continue
            connection.register(_SCANNED, batch)
            try:
                connection.execute(_INSERTS[table])
            finally:
                connection.unregister(_SCANNED)
        if run_row is not None:
            _write_run(connection, run_row, run_written)
        commit(connection, sum(batch.nbytes for name, batch in tables if name != "plans"))
    except BaseException as error:
        with contextlib.suppress(Exception):  # a failed COMMIT may have rolled back already
            connection.execute("ROLLBACK")
        if _SCANNED in str(error):  # no replacement scan here: register (next flush)
            _no_replacement_scans()
        raise


def _no_replacement_scans() -> None:
    global _replacement_scans
    _replacement_scans = False
    logger.debug("capture: DuckDB found no %s; registering batches instead", _SCANNED)


def _write_run(connection: Any, row: tuple, written: bool) -> None:
    if written:
        (run_id, _, _, _, status, _, finished_at, duration_ms, requests, errors, records,
         error, error_type, error_step, config, _) = row  # fmt: skip
        updated = connection.execute(
            _RUN_UPDATE,
            [status, finished_at, duration_ms, requests, errors, records, error, error_type,
             error_step, config, run_id],
        ).fetchone()  # fmt: skip
        if updated and updated[0]:
            return
    connection.execute(_RUN_INSERT, list(row))


def _run_row(run: RunState, masker: Masker | None) -> tuple:
    row = run.row()
    if masker is None:
        return row
    values = list(row)
    for index in (11, 14):  # error, config
        if values[index]:
            values[index] = masker.text(values[index])
    return tuple(values)


class CaptureWriter:
    """Subscribe an instance to a run's event bus to capture that run.

    One writer serves one run. ``flush_interval``, ``batch_size`` (rows) and
    ``batch_bytes`` (bodies and records) trade freshness for throughput;
    ``max_pending`` and ``max_pending_bytes`` bound memory: past them the event
    loop waits for the writer (back-pressure) instead of growing without end.
    """

    event_types = HANDLED_EVENTS  # the bus calls the writer only for events that make rows

    def __init__(
        self,
        database: Database | str,
        *,
        flush_interval: float = 1.0,
        batch_size: int = 100_000,
        batch_bytes: int = 32 * 1024 * 1024,
        max_pending: int = 400_000,
        max_pending_bytes: int = 128 * 1024 * 1024,
    ):
        from orchestra._version import __version__

        self.database = database if isinstance(database, Database) else Database(database)
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self._builder = builder = RowBuilder(__version__)
        builder.limit_rows, builder.limit_bytes = batch_size, batch_bytes
        builder.on_full = self._full
        self._dispatch: dict[type, Any] = dict(builder.handlers)
        self._dispatch[RunStarted] = self._run_started
        self._dispatch[RunFinished] = self._run_finished
        self._wake_sent = False
        self._condition = threading.Condition()
        self._flush_requested = False
        self._finished = False
        self._thread: threading.Thread | None = None
        self._carry: list[tuple[str, Any]] = []  # built, not yet written (file was locked)
        self._written_run: tuple | None = None  # the run row as last written
        self._committed = False  # the flush being written got past its COMMIT
        self._written_generation = 0
        self._requested_generation = 0
        self.error: BaseException | None = None
        self.flushes = 0
        self.run_id: str | None = None
        self._writing: AbstractContextManager[None] | None = None
        self._attacher: Attacher  # made (in _loop) and used by the writer thread only

    # -- the subscriber (event loop thread) -----------------------------------------------

    def __call__(self, event: Event) -> None:
        handler = self._dispatch.get(type(event))
        if handler is None:
            handler = self._resolve(type(event))
            if handler is None:
                return
        try:
            handler(event)
        except Exception as error:  # a bug in row building must not stop the run
            if self.error is None:
                logger.exception("capture could not convert a %s event", type(event).__name__)
            self.error = error

    def _resolve(self, kind: type) -> Any:
        """The handler of a subclass of a handled event (the bus routes those here too)."""
        for base in kind.__mro__[1:]:
            handler = self._dispatch.get(base)
            if handler is not None:
                self._dispatch[kind] = handler
                return handler
        return None

    def _run_started(self, event: RunStarted) -> None:
        self.run_id = event.run_id
        try:
            self._builder.handlers[RunStarted](event)
        finally:
            self._start()  # the first flush comes flush_interval later

    def _run_finished(self, event: RunFinished) -> None:
        try:
            self._builder.handlers[RunFinished](event)
        finally:
            self.close()  # writes everything, then stops the thread

    def _full(self) -> None:
        """Called by the builder (event loop) while ``batch_size``/``batch_bytes`` are passed."""
        builder = self._builder
        if not self._wake_sent:
            self._wake_sent = True
            with self._condition:
                self._condition.notify()
        if builder.rows >= self.max_pending or builder.body_bytes >= self.max_pending_bytes:
            self.flush(wait=True)

    # -- control ------------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None:
            self._writing = self.database.writing()
            self._writing.__enter__()
            self._thread = threading.Thread(target=self._loop, name="orchestra-capture",
                                            daemon=True)  # fmt: skip
            self._thread.start()

    def flush(self, *, wait: bool = False, timeout: float | None = None) -> None:
        """Ask the writer to write everything pending; optionally wait until it did."""
        with self._condition:
            self._requested_generation += 1
            target = self._requested_generation
            self._flush_requested = True
            self._condition.notify()
            if wait and self._thread is not None:
                self._condition.wait_for(
                    lambda: self._written_generation >= target or self._finished, timeout
                )

    def close(self) -> None:
        """Write what is left and stop the thread."""
        if self._thread is None:
            return
        with self._condition:
            self._finished = True
            self._condition.notify()
        self._thread.join()
        self._thread = None
        if self._writing is not None:
            self._writing.__exit__(None, None, None)
            self._writing = None

    # -- the writer thread ------------------------------------------------------------------

    def _loop(self) -> None:
        self._attacher = self.database.attacher()
        try:
            self._loop_until_finished()
        finally:
            self._attacher.close()

    def _loop_until_finished(self) -> None:
        condition = self._condition
        deadline = time.monotonic() + self.flush_interval
        while True:
            with condition:
                while not (self._flush_requested or self._finished or self._wake_sent):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    condition.wait(remaining)
                self._flush_requested = False
                self._wake_sent = False
                generation = self._requested_generation
                finished = self._finished
            self._write(final=finished)
            deadline = time.monotonic() + self.flush_interval
            with condition:  # an attempt was made: waiters go on (rows stay carried)
                self._written_generation = generation
                condition.notify_all()
            if finished:
                if self._carry:  # the file stayed locked: keep trying, briefly
                    self._write(final=True)
                with condition:
                    self._written_generation = self._requested_generation
                    condition.notify_all()
                return

    def _write(self, *, final: bool) -> None:
        builder = self._builder
        taken = builder.take()
        # after take(): a secret registered before an event that made a taken row is known
        masker: Masker | None = builder.masker if builder.masker.secrets else None
        try:
            if masker is not None and taken.get("record_pages"):
                # The bodies are masked by value as text: records read out of them could
                # differ from the records masked (a secret escaped in the body, \u0041 or
                # \/, is not found there). So with secrets every record is masked text.
                texts = taken.setdefault("record_rows", [])
                texts.extend(page_rows(taken.pop("record_pages")))
            for table in ROW_TABLES:
                values = taken.get(table)
                if not values:
                    continue
                if table == "plans":
                    width = WIDTHS[table]
                    plans = [values[at : at + width] for at in range(0, len(values), width)]
                    self._carry.append((table, plans))
                else:
                    self._carry.append((table, build_table(table, values, masker)))
        except Exception as error:  # a bug in row building must not stop the run
            logger.exception("capture could not build rows")
            self.error = error
        run = builder.run
        run_row = None if run is None else _run_row(run, masker)
        if not self._carry and run_row == self._written_run:
            return  # nothing new: leave the file alone
        tables, rows = self._carry, sum(len(batch) for _, batch in self._carry)
        started = time.perf_counter()
        self._committed = False
        try:
            try:
                self._insert(tables, run_row, final)
            except duckdb.CatalogException:
                if self._committed:
                    raise
                # The tables were known to be there, but the file was replaced since (deleted
                # and created again, perhaps with the same inode): check them and try again.
                self._attacher.failed()
                self._insert(tables, run_row, final)
        except CaptureLockTimeout as error:
            logger.warning("capture file busy, keeping %d rows for the next flush: %s",
                           rows, error)  # fmt: skip
            return
        except Exception as error:
            if self._committed:
                logger.warning("capture: the rows are written, but closing the file failed: %s",
                               error)  # fmt: skip
            else:
                logger.exception("capture write failed; %d rows kept for the next flush", rows)
                self._attacher.failed()
            self.error = error
            return
        logger.debug("flushed %d rows in %.1f ms", rows, (time.perf_counter() - started) * 1e3)

    def _insert(self, tables: list[tuple[str, Any]], run_row: tuple | None, final: bool) -> None:
        """One attempt at writing a flush (``_committed`` tells whether it got that far)."""
        with self._attacher.connect() as connection:
            insert_tables(connection, tables, run_row, self._written_run is not None,
                          self._attacher.commit)  # fmt: skip
            self._committed = True
            self._carry = []
            self._written_run = run_row
            self.flushes += 1
            if final and run_row is not None:
                self._refresh_tables(connection, run_row[0])
            self._attacher.committed(connection, last=final)

    def _refresh_tables(self, connection: Any, run_id: str) -> None:
        """The typed views of the run's steps (``_tables.py``); the rows are already safe."""
        try:
            refresh_run(connection, run_id)
        except Exception as error:  # the records are committed: a view is not worth failing for
            logger.warning("capture: typed tables of run %s not refreshed: %s (run "
                           "CaptureStore.refresh_tables() to retry)", run_id, error)  # fmt: skip

    def stats(self) -> dict[str, Any]:
        return {"flushes": self.flushes, "pending": self._builder.rows}
