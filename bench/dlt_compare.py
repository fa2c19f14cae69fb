"""dlt: the same paginated extraction into DuckDB, Orchestra vs dlt's ``rest_api`` source.

500 pages x 100 items (~29 KB a page, 50,000 rows) from the benchmark server's
cursor-paginated ``/pages`` (``data`` holds the rows, ``next_page`` the cursor),
into a fresh DuckDB file each run. Contenders, in alternation, work time only
(imports done before):

* ``orchestra``          the plan as a user writes it — ``paginate: {type: cursor, …}``
                         and ``records: data`` — captured into a DuckDB file (the run
                         ends with the typed view ``data.items``), then that view
                         materialised as a physical table (``CREATE TABLE items AS
                         SELECT * FROM data.items``), as dlt ends with one
* ``dlt``                ``rest_api_source`` with a cursor paginator, default loader
                         (``insert_values``); ``--no-default`` leaves it out (~30 s a round)
* ``dlt (parquet)``      the same with ``loader_file_format="parquet"`` (tuned; the fair
                         comparison, as shared/MEASURED.md did)
* ``aiohttp + Arrow``    the raw-client floor: no framework, the job written by hand —
                         aiohttp, one session, the cursor pages fetched one after another,
                         each body parsed by orjson, the ``data`` lists collected, one
                         ``pa.Table.from_pylist`` and ``CREATE TABLE items AS SELECT * FROM``
                         that Arrow table (``owner`` a STRUCT, ``tags`` a LIST, as Orchestra's)
* ``aiohttp + Arrow JSON`` the same client, but the table built by Arrow's C++ JSON reader
                         (``pyarrow.json.read_json`` over the page bodies, ``data`` flattened):
                         no Python object per row; the cheapest floor we found
* ``httpx + Arrow JSON``  the same with httpx's sync client

Before the timed rounds one untimed run of each side is compared row by row
(:func:`rows_equal`: every field of every row, dlt's flattened ``owner__*``
columns and ``items__tags`` child table against Orchestra's STRUCT and LIST; the
raw floors' tables are checked the same way); a difference fails the benchmark.
The raw floors answer whether the target is reachable at all: Orchestra's time
over the floor's is reported next to both times over dlt's.

Targets: Orchestra's wall time <= 0.1x dlt (parquet)'s (issue 19) and <= 0.2x
dlt (default)'s (issue 6). Needs ``dlt[duckdb]`` (bench/requirements.txt);
without it the script says so and writes nothing.

``--breakdown`` adds the CPU seconds of the run with and without records and
capture and of the ``CREATE TABLE``; ``--profile`` saves a pyinstrument profile
(``dlt-profile.txt``) of one Orchestra extraction.

    python bench/dlt_compare.py [--smoke] [--runs 5] [--pages 500] [--no-default]
                                [--breakdown] [--profile]
"""

from __future__ import annotations

import os
import statistics
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


def extraction_plan(pages: int, per_page: int) -> dict:
    """The extraction as a user writes it: a ``paginate:`` preset and ``records:``."""
    return {
        "key": "bench-extract",
        "config": {"base_url": "http://127.0.0.1:1"},
        "steps": [
            {
                "name": "items",
                "url": "{config.base_url}/pages",
                "params": {"per_page": per_page, "total_pages": pages},
                "paginate": {"type": "cursor", "cursor_path": "next_page", "cursor_param": "page"},
                "records": "data",
            }
        ],
        "limits": {"max_loops": 100_000},
    }


def orchestra_extract(s: h.Settings, url: str, pages: int, per_page: int, db) -> tuple:
    """The run (records captured, typed views made as it ends), then the typed table
    materialised like dlt's: ``CREATE TABLE items AS SELECT * FROM data.items``."""
    import duckdb

    plan = extraction_plan(pages, per_page)
    started = time.perf_counter()
    s.run_async(w.orchestra_run(plan, {"base_url": url}, db, expect_requests=pages))
    run_seconds = time.perf_counter() - started
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE items AS SELECT * EXCLUDE (run_id) FROM data.items")
        rows = con.execute("SELECT count(*) FROM items").fetchone()[0]
    seconds = time.perf_counter() - started
    if rows != pages * per_page:
        raise RuntimeError(f"orchestra materialised {rows} rows, not {pages * per_page}")
    return seconds, {"rows": rows, "run_s": round(run_seconds, 4)}


