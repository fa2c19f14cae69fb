"""The default transport and the engine's direct path (``_transport.py``, ``_send.py``).

The direct path must prepare requests exactly as ``httpx.AsyncClient`` would
(URL, query encoding, headers shown in events and the capture), and the
aiohttp transport must keep the behaviour httpx's client gave: redirects,
cookies, decompression, size limits, timeouts, cancellation, clear errors.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import time

import httpx
import pytest
from aiohttp import web

import orchestra
from orchestra import RunStatus
from orchestra.engine._send import DirectSender, HttpxSender, sender_for
from orchestra.engine._transport import AiohttpTransport, BodyTooLarge, DirectTransport
from orchestra.events import RequestSent, ResponseReceived
from tests.threaded_app import ThreadedApp

# -- preparing requests: byte for byte what httpx would send -------------------------------

URLS = [
    "http://127.0.0.1:8765/items/1",
    "http://localhost/items",
    "https://api.example.com/v1/users/abc-DEF_1.2~x",
    "http://api.example.com:8080/a/b/c?x=1&y=two",
    "http://api.example.com/p%20q/%C3%A9?q=%2F",
    "http://API.Example.com/upper",  # httpx lower-cases the host
    "http://api.example.com:80/default-port",  # httpx drops it
    "https://api.example.com:443/default-port",
    "http://api.example.com/a/../b",  # dot segments are resolved
    "http://api.example.com/a b",  # a space is encoded
    "http://api.example.com/x?q=a b&r=[1]",
    "http://api.example.com/bad%zzescape",
    "http://user:pw@api.example.com/userinfo",
    "http://api.example.com",
    "http://api.example.com/x#frag",
    "http://[::1]:8080/ipv6",
    "http://api.example.com/it's!$&()*+,;=:@ok",
]
PARAMS = [
    None,
    {},
    {"page": "2"},
    {"q": "a b&c/d", "u": "é", "e": ""},
    {"cursor": "eyJvIjoxMH0=", "limit": "100"},
    {"tags": ["a", "b"]},
    {"empty": []},
]
HEADERS = [
    {},
    {"X-Api-Key": "k"},
    {"accept": "application/json", "User-Agent": "mine"},
    {"Authorization": "Bearer t", "X-Trace": "1"},
]


def _clients():
    httpx_client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    direct_client = httpx.AsyncClient(transport=AiohttpTransport(10))
    return httpx_client, direct_client


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("headers", HEADERS)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_direct_requests_are_prepared_exactly_as_httpx_does(url, params, headers, method):
    _, direct_client = _clients()
    direct = sender_for(direct_client)
    assert isinstance(direct, DirectSender)
    # httpx's own preparation, with the client's default headers (as the sender set them)
    expected = direct_client.build_request(method, url, params=params or None, headers=headers)
    prepared = direct.prepare(method, url, dict(headers), params, None, None)
    assert prepared.url == str(expected.url)
    assert prepared.headers == dict(expected.headers)
    assert prepared.host == expected.url.host
    assert prepared.port == expected.url.port
    assert prepared.body is None
    sent = {k.lower(): v for k, v in prepared.send_headers.items()}
    assert "host" not in sent or "host" in {k.lower() for k in headers}  # aiohttp sets it
    assert {k: v for k, v in prepared.headers.items() if k != "host"} == sent


@pytest.mark.parametrize(
    ("content", "data", "method"),
    [(b'{"a": 1}', None, "POST"), (None, {"user": "x", "n": "1"}, "POST"), (None, None, "PUT")],
)
def test_bodies_and_forms_are_prepared_by_httpx_and_sent_directly(content, data, method):
    _, direct_client = _clients()
    direct = sender_for(direct_client)
    expected = direct_client.build_request(
        method, "http://api.example.com/x", headers={"X-A": "1"}, content=content, data=data
    )
    prepared = direct.prepare(method, "http://api.example.com/x", {"X-A": "1"}, None, content, data)
    assert prepared.url == str(expected.url)
    assert prepared.headers == dict(expected.headers)
    assert prepared.body == (expected.content or None)


def test_unsupported_protocols_are_refused_when_prepared():
    _, direct_client = _clients()
    direct = sender_for(direct_client)
    with pytest.raises(httpx.UnsupportedProtocol):
        direct.prepare("GET", "ftp://example.com/file", {}, None, None, None)


def test_other_transports_keep_httpx_client():
    client, _ = _clients()
    assert isinstance(sender_for(client), HttpxSender)


# -- the aiohttp transport against a real server --------------------------------------------


class _Server(ThreadedApp):
    """A small aiohttp app on a thread: redirects, cookies, gzip, chunked, slow answers."""

    def __init__(self):
        super().__init__()
        self.seen_cookies: list[str | None] = []

    def _app(self) -> web.Application:
        async def redirect(request):
            raise web.HTTPFound("/target?from=redirect")

        async def target(request):
            return web.json_response({"from": request.query.get("from")})

        async def set_cookie(request):
            response = web.json_response({"ok": True})
            response.set_cookie("session", "s3cr3t-cookie")
            return response

        async def read_cookie(request):
            self.seen_cookies.append(request.cookies.get("session"))
            return web.json_response({"cookie": request.cookies.get("session")})

        async def gzipped(request):
            body = gzip.compress(b'{"zipped": true}')
            return web.Response(
                body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
            )

        async def chunked(request):
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            for _ in range(int(request.query.get("chunks", "10"))):
                await response.write(b"x" * 1000)
            await response.write_eof()
            return response

        async def slow(request):
            await asyncio.sleep(float(request.query.get("delay", "5")))
            return web.json_response({"slow": True})

        async def echo_headers(request):
            return web.json_response(dict(request.headers))

        async def twice(request):
            response = web.json_response({"ok": True})
            response.headers.add("X-Many", "a")
            response.headers.add("X-Many", "b")
            return response

        app = web.Application()
        app.add_routes(
            [
                web.get("/redirect", redirect),
                web.get("/target", target),
                web.get("/set-cookie", set_cookie),
                web.get("/read-cookie", read_cookie),
                web.get("/gzip", gzipped),
                web.get("/chunked", chunked),
                web.get("/slow", slow),
                web.get("/headers", echo_headers),
                web.post("/headers", echo_headers),
                web.get("/twice", twice),
            ]
        )
        return app


@pytest.fixture(scope="module")
def server():
    with _Server() as running:
        yield running


def _run(plan, server, **options):
    return orchestra.run(plan, {"base_url": server.url}, db=None, **options)


def test_redirects_are_followed(server):
    result = _run({"key": "r", "step": {"url": "{config.base_url}/redirect"}}, server)
    assert result.ok, result.error
    assert result.records[0].data == {"from": "redirect"}


def test_cookies_are_kept_for_the_run(server):
    plan = {
        "key": "c",
        "steps": [
            {"name": "login", "url": "{config.base_url}/set-cookie"},
            {"name": "use", "url": "{config.base_url}/read-cookie"},
        ],
    }
    result = _run(plan, server)
    assert result.ok, result.error
    assert result.records_of("use") == [{"cookie": "s3cr3t-cookie"}]


def test_gzip_bodies_are_decompressed(server):
    result = _run({"key": "g", "step": {"url": "{config.base_url}/gzip"}}, server)
    assert result.ok, result.error
    assert result.records[0].data == {"zipped": True}


def test_repeated_response_headers_are_joined_as_httpx_does(server):
    events = []
    result = _run(
        {"key": "h", "step": {"url": "{config.base_url}/twice"}},
        server,
        subscribers=[events.append],
    )
    assert result.ok, result.error
    (response,) = [e for e in events if isinstance(e, ResponseReceived)]
    assert response.headers["x-many"] == "a, b"


def test_the_headers_shown_are_the_headers_sent(server):
    events = []
    plan = {
        "key": "h",
        "step": {"url": "{config.base_url}/headers", "headers": {"X-Trace": "t-1"}},
    }
    result = _run(plan, server, subscribers=[events.append])
    assert result.ok, result.error
    (sent,) = [e for e in events if isinstance(e, RequestSent)]
    received = {k.lower(): v for k, v in result.records[0].data.items()}
    for name, value in sent.headers.items():
        assert received[name] == value, name
    assert sent.headers["x-trace"] == "t-1"
    assert sent.headers["host"] == f"127.0.0.1:{server.port}"


def test_a_json_body_is_sent_with_its_content_type(server):
    plan = {
        "key": "b",
        "step": {"url": "{config.base_url}/headers", "method": "POST", "body": {"a": 1}},
    }
    result = _run(plan, server)
    assert result.ok, result.error
    received = {k.lower(): v for k, v in result.records[0].data.items()}
    assert received["content-type"] == "application/json"
    assert received["content-length"] == "7"  # {"a":1}


def test_size_limit_on_a_chunked_body(server):
    plan = {
        "key": "big",
        "limits": {"max_response_bytes": 5_000},
        "step": {"url": "{config.base_url}/chunked?chunks=20"},
    }
    result = _run(plan, server)
    assert result.status is RunStatus.FAILED
    assert "exceeded max_response_bytes 5,000" in str(result.error)


def test_total_timeout_per_request(server):
    plan = {
        "key": "t",
        "step": {
            "url": "{config.base_url}/slow?delay=3",
            "timeout_seconds": 0.2,
            "retry": {"max_attempts": 1},
        },
    }
    started = time.perf_counter()
    result = _run(plan, server)
    assert result.status is RunStatus.FAILED
    assert "timed out after 0.2s" in str(result.error)
    assert time.perf_counter() - started < 2


def test_connection_refused_is_a_clear_transport_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    plan = {
        "key": "down",
        "step": {"url": f"http://127.0.0.1:{port}/x", "retry": {"max_attempts": 1}},
    }
    result = orchestra.run(plan, db=None)
    assert result.status is RunStatus.FAILED
    assert "cannot connect" in str(result.error)


def test_cancellation_in_flight_is_recorded(server):
    events = []

    async def main():
        runner = orchestra.Runner(
            {"key": "c", "step": {"url": "{config.base_url}/slow?delay=5"}},
            {"base_url": server.url},
            subscribers=[events.append],
        )
        task = asyncio.ensure_future(runner.run())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    (response,) = [e for e in events if isinstance(e, ResponseReceived)]
    assert response.cancelled and response.status_code is None


def test_direct_transport_also_works_inside_a_plain_httpx_client(server):
    async def main():
        async with httpx.AsyncClient(transport=AiohttpTransport(4)) as client:
            return await client.get(f"{server.url}/gzip")

    response = asyncio.run(main())
    assert response.status_code == 200
    assert response.json() == {"zipped": True}


def test_body_too_large_is_raised_on_content_length(server):
    async def main():
        transport = AiohttpTransport(4)
        try:
            await transport.fetch("GET", f"{server.url}/target", {}, None, max_bytes=3)
        finally:
            await transport.aclose()

    with pytest.raises(BodyTooLarge) as caught:
        asyncio.run(main())
    assert caught.value.size is not None


def test_a_custom_direct_transport_is_called_directly():
    calls = []

    class Fake(DirectTransport):
        async def fetch(self, method, url, headers, body, *, max_bytes):
            from orchestra.engine._transport import RawResponse

            calls.append((method, url))
            return RawResponse(200, {"content-type": "application/json"}, b'{"ok": 1}', url)

    result = orchestra.run(
        {"key": "f", "step": {"url": "http://example.test/x", "params": {"a": "b c"}}},
        db=None,
        transport=Fake(),
    )
    assert result.ok, result.error
    assert calls == [("GET", "http://example.test/x?a=b+c")]
    assert result.records[0].data == {"ok": 1}
