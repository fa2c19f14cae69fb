"""Run every benchmark, one after another, and print all targets in one table.

    python bench/run_all.py              # full: ~15-25 minutes on 2 cores
    python bench/run_all.py --smoke      # a few seconds each, no verdicts
    python bench/run_all.py --only fanout,capture --runs 7

Each benchmark is a script of its own (its own process, so one cannot warm up
or fragment another); results land in bench/results/<name>.json (smoke runs in
a temporary directory), plus bench/results/summary.json with every target.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import _harness as h

BENCHMARKS = {
    "overhead": ["overhead.py"],
    "fanout": ["fanout.py", "--profile"],
    "capture": ["capture.py"],
    "pagination": ["pagination.py"],
    "memory": ["memory.py"],
    "dlt": ["dlt_compare.py"],
    "dashboard": ["dashboard.py"],
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--only", default=None, help="comma-separated: " + ",".join(BENCHMARKS))
    p.add_argument("--runs", type=int, default=None)
    p.add_argument("--loop", choices=("asyncio", "uvloop"), default=None)
    p.add_argument("--server", choices=("fast", "demo"), default=None)
    p.add_argument("--results-dir", default=None)
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    extra: list[str] = []
    if args.smoke:
        extra.append("--smoke")
    for flag in ("runs", "loop", "server", "results_dir"):
        value = getattr(args, flag)
        if value is not None:
            extra += [f"--{flag.replace('_', '-')}", str(value)]
    results_dir = (
        h.Path(args.results_dir)
        if args.results_dir
        else (h.SMOKE_RESULTS_DIR if args.smoke else h.RESULTS_DIR)
    )
    failures = []
    started = time.perf_counter()
    for name in names:
        script, *flags = BENCHMARKS[name]
        cmd = [sys.executable, str(h.BENCH_DIR / script), *flags, *extra]
        print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
        t = time.perf_counter()
        code = subprocess.call(cmd)
        print(f"=== {name}: exit {code} in {time.perf_counter() - t:.0f} s", flush=True)
        if code != 0:
            failures.append(name)

    # Every benchmark's latest result file, not only those run now: `--only fanout`
    # refreshes the fanout verdicts and keeps the others (each with its own "when").
    rows, targets = [], []
    for name in BENCHMARKS:
        path = results_dir / f"{name}.json"
        if not path.exists():
            continue
        doc = json.loads(path.read_text())
        for t in doc.get("targets", []):
            targets.append({"benchmark": name, "when": doc.get("when"), **t})
            verdict = {True: "PASS", False: "FAIL", None: "-"}[t["pass"]]
            rows.append(
                [
                    t["target"],
                    f"{t['value']:g}{t['unit']}",
                    f"{t['op']} {t['threshold']:g}{t['unit']}",
                    verdict,
                ]
            )
    print("\n" + h.table(rows, ["target", "measured (median)", "wanted", "verdict"]))
    summary = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "smoke": args.smoke,
        "cores": h.cores(),
        "seconds": round(time.perf_counter() - started, 1),
        "failed_scripts": failures,
        "targets": targets,
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwrote {results_dir / 'summary.json'} ({summary['seconds']:.0f} s in all)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
