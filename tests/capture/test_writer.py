"""The capture writer on its own: events in, rows out (no engine, no network).

Rows are built on the event loop as events arrive and written by the writer
thread; masking by value happens when rows are written, with the secrets known
then; the file is left without a WAL after a run, holds no row group per tiny
flush, and a flush that has nothing new does not touch it.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import orjson
import pytest

from orchestra.capture import CaptureStore, CaptureWriter
from orchestra.events import (
    RecordEmitted,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from orchestra.masking import Masker

SECRET = "sekret-value-8c1f2e"


def started(run_id: str, masker: Masker | None = None, at: float | None = None) -> RunStarted:
    return RunStarted(run_id=run_id, at=at or time.time(), plan_key="writer-test",
                      plan={"key": "writer-test", "steps": []}, config={},
                      masker=masker or Masker())  # fmt: skip


def exchange(run_id: str, exchange_id: int, *, url: str = "http://api.test/items",
             headers: dict[str, str] | None = None, body: bytes | None = None,
             response_body: bytes = b'{"ok": true}', content_type: str = "application/json",
             ) -> list:  # fmt: skip
    """The events of one step that makes one request and emits one record."""
    execution = f"{run_id}:{exchange_id}"
    now = time.time()
    return [
        StepStarted(run_id=run_id, at=now, step_path="step", execution_id=execution),
        RequestSent(run_id=run_id, at=now, step_path="step", execution_id=execution,
                    exchange_id=exchange_id, method="POST" if body else "GET", url=url,
                    headers=headers or {"accept": "*/*"}, body=body, page=0, attempt=1),
        ResponseReceived(run_id=run_id, at=now, step_path="step", execution_id=execution,
                         exchange_id=exchange_id, status_code=200,
                         headers={"content-type": content_type}, body=response_body),
        RecordEmitted(run_id=run_id, at=now, step_path="step", record={"id": exchange_id},
                      exchange_id=exchange_id),
        StepFinished(run_id=run_id, at=now, step_path="step", execution_id=execution,
                     status="ok", duration_ms=1.0, records=1),
    ]  # fmt: skip


def finished(run_id: str) -> RunFinished:
    return RunFinished(run_id=run_id, at=time.time(), status="succeeded", duration_ms=5.0)


def write_run(db: Path | str, run_id: str, events: list, **options) -> CaptureWriter:
    writer = CaptureWriter(str(db), **options)
    for event in [started(run_id, at=events[0].at if events else None), *events,
                  finished(run_id)]:  # fmt: skip
        writer(event)
    assert writer.error is None
    return writer


def count(store: CaptureStore, table: str, run_id: str) -> int:
    return int(store.sql(f"SELECT count(*) AS n FROM {table} WHERE run_id = ?", [run_id]).n[0])


def test_every_row_is_written_and_no_wal_is_left(tmp_path):
    db = tmp_path / "w.duckdb"
    events = [event for index in range(1, 51) for event in exchange("r1", index)]
    started_at = events[0].at
    writer = write_run(db, "r1", events)
    assert writer.flushes == 1  # a run shorter than flush_interval is written once, at its end
    store = CaptureStore(db)
    assert (count(store, "exchanges", "r1"), count(store, "steps", "r1"),
            count(store, "records", "r1")) == (50, 50, 50)  # fmt: skip
    run = store.runs().iloc[0]
    assert (run.status, run.requests, run.records) == ("succeeded", 50, 50)
    times = store.sql(
        "SELECT epoch_us(r.started_at) AS run, epoch_us(min(e.started_at)) AS first, "
        "epoch_us(min(x.emitted_at)) AS record, epoch_us(min(s.finished_at)) AS step "
        "FROM runs r, exchanges e, records x, steps s GROUP BY ALL"
    ).iloc[0]
    assert abs(times.run - started_at * 1e6) <= 1  # microseconds, as time.time() said
    # the first exchange has the run's own time: rounded alike, never before the run
    assert times.first == times.run and 0 <= times.record - times.run < 60e6
    assert 0 <= times.step - times.run < 60e6
    assert store.record_values("r1")[:2] == [{"id": 1}, {"id": 2}]
    assert not Path(str(db) + ".wal").exists()  # readers replay nothing


def test_secrets_registered_after_an_event_still_mask_it(tmp_path):
    """Masking by value happens when rows are written, with the secrets known then."""
    masker = Masker()
    writer = CaptureWriter(str(tmp_path / "late.duckdb"))
    writer(started("r2", masker))
    for event in exchange("r2", 1, url=f"http://api.test/items?q={SECRET}",
                          headers={"x-trace": SECRET}, response_body=SECRET.encode()):  # fmt: skip
        writer(event)
    masker.add(SECRET)  # e.g. a `secrets:` field of a later step
    writer(finished("r2"))
    stored = (tmp_path / "late.duckdb").read_bytes()
    assert SECRET.encode() not in stored
    row = CaptureStore(tmp_path / "late.duckdb").exchanges("r2").iloc[0]
    assert row.url == "http://api.test/items?q=***"
    assert orjson.loads(row.request_headers) == {"x-trace": "***"}
    assert row.response_body == "***"


def test_a_token_echoed_with_escaped_slashes_is_masked(tmp_path):
    """PHP's json_encode writes "/" as "\\/": a base64 token echoed that way is still masked."""
    token = "tok/EN+base64/value=="
    php_body = b'{"echo": "tok\\/EN+base64\\/value=="}'
    db = tmp_path / "php.duckdb"
    writer = CaptureWriter(str(db))
    writer(started("r9", Masker([token])))
    for event in exchange("r9", 1, response_body=php_body):
        writer(event)
    writer(finished("r9"))
    stored = db.read_bytes()
    assert b"tok/EN" not in stored and b"tok\\/EN" not in stored  # neither form, anywhere
    assert CaptureStore(db).exchanges("r9").iloc[0].response_body == '{"echo": "***"}'