# -- the raw-client floor: the same job with no framework -------------------------------


def _params(pages: int, per_page: int, page: int | None) -> dict[str, str]:
    params = {"per_page": str(per_page), "total_pages": str(pages)}
    if page is not None:  # the first request carries no cursor, as dlt's and Orchestra's
        params["page"] = str(page)
    return params


def arrow_from_rows(bodies: list[bytes], parsed: list[dict]):
    """The ``data`` lists of the parsed pages as one Arrow table (a Python dict per row)."""
    import pyarrow as pa

    rows: list[dict] = []
    for body in parsed:
        rows.extend(body["data"])
    return pa.Table.from_pylist(rows)


def arrow_from_json(bodies: list[bytes], parsed: list[dict]):
    """The pages' ``data`` lists as one Arrow table built by Arrow's C++ JSON reader from
    the raw bodies (one JSON document a line), no Python object per row."""
    import io

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    pages = pj.read_json(io.BytesIO(b"\n".join(bodies)))
    data = pc.list_flatten(pages.column("data")).combine_chunks()
    return pa.Table.from_struct_array(data)


def _store(arrow_table, db) -> int:
    """One typed DuckDB table from the Arrow table (nested objects STRUCTs, lists LISTs)."""
    import duckdb

    with duckdb.connect(str(db)) as con:
        con.register("pages_arrow", arrow_table)
        con.execute("CREATE TABLE items AS SELECT * FROM pages_arrow")
        return con.execute("SELECT count(*) FROM items").fetchone()[0]


async def _aiohttp_bodies(url: str, pages: int, per_page: int) -> tuple[list[bytes], list[dict]]:
    import aiohttp
    import orjson

    bodies: list[bytes] = []
    parsed: list[dict] = []
    async with aiohttp.ClientSession() as session:
        page: int | None = None
        while True:
            async with session.get(f"{url}/pages", params=_params(pages, per_page, page)) as r:
                if r.status != 200:
                    raise RuntimeError(f"page {page} answered {r.status}")
                body = await r.read()
            doc = orjson.loads(body)
            bodies.append(body)
            parsed.append(doc)
            page = doc["next_page"]
            if page is None:
                return bodies, parsed


def _httpx_bodies(url: str, pages: int, per_page: int) -> tuple[list[bytes], list[dict]]:
    import httpx
    import orjson

    bodies: list[bytes] = []
    parsed: list[dict] = []
    with httpx.Client() as client:
        page: int | None = None
        while True:
            r = client.get(f"{url}/pages", params=_params(pages, per_page, page))
            if r.status_code != 200:
                raise RuntimeError(f"page {page} answered {r.status_code}")
            doc = orjson.loads(r.content)
            bodies.append(r.content)
            parsed.append(doc)
            page = doc["next_page"]
            if page is None:
                return bodies, parsed


def raw_extract(
    s: h.Settings, client: str, build, url: str, pages: int, per_page: int, db
) -> tuple:
    """Fetch every page with ``client`` (``aiohttp`` or ``httpx``), build the Arrow table
    with ``build`` (:func:`arrow_from_rows` or :func:`arrow_from_json`), store it."""
    started = time.perf_counter()
    if client == "aiohttp":
        bodies, parsed = s.run_async(_aiohttp_bodies(url, pages, per_page))
    else:
        bodies, parsed = _httpx_bodies(url, pages, per_page)
    if len(bodies) != pages:
        raise RuntimeError(f"{client} fetched {len(bodies)} pages, not {pages}")
    rows = _store(build(bodies, parsed), db)
    seconds = time.perf_counter() - started
    if rows != pages * per_page:
        raise RuntimeError(f"{client} stored {rows} rows, not {pages * per_page}")
    return seconds, {"rows": rows}


