"""The pyreqwest transport behaves as the aiohttp one (``_reqwest.py``).

Every test here runs against real servers on 127.0.0.1 and, where the two
transports should agree, runs for both (``kind``): the same assertions hold
for ``AiohttpTransport`` and ``ReqwestTransport``. The tests of the aiohttp
transport in ``test_direct_transport.py`` are also re-run with the reqwest one.
The few known differences are tested as such (``test_known_difference_*``).
"""

from __future__ import annotations

import asyncio
import gzip
import inspect
import shutil
import socket
import ssl
import subprocess
import time
import zlib

import aiohttp
import httpx
import pytest
from aiohttp import web

import orchestra
from orchestra import RunStatus
from orchestra.engine import _transport
from orchestra.engine._reqwest import ReqwestTransport, reqwest_transport
from orchestra.engine._transport import AiohttpTransport, BodyTooLarge, default_transport
from orchestra.errors import ConnectError, ReadError, RemoteClosed, TransportTimeout
from orchestra.events import RequestSent, ResponseReceived
from tests.engine import test_direct_transport as aiohttp_tests

KINDS = ["aiohttp", "reqwest"]
CLASSES = {"aiohttp": AiohttpTransport, "reqwest": ReqwestTransport}
BIG = 2**40


@pytest.fixture(params=KINDS)
def kind(request, monkeypatch):
    """Both transports; ``orchestra.run`` picks the same one through ``ORCHESTRA_TRANSPORT``."""
    monkeypatch.setenv("ORCHESTRA_TRANSPORT", request.param)
    return request.param


def make(kind, max_connections=4, **options):
    return CLASSES[kind](max_connections, **options)


def fetch(kind, method, url, headers=None, body=None, *, max_bytes=BIG, **options):
    """One request on a fresh transport, closed afterwards."""

    async def main():
        transport = make(kind, **options)
        try:
            return await transport.fetch(method, url, headers or {}, body, max_bytes=max_bytes)
        finally:
            await transport.aclose()

    return asyncio.run(main())


# -- servers ------------------------------------------------------------------------------


class _Server(aiohttp_tests._Server):
    """The aiohttp test app of ``test_direct_transport.py`` plus the routes these tests need."""

    def __init__(self):
        super().__init__()
        self.active = 0
        self.most_active = 0

    def _app(self) -> web.Application:
        app = super()._app()

        async def echo(request):
            return web.json_response(
                {
                    "method": request.method,
                    "path": request.raw_path,
                    "body": (await request.read()).decode("latin-1"),
                    "headers": {k.lower(): v for k, v in request.headers.items()},
                    "names": [name.decode() for name, _ in request.raw_headers],
                }
            )

        async def redirect_to(request):
            status = int(request.query.get("status", "302"))
            return web.Response(status=status, headers={"Location": request.query["to"]})

        async def loop(request):
            n = int(request.query.get("n", "0"))
            return web.Response(status=302, headers={"Location": f"/loop?n={n + 1}"})

        async def deflated(request):
            raw = request.query.get("raw") == "1"
            compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
            body = compressor.compress(b'{"deflated": true}') + compressor.flush()
            return web.Response(
                body=body,
                headers={"Content-Encoding": "deflate", "Content-Type": "application/json"},
            )

        async def gzip_chunked(request):
            response = web.StreamResponse(
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"}
            )
            response.enable_chunked_encoding()
            await response.prepare(request)
            data = gzip.compress(b'{"n": "' + b"7" * int(request.query.get("n", "10")) + b'"}')
            for start in range(0, len(data), 100):
                await response.write(data[start : start + 100])
            await response.write_eof()
            return response

        async def peer(request):
            return web.json_response({"port": request.transport.get_extra_info("peername")[1]})

        async def concurrent(request):
            self.active += 1
            self.most_active = max(self.most_active, self.active)
            try:
                await asyncio.sleep(0.15)
            finally:
                self.active -= 1
            return web.json_response({"ok": True})

        async def no_location(request):
            return web.Response(status=302, text="stay")

        async def set_second_cookie(request):
            response = web.json_response({"ok": True})
            response.set_cookie("other", "two")
            return response

        app.add_routes(
            [
                web.route("*", "/echo", echo),
                web.route("*", "/redirect-to", redirect_to),
                web.get("/loop", loop),
                web.get("/no-location", no_location),
                web.get("/deflate", deflated),
                web.get("/gzip-chunked", gzip_chunked),
                web.get("/peer", peer),
                web.get("/concurrent", concurrent),
                web.get("/set-second-cookie", set_second_cookie),
            ]
        )
        return app


