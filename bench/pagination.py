"""Pagination: 500 sequential pages (100 items, ~29 KB each) through a cursor loop.

Contenders, in alternation, fetching the same 500 pages one after another:

* ``orchestra``            a plan whose ``params`` template feeds ``prev.body.next_page``
                           into the next request and whose ``while`` condition stops at
                           the last page; each page is a record; captured into DuckDB
* ``orchestra (no capture)`` the same with ``db=None`` (for reference)
* ``aiohttp``              raw aiohttp: one session, read, orjson-parse, follow ``next_page``
* ``orchestra (reqwest)``  the captured plan on the opt-in ``ORCHESTRA_TRANSPORT=reqwest``
                           transport, when pyreqwest is installed
* ``pyreqwest``            the raw loop with ``pyreqwest`` (the client under that transport)

Target (issue 6): orchestra (capture on) >= 0.8x raw aiohttp sequential.

    python bench/pagination.py [--smoke] [--runs 5] [--pages 500]
"""

from __future__ import annotations

import importlib.util
import sys

import _harness as h
import _workloads as w


def main(argv: list[str] | None = None) -> int:
    p = h.parser(__doc__.splitlines()[0])
    p.add_argument("--pages", type=int, default=None, help="pages (default 500)")
    p.add_argument("--per-page", type=int, default=100)
    args = p.parse_args(argv)
    s = h.Settings.from_args(args)
    pages = args.pages or (20 if s.smoke else 500)
    per_page = args.per_page
    plan = w.pagination_plan()

    with h.server(s) as srv, w.temp_dir() as tmp:
        pinned = h.pin_client(s)
        noise = h.NoiseMeter(srv)
        config = {"base_url": srv.url, "pages": pages, "per_page": per_page}
        capture_file = tmp / "orchestra.duckdb"  # one capture file for every run, as a user has

        def orchestra_run(capture: bool):
            def go():
                db = capture_file if capture else None
                return s.run_async(w.orchestra_run(plan, config, db, expect_requests=pages))

            return go

        contenders = [
            h.Contender("orchestra", orchestra_run(True), pages),
            h.Contender("orchestra (no capture)", orchestra_run(False), pages),
            h.Contender(
                "aiohttp", lambda: s.run_async(w.aiohttp_pages(srv.url, pages, per_page)), pages
            ),
        ]
        if importlib.util.find_spec("pyreqwest") is not None:  # the opt-in reqwest transport

            def orchestra_reqwest():
                run = w.orchestra_run(
                    plan, config, capture_file, expect_requests=pages, transport_name="reqwest"
                )
                return s.run_async(run)

            contenders += [
                h.Contender("orchestra (reqwest)", orchestra_reqwest, pages),
                h.Contender(
                    "pyreqwest",
                    lambda: s.run_async(w.pyreqwest_pages(srv.url, pages, per_page)),
                    pages,
                ),
            ]
        print(f"pagination: {pages} sequential pages of {per_page} items, server {srv.url}")
        results = h.alternate(contenders, s, server=srv)
        noise_report = noise.report()

    h.print_results(f"pagination, {pages} pages", results, reference="orchestra")
    vs = h.paired_ratio(results, "aiohttp", "orchestra")
    vs_plain = h.paired_ratio(results, "aiohttp", "orchestra (no capture)")
    ratio = 1 / vs["median"]
    targets = [
        h.target(
            "pagination: orchestra / aiohttp throughput",
            ratio,
            ">=",
            0.8,
            "x",
            s,
            per_round=[round(1 / r, 3) for r in vs["per_round"]],
        )
    ]
    ratios = {
        "orchestra_vs_aiohttp": round(ratio, 3),
        "orchestra_no_capture_vs_aiohttp": round(1 / vs_plain["median"], 3),
    }
    if "orchestra (reqwest)" in results:
        vs_reqwest = h.paired_ratio(results, "aiohttp", "orchestra (reqwest)")
        ratios["orchestra_reqwest_vs_aiohttp"] = round(1 / vs_reqwest["median"], 3)
    h.print_targets(targets)
    print("noise:", noise_report)
    h.write_results(
        "pagination",
        s,
        {
            "params": {"pages": pages, "per_page": per_page, "capture": "on (DuckDB file)"},
            "machine": h.machine(s, pinned),
            "noise": noise_report,
            "contenders": h.summaries(results),
            "ratios": ratios,
            "targets": targets,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
