"""Signals sent to a real ``orchestra run`` in the middle of a fanout.

The fanout's first items answer at once and the rest sleep on the hostile
server, so when the signal arrives the server holds exactly ``CONCURRENCY``
requests in flight: a fixed, known state, on a loaded machine too.

SIGINT, SIGTERM and SIGHUP end the run the same way: exit 130 / 143 / 129,
the run row ``interrupted``, the requests in flight kept as exchanges
(cancelled), the server's request count equal to the ``exchanges`` rows, the
JUnit report written, no WAL left, no secret anywhere. SIGKILL cannot be
handled: the file must still open and the next run into it must work.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestra.capture import CaptureStore
from tests.faults import capture_checks as checks
from tests.faults.hostile_server import HostileServer

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

FAST_ITEMS = 8
ITEMS = 40
CONCURRENCY = 4
SLOW_MS = 20_000  # far longer than the test: the slow items are in flight when it signals
MID_FANOUT = 1 + FAST_ITEMS + CONCURRENCY  # the list, the fast items, the slow ones in flight


def fanout_plan(base_url: str) -> dict[str, Any]:
    secret_headers = {"X-Api-Token": "{config.token}"}
    return {
        "key": "signal-fanout",
        "config": {"base_url": base_url, "token": {"env": checks.SECRET_ENV}},
        "steps": [
            {
                "name": "list",
                "url": "{config.base_url}/items",
                "params": {"n": str(ITEMS), "fast": str(FAST_ITEMS), "ms": str(SLOW_MS)},
                "headers": secret_headers,
                "emit": False,
                "sub_steps": [
                    {
                        "name": "detail",
                        "iterate_over": "response.body.items",
                        "url": "{config.base_url}/slow",
                        "params": {"ms": "{item.ms}", "token": "{config.token}"},
                        "headers": secret_headers,
                        "concurrency": CONCURRENCY,
                    }
                ],
            },
            {"name": "after", "url": "{config.base_url}/ok"},
        ],
    }


def start_run(tmp_path: Path, base_url: str) -> tuple[subprocess.Popen, Path, Path]:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(fanout_plan(base_url)), encoding="utf-8")
    db, junit = tmp_path / "signal.duckdb", tmp_path / "junit.xml"
    process = subprocess.Popen(
        checks.orchestra_command("run", str(plan), "--db", str(db), "--junit", str(junit)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=checks.subprocess_env(),
        start_new_session=True,  # the signal goes to the run only, never to pytest
    )
    return process, db, junit


def wait_mid_fanout(process: subprocess.Popen, server: HostileServer, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.requests() >= MID_FANOUT and server.in_flight() >= CONCURRENCY:
            return
        if process.poll() is not None:
            raise AssertionError(f"the run ended before the signal: {process.communicate()}")
        time.sleep(0.02)
    raise AssertionError(f"not mid-fanout after {timeout}s: {server.per_path()}")


def wait_committed(db: Path, exchanges: int, timeout: float = 60) -> int:
    """Wait until the capture holds the run row and ``exchanges`` rows; returns the count."""
    store = CaptureStore(db, lock_timeout=10)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.database.exists:
            with contextlib.suppress(FileNotFoundError, duckdb.Error):
                runs = int(store.sql("SELECT count(*) AS n FROM runs").n[0])
                committed = int(store.sql("SELECT count(*) AS n FROM exchanges").n[0])
                if runs and committed >= exchanges:
                    return committed
        time.sleep(0.05)
    raise AssertionError(f"the capture did not reach {exchanges} exchanges in {timeout}s")


def finish(process: subprocess.Popen, timeout: float = 60) -> tuple[str, str]:
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
        raise AssertionError(f"the run did not end {timeout}s after the signal: {stderr}") from None


@pytest.mark.parametrize(
    ("signum", "exit_code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)],
    ids=["SIGINT", "SIGTERM", "SIGHUP"],
)
def test_signal_mid_fanout_interrupts_the_run_and_keeps_every_exchange(
    signum: signal.Signals, exit_code: int, hostile: HostileServer, tmp_path: Path
) -> None:
    process, db, junit = start_run(tmp_path, hostile.url)
    try:
        wait_mid_fanout(process, hostile)
        process.send_signal(signum)
        stdout, stderr = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == exit_code, stderr
    assert "Traceback" not in stderr, stderr
    assert "interrupted" in stdout
    run = checks.run_row(db)
    assert run["status"] == "interrupted", run
    assert checks.unfinished_steps(db, run["run_id"]) == []
    assert hostile.requests() == MID_FANOUT, hostile.per_path()  # nothing sent after the signal
    assert checks.exchange_rows(db, run["run_id"]) == hostile.requests()
    with checks.connect(db) as connection:
        cancelled = connection.execute(
            "SELECT error FROM exchanges WHERE run_id = ? AND status_code IS NULL",
            [run["run_id"]],
        ).fetchall()
    assert len(cancelled) == CONCURRENCY
    assert all("cancel" in error.lower() for (error,) in cancelled), cancelled
    assert junit.exists(), "no JUnit report for the interrupted run"
    assert checks.wal_files(tmp_path) == []
    assert checks.secret_leaks_in_db(db) == []
    for where, text in {"stdout": stdout, "stderr": stderr, "junit": junit.read_text()}.items():
        assert checks.leaks_in_text(text) == [], f"secret leaked into {where}"


def test_sigkill_mid_fanout_leaves_a_file_that_opens_and_takes_the_next_run(
    hostile: HostileServer, tmp_path: Path
) -> None:
    process, db, _ = start_run(tmp_path, hostile.url)
    try:
        wait_mid_fanout(process, hostile)
        committed = wait_committed(db, exchanges=1 + FAST_ITEMS)  # the answered ones
        process.kill()
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == -signal.SIGKILL

    with checks.connect(db) as connection:  # opens read-only, WAL or not
        killed_run_id, status = connection.execute("SELECT run_id, status FROM runs").fetchone()
        kept = connection.execute("SELECT count(*) FROM exchanges").fetchone()[0]
    assert status == "running"  # nothing can mark a run after SIGKILL
    assert committed <= kept <= MID_FANOUT
    assert checks.secret_leaks_in_db(db) == []

    hostile.reset()
    plan = tmp_path / "next.json"
    next_plan = {"key": "after-kill", "steps": [{"name": "ok", "url": f"{hostile.url}/ok"}]}
    plan.write_text(json.dumps(next_plan), encoding="utf-8")
    completed = checks.run_cli(["run", str(plan), "--db", str(db)])

    assert completed.returncode == 0, completed.stderr
    latest = checks.run_row(db)
    assert latest["run_id"] != killed_run_id and latest["status"] == "succeeded"
    assert checks.exchange_rows(db, latest["run_id"]) == hostile.requests() == 1
    assert checks.wal_files(tmp_path) == []
