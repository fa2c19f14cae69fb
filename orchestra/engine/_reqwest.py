"""A direct transport on pyreqwest (Rust's reqwest/hyper), a faster drop-in for aiohttp.

Why: HTTP parsing, pooling and TLS run in Rust on a Tokio thread instead of in
the event loop, so a request costs the client about half the CPU it costs
with aiohttp (``bench/README.md``, "Design measurements behind the code").
:class:`ReqwestTransport` is a :class:`~orchestra.engine._transport.DirectTransport`
meant to behave exactly like :class:`~orchestra.engine._transport.AiohttpTransport`,
so the engine, events and the capture cannot tell them apart. It is chosen
with ``ORCHESTRA_TRANSPORT=reqwest`` (transports by name: ``_transports.py``).

What it matches, and how:

* one client per run, created on the first ``fetch``; at most ``max_connections``
  requests in flight (an asyncio semaphore, so a cancelled request gives its
  slot back at once); idle keep-alive connections closed after
  ``KEEPALIVE_EXPIRY_SECONDS``; no proxy from the environment;
* one request per ``fetch``, as ``AiohttpTransport``: redirects are not followed
  (the engine follows them, each hop an exchange), and a request that meets a
  closed keep-alive connection is not re-sent here (the engine re-sends it);
* cookies kept for the run in a cookie store (IP hosts included); an explicit
  ``Cookie`` header is merged with the stored cookies, as aiohttp does;
* bodies decompressed *here* with aiohttp's own decompressors, so exactly the
  encodings in ``ACCEPT_ENCODING`` are decoded and the response keeps its
  ``Content-Encoding``/``Content-Length`` headers (reqwest's decoders would
  drop them); reqwest adds no Referer, no Content-Type for raw bytes;
* request headers sent in the order given, after ``Host`` (as aiohttp; hyper
  would put ``Host`` last); when none is given, ``Accept-Encoding`` is aiohttp's;
* response headers lower-cased, repeated ones joined with ", "; the body
  limit checked on Content-Length, and on the decompressed size while
  streaming (a compressed body is inflated in bounded pieces, never whole);
* TLS verified (``verify=False`` turns it off) with rustls; the certificates in
  ``SSL_CERT_FILE`` (else ``SSL_CERT_DIR``), which httpx's context trusts, are
  trusted too. pyreqwest cannot take an ``ssl.SSLContext``: for one,
  :func:`reqwest_transport` returns an ``AiohttpTransport``;
* pyreqwest's errors raised as the engine's neutral ones (``orchestra.errors``:
  refused → ``ConnectError`` reading as aiohttp's "Cannot connect to host …",
  a connection closed before the answer → ``RemoteClosed``, a broken body →
  ``ReadError`` …), the original kept as ``__cause__`` (its text made one
  readable line).

The engine cannot tell which transport it has; to compare them, run the suite
with ``ORCHESTRA_TRANSPORT=reqwest``.

What it does not match (details in the tests, ``tests/engine/test_reqwest_transport.py``):

* cancelling a request (a timeout, an interrupt) returns at once, but pyreqwest
  0.15 does not abort the request running on its Tokio thread: it goes on until
  the server answers or closes, unless ``fetch`` got a ``timeout`` — then reqwest
  stops it at the same deadline (the engine passes its per-request timeout);
* response header values with non-ASCII bytes cannot be read through pyreqwest
  (they are left out, with a warning); aiohttp decodes them as UTF-8;
* hyper writes request header names in Title-Case (aiohttp sends them as given),
  and the URL is re-serialised by the WHATWG parser (``'`` in a query goes out
  as ``%27``); without a ``User-Agent`` (the engine always sends httpx's) the
  request carries pyreqwest's, not aiohttp's;
* the engine's text for a failed exchange names the pyreqwest cause
  ("ConnectError: connection error: connection closed before message completed"
  where aiohttp gives "ServerDisconnectedError: Server disconnected"); the
  error classes, retries and "cannot connect: …" texts are the same;
* a process that used it sleeps 10 ms at exit (``atexit``): without it pyreqwest
  0.15 can abort the interpreter as it finalizes (see :func:`_pause_at_exit`);
* TLS roots: Mozilla's (webpki-roots, the list certifi ships) *plus*
  ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set — httpx's context trusts only the
  file then, so a file meant to *narrow* trust does not narrow it here; and
  rustls refuses a self-signed CA certificate used as a server's own certificate
  even when trusted (``CaUsedAsEndEntity``), which OpenSSL accepts;
* the TLS client is built per run on its first https request (~7 ms of CPU
  for rustls's root store; aiohttp shares one SSL context per process).
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import os
import re
import ssl
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from pyreqwest import exceptions as rq
from pyreqwest.client import ClientBuilder
from pyreqwest.cookie import CookieStore

from orchestra.engine._transport import (
    ACCEPT_ENCODING,
    KEEPALIVE_EXPIRY_SECONDS,
    AiohttpTransport,
    BodyReader,
    BoundedDecoder,
    DirectTransport,
    RawResponse,
    describe,
)
from orchestra.errors import (
    ConnectError,
    ReadError,
    RemoteClosed,
    TransportError,
    TransportTimeout,
)

_log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_DEFAULT_PORT_SUFFIX = {"http": ":80", "https": ":443"}
_AUTHORITY = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://(?:[^@/?#]*@)?([^/?#]*)")
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
_OS_ERROR = re.compile(r"\s*\(os error (\d+)\)\s*$")


def reqwest_transport(
    max_connections: int = 100,
    *,
    keepalive_expiry: float = KEEPALIVE_EXPIRY_SECONDS,
    verify: ssl.SSLContext | bool = True,
) -> DirectTransport:
    """A :class:`ReqwestTransport`, or an ``AiohttpTransport`` for an ``ssl.SSLContext``
    (which pyreqwest cannot take).
    """
    if isinstance(verify, ssl.SSLContext):
        return AiohttpTransport(max_connections, keepalive_expiry=keepalive_expiry, verify=verify)
    return ReqwestTransport(max_connections, keepalive_expiry=keepalive_expiry, verify=verify)


class ReqwestTransport(DirectTransport):
    """One pyreqwest client per run, called directly by the engine (see the module docstring)."""

    fetch_takes_timeout = True  # fetch(..., timeout=seconds): the engine may pass its own

    def __init__(
        self,
        max_connections: int = 100,
        *,
        keepalive_expiry: float = KEEPALIVE_EXPIRY_SECONDS,
        verify: bool = True,
    ):
        if not isinstance(verify, bool):
            raise TypeError(
                "ReqwestTransport cannot use an ssl.SSLContext; "
                "use reqwest_transport(…) (which falls back to AiohttpTransport) instead"
            )
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self.verify = verify
        self._plain: Any = None  # the client for http:// URLs
        self._tls: Any = None  # the client for every other URL, built when first needed
        self._cookies: CookieStore | None = None
        self._host_prefix: str | None = None  # the last URL's "scheme://authority/"
        self._host = ""  # and its Host header
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _builder(self) -> ClientBuilder:
        assert self._cookies is not None
        return (
            ClientBuilder()
            .follow_redirects(False)  # followed in fetch, with aiohttp's rules
            .referer(False)
            .no_proxy()  # as aiohttp's trust_env=False
            .cookie_provider(self._cookies)  # one store for both clients
            .gzip(False)  # decoded in fetch, so the headers stay as sent
            .deflate(False)
            .brotli(False)
            .zstd(False)
            .pool_idle_timeout(timedelta(seconds=self.keepalive_expiry))
            .default_headers({"Accept-Encoding": ACCEPT_ENCODING})  # aiohttp's, when none given
        )

    def _client_for(self, url: str) -> Any:
        """The plain-HTTP client for ``http:`` URLs, the verifying TLS client for all others.

        Building rustls's root store costs ~7 ms per client, so a run that only
        talks plain HTTP never builds it: its client skips certificate checks
        (the setting that avoids the store), and is only ever given ``http:``
        URLs, which have no TLS to check.
        """
        if self._cookies is None:
            self._cookies = CookieStore()
            _pause_at_exit()
        if url.startswith("http:"):
            if self._plain is None:
                self._plain = self._builder().danger_accept_invalid_certs(True).build()
            return self._plain
        if self._tls is None:
            builder = self._builder()
            if self.verify:
                for pem in _extra_roots(
                    os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
                ):
                    builder = builder.add_root_certificate_pem(pem)
            else:
                builder = builder.danger_accept_invalid_certs(True)
            self._tls = builder.build()
        return self._tls

    def _new_slots(self, loop: asyncio.AbstractEventLoop) -> asyncio.Semaphore:
        # not pyreqwest's own limit: a request cancelled while waiting for it would
        # still be sent later (pyreqwest does not abort cancelled requests)
        self._slots = asyncio.Semaphore(self.max_connections)
        self._loop = loop
        return self._slots

    async def fetch(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        *,
        max_bytes: int,
        timeout: float | None = None,
    ) -> RawResponse:
        """As ``AiohttpTransport.fetch``; ``timeout`` (seconds, optional) also stops
        the request on pyreqwest's side once it is over (see the module docstring).
        """
        loop = asyncio.get_running_loop()
        slots = self._slots
        if slots is None or self._loop is not loop:
            slots = self._new_slots(loop)
        async with slots:
            plain = self._plain
            client = plain if plain is not None and url.startswith("http:") else None
            builder = (client or self._client_for(url)).request(method, url)
            # no body read ahead before the headers are handed over: the time to first byte
            # is when they arrived (the body is read in chunks below either way)
            builder = builder.streamed_read_buffer_limit(0)
            cookie_name, host_given = _special_headers(headers)
            if cookie_name is not None:
                headers = self._with_stored_cookies(headers, cookie_name, url)
            host = None if host_given else self._host_header(url)
            builder = builder.headers(headers if host is None else {"Host": host, **headers})
            if body is not None:
                builder = builder.body_bytes(body)
            if timeout is not None:
                builder = builder.timeout(timedelta(seconds=max(timeout, 0.001)))
            try:
                async with builder.build_streamed() as response:
                    headers_at = time.perf_counter()
                    status = response.status
                    response_headers = _headers(response)
                    data = await _read_body(response, status, response_headers, max_bytes)
            except rq.PyreqwestError as error:
                mapped = _neutral_error(error, url, self.verify)
                if mapped is None:
                    raise
                raise mapped from error
            return RawResponse(status, response_headers, data, url, headers_at=headers_at)

    def _host_header(self, url: str) -> str | None:
        """aiohttp's Host header, sent first as aiohttp does (hyper would append it last)."""
        prefix = self._host_prefix
        if prefix is not None and url.startswith(prefix):
            return self._host
        match = _AUTHORITY.match(url)
        if match is None:
            return None
        scheme, host = match.group(1).lower(), match.group(2).lower()
        if not host.isascii():
            return None  # an IDN: hyper writes its punycode
        suffix = _DEFAULT_PORT_SUFFIX.get(scheme)
        if suffix is not None and host.endswith(suffix):
            host = host.rpartition(":")[0]
        if match.end() < len(url) and url[match.end()] == "/":
            self._host_prefix, self._host = url[: match.end() + 1], host
        return host

    def _with_stored_cookies(self, headers: dict[str, str], name: str, url: str) -> dict[str, str]:
        """aiohttp merges its jar into an explicit ``Cookie`` header (the jar wins a clash)."""
        stored = self._cookies.matches(url) if self._cookies is not None else []
        if not stored:
            return headers
        merged: dict[str, str] = {}
        for part in headers[name].split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key:
                merged[key] = value
        for cookie in stored:
            merged[cookie.name] = cookie.value
        headers = dict(headers)
        headers[name] = "; ".join(f"{k}={v}" for k, v in sorted(merged.items()))
        return headers

    async def aclose(self) -> None:
        clients = (self._plain, self._tls)
        self._plain = self._tls = self._cookies = None
        for client in clients:
            if client is not None:
                await client.close()


