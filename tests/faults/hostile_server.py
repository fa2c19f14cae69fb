"""A hostile HTTP server on 127.0.0.1 for the fault matrix and the signal tests.

The demo API (aiohttp) is a well-behaved server; this one misbehaves below
HTTP on purpose, so it is written on raw asyncio streams: it can reset a
connection mid-body (``SO_LINGER`` 0), close right after the headers, promise
a longer body than it sends, answer invalid JSON with a JSON content type,
send bodies over a limit (plain and chunked), a gzip bomb, a body one byte at
a time, 429 and 5xx storms, redirect loops and long chains, and echo the
request (target, query and headers, in the encodings a real server may use)
so a secret sent by the client comes back in the response body.

It counts every request whose head it has read, per path, so a test can
compare what reached the server with the ``exchanges`` rows of the run.

Routes (query parameters in brackets):

``/ok``                      200 ``{"ok": true}``
``/items`` [n, fast, ms]     n items ``{"id", "ms"}``; items after the first ``fast`` have ``ms``
``/slow`` [ms]               200 after ``ms`` milliseconds
``/reset``                   headers and part of the body, then a TCP RST
``/close-after-headers``     headers promising a body, then FIN
``/truncated``               Content-Length 4096, 100 bytes, then FIN
``/invalid-json``            ``application/json`` that does not parse
``/big`` [bytes, chunked]    a JSON string body of ``bytes`` bytes
``/bomb`` [mib, chunked]     gzip of ``mib`` MiB of zeros (about 1 KB per MiB on the wire)
``/drip`` [ms, bytes]        ``bytes`` bytes, one every ``ms`` milliseconds
``/status/<code>`` [retry_after]   that status (with ``Retry-After`` if given)
``/storm``                   500, 502, 503, 504 in turn
``/redirect-loop``           302 to itself, forever
``/chain/<n>``               302 to ``/chain/<n-1>``; ``/chain/0`` answers 200
``/echo``                    200 with the request echoed in several encodings
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

MIB = 1 << 20
MAX_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Request:
    """One request as the server read it."""

    method: str
    target: str  # as sent on the request line (still percent-encoded)
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""

    def number(self, name: str, default: int) -> int:
        return int(self.query.get(name, default))


@dataclass
class Stats:
    """What the server saw: requests per path, and those being answered right now."""

    per_path: Counter[str] = field(default_factory=Counter)
    received: list[Request] = field(default_factory=list)
    in_flight: int = 0
    storm_turn: int = 0


Handler = Callable[[Request, asyncio.StreamWriter, Stats], Awaitable[bool]]


# --- response helpers ---------------------------------------------------------------------


def head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


REASONS = {200: "OK", 302: "Found", 429: "Too Many Requests", 500: "Internal Server Error",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}  # fmt: skip


async def respond(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes = b"",
    *,
    content_type: str = "application/json",
    extra: dict[str, str] | None = None,
) -> bool:
    headers = {"Content-Type": content_type, "Content-Length": str(len(body)), **(extra or {})}
    writer.write(head(status, headers) + body)
    await writer.drain()
    return True


async def respond_json(writer: asyncio.StreamWriter, status: int, value: object) -> bool:
    return await respond(writer, status, json.dumps(value).encode())


async def write_chunked(writer: asyncio.StreamWriter, body: bytes, size: int = 64 * 1024) -> None:
    for start in range(0, len(body), size):
        piece = body[start : start + size]
        writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()


def reset_connection(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST instead of a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@cache
def gzip_bomb(mib: int) -> bytes:
    """A gzip member inflating to ``mib`` MiB of zeros, about 1 KB per MiB.

    Built from one deflate block repeated: after a full flush the compressor
    forgets its history, so each MiB of zeros compresses to the same bytes.
    Only the CRC needs the whole inflated length (computed, never held).
    """
    zeros = bytes(MIB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    compressor.compress(zeros)
    compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
    final_empty_block = b"\x03\x00"
    trailer = struct.pack("<II", crc, (mib * MIB) & 0xFFFFFFFF)
    return header + block * mib + final_empty_block + trailer


# --- routes -------------------------------------------------------------------------------


async def ok(request: Request, writer: asyncio.StreamWriter, stats: Stats) -> bool:
    return await respond_json(writer, 200, {"ok": True})


async def items(request: Request, writer: asyncio.StreamWriter, stats: Stats) -> bool:
    count, fast, ms = request.number("n", 10), request.number("fast", 0), request.number("ms", 0)
    listed = [{"id": i, "ms": 0 if i < fast else ms} for i in range(count)]
    return await respond_json(writer, 200, {"items": listed})


async def slow(request: Request, writer: asyncio.StreamWriter, stats: Stats) -> bool:
    await asyncio.sleep(request.number("ms", 1000) / 1000)
    return await respond_json(writer, 200, {"slept_ms": request.number("ms", 1000)})


async def reset(request: Request, writer: asyncio.StreamWriter, stats: Stats) -> bool:
    writer.write(head(200, {"Content-Type": "application/json", "Content-Length": "100000"}))
    writer.write(b'{"items": [' + b"1, " * 300)
    await writer.drain()
    await asyncio.sleep(0.05)  # let the client start reading the body
    reset_connection(writer)
    return False


async def close_after_headers(request: Request, writer: asyncio.StreamWriter, stats: Stats):
    writer.write(head(200, {"Content-Type": "application/json", "Content-Length": "1000"}))
    await writer.drain()
    return False


async def truncated(request: Request, writer: asyncio.StreamWriter, stats: Stats) -> bool:
    writer.write(head(200, {"Content-Type": "application/json", "Content-Length": "4096"}))
    writer.write(b'{"partial": "' + b"x" * 87)
    await writer.drain()
    return False


async def invalid_json(request: Request, writer: asyncio.StreamWriter, stats: Stats) -> bool:
    return await respond(writer, 200, b'{"items": [1, 2, ')


async def big(request: Request, writer: asyncio.StreamWriter, stats: Stats) -> bool:
    size = request.number("bytes", MIB)
    body = b'"' + b"a" * max(0, size - 2) + b'"'
    if not request.number("chunked", 0):
        return await respond(writer, 200, body)
    writer.write(head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
    await write_chunked(writer, body)
    return True


async def bomb(request: Request, writer: asyncio.StreamWriter, stats: Stats) -> bool:
    data = gzip_bomb(request.number("mib", 1024))
    headers = {"Content-Type": "text/plain", "Content-Encoding": "gzip"}
    if not request.number("chunked", 0):
        writer.write(head(200, {**headers, "Content-Length": str(len(data))}) + data)
        await writer.drain()
        return True
    writer.write(head(200, {**headers, "Transfer-Encoding": "chunked"}))
    await write_chunked(writer, data)
    return True


async def drip(request: Request, writer: asyncio.StreamWriter, stats: Stats) -> bool:
    size, interval = request.number("bytes", 100), request.number("ms", 100) / 1000
    writer.write(head(200, {"Content-Type": "text/plain", "Content-Length": str(size)}))
    for _ in range(size):
        writer.write(b".")
        await writer.drain()
        await asyncio.sleep(interval)
    return True


async def status(request: Request, writer: asyncio.StreamWriter, stats: Stats) -> bool:
    code = int(request.path.rsplit("/", 1)[1])
    extra = {}
    if "retry_after" in request.query:
        extra["Retry-After"] = request.query["retry_after"]
    body = json.dumps({"error": "as requested", "status": code}).encode()
    return await respond(writer, code, body, extra=extra)


async def storm(request: Request, writer: asyncio.StreamWriter, stats: Stats) -> bool:
    code = (500, 502, 503, 504)[stats.storm_turn % 4]
    stats.storm_turn += 1
    return await respond_json(writer, code, {"error": "storm", "status": code})


async def redirect_loop(request: Request, writer: asyncio.StreamWriter, stats: Stats) -> bool:
    return await respond(writer, 302, extra={"Location": request.target})


async def chain(request: Request, writer: asyncio.StreamWriter, stats: Stats) -> bool:
    left = int(request.path.rsplit("/", 1)[1])
    if left <= 0:
        return await respond_json(writer, 200, {"chain": "done"})
    return await respond(writer, 302, extra={"Location": f"/chain/{left - 1}"})


async def echo(request: Request, writer: asyncio.StreamWriter, stats: Stats) -> bool:
    """The request back, as servers echo it: raw target, decoded values, re-encoded values."""
    query = request.query
    echoed = {
        "target": request.target,
        "query": query,
        "headers": request.headers,
        "percent": {k: quote(v, safe="") for k, v in query.items()},
        "percent_slash_kept": {k: quote(v, safe="/") for k, v in query.items()},
        "form": {k: quote_plus(v) for k, v in query.items()},
        "json_in_json": json.dumps(json.dumps(query)),
        "json_ascii_in_json": json.dumps(json.dumps(query, ensure_ascii=True)),
    }
    return await respond(writer, 200, json.dumps(echoed, ensure_ascii=False).encode())


async def not_found(request: Request, writer: asyncio.StreamWriter, stats: Stats) -> bool:
    return await respond_json(writer, 404, {"error": f"no route {request.path}"})


ROUTES: dict[str, Handler] = {
    "/ok": ok,
    "/items": items,
    "/slow": slow,
    "/reset": reset,
    "/close-after-headers": close_after_headers,
    "/truncated": truncated,
    "/invalid-json": invalid_json,
    "/big": big,
    "/bomb": bomb,
    "/drip": drip,
    "/storm": storm,
    "/redirect-loop": redirect_loop,
    "/echo": echo,
}
PREFIX_ROUTES: dict[str, Handler] = {"/status/": status, "/chain/": chain}


def route(path: str) -> Handler:
    if path in ROUTES:
        return ROUTES[path]
    for prefix, handler in PREFIX_ROUTES.items():
        if path.startswith(prefix):
            return handler
    return not_found


# --- the server ---------------------------------------------------------------------------


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request on the connection, or None when the client closed it."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = raw.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    body = await reader.readexactly(length) if length else b""
    parts = urlsplit(target)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    return Request(method, target, parts.path, query, headers, body)


class HostileServer:
    """The hostile server on its own event loop in a daemon thread.

    ``requests()`` is the total number of requests received since the last
    ``reset()``; ``per_path()`` splits it by path; ``in_flight()`` counts the
    requests being answered right now (e.g. sleeping in ``/slow``).
    """

    def __init__(self) -> None:
        self.stats = Stats()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="hostile-server")  # fmt: skip
        self._server: asyncio.Server | None = None
        self._lock = threading.Lock()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HostileServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.port = future.result(timeout=10)
        return self

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=MAX_HEAD_BYTES)
        return self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for handler in handlers:  # e.g. /slow still sleeping for a client long gone
                handler.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def reset(self) -> None:
        with self._lock:
            self.stats = Stats()

    def requests(self) -> int:
        with self._lock:
            return sum(self.stats.per_path.values())

    def per_path(self) -> dict[str, int]:
        with self._lock:
            return dict(self.stats.per_path)

    def received(self) -> list[Request]:
        with self._lock:
            return list(self.stats.received)

    def in_flight(self) -> int:
        with self._lock:
            return self.stats.in_flight

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        keep_open = True
        try:
            while keep_open:
                request = await read_request(reader)
                if request is None:
                    break
                stats = self._arrived(request)
                try:
                    keep_open = await route(request.path)(request, writer, stats)
                finally:
                    self._answered(stats)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: that is its right
        except asyncio.CancelledError:
            pass  # stop() ends handlers still sleeping; ending quietly keeps asyncio's log clean
        finally:
            if not writer.transport.is_closing():
                writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _arrived(self, request: Request) -> Stats:
        with self._lock:
            self.stats.per_path[request.path] += 1
            self.stats.received.append(request)
            self.stats.in_flight += 1
            return self.stats

    def _answered(self, stats: Stats) -> None:
        with self._lock:
            stats.in_flight -= 1