RAW = {  # contender name -> (client, Arrow table builder)
    "aiohttp + Arrow": ("aiohttp", arrow_from_rows),
    "aiohttp + Arrow JSON": ("aiohttp", arrow_from_json),
    "httpx + Arrow JSON": ("httpx", arrow_from_json),
}


# The same rows, compared field by field: dlt flattens ``owner`` into ``owner__id`` and
# ``owner__email``, moves ``tags`` into the child table ``items__tags`` and loads
# ``updated_at`` as a timestamp; Orchestra keeps ``owner`` a STRUCT and ``tags`` a LIST.
_ORCHESTRA_ROWS = """
    SELECT id, name, category, price, quantity, active, CAST(updated_at AS TIMESTAMPTZ) AS at,
           description, owner.id AS owner_id, owner.email AS owner_email, tags
    FROM o.items"""
_DLT_ROWS = """
    SELECT i.id, i.name, i.category, i.price, i.quantity, i.active,
           CAST(i.updated_at AS TIMESTAMPTZ) AS at, i.description, i.owner__id AS owner_id,
           i.owner__email AS owner_email,
           (SELECT list(t.value ORDER BY t._dlt_list_idx) FROM d.bench.items__tags t
            WHERE t._dlt_parent_id = i._dlt_id) AS tags
    FROM d.bench.items i"""


def rows_equal(orchestra_db, dlt_db) -> dict:
    """Orchestra's typed table (or a raw floor's ``items``) and dlt's hold the same rows
    (each side EXCEPT the other); the ``orchestra_*`` keys describe the first file."""
    import duckdb

    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"ATTACH '{orchestra_db}' AS o (READ_ONLY)")
        con.execute(f"ATTACH '{dlt_db}' AS d (READ_ONLY)")
        counts = con.execute(
            f"SELECT (SELECT count(*) FROM ({_ORCHESTRA_ROWS})),"
            f" (SELECT count(*) FROM ({_DLT_ROWS})),"
            f" (SELECT count(*) FROM ({_ORCHESTRA_ROWS} EXCEPT ALL {_DLT_ROWS})),"
            f" (SELECT count(*) FROM ({_DLT_ROWS} EXCEPT ALL {_ORCHESTRA_ROWS}))"
        ).fetchone()
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE database_name = 'o' AND schema_name = 'main' AND table_name = 'items'"
            ).fetchall()
        )
    orchestra_rows, dlt_rows, only_orchestra, only_dlt = counts
    return {
        "orchestra_rows": orchestra_rows,
        "dlt_rows": dlt_rows,
        "only_in_orchestra": only_orchestra,
        "only_in_dlt": only_dlt,
        "equal": orchestra_rows == dlt_rows and not only_orchestra and not only_dlt,
        "orchestra_types": types,
    }


def check_rows(s: h.Settings, url: str, pages: int, per_page: int, tmp) -> dict:
    """One untimed run of each side into files that are kept, then :func:`rows_equal`:
    Orchestra's table against dlt's, and each raw floor's table against dlt's."""
    orchestra_db = tmp / "check-orchestra.duckdb"
    orchestra_extract(s, url, pages, per_page, orchestra_db)
    work = tmp / "check-dlt"
    work.mkdir()
    dlt_run(url, pages, per_page, work, "bench_check", parquet=True)
    dlt_db = work / "bench_check.duckdb"
    found = rows_equal(orchestra_db, dlt_db)
    if not found["equal"]:
        raise RuntimeError(f"Orchestra's table and dlt's differ: {found}")
    floors = {}
    for i, (name, (client, build)) in enumerate(RAW.items()):
        db = tmp / f"check-raw-{i}.duckdb"
        raw_extract(s, client, build, url, pages, per_page, db)
        floor = rows_equal(db, dlt_db)
        if not floor["equal"]:
            raise RuntimeError(f"{name}'s table and dlt's differ: {floor}")
        floors[name] = {"equal": True, "types": floor["orchestra_types"]}
    found["raw_floors"] = floors
    return found


