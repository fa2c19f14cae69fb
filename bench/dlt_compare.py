"""dlt: the same paginated extraction into DuckDB, Orchestra vs dlt's ``rest_api`` source.

500 pages x 100 items (~29 KB a page, 50,000 rows) from the benchmark server's
cursor-paginated ``/pages`` (``data`` holds the rows, ``next_page`` the cursor),
into a fresh DuckDB file each run. Contenders, in alternation, work time only
(imports done before):

* ``orchestra``          the pagination plan, captured into a DuckDB file, then the
                         50,000 rows materialised as a typed ``items`` table by one SQL
                         statement over the captured records (so both sides end with a
                         queryable 50,000-row table)
* ``dlt``                ``rest_api_source`` with a cursor paginator, default loader
                         (``insert_values``)
* ``dlt (parquet)``      the same with ``loader_file_format="parquet"`` (tuned; the fair
                         comparison, as shared/MEASURED.md did)

Target (issue 6): Orchestra's wall time <= 0.2x dlt's (judged against both dlt
variants; the parquet one is the hard one). Needs ``dlt[duckdb]`` (bench/requirements.txt);
without it the script says so and writes nothing.

    python bench/dlt_compare.py [--smoke] [--runs 5] [--pages 500]
"""

from __future__ import annotations

import os
import sys
import time

import _harness as h
import _workloads as w


def dlt_run(url: str, pages: int, per_page: int, workdir, name: str, parquet: bool):
    import dlt
    from dlt.sources.rest_api import rest_api_source

    source = rest_api_source(
        {
            "client": {
                "base_url": url,
                "paginator": {
                    "type": "cursor",
                    "cursor_path": "next_page",
                    "cursor_param": "page",
                },
            },
            "resources": [
                {
                    "name": "items",
                    "endpoint": {
                        "path": "pages",
                        "params": {"per_page": per_page, "total_pages": pages},
                        "data_selector": "data",
                    },
                }
            ],
        }
    )
    db = workdir / f"{name}.duckdb"
    pipeline = dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.duckdb(str(db)),
        dataset_name="bench",
        pipelines_dir=str(workdir / "pipelines"),
    )
    started = time.perf_counter()
    if parquet:
        pipeline.run(source, loader_file_format="parquet")
    else:
        pipeline.run(source)
    seconds = time.perf_counter() - started
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT count(*) FROM bench.items").fetchone()[0]
    if rows != pages * per_page:
        raise RuntimeError(f"dlt loaded {rows} rows, not {pages * per_page}")
    return seconds, {"rows": rows}


def orchestra_extract(s: h.Settings, url: str, pages: int, per_page: int, db) -> tuple:
    import duckdb

    plan = w.pagination_plan()
    config = {"base_url": url, "pages": pages, "per_page": per_page}
    started = time.perf_counter()
    s.run_async(w.orchestra_run(plan, config, db, expect_requests=pages))
    run_seconds = time.perf_counter() - started
    with duckdb.connect(str(db)) as con:
        structure = con.execute(
            "SELECT json_structure(data->'data'->0) FROM records LIMIT 1"
        ).fetchone()[0]
        con.execute(
            "CREATE TABLE items AS SELECT unnest(rows, recursive := true) FROM ("
            f"  SELECT unnest(from_json(data->'data', '[{structure}]')) AS rows FROM records"
            ")"
        )
        rows = con.execute("SELECT count(*) FROM items").fetchone()[0]
    seconds = time.perf_counter() - started
    if rows != pages * per_page:
        raise RuntimeError(f"orchestra materialised {rows} rows, not {pages * per_page}")
    return seconds, {"rows": rows, "run_s": round(run_seconds, 4)}


def main(argv: list[str] | None = None) -> int:
    p = h.parser(__doc__.splitlines()[0])
    p.add_argument("--pages", type=int, default=None, help="pages (default 500)")
    p.add_argument("--per-page", type=int, default=100)
    args = p.parse_args(argv)
    s = h.Settings.from_args(args)
    try:
        import dlt  # noqa: F401
        from dlt.sources.rest_api import rest_api_source  # noqa: F401
    except ImportError:
        print("dlt is not installed: pip install -r bench/requirements.txt (skipped)")
        return 0
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    pages = args.pages or (10 if s.smoke else 500)
    per_page = args.per_page

    with h.server(s) as srv, w.temp_dir() as tmp:
        pinned = h.pin_client(s)
        noise = h.NoiseMeter(srv)
        counter = iter(range(10**9))

        def dlt_contender(parquet: bool):
            def go():
                i = next(counter)
                work = tmp / f"dlt-{i}"
                work.mkdir()
                try:
                    return dlt_run(srv.url, pages, per_page, work, f"bench_{i}", parquet)
                finally:
                    import shutil

                    shutil.rmtree(work, ignore_errors=True)

            return go

        def orchestra_contender():
            db = tmp / f"orchestra-{next(counter)}.duckdb"
            try:
                return orchestra_extract(s, srv.url, pages, per_page, db)
            finally:
                db.unlink(missing_ok=True)

        rows = pages * per_page
        contenders = [
            h.Contender("orchestra", orchestra_contender, rows),
            h.Contender("dlt (parquet)", dlt_contender(True), rows),
            h.Contender("dlt", dlt_contender(False), rows),
        ]
        print(f"dlt: {pages} pages x {per_page} items into DuckDB, server {srv.url}")
        results = h.alternate(contenders, s, server=srv)
        noise_report = noise.report()

    h.print_results(
        f"paginated extraction into DuckDB, {rows:,} rows", results, reference="orchestra"
    )
    vs_parquet = h.paired_ratio(results, "dlt (parquet)", "orchestra")
    vs_default = h.paired_ratio(results, "dlt", "orchestra")
    targets = [
        h.target(
            "dlt: orchestra time / dlt (parquet) time",
            vs_parquet["median"],
            "<=",
            0.2,
            "x",
            s,
            per_round=vs_parquet["per_round"],
        ),
        h.target(
            "dlt: orchestra time / dlt (default) time",
            vs_default["median"],
            "<=",
            0.2,
            "x",
            s,
            per_round=vs_default["per_round"],
        ),
    ]
    h.print_targets(targets)
    print("noise:", noise_report)
    h.write_results(
        "dlt",
        s,
        {
            "params": {"pages": pages, "per_page": per_page, "rows": rows},
            "machine": h.machine(s, pinned),
            "noise": noise_report,
            "contenders": h.summaries(results),
            "ratios": {
                "orchestra_time_vs_dlt_parquet": vs_parquet["median"],
                "orchestra_time_vs_dlt_default": vs_default["median"],
            },
            "targets": targets,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
