"""``orchestra run`` stopped by SIGINT, SIGTERM or SIGHUP, in a real process.

Each test starts the CLI on a fanout of slow requests against the demo API,
waits until a second wave of requests is at the server, sends the signal and
then reads what is left as a user would: the exit code, the DuckDB file (with
SQL), the JUnit report, the records file and the server's own request count.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from orchestra.cli import main
from orchestra.demo import DemoAPI

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

REPO = Path(__file__).resolve().parents[2]
CONCURRENCY = 4
DELAY = 1.5  # long enough that the signal lands while a wave is at the server


def slow_fanout_plan(path: Path) -> Path:
    path.write_text(
        f"""
key: cli-signals
steps:
  - name: list
    url: "{{config.base_url}}/items?limit=40"
    sub_steps:
      - name: slow
        iterate_over: response.body.items
        url: "{{config.base_url}}/slow?delay={DELAY}&id={{item.id}}"
        concurrency: {CONCURRENCY}
""",
        encoding="utf-8",
    )
    return path


def start_run(demo_api: DemoAPI, tmp_path: Path) -> subprocess.Popen[str]:
    plan = slow_fanout_plan(tmp_path / "plan.yaml")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = [sys.executable, "-m", "orchestra", "run", str(plan), "-c",
               f"base_url={demo_api.url}", "--db", str(tmp_path / "capture.duckdb"),
               "--junit", str(tmp_path / "junit.xml"), "--records",
               str(tmp_path / "records.jsonl")]  # fmt: skip
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        start_new_session=True,  # the signal reaches this process only, as `kill PID` does
    )


def wait_for_slow_requests(demo_api: DemoAPI, at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if demo_api.stats()["by_path"].get("/slow", 0) >= at_least:
            return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {at_least} /slow requests after {timeout}s")


def stop_mid_run(
    demo_api: DemoAPI, tmp_path: Path, signals: list[signal.Signals]
) -> tuple[int, str, str]:
    """Start the run, send ``signals`` (in a row) while the second wave is in flight."""
    process = start_run(demo_api, tmp_path)
    try:
        wait_for_slow_requests(demo_api, at_least=2 * CONCURRENCY)
        time.sleep(0.3)  # the whole wave has reached the server
        for signum in signals:
            process.send_signal(signum)
            time.sleep(0.05)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return process.returncode, stdout, stderr


def captured(tmp_path: Path) -> dict[str, Any]:
    with duckdb.connect(str(tmp_path / "capture.duckdb"), read_only=True) as connection:
        (run_id, status), *others = connection.execute("SELECT run_id, status FROM runs").fetchall()
        assert not others
        exchanges = connection.execute(
            "SELECT status_code, error FROM exchanges WHERE run_id = ?", [run_id]
        ).fetchall()
        records = connection.execute(
            "SELECT count(*) FROM records WHERE run_id = ?", [run_id]
        ).fetchone()[0]
    return {"status": status, "exchanges": exchanges, "records": records}


def assert_interrupted_and_kept(demo_api: DemoAPI, tmp_path: Path, cause: str) -> None:
    capture = captured(tmp_path)
    assert capture["status"] == "interrupted"
    exchanges = capture["exchanges"]
    assert len(exchanges) == demo_api.stats()["requests_total"]  # every request sent is a row
    in_flight = [error for status, error in exchanges if status is None]
    assert 1 <= len(in_flight) <= CONCURRENCY
    assert all("cancelled while in flight" in error for error in in_flight), in_flight
    assert sum(1 for status, _ in exchanges if status == 200) >= 1 + CONCURRENCY
    assert not (tmp_path / "capture.duckdb.wal").exists()
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["status"] == "interrupted"
    assert any(cause in (e.get("message") or "") for e in suite.iter("error"))
    lines = (tmp_path / "records.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == capture["records"] >= CONCURRENCY


@pytest.mark.parametrize(
    ("signum", "code", "cause"),
    [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP"),
     (signal.SIGINT, 130, "Ctrl-C")],
    ids=["SIGTERM", "SIGHUP", "SIGINT"],
)  # fmt: skip
def test_a_stop_signal_interrupts_the_run_and_keeps_everything(
    demo_api: DemoAPI, tmp_path: Path, signum: signal.Signals, code: int, cause: str
) -> None:
    returncode, stdout, stderr = stop_mid_run(demo_api, tmp_path, [signum])

    assert returncode == code, stderr
    assert "Traceback" not in stderr
    assert "status:" in stdout and "interrupted" in stdout and cause in stdout
    assert_interrupted_and_kept(demo_api, tmp_path, cause)


def test_a_second_signal_during_the_shutdown_is_ignored(demo_api: DemoAPI, tmp_path: Path) -> None:
    returncode, stdout, stderr = stop_mid_run(
        demo_api, tmp_path, [signal.SIGTERM, signal.SIGTERM, signal.SIGINT, signal.SIGHUP]
    )

    assert returncode == 143, stderr
    assert "Traceback" not in stderr
    assert "cancelled (SIGTERM)" in stdout
    assert_interrupted_and_kept(demo_api, tmp_path, "SIGTERM")


def test_the_previous_handlers_are_back_after_the_run(demo_api: DemoAPI, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("key: one\nsteps:\n  - name: one\n    url: '{config.base_url}/health'\n")
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP,
                                                             signal.SIGINT)}  # fmt: skip

    result = CliRunner().invoke(
        main, ["run", str(plan), "-c", f"base_url={demo_api.url}", "--no-capture"]
    )

    assert result.exit_code == 0, result.output
    assert {signum: signal.getsignal(signum) for signum in before} == before