@pytest.fixture(scope="module")
def server():
    with _Server() as running:
        yield running


async def _raw_server(answer):
    """A socket server on 127.0.0.1 that reads a request and runs ``answer(reader, writer)``."""

    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        try:
            await answer(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/x"


def _raw(kind, payload: bytes):
    """The error (or response) of one GET to a server that answers ``payload`` and closes."""

    async def answer(reader, writer):
        writer.write(payload)
        await writer.drain()

    async def main():
        server, url = await _raw_server(answer)
        transport = make(kind)
        try:
            return await transport.fetch("GET", url, {}, None, max_bytes=BIG)
        except Exception as error:
            return error
        finally:
            await transport.aclose()
            server.close()

    return asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the aiohttp transport's own tests, re-run with each transport ---------------------------


def _server_tests():
    tests = []
    for name, function in vars(aiohttp_tests).items():
        if name.startswith("test_") and callable(function):
            parameters = set(inspect.signature(function).parameters)
            if parameters <= {"server"} and not hasattr(function, "pytestmark"):
                tests.append(pytest.param(function, id=name))
    return tests


SERVER_TESTS = _server_tests()


def test_the_aiohttp_transport_tests_are_found():
    names = {p.id for p in SERVER_TESTS}
    assert {"test_redirects_are_followed", "test_cancellation_in_flight_is_recorded"} <= names
    assert len(names) >= 12


@pytest.mark.parametrize("test", SERVER_TESTS)
def test_the_aiohttp_transport_tests_hold(test, kind, server, monkeypatch):
    # the tests that build an AiohttpTransport themselves get this kind's class
    monkeypatch.setattr(aiohttp_tests, "AiohttpTransport", CLASSES[kind])
    if "server" in inspect.signature(test).parameters:
        test(server)
    else:
        test()


# -- choosing the transport -----------------------------------------------------------------


def test_aiohttp_stays_the_default(monkeypatch):
    monkeypatch.delenv("ORCHESTRA_TRANSPORT", raising=False)
    assert type(default_transport(10)) is AiohttpTransport


def test_reqwest_is_chosen_by_environment(monkeypatch):
    monkeypatch.setenv("ORCHESTRA_TRANSPORT", "reqwest")
    transport = default_transport(10)
    assert type(transport) is ReqwestTransport
    assert transport.max_connections == 10


def test_an_unknown_transport_name_is_refused(monkeypatch):
    monkeypatch.setenv("ORCHESTRA_TRANSPORT", "curl")
    with pytest.raises(ValueError, match="ORCHESTRA_TRANSPORT"):
        default_transport(10)


def test_an_ssl_context_falls_back_to_aiohttp():
    context = ssl.create_default_context()
    transport = reqwest_transport(5, verify=context)
    assert type(transport) is AiohttpTransport
    assert transport.verify is context
    assert type(reqwest_transport(5, verify=False)) is ReqwestTransport
    with pytest.raises(TypeError, match="SSLContext"):
        ReqwestTransport(5, verify=context)  # type: ignore[arg-type]


# -- redirects (followed by the engine: tests/engine/test_redirects.py) ----------------------


@pytest.mark.parametrize("path", ["/redirect", "/loop", "/redirect-to?status=307&to=/echo"])
def test_a_redirect_is_returned_as_it_came(kind, server, path):
    """One request per fetch: the engine follows redirects, each hop an exchange."""
    response = fetch(kind, "GET", server.url + path)
    assert response.status_code in (302, 307)
    assert response.url == server.url + path
    assert response.headers["location"]


def test_a_redirect_without_location_is_the_answer(kind, server):
    response = fetch(kind, "GET", f"{server.url}/no-location")
    assert (response.status_code, response.body) == (302, b"stay")
    assert response.url == f"{server.url}/no-location"


# -- cookies, headers, bodies --------------------------------------------------------------------


def test_cookies_are_kept_by_a_transport_and_merged_with_a_cookie_header(kind, server):
    async def main():
        transport = make(kind)
        try:
            for path in ("/set-cookie", "/set-second-cookie"):
                await transport.fetch("GET", server.url + path, {}, None, max_bytes=BIG)
            plain = await transport.fetch("GET", f"{server.url}/echo", {}, None, max_bytes=BIG)
            mixed = await transport.fetch(
                "GET", f"{server.url}/echo", {"Cookie": "mine=1; other=old"}, None, max_bytes=BIG
            )
            return plain, mixed
        finally:
            await transport.aclose()

    plain, mixed = asyncio.run(main())
    cookies = httpx.Response(200, content=plain.body).json()["headers"]["cookie"]
    assert sorted(cookies.split("; ")) == ["other=two", "session=s3cr3t-cookie"]
    merged = httpx.Response(200, content=mixed.body).json()["headers"]["cookie"]
    assert merged == "mine=1; other=two; session=s3cr3t-cookie"  # the jar wins a clash


def test_cookies_do_not_outlive_the_transport(kind, server):
    fetch(kind, "GET", f"{server.url}/set-cookie")
    response = fetch(kind, "GET", f"{server.url}/echo")
    assert "cookie" not in httpx.Response(200, content=response.body).json()["headers"]


@pytest.mark.parametrize("path", ["/gzip", "/deflate", "/deflate?raw=1", "/gzip-chunked?n=50000"])
def test_compressed_bodies_are_decoded_and_their_headers_kept(kind, server, path):
    response = fetch(kind, "GET", server.url + path)
    assert response.status_code == 200
    decoded = httpx.Response(200, content=response.body).json()
    assert decoded in ({"zipped": True}, {"deflated": True}, {"n": "7" * 50000})
    assert response.headers["content-encoding"] in ("gzip", "deflate")
    if "chunked" not in path:
        assert int(response.headers["content-length"]) < len(response.body) + 30


def test_a_broken_compressed_body_is_a_payload_error(kind):
    payload = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nabcde"
    error = _raw(kind, payload)
    assert isinstance(error, ReadError)
    assert "Can not decode content-encoding: gzip" in str(error)


def test_response_headers_are_lower_case_and_joined(kind, server):
    response = fetch(kind, "GET", f"{server.url}/twice")
    assert response.headers["x-many"] == "a, b"
    assert all(name == name.lower() for name in response.headers)
    assert list(response.headers)[:2] == ["content-type", "x-many"]


def test_the_headers_given_are_sent_and_nothing_is_made_up(kind, server, monkeypatch):
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # ignored, as aiohttp's trust_env=False
    headers = {"User-Agent": "mine", "X-Trace": "t-1", "accept": "application/json"}
    response = fetch(kind, "POST", f"{server.url}/echo", headers, b"\x00raw")
    echoed = httpx.Response(200, content=response.body).json()
    sent = echoed["headers"]
    assert sent["user-agent"] == "mine"
    assert sent["x-trace"] == "t-1"
    assert sent["accept"] == "application/json"
    assert sent["accept-encoding"] == "gzip, deflate"  # what both decode, when none is given
    assert sent["content-length"] == "4"
    assert "content-type" not in sent
    assert echoed["body"] == "\x00raw"
    assert set(sent) <= {"host", "user-agent", "x-trace", "accept", "accept-encoding",
                         "content-length"}  # fmt: skip


def test_body_limits(kind, server):
    fits = fetch(kind, "GET", f"{server.url}/chunked?chunks=3", max_bytes=3_000)
    assert len(fits.body) == 3_000
    with pytest.raises(BodyTooLarge) as known:
        fetch(kind, "GET", f"{server.url}/target", max_bytes=5)
    assert (known.value.size, known.value.limit) == (len(b'{"from": null}'), 5)
    with pytest.raises(BodyTooLarge) as streamed:
        fetch(kind, "GET", f"{server.url}/chunked?chunks=20", max_bytes=5_000)
    assert (streamed.value.size, streamed.value.limit) == (None, 5_000)
    # decompressed bytes count when the length is unknown
    with pytest.raises(BodyTooLarge):
        fetch(kind, "GET", f"{server.url}/gzip-chunked?n=50000", max_bytes=10_000)


def test_a_huge_body_is_not_buffered(kind):
    """Past the limit the transport stops reading: the server is still sending."""
    sent = []

    async def answer(reader, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
        try:
            for _ in range(2000):  # 128 MiB if it were all read
                writer.write(chunk)
                await writer.drain()
                sent.append(len(chunk))
        except (ConnectionError, OSError):
            pass

    async def main():
        server, url = await _raw_server(answer)
        transport = make(kind)
        try:
            with pytest.raises(BodyTooLarge):
                await transport.fetch("GET", url, {}, None, max_bytes=1_000_000)
        finally:
            await transport.aclose()
            server.close()
        await asyncio.sleep(0.2)

    asyncio.run(main())
    assert sum(sent) < 64 * 2**20


# -- connections -----------------------------------------------------------------------------


def test_connections_are_kept_alive_and_expire(kind, server):
    async def main():
        transport = make(kind, keepalive_expiry=0.3)
        ports = []
        try:
            for delay in (0, 0, 1.2):
                await asyncio.sleep(delay)
                response = await transport.fetch(
                    "GET", f"{server.url}/peer", {}, None, max_bytes=BIG
                )
                ports.append(httpx.Response(200, content=response.body).json()["port"])
        finally:
            await transport.aclose()
        return ports

    first, second, after_idle = asyncio.run(main())
    assert first == second
    assert after_idle != first


def test_at_most_max_connections_requests_at_once(kind, server):
    async def main():
        transport = make(kind, max_connections=2)
        try:
            await asyncio.gather(
                *(
                    transport.fetch("GET", f"{server.url}/concurrent", {}, None, max_bytes=BIG)
                    for _ in range(6)
                )
            )
        finally:
            await transport.aclose()

    server.most_active = 0
    asyncio.run(main())
    assert server.most_active == 2


# -- errors --------------------------------------------------------------------------------------


def test_a_refused_connection_is_a_connector_error(kind):
    port = _free_port()
    with pytest.raises(ConnectError) as caught:
        fetch(kind, "GET", f"http://127.0.0.1:{port}/x")
    text = f"cannot connect: Cannot connect to host 127.0.0.1:{port} ssl:default ["
    assert str(caught.value).startswith(text)
    assert "Connection refused" in str(caught.value) or "Connect call failed" in str(caught.value)
    if kind == "aiohttp":  # the library's own error is kept as the cause
        assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorError)
        assert caught.value.__cause__.host == "127.0.0.1" and caught.value.__cause__.port == port
    if kind == "reqwest":
        assert "Connection refused" in str(caught.value)
        assert type(caught.value.__cause__).__module__ == "pyreqwest.exceptions"


def test_a_refused_connection_reads_the_same_in_the_run(kind):
    port = _free_port()
    plan = {"key": "down", "step": {"url": f"http://127.0.0.1:{port}/x"}}
    plan["step"]["retry"] = {"max_attempts": 1}
    result = orchestra.run(plan, db=None)
    assert result.status is RunStatus.FAILED
    assert f"cannot connect: Cannot connect to host 127.0.0.1:{port} ssl:default" in str(
        result.error
    )


def test_an_unknown_host_is_a_dns_error(kind):
    with pytest.raises(ConnectError) as caught:
        fetch(kind, "GET", "http://no-such-host.invalid/x")
    assert "Cannot connect to host no-such-host.invalid:80" in str(caught.value)
    if kind == "aiohttp":
        assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorDNSError)


