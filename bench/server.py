"""A minimal, fast HTTP/1.1 server for the benchmarks (its own process, one core).

The demo API (aiohttp.web, ~10k requests/s for ``/items/{id}``) is fine for
everything but throughput benchmarks, where a server that is itself half of the
cost would flatter every client equally. This one is a raw asyncio protocol
(uvloop when installed) that answers keep-alive GETs from precomputed bodies,
so the client is always the bottleneck. It serves the same data shapes:

``GET /items/{id}``       the demo API's item detail (``orchestra.demo._data.item_detail``)
``GET /ids?n=N``          ``{"items": [{"id": 1}, ..., {"id": N}]}``: a fanout's parent list
``GET /pages?page=P&per_page=K&total_pages=T``
                          cursor pagination for dlt and Orchestra alike:
                          ``{"data": [K items], "page": P, "next_page": P+1 | null}``
                          (100 items are ~29 KB, as in shared/MEASURED.md)
``GET /health``           ``{"ok": true}``

Usage: ``python bench/server.py --port 0 [--cpu 1]``; prints ``PORT <n>`` once
it listens and serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from functools import lru_cache
from urllib.parse import parse_qsl

import orjson

try:  # the data shapes of the demo API, when the package is importable
    from orchestra.demo._data import item_detail
except ImportError:  # pragma: no cover - the server also runs without the package

    def item_detail(i: int) -> dict:
        return {"id": i, "name": f"item-{i}", "category": "alpha", "price": i * 1.25}


_HEAD = (
    b"HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
    b"Connection: keep-alive\r\n\r\n"
)
_REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found"}


def page_item(i: int) -> dict:
    """One row of a page: ~290 bytes of JSON, like the pages MEASURED.md used."""
    return {
        "id": i,
        "name": f"item-{i}",
        "category": ("alpha", "beta", "gamma")[i % 3],
        "price": round(i * 1.25, 2),
        "quantity": i % 97,
        "active": i % 2 == 0,
        "updated_at": f"2026-01-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
        "description": f"Item number {i}, a thing that is sold in the demo shop of the bench",
        "tags": ["bench", f"group-{i % 10}", "even" if i % 2 == 0 else "odd"],
        "owner": {"id": i % 1000, "email": f"owner{i % 1000}@example.com"},
    }


@lru_cache(maxsize=4096)
def _item(i: int) -> bytes:
    return orjson.dumps(item_detail(i))


@lru_cache(maxsize=16)
def _ids(n: int) -> bytes:
    return orjson.dumps({"items": [{"id": i} for i in range(1, n + 1)]})


@lru_cache(maxsize=2048)
def _page(page: int, per_page: int, total_pages: int) -> bytes:
    start = (page - 1) * per_page + 1
    rows = [page_item(i) for i in range(start, start + per_page)] if page <= total_pages else []
    return orjson.dumps(
        {"data": rows, "page": page, "next_page": page + 1 if page < total_pages else None}
    )


def respond(target: bytes) -> tuple[int, bytes]:
    path, _, query = target.partition(b"?")
    try:
        if path.startswith(b"/items/"):
            return 200, _item(int(path[7:]))
        args = dict(parse_qsl(query.decode("latin-1")))
        if path == b"/ids":
            return 200, _ids(int(args.get("n", "10")))
        if path == b"/pages":
            return 200, _page(
                int(args.get("page", "1")),
                int(args.get("per_page", "100")),
                int(args.get("total_pages", "500")),
            )
        if path == b"/health":
            return 200, b'{"ok":true}'
    except ValueError:
        return 400, b'{"error":"bad request"}'
    return 404, b'{"error":"not found"}'


class HTTPProtocol(asyncio.Protocol):
    __slots__ = ("buffer", "transport")

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        out = []
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buffer[:end]
            consumed = end + 4
            lower = head.lower()
            at = lower.find(b"content-length:")
            if at >= 0:  # a body we ignore (the benchmarks only GET)
                stop = lower.find(b"\r\n", at)
                length = int(lower[at + 15 : stop if stop >= 0 else None])
                if len(buffer) < consumed + length:
                    break
                consumed += length
            buffer = buffer[consumed:]
            line = head[: head.find(b"\r\n")] if b"\r\n" in head else head
            parts = line.split(b" ")
            status, body = respond(parts[1]) if len(parts) >= 2 else (400, b"{}")
            out.append(_HEAD % (status, _REASONS.get(status, b"OK"), len(body)))
            out.append(body)
        self.buffer = buffer
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(HTTPProtocol, host, port, backlog=1024, reuse_address=True)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None, help="pin to this core")
    parser.add_argument("--no-uvloop", action="store_true")
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    runner = asyncio.run
    if not args.no_uvloop:
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            pass
    with contextlib.suppress(KeyboardInterrupt):
        runner(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