@functools.cache
def _pause_at_exit() -> None:
    """Give pyreqwest's Tokio thread 10 ms at exit, before the interpreter finalizes.

    The thread hands each result to asyncio with the GIL, and lets it go while
    waking the loop; if the main thread finalizes meanwhile (a script that ends
    right after its last request), CPython 3.11 aborts the process ("Fatal Python
    error: PyGILState_Release …", exit code 134) — in a few percent of such runs.
    """
    atexit.register(time.sleep, 0.01)


@functools.cache
def _extra_roots(cert_file: str | None, cert_dir: str | None) -> tuple[bytes, ...]:
    """The PEM certificates httpx's context would trust instead of certifi's (read once)."""
    if cert_file:
        paths = [cert_file]
    elif cert_dir and os.path.isdir(cert_dir):
        paths = sorted(os.path.join(cert_dir, name) for name in os.listdir(cert_dir))
    else:
        return ()
    found: dict[bytes, None] = {}
    for path in paths:
        try:
            with open(path, "rb") as file:
                text = file.read()
        except OSError:
            continue
        found.update(dict.fromkeys(_PEM.findall(text)))
    usable = []
    for pem in found:  # keep those rustls accepts
        try:
            ClientBuilder().add_root_certificate_pem(pem)
        except ValueError:
            continue
        usable.append(pem)
    return tuple(usable)


