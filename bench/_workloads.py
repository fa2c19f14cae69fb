"""The work each contender does: Orchestra plans and the raw-client equivalents.

Raw clients are written the way a performance-minded user would write them:
one session sized to the concurrency, ``concurrency`` worker tasks pulling from
one iterator (the pattern Orchestra's fanout uses too), bodies read as bytes and
parsed with orjson.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

# -- Orchestra plans -----------------------------------------------------------------------


def fanout_plan(concurrency: int = 50) -> dict[str, Any]:
    """A full plan: a list request, then one detail GET per item with templates in the URL
    and a header, a JMESPath condition and an extract on every response, records emitted."""
    return {
        "key": "bench-fanout",
        "config": {"base_url": "http://127.0.0.1:1", "n": 10},
        "steps": [
            {
                "name": "list",
                "url": "{config.base_url}/ids",
                "params": {"n": "{config.n}"},
                "emit": False,
                "expect": {"status": [200]},
                "sub_steps": [
                    {
                        "name": "detail",
                        "iterate_over": "response.body.items",
                        "url": "{config.base_url}/items/{item.id}",
                        "headers": {"X-Bench-Item": "item-{item.id}"},
                        "concurrency": concurrency,
                        "abort_when": "response.body.id != item.id",
                        "extract": {
                            "name": "response.body.name",
                            "category": "response.body.category",
                        },
                    }
                ],
            }
        ],
    }


def pagination_plan() -> dict[str, Any]:
    """Cursor pagination over ``/pages``: ``next_page`` feeds the next request's ``page``."""
    return {
        "key": "bench-pages",
        "config": {"base_url": "http://127.0.0.1:1", "pages": 500, "per_page": 100},
        "steps": [
            {
                "name": "pages",
                "url": "{config.base_url}/pages",
                "params": {
                    "page": "{prev.body.next_page}",
                    "per_page": "{config.per_page}",
                    "total_pages": "{config.pages}",
                },
                "while": "response.body.next_page != null",
            }
        ],
        "limits": {"max_loops": 100_000},
    }


@contextmanager
def temp_dir(prefix: str = "orchestra-bench-") -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


async def orchestra_run(
    plan: dict[str, Any],
    config: dict[str, Any],
    db: str | Path | None,
    *,
    keep_records: bool = False,  # as `orchestra run` (records stream to the capture)
    expect_requests: int | None = None,
    transport_name: str | None = None,
    **options: Any,
) -> tuple[float, dict[str, Any]]:
    """One captured (or not, ``db=None``) run; returns wall seconds and run facts.

    ``transport_name`` names the engine's transport as a user picks it
    (``ORCHESTRA_TRANSPORT``); None leaves the default.
    """
    import orchestra

    previous = os.environ.get("ORCHESTRA_TRANSPORT")
    if transport_name is not None:
        os.environ["ORCHESTRA_TRANSPORT"] = transport_name
    try:
        started = time.perf_counter()
        result = await orchestra.arun(
            plan,
            config,
            db=None if db is None else str(db),
            keep_records=keep_records,
            **options,
        )
        seconds = time.perf_counter() - started
    finally:
        if previous is None:
            os.environ.pop("ORCHESTRA_TRANSPORT", None)
        else:
            os.environ["ORCHESTRA_TRANSPORT"] = previous
    if not result.ok:
        raise RuntimeError(f"orchestra run failed: {result.status} {result.error}")
    if expect_requests is not None and result.requests != expect_requests:
        raise RuntimeError(f"orchestra made {result.requests} requests, not {expect_requests}")
    return seconds, {"requests": result.requests}


# -- raw clients: fanout ------------------------------------------------------------------------


Get = Callable[[str], Awaitable[tuple[int, Any]]]  # url -> (status, parsed JSON body)


