"""Capture overhead: the fanout benchmark's plan with DuckDB capture on vs off.

Same server, same 10,000 detail GETs at concurrency 50; ``orchestra`` captures
every exchange, step, record into a fresh DuckDB file (the writer thread batches
rows as Arrow tables and attaches the file once per flush); ``orchestra (no
capture)`` runs with ``db=None``. Both in the same process, in alternation.

Target (issue 6): capture on is at most 10% slower (wall time).

    python bench/capture.py [--smoke] [--runs 5] [--n 10000]
"""

from __future__ import annotations

import sys

import _harness as h
import _workloads as w


def main(argv: list[str] | None = None) -> int:
    p = h.parser(__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=None, help="detail requests (default 10000)")
    p.add_argument("--concurrency", type=int, default=50)
    args = p.parse_args(argv)
    s = h.Settings.from_args(args)
    n = args.n or (200 if s.smoke else 10_000)
    c = args.concurrency
    plan = w.fanout_plan(c)

    with h.server(s) as srv, w.temp_dir() as tmp:
        pinned = h.pin_client(s)
        noise = h.NoiseMeter(srv)
        config = {"base_url": srv.url, "n": n}
        capture_file = tmp / "orchestra.duckdb"  # one capture file for every run, as a user has

        def run(capture: bool):
            def go():
                db = capture_file if capture else None
                return s.run_async(w.orchestra_run(plan, config, db, expect_requests=n + 1))

            return go

        contenders = [
            h.Contender("capture on", run(True), n + 1),
            h.Contender("capture off", run(False), n + 1),
        ]
        print(f"capture overhead: fanout of {n:,} at concurrency {c}, server {srv.url}")
        results = h.alternate(contenders, s, server=srv)
        noise_report = noise.report()

    h.print_results(f"capture on vs off, fanout of {n:,}", results, reference="capture off")
    ratio = h.paired_ratio(results, "capture off", "capture on")
    overhead_pct = 100 * (ratio["median"] - 1)
    cpu_on = results["capture on"].summary().get("client_cpu_s_median")
    cpu_off = results["capture off"].summary().get("client_cpu_s_median")
    cpu_pct = 100 * (cpu_on / cpu_off - 1) if cpu_on and cpu_off else None
    targets = [
        h.target(
            "capture: slowdown with capture on",
            overhead_pct,
            "<=",
            10.0,
            " %",
            s,
            per_round_pct=[round(100 * (r - 1), 1) for r in ratio["per_round"]],
            client_cpu_overhead_pct=None if cpu_pct is None else round(cpu_pct, 1),
        )
    ]
    h.print_targets(targets)
    print("noise:", noise_report)
    h.write_results(
        "capture",
        s,
        {
            "params": {"n": n, "concurrency": c},
            "machine": h.machine(s, pinned),
            "noise": noise_report,
            "contenders": h.summaries(results),
            "ratios": {"on_vs_off_time": ratio["median"]},
            "targets": targets,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