# -- request headers ---------------------------------------------------------------------


def _special_headers(headers: dict[str, str]) -> tuple[str | None, bool]:
    """The name of a ``Cookie`` header, if any, and whether a ``Host`` header is given."""
    cookie, host = None, False
    for name in headers:
        size = len(name)
        if size == 6 and name.lower() == "cookie":
            cookie = name
        elif size == 4 and name.lower() == "host":
            host = True
    return cookie, host


# -- response: headers and body -----------------------------------------------------------


def _headers(response: Any) -> dict[str, str]:
    """Lower-cased names (hyper's), repeated values joined with ", " as aiohttp's dict is."""
    header_map = response.headers
    try:
        merged = header_map.dict_multi_value()
    except ValueError:  # a value with non-ASCII bytes: pyreqwest cannot turn it into str
        merged = _readable_headers(header_map)
    for name, value in merged.items():
        if value.__class__ is list:
            merged[name] = ", ".join(value)
    return merged


def _readable_headers(header_map: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name in dict.fromkeys(header_map.keys()):
        try:
            values = header_map.getall(name)
        except ValueError:
            _log.warning("response header %r has non-ASCII bytes; it is left out", name)
            continue
        merged[name] = values[0] if len(values) == 1 else values
    return merged


async def _read_body(response: Any, status: int, headers: dict[str, str], max_bytes: int) -> bytes:
    length_text = headers.get("content-length")
    length = int(length_text) if length_text is not None and length_text.isdigit() else None
    encoding = headers.get("content-encoding")
    decoder = BoundedDecoder.for_encoding(encoding) if encoding else None
    reader = BodyReader(max_bytes, status, headers, decoder)
    if length is not None and length > max_bytes:  # the compressed size is a lower bound
        raise reader.too_large(length)
    if length is not None and decoder is None:  # identity: the length bounds it
        return bytes(await response.bytes())
    body_reader = response.body_reader
    while (chunk := await body_reader.read_chunk()) is not None:
        reader.add(chunk)
    return reader.body()


# -- errors: pyreqwest's, raised as the engine's neutral ones -------------------------------


def _neutral_error(error: rq.PyreqwestError, url: str, verify: bool) -> TransportError | None:
    """The engine's error for pyreqwest's ``error``, or None to raise ``error`` itself.

    The classes are those of aiohttp's failures in the same situation, and a
    refused or failed connection reads as aiohttp's does ("Cannot connect to
    host …"). pyreqwest says what happened only in the text of its causes
    (hyper's and the OS's messages), so that is what is read.
    """
    details = getattr(error, "details", None) or {}
    causes = [c.get("message", "") for c in (details.get("causes") or [])]
    root = causes[-1] if causes else error.message
    readable = f"{error.message}: {root}" if root != error.message else root
    error.args = (readable,)  # the text the engine shows; .message/.details stay
    text = " | ".join(causes).lower()
    if isinstance(error, rq.BuilderError):
        return None  # a ValueError, as aiohttp's for a request it cannot build
    if isinstance(error, rq.RequestTimeoutError):
        return TransportTimeout(readable)
    if isinstance(error, rq.ConnectError) and "client error (connect)" in text:
        return ConnectError(f"cannot connect: {_connect_text(url, verify, root, text)}")
    reason = describe(error)
    if isinstance(error, rq.BodyDecodeError) or "reading a body" in text:
        return ReadError(reason)
    if isinstance(error, rq.DecodeError):  # the status line or the headers did not parse
        return ReadError(reason)
    if _OS_ERROR.search(root) is not None or isinstance(error, rq.ConnectError | rq.ReadError):
        return RemoteClosed(reason)  # closed before the answer (keep-alive race)
    return TransportError(reason)


def _connect_text(url: str, verify: bool, root: str, text: str) -> str:
    """What aiohttp's ``ClientConnectorError`` (or its DNS/TLS kin) says for this failure."""
    host, port = _host_and_port(url)
    where = f"Cannot connect to host {host}:{port} ssl:"
    strerror = _OS_ERROR.sub("", root.rsplit(": ", 1)[-1])
    if "dns error" not in text and "certificate" in text:
        problem = (1, f"certificate verify failed: {root}")
        return f"{where}{verify} [SSLCertVerificationError: {problem}]"
    if "dns error" not in text and ("tls" in text or "handshake" in text or "alert" in text):
        strerror = root
    return f"{where}{'default' if verify is True else verify} [{strerror}]"


def _host_and_port(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.hostname or "", port or _DEFAULT_PORTS.get(parts.scheme)