def test_a_server_closing_without_an_answer_is_a_disconnect(kind):
    error = _raw(kind, b"")
    assert isinstance(error, RemoteClosed)


def test_a_disconnect_is_retried_once_by_the_engine(kind):
    """The engine re-sends an idempotent request once when the connection closes before the
    answer; the transports do not re-send it themselves, so every send is an exchange."""
    hits = []

    async def answer(reader, writer):
        hits.append(1)

    async def main():
        server, url = await _raw_server(answer)
        events: list = []
        try:
            plan = {"key": "d", "step": {"url": url, "retry": {"max_attempts": 1}}}
            result = await orchestra.Runner(plan, subscribers=[events.append]).run()
            return result, len(hits), events
        finally:
            server.close()

    result, count, events = asyncio.run(main())
    assert result.status is RunStatus.FAILED
    assert count == 2  # the request and the engine's one re-send, nothing unseen
    sent = [e for e in events if isinstance(e, RequestSent)]
    answered = [e for e in events if isinstance(e, ResponseReceived)]
    assert len(sent) == len(answered) == count
    assert [e.attempt for e in sent] == [1, 1]
    assert "failed after 1 attempt" in str(result.error)


def test_a_short_body_is_a_payload_error(kind):
    error = _raw(kind, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
    assert isinstance(error, ReadError)
    if kind == "aiohttp":  # the library's own error is kept as the cause
        assert "Response payload is not completed" in str(error.__cause__)
    else:
        assert type(error.__cause__).__module__ == "pyreqwest.exceptions"
    error = _raw(kind, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab")
    assert isinstance(error, ReadError)


def test_a_response_that_is_not_http_is_a_response_error(kind):
    error = _raw(kind, b"NOT HTTP AT ALL\r\n\r\n")
    assert isinstance(error, ReadError)
    if kind == "aiohttp":  # the library's own error is kept as the cause
        assert error.__cause__.status == 400


def test_cancellation_is_prompt(kind, server):
    async def main():
        transport = make(kind)
        try:
            task = asyncio.ensure_future(
                transport.fetch("GET", f"{server.url}/slow?delay=5", {}, None, max_bytes=BIG)
            )
            await asyncio.sleep(0.3)
            started = time.perf_counter()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            cancelled_in = time.perf_counter() - started
            # the transport still works, its slot given back
            response = await transport.fetch("GET", f"{server.url}/target", {}, None, max_bytes=BIG)
            return cancelled_in, response.status_code
        finally:
            await transport.aclose()

    cancelled_in, status = asyncio.run(main())
    assert cancelled_in < 0.1
    assert status == 200


def _closed_on_the_wire_after_cancel(kind, **fetch_options) -> bool:
    """Does the server see the connection closed once a waiting request is cancelled?"""
    closed = asyncio.Event()

    async def answer(reader, writer):
        await reader.read(1)  # b"" when the client closes
        closed.set()

    async def main():
        server, url = await _raw_server(answer)
        transport = make(kind)
        try:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    await transport.fetch("GET", url, {}, None, max_bytes=BIG, **fetch_options)
            try:
                async with asyncio.timeout(1.5):
                    await closed.wait()
                return True
            except TimeoutError:
                return False
        finally:
            await transport.aclose()
            server.close()

    return asyncio.run(main())


def test_a_timed_out_request_is_closed_on_the_wire(kind):
    options = {"timeout": 0.3} if kind == "reqwest" else {}  # the engine's timeout, passed down
    assert _closed_on_the_wire_after_cancel(kind, **options)


def test_the_reqwest_timeout_is_reported_as_a_timeout(server):
    async def main():
        transport = ReqwestTransport(2)
        try:
            await transport.fetch(
                "GET", f"{server.url}/slow?delay=3", {}, None, max_bytes=BIG, timeout=0.2
            )
        finally:
            await transport.aclose()

    with pytest.raises(TransportTimeout) as caught:
        asyncio.run(main())
    assert isinstance(caught.value, TimeoutError)  # as asyncio.timeout's, whichever fires first
    assert isinstance(caught.value.__cause__, TimeoutError)  # pyreqwest's, kept as the cause


def test_a_transport_works_on_a_later_event_loop(server):
    transport = ReqwestTransport(2)

    async def once():
        response = await transport.fetch("GET", f"{server.url}/target", {}, None, max_bytes=BIG)
        return response.status_code

    assert asyncio.run(once()) == 200
    assert asyncio.run(once()) == 200
    asyncio.run(transport.aclose())


# -- TLS -------------------------------------------------------------------------------------


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cwd)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A CA, a server certificate it signed, and a self-signed (CA) server certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make test certificates")
    folder = tmp_path_factory.mktemp("tls")
    names = "subjectAltName=DNS:localhost,IP:127.0.0.1"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", "ca.key",
             "-out", "ca.pem", "-subj", "/CN=Orchestra test CA", cwd=folder)  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
             "-subj", "/CN=localhost", cwd=folder)  # fmt: skip
    (folder / "leaf.ext").write_text(
        f"basicConstraints=CA:FALSE\n{names}\nextendedKeyUsage=serverAuth\n"
    )
    _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "1", "-out", "leaf.pem", "-extfile", "leaf.ext",
             cwd=folder)  # fmt: skip
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout",
             "self.key", "-out", "self.pem", "-subj", "/CN=localhost", "-addext", names,
             cwd=folder)  # fmt: skip

    def server_context(name):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(folder / f"{name}.pem", folder / f"{name}.key")
        return context

    return {
        "leaf": server_context("leaf"),
        "self": server_context("self"),
        "ca_file": folder / "ca.pem",
        "self_file": folder / "self.pem",
    }