def test_sensitive_names_are_masked_without_any_registered_secret(tmp_path):
    events = exchange(
        "r3", 1, url="http://api.test/items?api_key=k-123456&page=2",
        headers={"Authorization": "Bearer t-123456", "x-api-key": "k-123456", "accept": "*/*"},
        body=b"user=me&password=p-123456",
        content_type="application/json",
    )  # fmt: skip
    events[1].headers["content-type"] = "application/x-www-form-urlencoded"
    write_run(tmp_path / "names.duckdb", "r3", events)
    row = CaptureStore(tmp_path / "names.duckdb").exchanges("r3").iloc[0]
    assert "k-123456" not in row.url and "page=2" in row.url
    headers = orjson.loads(row.request_headers)
    assert headers["Authorization"] == "***" and headers["x-api-key"] == "***"
    assert headers["accept"] == "*/*"
    assert "p-123456" not in row.request_body and "user=me" in row.request_body


@pytest.mark.parametrize("secrets", [False, True])
def test_a_text_body_that_is_not_utf8_is_stored_as_base64(tmp_path, secrets):
    raw = b'{"name": "caf\xe9"}'  # latin-1, announced as JSON
    masker = Masker([SECRET] if secrets else [])
    writer = CaptureWriter(str(tmp_path / "b64.duckdb"))
    writer(started("r4", masker))
    for event in [*exchange("r4", 1, response_body=raw), *exchange("r4", 2)]:
        writer(event)
    writer(finished("r4"))
    rows = CaptureStore(tmp_path / "b64.duckdb").exchanges("r4")
    first, second = rows.iloc[0], rows.iloc[1]
    assert first.response_body_encoding == "base64"
    assert base64.b64decode(first.response_body) == raw
    assert (second.response_body_encoding, second.response_body) == ("utf-8", '{"ok": true}')


def test_the_first_flush_waits_for_the_interval_and_idle_flushes_skip_the_file(tmp_path):
    db = tmp_path / "idle.duckdb"
    writer = CaptureWriter(str(db), flush_interval=0.2)
    writer(started("r5"))
    for event in exchange("r5", 1):
        writer(event)
    time.sleep(0.05)
    assert writer.flushes == 0 and not db.exists()  # no flush at the start of the run
    deadline = time.monotonic() + 10
    while writer.flushes == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert writer.flushes == 1
    store = CaptureStore(db)
    assert store.runs().iloc[0].status == "running"  # visible while the run is live
    time.sleep(0.7)  # three intervals without events: nothing to write
    assert writer.flushes == 1
    writer(finished("r5"))
    assert writer.flushes == 2
    assert store.runs().iloc[0].status == "succeeded"


def test_many_tiny_runs_keep_the_file_small(tmp_path):
    """Each run's last flush checkpoints; every few of those vacuum, so the small row
    groups (a 256 KB block each) of tiny runs do not pile up."""
    db = tmp_path / "tiny.duckdb"
    sizes = []
    for run in range(48):
        write_run(db, f"t{run:03d}", exchange(f"t{run:03d}", 1))
        sizes.append(db.stat().st_size)
    assert len(CaptureStore(db).runs()) == 48
    assert sizes[-1] < 16 * 1024 * 1024, sizes
    assert sizes[-1] - sizes[23] < 6 * 1024 * 1024, sizes  # it stops growing by blocks


