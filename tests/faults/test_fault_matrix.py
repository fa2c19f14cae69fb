"""The fault matrix: every way a server is known to misbehave, run against real transports.

Each row is (fault, plan fragment, expected run status, expected error). A
plan sends a secret (``{env: …}`` config) as a header and a query parameter
to a step that meets the fault, after a step that works. Then, read back
with SQL:

* the server's request count equals the run's ``exchanges`` rows (retries
  and redirect hops included: every request that reached the server is kept);
* the run row has the expected status and error, and no step row is left
  ``running``;
* no ``*.wal`` file is left beside the capture;
* no form of the secret is in any text column of any table, nor in what the
  run printed (or, for the CLI rows, in stdout, stderr, JUnit and records).

Most rows run in-process (``orchestra.run``) on the default transport (aiohttp)
and on reqwest; a few run ``orchestra run`` as a subprocess.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import orchestra
from tests.faults import capture_checks as checks
from tests.faults.hostile_server import HostileServer

MAX_RESPONSE_BYTES = 1_000_000


@dataclass(frozen=True)
class Fault:
    """One row of the matrix."""

    name: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)
    step: dict[str, Any] = field(default_factory=dict)  # more fields of the hostile step
    status: str = "failed"
    error_type: str | None = None  # the class name in ``runs.error_type`` (None: not pinned)
    fragment: str = ""  # in ``runs.error`` (case-insensitive)
    requests: int = 1  # requests the hostile step makes (attempts and redirect hops)


def attempts(n: int) -> dict[str, Any]:
    return {"retry": {"max_attempts": n, "base_seconds": 0.01, "max_backoff_seconds": 0.05}}


FAULTS = [
    Fault("reset-mid-body", "/reset", step=attempts(2), error_type="RequestError", requests=2),
    Fault("close-after-headers", "/close-after-headers", step=attempts(2),
          error_type="RequestError", requests=2),
    Fault("truncated-body", "/truncated", step=attempts(2), error_type="RequestError",
          requests=2),
    Fault("invalid-json", "/invalid-json", step=attempts(2), fragment="json"),
    Fault("over-limit", "/big", {"bytes": 2 * MAX_RESPONSE_BYTES}, attempts(2),
          error_type="LimitExceeded", fragment="max_response_bytes"),
    Fault("over-limit-chunked", "/big", {"bytes": 2 * MAX_RESPONSE_BYTES, "chunked": 1},
          attempts(2), error_type="LimitExceeded", fragment="max_response_bytes"),
    Fault("gzip-bomb", "/bomb", {"mib": 32}, attempts(2), error_type="LimitExceeded",
          fragment="max_response_bytes"),
    Fault("gzip-bomb-chunked", "/bomb", {"mib": 32, "chunked": 1}, attempts(2),
          error_type="LimitExceeded", fragment="max_response_bytes"),
    Fault("slow-drip", "/drip", {"ms": 50, "bytes": 200},
          {**attempts(2), "timeout_seconds": 0.4}, error_type="RequestError",
          fragment="timed out", requests=2),
    Fault("429-storm", "/status/429", {"retry_after": 0}, attempts(3),
          error_type="HTTPStatusError", fragment="429", requests=3),
    Fault("429-retry-after-too-long", "/status/429", {"retry_after": 3600}, attempts(3),
          error_type="RateLimitExceeded", fragment="3600"),
    Fault("5xx-storm", "/storm", step=attempts(4), error_type="HTTPStatusError",
          fragment="status 50", requests=4),
    Fault("redirect-loop", "/redirect-loop", step=attempts(3), fragment="redirect",
          requests=21),  # the first request and 20 hops, never retried
    Fault("redirect-chain", "/chain/10", step=attempts(2), status="succeeded", requests=11),
    Fault("echo", "/echo", step=attempts(2), status="succeeded"),
]  # fmt: skip
BY_NAME = {fault.name: fault for fault in FAULTS}
ON_REQWEST = ["reset-mid-body", "truncated-body", "over-limit-chunked", "gzip-bomb",
              "gzip-bomb-chunked", "slow-drip", "redirect-loop", "echo"]  # fmt: skip
CASES = [pytest.param(f, "aiohttp", id=f"{f.name}-aiohttp") for f in FAULTS] + [
    pytest.param(BY_NAME[name], "reqwest", id=f"{name}-reqwest") for name in ON_REQWEST
]


def fault_plan(base_url: str, fault: Fault) -> dict[str, Any]:
    """A working step, then the step that meets ``fault``; both send the secret."""
    secret_headers = {"X-Api-Token": "{config.token}"}
    return {
        "key": f"fault-{fault.name}",
        "config": {"base_url": base_url, "token": {"env": checks.SECRET_ENV}},
        "limits": {"max_response_bytes": MAX_RESPONSE_BYTES},
        "steps": [
            {"name": "before", "url": "{config.base_url}/ok", "headers": secret_headers},
            {
                "name": "hostile",
                "url": "{config.base_url}" + fault.path,
                # all in params: today a query in the URL is replaced, not merged, by params
                "params": {
                    **{k: str(v) for k, v in fault.query.items()},
                    "token": "{config.token}",
                },
                "headers": secret_headers,
                "timeout_seconds": 5,
                **fault.step,
            },
        ],
    }


def assert_capture_holds(db: Path, run_id: str, fault: Fault, server: HostileServer) -> None:
    """The assertions shared by every row (see the module docstring)."""
    run = checks.run_row(db, run_id)
    assert run["status"] == fault.status, run["error"]
    if fault.error_type is not None:
        assert run["error_type"] == fault.error_type, run["error"]
    if fault.status != "succeeded":
        assert run["error_step"] == "hostile", run
        assert fault.fragment.lower() in run["error"].lower(), run["error"]
        assert "internal error" not in run["error"]
    assert checks.unfinished_steps(db, run_id) == []
    seen = server.per_path()
    hostile_requests = server.requests() - seen.get("/ok", 0)
    assert hostile_requests == fault.requests, seen
    assert server.requests() == checks.exchange_rows(db, run_id), seen
    assert checks.wal_files(db.parent) == []
    assert checks.secret_leaks_in_db(db) == []


def assert_secret_travelled(server: HostileServer) -> None:
    """The secret reached the server (else "not leaked" would prove nothing)."""
    received = server.received()
    assert any(r.headers.get("x-api-token") == checks.SECRET for r in received)
    assert any(r.query.get("token") == checks.SECRET for r in received)


@pytest.mark.parametrize(("fault", "transport"), CASES)
def test_fault_ends_clearly_and_keeps_every_exchange_without_the_secret(
    fault: Fault,
    transport: str,
    hostile: HostileServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ORCHESTRA_TRANSPORT", transport)
    db = tmp_path / "faults.duckdb"

    result = orchestra.run(
        fault_plan(hostile.url, fault), db=db, environ={checks.SECRET_ENV: checks.SECRET}
    )

    assert str(result.status) == fault.status, result.error
    assert_secret_travelled(hostile)
    assert_capture_holds(db, result.run_id, fault, hostile)
    printed = capfd.readouterr()
    assert checks.leaks_in_text(printed.out + printed.err + str(result.error)) == []


def test_over_limit_body_keeps_its_status_code(hostile: HostileServer, tmp_path: Path) -> None:
    db = tmp_path / "limit.duckdb"
    fault = BY_NAME["over-limit"]

    result = orchestra.run(
        fault_plan(hostile.url, fault), db=db, environ={checks.SECRET_ENV: checks.SECRET}
    )

    with checks.connect(db) as connection:
        codes = connection.execute(
            "SELECT status_code FROM exchanges WHERE run_id = ? AND step_path = 'hostile'",
            [result.run_id],
        ).fetchall()
    assert codes == [(200,)]


def test_echoed_secret_is_masked_in_records_not_dropped(
    hostile: HostileServer, tmp_path: Path
) -> None:
    """The echo row's records hold the masked reference where the secret was."""
    db = tmp_path / "echo.duckdb"

    result = orchestra.run(
        fault_plan(hostile.url, BY_NAME["echo"]), db=db, environ={checks.SECRET_ENV: checks.SECRET}
    )

    with checks.connect(db) as connection:
        (data,) = connection.execute(
            "SELECT data FROM records WHERE run_id = ? AND step_path = 'hostile'", [result.run_id]
        ).fetchone()
    echoed = json.loads(data)
    assert echoed["query"]["token"] == "${" + checks.SECRET_ENV + "}"
    assert echoed["headers"]["x-api-token"] == "${" + checks.SECRET_ENV + "}"