def breakdown(s: h.Settings, url: str, pages: int, per_page: int, tmp, rounds: int = 3) -> dict:
    """Where Orchestra's CPU goes: the median process CPU seconds (both threads) of the
    run as benchmarked, without storing records (``emit: false``), without capture, and
    of the materialising ``CREATE TABLE``."""
    import duckdb

    def variant(emit: bool) -> dict:
        plan = extraction_plan(pages, per_page)
        if not emit:
            plan["steps"][0]["emit"] = False
        return plan

    cases = {
        "run, records captured": (variant(True), True),
        "run, emit: false (bodies captured, no records)": (variant(False), True),
        "run, records, no capture": (variant(True), False),
        "run, emit: false, no capture": (variant(False), False),
    }
    found: dict = {}
    tables = []
    for name, (plan, capture) in cases.items():
        spent = []
        for i in range(rounds):
            db = tmp / f"breakdown-{len(found)}-{i}.duckdb" if capture else None
            started = time.process_time()
            s.run_async(w.orchestra_run(plan, {"base_url": url}, db, expect_requests=pages))
            spent.append(time.process_time() - started)
            if capture and plan["steps"][0].get("emit", True):
                started = time.process_time()
                with duckdb.connect(str(db)) as con:
                    con.execute("CREATE TABLE items AS SELECT * EXCLUDE (run_id) FROM data.items")
                tables.append(time.process_time() - started)
        found[name] = round(sorted(spent)[len(spent) // 2], 4)
    found["CREATE TABLE items AS SELECT * FROM data.items"] = round(
        sorted(tables)[len(tables) // 2], 4
    )
    return found


def _cpu(results: dict[str, h.Measured], name: str) -> float:
    return statistics.median(e["client_cpu_s"] for e in results[name].extras)


def floor_ratios(results: dict[str, h.Measured]) -> dict:
    """Wall-time ratios of the raw floors: each to dlt (parquet), Orchestra to each, and
    the same for the floor (the raw contender with the lowest median)."""
    out: dict = {}
    for name in RAW:
        key = name.replace(" + ", "_").replace(" ", "_").lower()
        out[f"{key}_time_vs_dlt_parquet"] = h.paired_ratio(results, "dlt (parquet)", name)["median"]
        out[f"orchestra_time_vs_{key}"] = h.paired_ratio(results, name, "orchestra")["median"]
    floor = min(RAW, key=lambda n: results[n].median)
    out["floor"] = floor
    out["floor_time_vs_dlt_parquet"] = h.paired_ratio(results, "dlt (parquet)", floor)["median"]
    out["orchestra_time_vs_floor"] = h.paired_ratio(results, floor, "orchestra")["median"]
    return out


def cpu_ratios(results: dict[str, h.Measured]) -> dict:
    """The same by client CPU seconds (medians; all threads of the client process)."""
    parquet = _cpu(results, "dlt (parquet)")
    orchestra = _cpu(results, "orchestra")
    out: dict = {"orchestra_cpu_vs_dlt_parquet": round(orchestra / parquet, 3)}
    floor = min(RAW, key=lambda n: _cpu(results, n))
    for name in RAW:
        key = name.replace(" + ", "_").replace(" ", "_").lower()
        out[f"{key}_cpu_vs_dlt_parquet"] = round(_cpu(results, name) / parquet, 3)
        out[f"orchestra_cpu_vs_{key}"] = round(orchestra / _cpu(results, name), 3)
    out["floor"] = floor
    out["floor_cpu_vs_dlt_parquet"] = round(_cpu(results, floor) / parquet, 3)
    out["orchestra_cpu_vs_floor"] = round(orchestra / _cpu(results, floor), 3)
    return out


def profile(s: h.Settings, url: str, pages: int, per_page: int, tmp) -> str | None:
    """A pyinstrument profile (text) of one timed Orchestra extraction, saved next to the
    results (the event loop's thread; the capture writer's thread shows as the wait at
    the run's end)."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("pyinstrument is not installed: no profile (pip install -r bench/requirements.txt)")
        return None
    profiler = Profiler(interval=0.0005, async_mode="disabled")
    profiler.start()
    orchestra_extract(s, url, pages, per_page, tmp / "profile.duckdb")
    profiler.stop()
    path = s.results_dir / "dlt-profile.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    print(f"profile: {path}")
    return str(path)


def main(argv: list[str] | None = None) -> int:
    p = h.parser(__doc__.splitlines()[0])
    p.add_argument("--pages", type=int, default=None, help="pages (default 500)")
    p.add_argument("--per-page", type=int, default=100)
    p.add_argument("--no-default", action="store_true", help="leave out dlt's default loader")
    p.add_argument("--profile", action="store_true", help="save a pyinstrument profile (text)")
    p.add_argument(
        "--breakdown", action="store_true", help="CPU of the run with/without records, capture"
    )
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

        def raw_contender(client: str, build):
            def go():
                db = tmp / f"raw-{next(counter)}.duckdb"
                try:
                    return raw_extract(s, client, build, srv.url, pages, per_page, db)
                finally:
                    db.unlink(missing_ok=True)

            return go

        rows = pages * per_page
        contenders = [
            h.Contender("orchestra", orchestra_contender, rows),
            h.Contender("dlt (parquet)", dlt_contender(True), rows),
            *(h.Contender(name, raw_contender(*how), rows) for name, how in RAW.items()),
        ]
        if not args.no_default:
            contenders.append(h.Contender("dlt", dlt_contender(False), rows))
        print(f"dlt: {pages} pages x {per_page} items into DuckDB, server {srv.url}")
        checked = check_rows(s, srv.url, pages, per_page, tmp)
        print(
            f"rows equal: {checked['orchestra_rows']:,} rows, Orchestra's types "
            f"{checked['orchestra_types']}; raw floors equal: {', '.join(RAW)}"
        )
        results = h.alternate(contenders, s, server=srv)
        noise_report = noise.report()
        cpu = breakdown(s, srv.url, pages, per_page, tmp) if args.breakdown else None
        if cpu:
            print("Orchestra's CPU seconds (median):", cpu)
        saved = profile(s, srv.url, pages, per_page, tmp) if args.profile else None

    h.print_results(
        f"paginated extraction into DuckDB, {rows:,} rows", results, reference="orchestra"
    )
    vs_parquet = h.paired_ratio(results, "dlt (parquet)", "orchestra")
    targets = [
        h.target(
            "dlt: orchestra time / dlt (parquet) time",
            vs_parquet["median"],
            "<=",
            0.1,
            "x",
            s,
            per_round=vs_parquet["per_round"],
        ),
    ]
    ratios = {"orchestra_time_vs_dlt_parquet": vs_parquet["median"]}
    ratios.update(floor_ratios(results))
    if not args.no_default:
        vs_default = h.paired_ratio(results, "dlt", "orchestra")
        ratios["orchestra_time_vs_dlt_default"] = vs_default["median"]
        targets.append(
            h.target(
                "dlt: orchestra time / dlt (default) time",
                vs_default["median"],
                "<=",
                0.2,
                "x",
                s,
                per_round=vs_default["per_round"],
            )
        )
    h.print_targets(targets)
    print("wall ratios:", ratios)
    print("client CPU ratios:", cpu_ratios(results))
    print("noise:", noise_report)
    h.write_results(
        "dlt",
        s,
        {
            "params": {"pages": pages, "per_page": per_page, "rows": rows},
            "machine": h.machine(s, pinned),
            "noise": noise_report,
            "contenders": h.summaries(results),
            "ratios": ratios,
            "cpu_ratios": cpu_ratios(results),
            "rows_check": checked,
            "cpu_breakdown_s": cpu,
            "profile": saved,
            "targets": targets,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
