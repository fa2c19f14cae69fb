"""The response size limit is on the decompressed body, while it streams (issue 14, item 3).

A compression bomb — 1 GiB of zeros, ~1 MB gzipped — served by a real server
on 127.0.0.1 ends the step with ``LimitExceeded`` on every transport, and the
process that ran the plan (a child, so its peak RSS is its own) stays under
300 MB. A body over the limit keeps its status code and headers in its
exchange row, and the error says the limit and how to raise it.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zlib

import duckdb
import httpx
import orjson
import pytest
from aiohttp import web

import orchestra
from orchestra import RunStatus
from orchestra.errors import LimitExceeded
from orchestra.events import ResponseReceived
from orchestra.plan._models import Limits
from tests.threaded_app import ThreadedApp

GIB = 1 << 30
PEAK_RSS_LIMIT_MB = 300


def _bombs(size: int) -> dict[str, bytes]:
    """``size`` zero bytes, gzip- and deflate-encoded: one raw deflate stream, built in
    1 MiB pieces (never whole), wrapped in each format's header and checksum.

    Level 1, for speed: 1 GiB compresses to ~4.6 MB in ~1 s (level 9: ~1 MB, ~10 s).
    """
    compressor = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    parts, crc, adler = [], 0, 1
    for _ in range(size >> 20):
        parts.append(compressor.compress(zeros))
        crc, adler = zlib.crc32(zeros, crc), zlib.adler32(zeros, adler)
    parts.append(compressor.flush())
    raw = b"".join(parts)
    gzip_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return {
        "gzip": gzip_header + raw + struct.pack("<II", crc, size & 0xFFFFFFFF),
        "deflate": b"\x78\x01" + raw + struct.pack(">I", adler),
    }


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return _bombs(GIB)


def test_the_bombs_are_what_they_say():
    small = _bombs(4 << 20)
    assert gzip.decompress(small["gzip"]) == bytes(4 << 20)
    assert zlib.decompress(small["deflate"]) == bytes(4 << 20)


class _BombServer(ThreadedApp):
    """An aiohttp server on a thread: ``/bomb/{encoding}`` with a Content-Length, and
    ``/bomb/{encoding}?chunked=1`` without one; ``/big`` is 5,000 plain bytes."""

    def __init__(self, bombs: dict[str, bytes]):
        super().__init__()
        self.bombs = bombs

    def _app(self) -> web.Application:
        async def bomb(request):
            encoding = request.match_info["encoding"]
            data = self.bombs[encoding]
            headers = {"Content-Encoding": encoding, "Content-Type": "application/json"}
            response = web.StreamResponse(headers=headers)
            if request.query.get("chunked"):
                response.enable_chunked_encoding()
            else:
                response.content_length = len(data)
            await response.prepare(request)
            try:
                for start in range(0, len(data), 1 << 16):
                    await response.write(data[start : start + (1 << 16)])
            except (ConnectionError, OSError):
                pass  # the client stopped reading: that is the point
            return response

        async def big(request):
            return web.Response(body=b"x" * 5000, headers={"X-Kept": "yes"})

        app = web.Application()
        app.add_routes([web.get("/bomb/{encoding}", bomb), web.get("/big", big)])
        return app


@pytest.fixture(scope="module")
def server(bombs):
    with _BombServer(bombs) as running:
        yield running


# The child: runs the plan as a user would, capture on, and reports its own peak RSS.
# Its address space is capped so that a regression fails with MemoryError instead of
# taking the machine's memory.
_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
    import orchestra
    def peak_rss_mb():
        # VmHWM: this process's own peak (ru_maxrss keeps the forking parent's across exec)
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    url, db = sys.argv[1:3]
    result = orchestra.run({"key": "bomb", "step": {"url": url}}, db=db)
    print(json.dumps({
        "status": str(result.status),
        "error_type": type(result.error).__name__,
        "error": str(result.error),
        "peak_rss_mb": peak_rss_mb(),
    }))
    """
)


