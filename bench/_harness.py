"""Shared machinery of the benchmark scripts: server process, pinning, alternation,
statistics, the results table and the JSON file.

Every script runs its contenders in alternation (round-robin, the starting
contender rotating each round) after one warm-up round, so drift of a shared
machine hits every contender alike; it reports medians, min/max, the spread
((max - min) / median) and per-round paired ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
SMOKE_RESULTS_DIR = Path(tempfile.gettempdir()) / "orchestra-bench-smoke"  # never committed
SERVER_CPU = 1
CLIENT_CPU = 0


# -- command line ----------------------------------------------------------------------


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--smoke", action="store_true", help="tiny sizes, one run, no thresholds")
    p.add_argument("--runs", type=int, default=None, help="measured rounds (default 5)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up rounds (default 1)")
    p.add_argument("--results-dir", type=Path, default=None, help="where the JSON goes")
    p.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="event loop of the client (default asyncio)",
    )
    p.add_argument(
        "--server",
        choices=("fast", "demo"),
        default="fast",
        help="fast: bench/server.py (raw asyncio); demo: the demo API",
    )
    p.add_argument("--no-pin", action="store_true", help="do not pin server and client to cores")
    return p


@dataclass
class Settings:
    smoke: bool
    runs: int
    warmup: int
    results_dir: Path
    loop: str
    server: str
    pin: bool

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        smoke = args.smoke
        runs = args.runs if args.runs is not None else (1 if smoke else 5)
        warmup = args.warmup if args.warmup is not None else (0 if smoke else 1)
        results = args.results_dir or (SMOKE_RESULTS_DIR if smoke else RESULTS_DIR)
        return cls(smoke, runs, warmup, results, args.loop, args.server, not args.no_pin)

    def run_async(self, coroutine) -> Any:
        """Run a coroutine on a fresh loop of the chosen kind (as a user's script would)."""
        if self.loop == "uvloop":
            import uvloop

            return uvloop.run(coroutine)
        return asyncio.run(coroutine)


# -- processes and cores ---------------------------------------------------------------


def cores() -> int:
    return os.cpu_count() or 1


def can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


def pin_client(settings: Settings) -> bool:
    if settings.pin and can_pin():
        os.sched_setaffinity(0, {CLIENT_CPU})
        return True
    return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    kind: str

    def cpu_seconds(self) -> float:
        return _proc_cpu(self.process.pid)


@contextlib.contextmanager
def server(settings: Settings, *, total_items: int = 100_000) -> Iterator[Server]:
    """Start the benchmark server in its own process, pinned to its own core."""
    pin = settings.pin and can_pin()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if settings.server == "fast":
        cmd = [sys.executable, str(BENCH_DIR / "server.py"), "--port", "0"]
        if pin:
            cmd += ["--cpu", str(SERVER_CPU)]
        process = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
        line = process.stdout.readline() if process.stdout else ""
        if not line.startswith("PORT "):
            process.kill()
            raise RuntimeError(f"benchmark server did not start: {line!r}")
        port = int(line.split()[1])
    else:
        port = _free_port()
        cmd = [
            sys.executable,
            "-m",
            "orchestra.demo",
            "--port",
            str(port),
            "--total-items",
            str(total_items),
        ]
        if pin:
            cmd = ["taskset", "-c", str(SERVER_CPU), *cmd]
        process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    _wait_healthy(url, process)
    try:
        yield Server(url, process, settings.server)
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 20.0) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    host, port = url.rsplit("/", 1)[-1].split(":")
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server at {url} did not answer /health in {timeout:g}s")


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _busy_cpu_seconds() -> float | None:
    """CPU seconds every process of the machine has used (busy time in /proc/stat)."""
    try:
        parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        values = [int(v) for v in parts]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class NoiseMeter:
    """How much CPU other processes used while we measured (a shared machine's noise)."""

    def __init__(self, server: Server | None = None):
        self.server = server
        self.started = time.perf_counter()
        self.busy = _busy_cpu_seconds()
        self.ours = self._ours()
        self.load_before = os.getloadavg()[0]

    def _ours(self) -> float:
        t = os.times()
        own = t.user + t.system + t.children_user + t.children_system
        return own + (self.server.cpu_seconds() if self.server else 0.0)

    def report(self) -> dict[str, Any]:
        wall = time.perf_counter() - self.started
        busy = _busy_cpu_seconds()
        out: dict[str, Any] = {
            "wall_seconds": round(wall, 2),
            "load_average_before": round(self.load_before, 2),
            "load_average_after": round(os.getloadavg()[0], 2),
        }
        if busy is not None and self.busy is not None and wall > 0:
            foreign = max(0.0, (busy - self.busy) - (self._ours() - self.ours))
            out["other_processes_cpu_cores"] = round(foreign / wall, 3)
        return out


# -- measuring ---------------------------------------------------------------------------


@dataclass
class Contender:
    name: str
    run: Callable[[], float | tuple[float, dict[str, Any]]]  # returns seconds (+ extras)
    ops: int | None = None  # requests (or items) one run performs, for ops/s