@pytest.fixture
def cert_env(monkeypatch):
    """Set SSL_CERT_FILE (or nothing) for both transports: aiohttp's context is rebuilt."""
    monkeypatch.setattr(_transport, "_ssl_context", None)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)

    def use(path):
        if path is None:
            monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        else:
            monkeypatch.setenv("SSL_CERT_FILE", str(path))

    return use


def _tls_fetch(kind, context, **options):
    async def answer(reader, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    async def handle(reader, writer):
        try:
            await reader.readuntil(b"\r\n\r\n")
            await answer(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
        url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/x"
        transport = make(kind, **options)
        try:
            return await transport.fetch("GET", url, {}, None, max_bytes=BIG)
        finally:
            await transport.aclose()
            server.close()

    return asyncio.run(main())


def test_tls_is_verified_and_verify_false_turns_it_off(kind, certificates, cert_env):
    cert_env(None)
    with pytest.raises(ConnectError) as caught:
        _tls_fetch(kind, certificates["leaf"])
    assert "Cannot connect to host 127.0.0.1:" in str(caught.value)
    assert "certificate verify failed" in str(caught.value)
    if kind == "aiohttp":
        assert isinstance(caught.value.__cause__, aiohttp.ClientConnectorCertificateError)
    assert _tls_fetch(kind, certificates["leaf"], verify=False).body == b"ok"


def test_ssl_cert_file_is_trusted(kind, certificates, cert_env):
    cert_env(certificates["ca_file"])  # httpx's context (aiohttp's) trusts the file's CA
    assert _tls_fetch(kind, certificates["leaf"]).body == b"ok"


def test_known_difference_a_trusted_self_signed_ca_certificate_as_server(certificates, cert_env):
    """OpenSSL accepts a trusted self-signed CA certificate as a server's; rustls does not."""
    cert_env(certificates["self_file"])
    assert _tls_fetch("aiohttp", certificates["self"]).body == b"ok"
    with pytest.raises(ConnectError, match="CaUsedAsEndEntity"):
        _tls_fetch("reqwest", certificates["self"])


# -- the demo API: the same events with either transport -------------------------------------


def test_the_same_events_from_the_demo_api(demo_api, monkeypatch):
    plan = {
        "key": "parity",
        "steps": [
            {"name": "items", "url": "{config.base_url}/items", "params": {"limit": "5"}},
            {"name": "xml", "url": "{config.base_url}/xml"},
            {"name": "csv", "url": "{config.base_url}/csv"},
            {"name": "text", "url": "{config.base_url}/text"},
            {"name": "large", "url": "{config.base_url}/large", "params": {"kb": "300"}},
            {"name": "status", "url": "{config.base_url}/status/404", "ignore_on": [404]},
            {
                "name": "echo",
                "url": "{config.base_url}/echo",
                "method": "POST",
                "body": {"a": 1},
                "headers": {"X-Trace": "t"},
            },
        ],
    }
    seen = {}
    for name in KINDS:
        monkeypatch.setenv("ORCHESTRA_TRANSPORT", name)
        events = []
        result = orchestra.run(
            plan, {"base_url": demo_api.url}, db=None, subscribers=[events.append]
        )
        assert result.ok, result.error
        seen[name] = [
            (e.status_code, [(k, v) for k, v in e.headers.items() if k != "date"], e.body)
            for e in events
            if isinstance(e, ResponseReceived)
        ] + [(e.method, e.url, e.headers, e.body) for e in events if isinstance(e, RequestSent)]
    assert seen["reqwest"] == seen["aiohttp"]


# -- known differences (pyreqwest 0.15), kept visible ------------------------------------------


def test_known_difference_cancelled_requests_go_on_without_a_timeout():
    """pyreqwest does not abort a cancelled request (aiohttp closes the connection)."""
    assert _closed_on_the_wire_after_cancel("aiohttp")
    assert not _closed_on_the_wire_after_cancel("reqwest")


def test_known_difference_non_ascii_header_values(kind):
    payload = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Name: caf\xc3\xa9\r\nX-Plain: p\r\n\r\nok"
    response = _raw(kind, payload)
    assert response.body == b"ok"
    assert response.headers["x-plain"] == "p"
    if kind == "aiohttp":
        assert response.headers["x-name"] == "café"
    else:
        assert "x-name" not in response.headers  # pyreqwest cannot read it; left out


def test_known_difference_header_name_case_and_url_quoting(kind, server):
    response = fetch(kind, "GET", f"{server.url}/echo?q='a'", {"x-lower": "v"})
    echoed = httpx.Response(200, content=response.body).json()
    if kind == "aiohttp":
        assert "x-lower" in echoed["names"]
        assert echoed["path"] == "/echo?q='a'"
    else:
        assert "X-Lower" in echoed["names"]  # hyper writes Title-Case names
        assert echoed["path"] == "/echo?q=%27a%27"  # the WHATWG URL parser quotes '