def test_events_of_a_subclass_are_captured(tmp_path):
    class MyRetry(RetryScheduled):
        pass

    retry = MyRetry(run_id="r6", at=time.time(), step_path="step", exchange_id=1, attempt=2,
                    delay_seconds=0.5, reason="status 503")  # fmt: skip
    write_run(tmp_path / "sub.duckdb", "r6", [*exchange("r6", 1), retry])
    events = CaptureStore(tmp_path / "sub.duckdb").sql("SELECT type, delay_seconds FROM events")
    assert list(events.type) == ["retry_scheduled"] and list(events.delay_seconds) == [0.5]


def test_back_pressure_flushes_while_the_run_goes_on(tmp_path):
    db = tmp_path / "pressure.duckdb"
    writer = CaptureWriter(str(db), batch_size=20, max_pending=40, flush_interval=60)
    writer(started("r7"))
    for index in range(1, 41):
        for event in exchange("r7", index):
            writer(event)
    assert writer.flushes >= 1  # the event loop waited for the writer, long before 60 s
    writer(finished("r7"))
    assert count(CaptureStore(db), "exchanges", "r7") == 40


HOLD_THE_FILE = textwrap.dedent(
    """
    import sys, time, duckdb
    connection = duckdb.connect(sys.argv[1])
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    connection.close()
    """
)


def test_a_file_locked_by_another_process_is_written_when_released(tmp_path):
    db = tmp_path / "locked.duckdb"
    write_run(db, "before", exchange("before", 1))  # the file and its tables exist
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_FILE, str(db), "1.0"],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started_at = time.monotonic()
        write_run(db, "r8", [event for i in range(1, 6) for event in exchange("r8", i)])
        assert time.monotonic() - started_at > 0.3  # it had to wait for the lock
    finally:
        holder.wait(10)
    assert count(CaptureStore(db), "exchanges", "r8") == 5


def test_a_read_only_reader_sees_what_a_killed_writer_committed(tmp_path):
    """A flush commits to the WAL; a SIGKILL before any checkpoint keeps it readable."""
    db = tmp_path / "killed.duckdb"
    code = textwrap.dedent(
        f"""
        import os, signal, time
        from tests.capture.test_writer import CaptureWriter, started, exchange
        writer = CaptureWriter({str(db)!r}, flush_interval=0.1)
        writer(started("k1"))
        for event in exchange("k1", 1):
            writer(event)
        while writer.flushes == 0:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    child = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert child.returncode == -9, child.stderr
    with duckdb.connect(str(db), read_only=True) as connection:
        assert connection.execute("SELECT count(*) FROM exchanges").fetchone()[0] == 1
        assert connection.execute("SELECT status FROM runs").fetchone()[0] == "running"


def test_a_file_replaced_between_runs_gets_its_tables_again(tmp_path, caplog):
    db = tmp_path / "replaced.duckdb"
    write_run(db, "first", exchange("first", 1))
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    inode = db.stat().st_ino
    db.write_bytes(empty.read_bytes())  # same path, same inode, no tables
    assert db.stat().st_ino == inode
    writer = write_run(db, "second", exchange("second", 1))
    assert writer.error is None
    assert "capture write failed" not in caplog.text
    store = CaptureStore(db)
    assert count(store, "exchanges", "second") == 1
    assert count(store, "exchanges", "first") == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")
def test_a_forked_child_writes_with_its_own_duckdb_instance(tmp_path):
    from orchestra.capture import _connection

    write_run(tmp_path / "parent.duckdb", "parent", exchange("parent", 1))
    assert _connection._idle  # the parent keeps its instance for the next run
    parent_instances = {id(instance) for instance in _connection._idle}
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it used, then leave without cleanup
        code = 1
        try:
            assert not _connection._idle
            writer = write_run(tmp_path / "child.duckdb", "child", exchange("child", 1))
            used = {id(instance) for instance in _connection._idle}
            code = 0 if writer.error is None and not used & parent_instances else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(0)
    os.close(write)
    status = os.read(read, 1)
    os.waitpid(pid, 0)
    assert status == bytes([0])
    assert count(CaptureStore(tmp_path / "child.duckdb"), "exchanges", "child") == 1