@dataclass
class Measured:
    name: str
    ops: int | None
    seconds: list[float] = field(default_factory=list)
    extras: list[dict[str, Any]] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def summary(self) -> dict[str, Any]:
        med = self.median
        out: dict[str, Any] = {
            "runs": len(self.seconds),
            "seconds": [round(s, 4) for s in self.seconds],
            "median_s": round(med, 4),
            "min_s": round(min(self.seconds), 4),
            "max_s": round(max(self.seconds), 4),
            "spread_pct": round(100 * (max(self.seconds) - min(self.seconds)) / med, 1)
            if med
            else 0.0,
        }
        if self.ops:
            out["ops"] = self.ops
            out["ops_per_s_median"] = round(self.ops / med, 1) if med else None
        if self.extras and any(self.extras):
            keys = {k for e in self.extras for k in e}
            for key in sorted(keys):
                values = [e[key] for e in self.extras if key in e]
                if values and all(isinstance(v, int | float) for v in values):
                    out[f"{key}_median"] = round(statistics.median(values), 4)
                else:
                    out[key] = values[-1]
        return out


def alternate(
    contenders: list[Contender],
    settings: Settings,
    *,
    label: str = "",
    server: Server | None = None,
) -> dict[str, Measured]:
    """Warm-up rounds, then ``settings.runs`` rounds of every contender in rotating order."""
    results = {c.name: Measured(c.name, c.ops) for c in contenders}
    total = settings.warmup + settings.runs
    for round_no in range(total):
        warm = round_no < settings.warmup
        shift = round_no % len(contenders)
        order = contenders[shift:] + contenders[:shift]
        for contender in order:
            cpu = time.process_time()
            server_cpu = server.cpu_seconds() if server else 0.0
            out = contender.run()
            cpu = time.process_time() - cpu
            seconds, extras = (out, {}) if isinstance(out, int | float) else out
            extras = {**extras, "client_cpu_s": round(cpu, 4)}
            if server:
                extras["server_cpu_s"] = round(server.cpu_seconds() - server_cpu, 4)
            tag = "warm-up" if warm else f"run {round_no - settings.warmup + 1}/{settings.runs}"
            print(
                f"  {label}{tag:>9}  {contender.name:<28} {seconds:8.3f} s"
                f"  (client cpu {cpu:6.3f} s)",
                flush=True,
            )
            if not warm:
                results[contender.name].seconds.append(seconds)
                results[contender.name].extras.append(extras)
    return results


def paired_ratio(results: dict[str, Measured], faster: str, slower: str) -> dict[str, Any]:
    """How many times faster ``faster`` is than ``slower`` (time(slower) / time(faster)).

    ``median`` compares the medians; ``per_round`` pairs the runs of each round.
    """
    a, b = results[faster].seconds, results[slower].seconds
    rounds = [y / x for x, y in zip(a, b, strict=False) if x]
    return {
        "median": round(results[slower].median / results[faster].median, 3),
        "per_round": [round(r, 3) for r in rounds],
        "min": round(min(rounds), 3) if rounds else None,
        "max": round(max(rounds), 3) if rounds else None,
    }


def target(
    name: str,
    value: float,
    op: str,
    threshold: float,
    unit: str = "",
    settings: Settings | None = None,
    **detail: Any,
) -> dict[str, Any]:
    ok = value >= threshold if op == ">=" else value <= threshold
    evaluated = not (settings and settings.smoke)
    return {
        "target": name,
        "value": round(value, 4),
        "op": op,
        "threshold": threshold,
        "unit": unit,
        "pass": ok if evaluated else None,
        **detail,
    }


# -- reporting ---------------------------------------------------------------------------


def _versions() -> dict[str, str]:
    out = {}
    for name in (
        "orchestra",
        "httpx",
        "httpx-aiohttp",
        "aiohttp",
        "pyreqwest",
        "duckdb",
        "pyarrow",
        "orjson",
        "jmespath",
        "uvloop",
        "dlt",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


def machine(settings: Settings, pinned: bool) -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": cores(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loop": settings.loop,
        "server": settings.server,
        "pinned": f"server cpu {SERVER_CPU}, client cpu {CLIENT_CPU}" if pinned else "no",
        "versions": _versions(),
    }


def table(rows: list[list[Any]], header: list[str]) -> str:
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_results(title: str, results: dict[str, Measured], reference: str | None = None) -> None:
    rows = []
    ref = results[reference].median if reference else None
    for m in results.values():
        s = m.summary()
        ratio = f"{ref / m.median:.2f}x" if ref and m.median else ""
        rows.append(
            [
                m.name,
                f"{s['median_s']:.3f}",
                f"{s['min_s']:.3f}-{s['max_s']:.3f}",
                f"{s['spread_pct']:.0f}%",
                f"{s.get('ops_per_s_median', ''):,}" if m.ops else "",
                ratio,
            ]
        )
    head = [
        "contender",
        "median s",
        "min-max s",
        "spread",
        "ops/s",
        f"vs {reference}" if reference else "",
    ]
    print(f"\n{title}\n" + table(rows, head))


def print_targets(targets: list[dict[str, Any]]) -> None:
    rows = []
    for t in targets:
        verdict = {True: "PASS", False: "FAIL", None: "(smoke: not judged)"}[t["pass"]]
        rows.append(
            [
                t["target"],
                f"{t['value']:g}{t['unit']}",
                f"{t['op']} {t['threshold']:g}{t['unit']}",
                verdict,
            ]
        )
    print("\n" + table(rows, ["target", "measured", "wanted", "verdict"]))


def write_results(name: str, settings: Settings, payload: dict[str, Any]) -> Path:
    settings.results_dir.mkdir(parents=True, exist_ok=True)
    path = settings.results_dir / f"{name}.json"
    doc = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "smoke": settings.smoke,
        "runs": settings.runs,
        "warmup": settings.warmup,
        **payload,
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"\nwrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path


def summaries(results: dict[str, Measured]) -> dict[str, Any]:
    return {name: m.summary() for name, m in results.items()}
