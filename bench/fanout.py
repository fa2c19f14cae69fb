"""Fanout: 10,000 detail GETs at concurrency 50 through a full plan, capture on.

Contenders, in alternation, doing the same 10,001 requests (one list, 10,000
details) against the same server:

* ``orchestra``            the full plan (templates in URL and header, a JMESPath
                           condition and an extract per response, events, records),
                           captured into a fresh DuckDB file
* ``aiohttp``              raw aiohttp, 50 workers on one session
* ``httpx``                raw ``httpx.AsyncClient`` with its own transport
* ``orchestra (reqwest)``  the same plan on the opt-in ``ORCHESTRA_TRANSPORT=reqwest``
                           transport (pyreqwest), when installed
* ``pyreqwest``            raw ``pyreqwest``, the client under that transport (reference)
* ``httpx+aiohttp``        raw httpx over the ``httpx-aiohttp`` transport (for reference)

Targets (issue 6): orchestra >= 0.8x aiohttp, >= 8x httpx. ``--profile`` also
saves a pyinstrument profile of one Orchestra run next to the results.

    python bench/fanout.py [--smoke] [--runs 5] [--n 10000] [--profile]
"""

from __future__ import annotations

import importlib.util
import sys

import _harness as h
import _workloads as w


def main(argv: list[str] | None = None) -> int:
    p = h.parser(__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=None, help="detail requests (default 10000)")
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--profile", action="store_true", help="save a pyinstrument profile (text)")
    p.add_argument("--profile-html", action="store_true", help="also its HTML view (~10 MB)")
    p.add_argument("--skip-httpx", action="store_true", help="leave out stock httpx (slow)")
    args = p.parse_args(argv)
    s = h.Settings.from_args(args)
    n = args.n or (200 if s.smoke else 10_000)
    c = args.concurrency
    plan = w.fanout_plan(c)

    with h.server(s) as srv, w.temp_dir() as tmp:
        pinned = h.pin_client(s)
        noise = h.NoiseMeter(srv)
        config = {"base_url": srv.url, "n": n}
        db = tmp / "orchestra.duckdb"  # one capture file for every run, as a user has

        def orchestra_run():
            return s.run_async(w.orchestra_run(plan, config, db, expect_requests=n + 1))

        contenders = [
            h.Contender("orchestra", orchestra_run, n + 1),
            h.Contender("aiohttp", lambda: s.run_async(w.aiohttp_fanout(srv.url, n, c)), n + 1),
        ]
        if importlib.util.find_spec("pyreqwest") is not None:  # the opt-in reqwest transport

            def orchestra_reqwest():
                run = w.orchestra_run(
                    plan, config, db, expect_requests=n + 1, transport_name="reqwest"
                )
                return s.run_async(run)

            contenders += [
                h.Contender("orchestra (reqwest)", orchestra_reqwest, n + 1),
                h.Contender(
                    "pyreqwest", lambda: s.run_async(w.pyreqwest_fanout(srv.url, n, c)), n + 1
                ),
            ]
        if importlib.util.find_spec("httpx_aiohttp") is not None:  # a reference, if installed
            contenders.append(
                h.Contender(
                    "httpx+aiohttp",
                    lambda: s.run_async(w.httpx_fanout(srv.url, n, c, transport="aiohttp")),
                    n + 1,
                )
            )
        if not args.skip_httpx:
            contenders.append(
                h.Contender("httpx", lambda: s.run_async(w.httpx_fanout(srv.url, n, c)), n + 1)
            )
        print(f"fanout: {n:,} GETs at concurrency {c}, server {srv.url} ({srv.kind})")
        results = h.alternate(contenders, s, server=srv)
        noise_report = noise.report()

        profile = None
        if args.profile:
            profile = _profile(s, plan, config, tmp, n, html=args.profile_html)

    h.print_results(f"fanout of {n:,} at concurrency {c}", results, reference="orchestra")
    vs_aiohttp = h.paired_ratio(results, "aiohttp", "orchestra")
    ratio_aiohttp = 1 / vs_aiohttp["median"]
    targets = [
        h.target(
            "fanout: orchestra / aiohttp throughput",
            ratio_aiohttp,
            ">=",
            0.8,
            "x",
            s,
            per_round=[round(1 / r, 3) for r in vs_aiohttp["per_round"]],
        ),
    ]
    ratios = {"orchestra_vs_aiohttp": round(ratio_aiohttp, 3)}
    if "httpx" in results:
        vs_httpx = h.paired_ratio(results, "orchestra", "httpx")
        targets.append(
            h.target(
                "fanout: orchestra / httpx throughput",
                vs_httpx["median"],
                ">=",
                8.0,
                "x",
                s,
                per_round=vs_httpx["per_round"],
            )
        )
        ratios["orchestra_vs_httpx"] = vs_httpx["median"]
    if "orchestra (reqwest)" in results:
        vs_reqwest = h.paired_ratio(results, "aiohttp", "orchestra (reqwest)")
        ratios["orchestra_reqwest_vs_aiohttp"] = round(1 / vs_reqwest["median"], 3)
        ratios["orchestra_reqwest_vs_pyreqwest"] = round(
            1 / h.paired_ratio(results, "pyreqwest", "orchestra (reqwest)")["median"], 3
        )
    if "httpx+aiohttp" in results:
        ratios["orchestra_vs_httpx_aiohttp"] = h.paired_ratio(
            results, "orchestra", "httpx+aiohttp"
        )["median"]
    h.print_targets(targets)
    print("noise:", noise_report)
    h.write_results(
        "fanout",
        s,
        {
            "params": {"n": n, "concurrency": c, "capture": "on (DuckDB file)"},
            "machine": h.machine(s, pinned),
            "noise": noise_report,
            "contenders": h.summaries(results),
            "ratios": ratios,
            "targets": targets,
            "profile": profile,
        },
    )
    return 0