async def _fan_out(get: Get, url: str, n: int, concurrency: int) -> int:
    """The list request, then ``concurrency`` workers pulling the detail GETs from one iterator."""
    status, listing = await get(f"{url}/ids?n={n}")
    if status != 200:
        raise RuntimeError(f"the list request answered {status}")
    work = iter(listing["items"])
    done = 0

    async def worker() -> None:
        nonlocal done
        for item in work:
            status, body = await get(f"{url}/items/{item['id']}")
            if status != 200 or body["id"] != item["id"]:
                raise RuntimeError(f"bad answer for {item}")
            done += 1

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    assert done == n
    return n + 1


async def aiohttp_fanout(url: str, n: int, concurrency: int) -> tuple[float, dict[str, Any]]:
    import aiohttp

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get(target: str) -> tuple[int, Any]:
            async with session.get(target) as response:
                return response.status, orjson.loads(await response.read())

        requests = await _fan_out(get, url, n, concurrency)
    return time.perf_counter() - started, {"requests": requests}


async def httpx_fanout(
    url: str, n: int, concurrency: int, *, transport: str = "httpx"
) -> tuple[float, dict[str, Any]]:
    import httpx

    started = time.perf_counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    if transport == "aiohttp":
        from httpx_aiohttp import AiohttpTransport

        client = httpx.AsyncClient(transport=AiohttpTransport(limits=limits))
    else:
        client = httpx.AsyncClient(limits=limits)
    async with client:

        async def get(target: str) -> tuple[int, Any]:
            response = await client.get(target)
            return response.status_code, orjson.loads(response.content)

        requests = await _fan_out(get, url, n, concurrency)
    return time.perf_counter() - started, {"requests": requests}


async def pyreqwest_fanout(url: str, n: int, concurrency: int) -> tuple[float, dict[str, Any]]:
    """Raw ``pyreqwest`` (Rust reqwest bindings): the client under the opt-in reqwest transport."""
    from pyreqwest.client import ClientBuilder

    started = time.perf_counter()
    async with ClientBuilder().max_connections(concurrency).build() as client:

        async def get(target: str) -> tuple[int, Any]:
            response = await client.get(target).build().send()
            return response.status, orjson.loads(memoryview(await response.bytes()))

        requests = await _fan_out(get, url, n, concurrency)
    return time.perf_counter() - started, {"requests": requests}


# -- raw clients: pagination ------------------------------------------------------------------


async def _follow_pages(
    get_json: Callable[[dict[str, str]], Awaitable[dict[str, Any]]], pages: int, per_page: int
) -> tuple[int, int]:
    """Follow ``next_page`` from page 1 with ``get_json(params)``; returns (pages, rows)."""
    rows = 0
    count = 0
    page: int | None = 1
    while page is not None:
        params = {"page": str(page), "per_page": str(per_page), "total_pages": str(pages)}
        body = await get_json(params)
        rows += len(body["data"])
        count += 1
        page = body["next_page"]
    assert count == pages, count
    return count, rows


async def aiohttp_pages(url: str, pages: int, per_page: int) -> tuple[float, dict[str, Any]]:
    import aiohttp

    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:

        async def get_json(params: dict[str, str]) -> dict[str, Any]:
            async with session.get(f"{url}/pages", params=params) as response:
                return orjson.loads(await response.read())

        count, rows = await _follow_pages(get_json, pages, per_page)
    return time.perf_counter() - started, {"requests": count, "rows": rows}


async def pyreqwest_pages(url: str, pages: int, per_page: int) -> tuple[float, dict[str, Any]]:
    from pyreqwest.client import ClientBuilder

    started = time.perf_counter()
    async with ClientBuilder().build() as client:

        async def get_json(params: dict[str, str]) -> dict[str, Any]:
            response = await client.get(f"{url}/pages").query(params).build().send()
            return orjson.loads(memoryview(await response.bytes()))

        count, rows = await _follow_pages(get_json, pages, per_page)
    return time.perf_counter() - started, {"requests": count, "rows": rows}
