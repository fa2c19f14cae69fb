"""Nothing captured is lost: failures, cancellation, SIGKILL, and a reader in another process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

import orchestra
from orchestra.capture import CaptureStore


def count(store: CaptureStore, table: str, run_id: str) -> int:
    return int(store.sql(f"SELECT count(*) AS n FROM {table} WHERE run_id = ?", [run_id]).n[0])


def slow_fanout(base_url: str, items: int = 40, delay: float = 0.05, concurrency: int = 4):
    return {
        "key": "slow-fanout",
        "steps": [
            {
                "name": "list",
                "url": f"{base_url}/items?limit={items}",
                "emit": False,
                "sub_steps": [
                    {
                        "name": "slow",
                        "iterate_over": "response.body.items",
                        "url": f"{base_url}/slow?delay={delay}&id={{item.id}}",
                        "concurrency": concurrency,
                    }
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("step", "limits", "status", "fragment"),
    [
        ({"url": "/status/401", "abort_on": [401]}, {}, "aborted", "abort_on"),
        ({"url": "/items?limit=1", "while": "`true`"}, {"max_loops": 3}, "failed", "max_loops"),
        ({"url": "/slow?delay=2", "timeout_seconds": 0.1, "retry": {"max_attempts": 1}}, {},
         "failed", "timed out"),
        ({"url": "/status/500", "retry": {"max_attempts": 2, "base_seconds": 0.01}}, {},
         "failed", "500"),
    ],
    ids=["http-abort", "limit", "timeout", "http-error"],
)  # fmt: skip
def test_failed_runs_keep_every_exchange(demo_api, tmp_path, step, limits, status, fragment):
    store = CaptureStore(tmp_path / "fail.duckdb")
    plan = {
        "key": "fails",
        "limits": limits,
        "steps": [
            {"name": "ok", "url": f"{demo_api.url}/health"},
            {"name": "bad", **step, "url": demo_api.url + step["url"]},
        ],
    }
    result = orchestra.run(plan, db=store)
    assert str(result.status) == status
    run = store.runs().iloc[0]
    assert run.status == status
    assert fragment in run.error
    assert count(store, "exchanges", result.run_id) == result.requests >= 2
    errors = store.errors(result.run_id)
    assert f"run_{status}" in set(errors.kind)


def test_cancelled_run_is_interrupted_and_keeps_its_exchanges(demo_api, tmp_path):
    store = CaptureStore(tmp_path / "cancel.duckdb")

    async def main():
        runner, _ = orchestra._run.build_runner(slow_fanout(demo_api.url, 200), db=store)
        task = asyncio.create_task(runner.run())
        await asyncio.sleep(0.6)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return runner.run_id

    run_id = asyncio.run(main())
    run = store.runs().iloc[0]
    assert run.status == "interrupted"
    exchanges = store.exchanges(run_id)
    answered = exchanges[exchanges.status_code.notna()]
    assert 10 < len(answered) < 200
    in_flight = exchanges[exchanges.status_code.isna()]
    assert len(in_flight) <= 4  # the cancelled in-flight requests, kept with their error
    assert all("cancelled" in error for error in in_flight.error), list(in_flight.error)
    # the next run works
    assert orchestra.run({"key": "n", "step": {"url": f"{demo_api.url}/health"}}, db=store).ok


RUN_IN_CHILD = textwrap.dedent(
    """
    import json, sys
    import orchestra
    from orchestra.capture import CaptureStore
    plan = json.loads(sys.argv[1])
    store = CaptureStore(sys.argv[2])
    writer_options = json.loads(sys.argv[3])
    runner, _ = orchestra._run.build_runner(plan, db=None)
    runner.bus.subscribe(store.writer(**writer_options))
    import asyncio
    result = asyncio.run(runner.run())
    print(result.status, result.requests, flush=True)
    """
)


def start_child(plan, db_path, **writer_options):
    return subprocess.Popen(
        [sys.executable, "-c", RUN_IN_CHILD, json.dumps(plan), str(db_path),
         json.dumps(writer_options)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def wait_for_exchanges(store: CaptureStore, at_least: int, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.database.exists:
            try:
                n = int(store.sql("SELECT count(*) AS n FROM exchanges").n[0])
            except FileNotFoundError:
                n = 0
            if n >= at_least:
                return n
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} exchanges after {timeout}s")


def test_another_process_reads_while_a_run_writes(demo_api, tmp_path):
    """The future dashboard's situation: `panel serve` reads while a kernel writes."""
    db_path = tmp_path / "shared.duckdb"
    child = start_child(slow_fanout(demo_api.url, 120), db_path, flush_interval=0.2)
    store = CaptureStore(db_path, lock_timeout=10)
    seen: list[int] = []
    statuses: set[str] = set()
    while child.poll() is None:
        try:
            seen.append(int(store.sql("SELECT count(*) AS n FROM exchanges").n[0]))
            statuses.update(store.runs().status)
        except FileNotFoundError:
            pass  # the child has not created the file yet
        time.sleep(0.05)
    out, err = child.communicate()
    assert child.returncode == 0, err
    assert out.startswith("succeeded 121")
    assert "running" in statuses  # we saw the run live
    assert len(set(seen)) >= 2 and seen == sorted(seen)  # and watched it grow
    assert int(store.sql("SELECT count(*) AS n FROM exchanges").n[0]) == 121
    assert set(store.runs().status) == {"succeeded"}


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_sigkill_leaves_a_file_duckdb_opens_with_what_was_committed(demo_api, tmp_path):
    db_path = tmp_path / "killed.duckdb"
    child = start_child(slow_fanout(demo_api.url, 400), db_path, flush_interval=0.1)
    store = CaptureStore(db_path, lock_timeout=10)
    committed = wait_for_exchanges(store, at_least=20)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    with duckdb.connect(str(db_path), read_only=True) as connection:
        exchanges = connection.execute("SELECT count(*) FROM exchanges").fetchone()[0]
        status = connection.execute("SELECT status FROM runs").fetchone()[0]
    assert committed <= exchanges < 401
    assert status == "running"  # it never finished; everything flushed before the kill is there