def _profile(s: h.Settings, plan, config, tmp, n, *, html: bool) -> dict | None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("pyinstrument is not installed: no profile (pip install -r bench/requirements.txt)")
        return None
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    db = tmp / "profile.duckdb"
    profiler.start()
    s.run_async(w.orchestra_run(plan, config, db, expect_requests=n + 1))
    profiler.stop()
    s.results_dir.mkdir(parents=True, exist_ok=True)
    text = s.results_dir / "fanout-profile.txt"
    text.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    saved = {"text": text.name}
    if html:
        page = s.results_dir / "fanout-profile.html"
        page.write_text(profiler.output_html())
        saved["html"] = page.name
    print(f"profile: {', '.join(str(s.results_dir / v) for v in saved.values())}")
    return {**saved, "top": _top_functions(profiler)}


def _top_functions(profiler, limit: int = 25) -> list[dict]:
    """Self time per function over the whole profile (the 'top costs')."""
    session = profiler.last_session
    root = session.root_frame()
    total = root.time or 1.0
    own: dict[str, float] = {}
    inclusive: dict[str, float] = {}

    def walk(frame, seen: frozenset) -> None:
        key = f"{frame.function} ({frame.file_path_short}:{frame.line_no})"
        own[key] = own.get(key, 0.0) + frame.total_self_time
        if key not in seen:  # recursion counted once
            inclusive[key] = inclusive.get(key, 0.0) + frame.time
        for child in frame.children:
            walk(child, seen | {key})

    walk(root, frozenset())
    top = sorted(own.items(), key=lambda kv: -kv[1])[:limit]
    return [
        {
            "function": k,
            "self_pct": round(100 * v / total, 1),
            "inclusive_pct": round(100 * inclusive.get(k, 0) / total, 1),
        }
        for k, v in top
    ]


if __name__ == "__main__":
    sys.exit(main())