# --- the same faults through the CLI ---------------------------------------------------------


CLI_FAULTS = ["reset-mid-body", "redirect-loop", "429-storm", "echo"]


@pytest.mark.parametrize("name", CLI_FAULTS)
def test_cli_run_meets_the_fault(name: str, hostile: HostileServer, tmp_path: Path) -> None:
    fault = BY_NAME[name]
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(fault_plan(hostile.url, fault)), encoding="utf-8")
    db, junit, records = tmp_path / "cli.duckdb", tmp_path / "junit.xml", tmp_path / "rec.jsonl"

    completed = checks.run_cli(
        ["run", str(plan), "--db", str(db), "--junit", str(junit), "--records", str(records)]
    )

    assert completed.returncode == (0 if fault.status == "succeeded" else 1), completed.stderr
    assert "Traceback" not in completed.stderr
    run_id = checks.run_row(db)["run_id"]
    assert_secret_travelled(hostile)
    assert_capture_holds(db, run_id, fault, hostile)
    outputs = {
        "stdout": completed.stdout,
        "stderr": completed.stderr,
        "junit": junit.read_text(),
        "records": records.read_text(),
    }
    for where, text in outputs.items():
        assert checks.leaks_in_text(text) == [], f"secret leaked into {where}"


# --- a real 1 GiB bomb, with the memory it costs ---------------------------------------------