@pytest.mark.parametrize("kind", ["aiohttp", "reqwest"])
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_bomb_ends_the_step_with_bounded_memory(server, tmp_path, kind, encoding, framing):
    db = tmp_path / "bomb.duckdb"
    url = f"{server.url}/bomb/{encoding}" + ("?chunked=1" if framing == "chunked" else "")
    env = {**os.environ, "ORCHESTRA_TRANSPORT": kind}
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, url, str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["status"] == "failed"
    assert report["error_type"] == "LimitExceeded"
    limit = f"{Limits().max_response_bytes:,}"  # the default: 10 MiB
    message = report["error"]
    assert f"exceeded max_response_bytes {limit} once decompressed ({encoding})" in message
    assert f"raise limits.max_response_bytes (now {limit})" in message
    assert report["peak_rss_mb"] < PEAK_RSS_LIMIT_MB, report
    with duckdb.connect(str(db), read_only=True) as connection:
        row = connection.execute(
            "SELECT status_code, response_headers, response_body, error FROM exchanges"
        ).fetchall()
    assert len(row) == 1
    status, headers, body, error = row[0]
    assert status == 200  # the answer came: its status and headers are kept
    assert orjson.loads(headers)["content-encoding"] == encoding
    assert body is None and "exceeded max_response_bytes" in error


@pytest.mark.parametrize("kind", ["aiohttp", "reqwest"])
def test_a_body_over_the_limit_keeps_its_status_and_headers(server, tmp_path, kind, monkeypatch):
    monkeypatch.setenv("ORCHESTRA_TRANSPORT", kind)
    db = tmp_path / "big.duckdb"
    plan = {"key": "big", "limits": {"max_response_bytes": 1000}, "step": {"url": server.url}}
    plan["step"]["url"] = "{config.base_url}/big"
    result = orchestra.run(plan, {"base_url": server.url}, db=db)
    assert result.status is RunStatus.FAILED
    assert isinstance(result.error, LimitExceeded)
    message = str(result.error)
    assert "is 5,000 bytes (Content-Length), over max_response_bytes 1,000" in message
    assert "raise limits.max_response_bytes (now 1,000)" in message
    with duckdb.connect(str(db), read_only=True) as connection:
        status, headers, error = connection.execute(
            "SELECT status_code, response_headers, error FROM exchanges"
        ).fetchone()
        errors = connection.execute("SELECT kind, status_code FROM errors").fetchall()
    assert status == 200
    assert orjson.loads(headers)["x-kept"] == "yes"
    assert "over max_response_bytes 1,000" in error
    assert ("transport", None) in errors


def test_an_httpx_transport_inflates_a_bomb_only_up_to_the_limit():
    """``MockTransport`` hands the whole compressed body over as one chunk; httpx would
    inflate it at once. 256 MiB of zeros, limit 1 MB: the peak stays far below."""
    bomb = _bombs(256 << 20)["gzip"]

    def handler(request: httpx.Request) -> httpx.Response:
        # stream=, as a real transport answers (content= would be decoded by httpx at once)
        stream = httpx.ByteStream(bomb)
        return httpx.Response(200, stream=stream, headers={"Content-Encoding": "gzip"})

    events: list = []
    plan = {"key": "mock", "limits": {"max_response_bytes": 1_000_000},
            "step": {"url": "http://api.test/bomb"}}  # fmt: skip
    tracemalloc.start()
    try:
        result = orchestra.run(
            plan, transport=httpx.MockTransport(handler), db=None, subscribers=[events.append]
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status is RunStatus.FAILED
    assert isinstance(result.error, LimitExceeded)
    assert "once decompressed (gzip)" in str(result.error)
    assert peak < 32 << 20, f"peak {peak / 2**20:.0f} MiB"
    response = next(e for e in events if isinstance(e, ResponseReceived))
    assert response.status_code == 200 and response.headers["content-encoding"] == "gzip"


@pytest.mark.parametrize("made_with", ["content", "stream"])
def test_an_httpx_transport_still_decodes_what_fits(made_with):
    body = orjson.dumps({"items": list(range(1000))})
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}

    def handler(request: httpx.Request) -> httpx.Response:
        if made_with == "stream":
            return httpx.Response(
                200, stream=httpx.ByteStream(gzip.compress(body)), headers=headers
            )
        return httpx.Response(200, content=gzip.compress(body), headers=headers)

    result = orchestra.run(
        {"key": "ok", "step": {"url": "http://api.test/x"}},
        transport=httpx.MockTransport(handler),
        db=None,
    )
    assert result.status is RunStatus.SUCCEEDED, result.error
    assert result.records[0].data == {"items": list(range(1000))}
