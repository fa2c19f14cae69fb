"""Memory: peak RSS of a 10,000- and a 100,000-item fanout, capture on.

Each measurement is a fresh child process (so peaks do not carry over) that
imports Orchestra, warms up with a 100-item run, records its RSS, then runs the
fanout plan of bench/fanout.py over N items (the parent list is one
``/ids?n=N`` response, ~1.3 MB for 100,000 ids) with capture into a DuckDB file
and records as ``orchestra run`` keeps them (streamed to the capture, not held).
``ru_maxrss`` gives the peak.

Targets (issue 6): peak RSS <= 300 MB at 100,000 items, and flat from 10,000 to
100,000 (reported: both peaks, the growth, and the growth per 1,000 items; the
100,000 parsed ids the plan iterates over are ~10 MB of that growth by themselves).

    python bench/memory.py [--smoke] [--runs 3] [--sizes 10000,100000]
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _harness as h
import _workloads as w

FLAT_TOLERANCE_MB = 30.0  # growth 10k -> 100k that still counts as flat


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child(url: str, n: int, db: str, loop: str) -> None:
    s = h.Settings(False, 1, 0, Path(db).parent, loop, "fast", False)
    plan = w.fanout_plan(50)
    capture = db != "-"
    s.run_async(
        w.orchestra_run(plan, {"base_url": url, "n": 100}, db + ".warm" if capture else None)
    )
    baseline = _rss_mb()
    started = time.perf_counter()
    _, facts = s.run_async(
        w.orchestra_run(
            plan, {"base_url": url, "n": n}, db if capture else None, expect_requests=n + 1
        )
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        json.dumps(
            {
                "n": n,
                "baseline_mb": round(baseline, 1),
                "peak_mb": round(peak, 1),
                "end_mb": round(_rss_mb(), 1),
                "seconds": round(seconds, 2),
                "requests": facts["requests"],
            }
        )
    )


def main(argv: list[str] | None = None) -> int:
    p = h.parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", default=None, help="comma-separated item counts")
    p.add_argument("--child", nargs=3, metavar=("URL", "N", "DB"), help=argparse_hide())
    args = p.parse_args(argv)
    if args.child:
        url, n, db = args.child
        child(url, int(n), db, args.loop)
        return 0
    s = h.Settings.from_args(args)
    if args.runs is None and not s.smoke:
        s.runs = 3
    sizes = [int(x) for x in (args.sizes or ("200,2000" if s.smoke else "10000,100000")).split(",")]
    results: dict[int, list[dict]] = {n: [] for n in sizes}
    uncaptured: list[dict] = []  # the largest size without capture, for comparison
    with h.server(s) as srv, w.temp_dir() as tmp:
        pinned = h.pin_client(s)  # children inherit the client core
        noise = h.NoiseMeter(srv)
        for round_no in range(s.runs):
            order = sizes if round_no % 2 == 0 else sizes[::-1]
            for n in [*order, -sizes[-1]]:
                capture = n > 0
                n = abs(n)
                db = str(tmp / f"mem-{n}-{round_no}.duckdb") if capture else "-"
                cmd = [
                    sys.executable,
                    __file__,
                    "--child",
                    srv.url,
                    str(n),
                    str(db),
                    "--loop",
                    s.loop,
                ]
                out = subprocess.run(
                    cmd,
                    capture_output=True,
                    text=True,
                    check=False,
                    env={**os.environ, "PYTHONPATH": str(h.ROOT)},
                )
                line = next((x for x in out.stdout.splitlines() if x.startswith("{")), None)
                if out.returncode != 0 or line is None:
                    print(out.stdout, out.stderr[-3000:], file=sys.stderr)
                    raise RuntimeError(f"memory child for n={n} failed ({out.returncode})")
                facts = json.loads(line)
                (results[n] if capture else uncaptured).append(facts)
                label = "" if capture else "  (capture off)"
                print(
                    f"  run {round_no + 1}/{s.runs}  n={n:<7,} peak {facts['peak_mb']:7.1f} MB"
                    f"  (baseline {facts['baseline_mb']:.1f} MB, {facts['seconds']:.1f} s)"
                    f"{label}",
                    flush=True,
                )
                for path in tmp.glob(f"mem-{n}-{round_no}.duckdb*"):
                    path.unlink(missing_ok=True)
        noise_report = noise.report()

    summary = {}
    rows = []
    for n, runs in results.items():
        peaks = [r["peak_mb"] for r in runs]
        summary[n] = {
            "runs": runs,
            "peak_mb_median": statistics.median(peaks),
            "peak_mb_min": min(peaks),
            "peak_mb_max": max(peaks),
            "baseline_mb_median": statistics.median(r["baseline_mb"] for r in runs),
            "seconds_median": statistics.median(r["seconds"] for r in runs),
        }
        rows.append(
            [
                f"{n:,}",
                f"{summary[n]['peak_mb_median']:.1f}",
                f"{min(peaks):.1f}-{max(peaks):.1f}",
                f"{summary[n]['baseline_mb_median']:.1f}",
                f"{summary[n]['seconds_median']:.1f}",
            ]
        )
    if uncaptured:
        peaks = [r["peak_mb"] for r in uncaptured]
        summary["capture_off"] = {
            "n": sizes[-1],
            "runs": uncaptured,
            "peak_mb_median": statistics.median(peaks),
            "baseline_mb_median": statistics.median(r["baseline_mb"] for r in uncaptured),
            "seconds_median": statistics.median(r["seconds"] for r in uncaptured),
        }
        rows.append(
            [
                f"{sizes[-1]:,} (capture off)",
                f"{statistics.median(peaks):.1f}",
                f"{min(peaks):.1f}-{max(peaks):.1f}",
                f"{summary['capture_off']['baseline_mb_median']:.1f}",
                f"{summary['capture_off']['seconds_median']:.1f}",
            ]
        )
    print("\n" + h.table(rows, ["items", "peak RSS MB", "min-max", "RSS before run", "s"]))
    small, large = sizes[0], sizes[-1]
    growth = summary[large]["peak_mb_median"] - summary[small]["peak_mb_median"]
    per_1000 = growth / ((large - small) / 1000) if large > small else 0.0
    targets = [
        h.target(
            f"memory: peak RSS at {large:,} items",
            summary[large]["peak_mb_median"],
            "<=",
            300.0,
            " MB",
            s,
        ),
        h.target(
            f"memory: growth {small:,} -> {large:,} items",
            growth,
            "<=",
            FLAT_TOLERANCE_MB,
            " MB",
            s,
            mb_per_1000_items=round(per_1000, 3),
        ),
    ]
    h.print_targets(targets)
    print("noise:", noise_report)
    h.write_results(
        "memory",
        s,
        {
            "params": {
                "sizes": sizes,
                "concurrency": 50,
                "capture": "on (DuckDB file)",
                "keep_records": False,
            },
            "machine": h.machine(s, pinned),
            "noise": noise_report,
            "sizes": {str(k): v for k, v in summary.items()},
            "growth_mb": round(growth, 1),
            "growth_mb_per_1000_items": round(per_1000, 3),
            "targets": targets,
        },
    )
    return 0


def argparse_hide():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