RSS_LIMIT_MB = 300
WATCHDOG_KILL_MB = 1500  # today's code inflates the whole bomb: stop it before it hurts


def memory_mb(pid: int) -> tuple[float, float]:
    """(resident now, resident high-water mark) of ``pid`` in MB, from /proc.

    ``VmHWM`` is the peak of the process's own address space: it starts afresh
    at ``exec``, unlike ``ru_maxrss``, which a forked child inherits from its
    parent (pytest, hundreds of MB after a long session) across the exec.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0, 0.0
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    kib = [int(fields.get(name, "0 kB").split()[0]) for name in ("VmRSS", "VmHWM")]
    return kib[0] / 1024, kib[1] / 1024


def watch_memory(process: subprocess.Popen, peak: list[float], killed: list[float]) -> None:
    """Record ``process``'s peak resident memory; kill it past WATCHDOG_KILL_MB."""
    while process.returncode is None:  # (set by the main thread's communicate())
        rss, high_water = memory_mb(process.pid)
        peak[0] = max(peak[0], high_water)
        if rss > WATCHDOG_KILL_MB:
            killed.append(rss)
            os.kill(process.pid, signal.SIGKILL)
            return
        time.sleep(0.02)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc for RSS")
@pytest.mark.parametrize("transport", ["aiohttp", "reqwest"])
def test_one_gib_bomb_ends_the_step_with_bounded_memory(
    transport: str, hostile: HostileServer, tmp_path: Path
) -> None:
    fault = Fault("gzip-bomb-1gib", "/bomb", {"mib": 1024}, attempts(2),
                  error_type="LimitExceeded", fragment="max_response_bytes")  # fmt: skip
    plan_data = fault_plan(hostile.url, fault)
    plan_data["limits"] = {"max_response_bytes": 10_000_000}  # the default; the bomb is ~1 MB
    plan = tmp_path / "bomb.json"
    plan.write_text(json.dumps(plan_data), encoding="utf-8")
    db = tmp_path / "bomb.duckdb"
    process = subprocess.Popen(
        checks.orchestra_command("run", str(plan), "--db", str(db)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=checks.subprocess_env(ORCHESTRA_TRANSPORT=transport),
    )
    killed: list[float] = []
    peak = [0.0]
    watchdog = threading.Thread(target=watch_memory, args=(process, peak, killed), daemon=True)
    watchdog.start()
    stdout, stderr = process.communicate()
    watchdog.join()

    assert not killed, f"the run passed {WATCHDOG_KILL_MB} MB resident (killed at {killed})"
    assert 50 < peak[0] < RSS_LIMIT_MB, f"peak RSS {peak[0]:.0f} MB"  # (50: it was read at all)
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr, stderr
    run_id = checks.run_row(db)["run_id"]
    assert_capture_holds(db, run_id, fault, hostile)
    assert checks.leaks_in_text(stdout + stderr) == []
