"""Per-exchange engine overhead: the fanout plan over a trivial in-process transport.

No network: the transport answers from prebuilt bodies at once, so what is
measured is the engine's own work per exchange — template rendering (URL and a
header), a JMESPath condition and an extract, the step/page/record bookkeeping
and event emission (7 events per item) — plus the asyncio worker switch.

Contenders (same plan, same items, capture off unless named):

* ``engine``               Orchestra's default path (the transport the engine calls
                           directly, as the default aiohttp transport is called)
* ``engine+capture``       the same with DuckDB capture on (rows built on the writer thread)
* ``engine via httpx``     a plain ``httpx.AsyncBaseTransport`` (what ``transport=`` users and
                           tests with ``httpx.MockTransport`` get: httpx's request/response models)
* ``floor``                50 workers calling the trivial transport and parsing the body,
                           no engine: the cost no engine can go below

Target (issue 6): ``engine`` <= 50 us per exchange (median).

    python bench/overhead.py [--smoke] [--runs 5] [--n 20000]
"""

from __future__ import annotations

import asyncio
import sys
import time

import _harness as h
import _workloads as w
import httpx
import orjson

_HEADERS = {"content-type": "application/json"}


class _Bodies:
    def __init__(self, n: int):
        self.list_body = orjson.dumps({"items": [{"id": i} for i in range(1, n + 1)]})
        from orchestra.demo._data import item_detail

        self.items = {i: orjson.dumps(item_detail(i)) for i in range(1, n + 1)}

    def body(self, path: str) -> bytes:
        if path.startswith("/ids"):
            return self.list_body
        return self.items[int(path.rsplit("/", 1)[1].split("?", 1)[0])]


class TrivialHttpxTransport(httpx.AsyncBaseTransport):
    """An ``httpx`` transport that answers at once (like ``httpx.MockTransport``)."""

    def __init__(self, bodies: _Bodies):
        self.bodies = bodies

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=_HEADERS, content=self.bodies.body(request.url.path))


def trivial_direct_transport(bodies: _Bodies):
    """A transport of the engine's direct kind (None if this Orchestra has none)."""
    try:
        from orchestra.engine._transport import DirectTransport, RawResponse
    except ImportError:
        return None

    class TrivialDirectTransport(DirectTransport):
        async def fetch(self, method, url, headers, body, *, max_bytes):
            path = url.split("/", 3)[3] if url.count("/") >= 3 else ""
            return RawResponse(200, dict(_HEADERS), bodies.body("/" + path), url)

        async def aclose(self) -> None:
            pass

    return TrivialDirectTransport()


async def floor(bodies: _Bodies, n: int, concurrency: int) -> tuple[float, dict]:
    """The same item loop with no engine: await a trivial call, parse the body."""

    async def fetch(i: int) -> bytes:
        return bodies.items[i]

    started = time.perf_counter()
    work = iter(range(1, n + 1))

    async def worker() -> None:
        for i in work:
            body = orjson.loads(await fetch(i))
            if body["id"] != i:
                raise RuntimeError("bad body")

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    return time.perf_counter() - started, {}


def main(argv: list[str] | None = None) -> int:
    p = h.parser(__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=None, help="fanout items (default 20000)")
    args = p.parse_args(argv)
    s = h.Settings.from_args(args)
    n = args.n or (300 if s.smoke else 20_000)
    c = 50
    plan = w.fanout_plan(c)
    config = {"base_url": "http://bench.invalid", "n": n}
    bodies = _Bodies(n)
    pinned = h.pin_client(s)
    noise = h.NoiseMeter()
    exchanges = n + 1

    def per_exchange(out):
        seconds, extras = out
        return seconds, {**extras, "us_per_exchange": 1e6 * seconds / exchanges}

    with w.temp_dir() as tmp:
        counter = iter(range(10**9))

        def engine(transport_factory, db: bool):
            def go():
                path = tmp / f"overhead-{next(counter)}.duckdb" if db else None
                out = s.run_async(
                    w.orchestra_run(
                        plan,
                        config,
                        path,
                        transport=transport_factory(),
                        expect_requests=exchanges,
                        keep_records=False,
                    )
                )
                if path is not None:
                    path.unlink(missing_ok=True)
                return per_exchange(out)

            return go

        contenders = []
        direct = trivial_direct_transport(bodies)
        if direct is not None:
            contenders += [
                h.Contender(
                    "engine", engine(lambda: trivial_direct_transport(bodies), False), exchanges
                ),
                h.Contender(
                    "engine+capture",
                    engine(lambda: trivial_direct_transport(bodies), True),
                    exchanges,
                ),
            ]
        contenders += [
            h.Contender(
                "engine via httpx", engine(lambda: TrivialHttpxTransport(bodies), False), exchanges
            ),
            h.Contender("floor", lambda: per_exchange(s.run_async(floor(bodies, n, c))), n),
        ]
        if direct is None:  # an Orchestra without a direct transport: the httpx path is it
            contenders[0].name = "engine"
            contenders.insert(
                1,
                h.Contender(
                    "engine+capture", engine(lambda: TrivialHttpxTransport(bodies), True), exchanges
                ),
            )
        print(f"overhead: fanout of {n:,} items over a trivial transport")
        results = h.alternate(contenders, s)
    noise_report = noise.report()

    h.print_results(f"per-exchange overhead, {n:,} items", results, reference="engine")
    rows = []
    per = {}
    for name, m in results.items():
        us = [e["us_per_exchange"] for e in m.extras]
        per[name] = (
            sorted(us)[len(us) // 2]
            if len(us) % 2
            else sum(sorted(us)[len(us) // 2 - 1 : len(us) // 2 + 1]) / 2
        )
        rows.append([name, f"{per[name]:.1f}", f"{min(us):.1f}-{max(us):.1f}"])
    print("\n" + h.table(rows, ["contender", "median us/exchange", "min-max"]))
    targets = [
        h.target(
            "overhead: engine us per exchange",
            per["engine"],
            "<=",
            50.0,
            " us",
            s,
            net_of_floor_us=round(per["engine"] - per["floor"], 1),
        ),
    ]
    h.print_targets(targets)
    print("noise:", noise_report)
    h.write_results(
        "overhead",
        s,
        {
            "params": {"n": n, "concurrency": c, "transport": "trivial, in-process"},
            "machine": h.machine(s, pinned),
            "noise": noise_report,
            "contenders": h.summaries(results),
            "us_per_exchange_median": {k: round(v, 1) for k, v in per.items()},
            "targets": targets,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
