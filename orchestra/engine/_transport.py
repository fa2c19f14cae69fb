"""HTTP transports: the default one (aiohttp, called directly) and the direct-transport protocol.

httpx's per-request machinery — ``build_request``, URL parsing, cookie
extraction, the ``Request``/``Response``/stream wrappers — costs more per
exchange than the engine itself: even over an aiohttp transport
(``httpx-aiohttp``) httpx answers several times fewer requests per second
than aiohttp called directly, and its own async transport an order of
magnitude fewer again (``bench/README.md``, "Design measurements behind the
code").

So the engine calls its default transport *directly*: a :class:`DirectTransport`
has ``fetch(method, url, headers, body, max_bytes=…)`` returning a
:class:`RawResponse` whose body is already read, and the engine skips
``httpx.AsyncClient.send`` for it (``orchestra/engine/_send.py``). Users and
tests keep httpx's API: any ``httpx.AsyncBaseTransport`` passed as
``transport=`` (``httpx.MockTransport``, the capture replayer) goes through
``httpx.AsyncClient``, and a :class:`DirectTransport` is itself an
``httpx.AsyncBaseTransport``, so it also works inside a plain httpx client.

:class:`AiohttpTransport` — the default — keeps one aiohttp session per run:
a pool sized to the run's concurrency, keep-alive shorter than common server
timeouts, redirects followed as httpx's client does (``follow_redirects``,
at most 20), cookies kept in aiohttp's jar for the run, bodies decompressed,
TLS verified with the same CA bundle httpx uses (certifi). Timeouts are the
engine's (one total per request, ``asyncio.timeout``).

Every transport sends exactly one request per ``fetch``: redirects are not
followed here but by the engine (``orchestra/engine/_redirect.py``), so that
each hop is an exchange of its own, and aiohttp's silent re-send of an
idempotent request on a closed keep-alive connection is turned off (the engine
re-sends it, as an exchange of its own).

The body size limit is on the *decompressed* body, counted while it streams
(:class:`BodyReader`): a ``Content-Length`` over the limit is refused before
reading (the compressed size is a lower bound), and a compressed body is
inflated in pieces of at most ``_CHUNK`` bytes, so a gzip bomb stops at the
limit with bounded memory. A body with a known length and no
``Content-Encoding`` is read in one call (the fast path of small JSON answers).
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from aiohttp import compression_utils
from aiohttp.http_exceptions import ContentEncodingError

from orchestra.engine._transports import DEFAULT_TRANSPORT, transport_factory
from orchestra.errors import (
    ConnectError,
    ReadError,
    RemoteClosed,
    TransportError,
    TransportTimeout,
)

# Below typical server keep-alive timeouts, to avoid reusing a closing connection.
KEEPALIVE_EXPIRY_SECONDS = 4.0
MAX_REDIRECTS = 20  # httpx's default
_CHUNK = 64 * 1024

ACCEPT_ENCODING = aiohttp.client_reqrep.ClientRequest.DEFAULT_HEADERS.get(
    aiohttp.hdrs.ACCEPT_ENCODING, "gzip, deflate"
)  # what aiohttp can decompress here (brotli/zstd only when their packages are installed)


@dataclass(slots=True)
class RawResponse:
    """A response with its body read: what a :class:`DirectTransport` returns."""

    status_code: int
    headers: dict[str, str]  # lower-cased names; a repeated header's values joined by ", "
    body: bytes  # decompressed
    url: str  # the URL that answered (transports do not follow redirects)
    next_request: Any = None  # HttpxSender only: httpx's request for a redirect's Location
    # ``time.perf_counter()`` when the status line and headers had arrived (time to first
    # byte, with the request's start); None when the transport cannot tell
    headers_at: float | None = None


class BodyTooLarge(Exception):
    """The response body is over ``limit`` bytes once decompressed.

    ``size`` is its Content-Length when that alone was over the limit (else
    None); ``status`` and ``headers`` are the response's, so that the exchange
    keeps them; ``encoding`` is the Content-Encoding that was inflated, if any.
    """

    def __init__(
        self,
        size: int | None,
        limit: int,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        encoding: str | None = None,
    ):
        super().__init__(size, limit)
        self.size = size
        self.limit = limit
        self.status = status
        self.headers = headers if headers is not None else {}
        self.encoding = encoding


class BoundedDecoder:
    """aiohttp's decompression (``http_parser.DeflateBuffer``), in pieces of at most ``_CHUNK``.

    Used by the transports that get the raw bytes (pyreqwest, httpx): each
    compressed chunk is inflated a piece at a time, so the caller can stop at
    its limit before a bomb is inflated whole. Exactly the encodings aiohttp
    decodes here (``ACCEPT_ENCODING``) are handled; others pass through.
    """

    __slots__ = ("decompressor", "encoding", "size", "started")

    def __init__(self, encoding: str, decompressor: Any):
        self.encoding = encoding
        self.decompressor = decompressor
        self.size = 0
        self.started = False

    @classmethod
    def for_encoding(cls, header: str) -> BoundedDecoder | None:
        if not header.isascii():
            return None
        encoding = header.strip().lower()
        if encoding == "br":
            if not compression_utils.HAS_BROTLI:
                payload_error(
                    "Can not decode content-encoding: brotli (br). Please install `Brotli`"
                )
            return cls(encoding, compression_utils.BrotliDecompressor())
        if encoding == "zstd":
            if not getattr(compression_utils, "HAS_ZSTD", False):
                payload_error(
                    "Can not decode content-encoding: zstandard (zstd). "
                    "Please install `backports.zstd`"
                )
            return cls(encoding, compression_utils.ZSTDDecompressor())
        if encoding in ("gzip", "deflate"):
            return cls(encoding, compression_utils.ZLibDecompressor(encoding=encoding))
        return None  # identity, or a list of codings: passed through, as aiohttp does

    def feed(self, chunk: Any) -> Iterator[bytes]:
        """The decompressed pieces of one compressed chunk, ``_CHUNK`` bytes at most each."""
        self.size += len(chunk)
        if not self.started and len(chunk):
            if self.encoding == "deflate" and chunk[0] & 0xF != 8:  # raw deflate, no zlib header
                self.decompressor = compression_utils.ZLibDecompressor(
                    encoding=self.encoding, suppress_deflate_header=True
                )
            self.started = True
        data = bytes(chunk)
        decompressor = self.decompressor
        while True:
            try:
                piece = decompressor.decompress_sync(data, max_length=_CHUNK)
            except Exception as error:
                payload_error(f"Can not decode content-encoding: {self.encoding}", error)
            if piece:
                yield piece
            if not piece or not decompressor.data_available:
                return
            data = b""

    def finish(self) -> None:
        self.decompressor.flush()
        if self.size > 0 and self.encoding == "deflate" and not self.decompressor.eof:
            payload_error("deflate")


def payload_error(message: str, cause: BaseException | None = None) -> Any:
    """Raise a :class:`ReadError` for a body that does not decode, in aiohttp's words."""
    problem = ContentEncodingError(message)
    problem.__cause__ = cause
    raise ReadError(describe(problem)) from problem


def describe(error: BaseException) -> str:
    """ "Class: text" of a library's error, as a failed exchange shows it."""
    return f"{type(error).__name__}: {error}".rstrip(": ")


def neutral_error(error: aiohttp.ClientError) -> TransportError:
    """aiohttp's error as the engine's neutral one (:mod:`orchestra.errors`), same text."""
    if isinstance(error, aiohttp.ClientConnectorError):
        return ConnectError(f"cannot connect: {error}")
    if isinstance(error, aiohttp.ServerTimeoutError):
        return TransportTimeout(str(error))
    cause = error.__cause__ or error
    if isinstance(error, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return RemoteClosed(describe(cause))  # ClientConnectorError (an OSError) is above
    if isinstance(error, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return ReadError(describe(cause))
    return TransportError(describe(cause))


class BodyReader:
    """Collects a response body chunk by chunk and stops once it is over ``max_bytes``.

    With a ``decoder``, chunks are compressed and are inflated piece by piece
    (:class:`BoundedDecoder`); without one they are counted as they come.
    """

    __slots__ = ("chunks", "decoder", "encoding", "headers", "max_bytes", "status", "total")

    def __init__(
        self,
        max_bytes: int,
        status: int,
        headers: dict[str, str],
        decoder: BoundedDecoder | None = None,
    ):
        self.max_bytes = max_bytes
        self.status = status
        self.headers = headers
        self.decoder = decoder
        self.encoding = headers.get("content-encoding")
        self.chunks: list[bytes] = []
        self.total = 0

    def add(self, chunk: Any) -> None:
        if self.decoder is None:
            self._keep(bytes(chunk))
        else:
            for piece in self.decoder.feed(chunk):
                self._keep(piece)

    def _keep(self, piece: bytes) -> None:
        self.total += len(piece)
        if self.total > self.max_bytes:
            self.chunks.clear()
            raise self.too_large(None)
        self.chunks.append(piece)

    def too_large(self, size: int | None) -> BodyTooLarge:
        return BodyTooLarge(
            size, self.max_bytes, status=self.status, headers=self.headers, encoding=self.encoding
        )

    def body(self) -> bytes:
        if self.decoder is not None:
            self.decoder.finish()
        return b"".join(self.chunks)


def merged_headers(items: Any) -> dict[str, str]:
    """Lower-cased names, a repeated header's values joined by ", " (as the engine expects)."""
    merged: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        if key in merged:
            merged[key] = f"{merged[key]}, {value}"
        else:
            merged[key] = value
    return merged


class DirectTransport(httpx.AsyncBaseTransport):
    """A transport the engine calls directly, without httpx's client and models.

    Subclasses implement :meth:`fetch`. ``handle_async_request`` adapts it to
    httpx, so an instance also works as ``httpx.AsyncClient(transport=…)``.
    """

    async def fetch(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        *,
        max_bytes: int,
    ) -> RawResponse:
        """Send one request and read the whole (decompressed) body.

        Raises :class:`BodyTooLarge` past ``max_bytes``; network failures raise
        :class:`~orchestra.errors.TransportError` or one of its subclasses, whose
        text is the reason the failed exchange shows.
        """
        raise NotImplementedError

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # one request, as the engine's fetch: httpx's client follows redirects itself
        body = request.content or None
        headers = {k: v for k, v in request.headers.items() if k != "host"}
        raw = await self.fetch(request.method, str(request.url), headers, body,
                               max_bytes=2**62)  # fmt: skip
        response_headers = [
            (k, v)
            for k, v in raw.headers.items()
            if k not in ("content-encoding", "content-length", "transfer-encoding")
        ]  # (the body is already decompressed)
        return httpx.Response(
            raw.status_code, headers=response_headers, content=raw.body, request=request
        )


_ssl_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context (certifi), built once per process when first needed.

    Building one costs ~150 ms (loading the CA bundle); a plan that only talks
    plain HTTP never pays it.
    """
    global _ssl_context
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = httpx.create_ssl_context()
        return _ssl_context


class AiohttpTransport(DirectTransport):
    """The default transport: one aiohttp session per run, called directly by the engine."""

    def __init__(
        self,
        max_connections: int = 100,
        *,
        keepalive_expiry: float = KEEPALIVE_EXPIRY_SECONDS,
        verify: ssl.SSLContext | bool = True,
    ):
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self.verify = verify
        self._session: aiohttp.ClientSession | None = None

    def _new_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self.max_connections,
            limit_per_host=0,
            keepalive_timeout=self.keepalive_expiry,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),  # the engine times each request
            auto_decompress=True,
            trust_env=False,
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # as httpx: cookies of IP hosts too
            skip_auto_headers=("Content-Type",),  # as httpx: no type made up for raw bytes
        )
        # aiohttp re-sends an idempotent request whose keep-alive connection closed under
        # it, unseen by the engine; the engine does that re-send itself, as an exchange of
        # its own, so that every request that reached the server is captured
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False
        return session

    def _ssl_for(self, url: str) -> Any:
        if url.startswith("http:"):
            return True  # unused for plain HTTP
        if isinstance(self.verify, ssl.SSLContext):
            return self.verify
        return shared_ssl_context() if self.verify else False

    async def fetch(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        *,
        max_bytes: int,
    ) -> RawResponse:
        session = self._session
        if session is None or session.closed:
            session = self._session = self._new_session()
        try:
            async with session.request(
                method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,  # the engine follows them: each hop is an exchange
                ssl=self._ssl_for(url),
            ) as response:
                headers_at = time.perf_counter()
                merged = merged_headers(response.headers.items())
                length = response.content_length
                if length is not None and length > max_bytes:
                    raise BodyTooLarge(length, max_bytes, status=response.status, headers=merged)
                if length is not None and "content-encoding" not in merged:
                    data = await response.read()  # identity: the length bounds it
                else:  # inflated by aiohttp in bounded pieces: count what comes out
                    reader = BodyReader(max_bytes, response.status, merged)
                    async for chunk in response.content.iter_chunked(_CHUNK):
                        reader.add(chunk)
                    data = reader.body()
                return RawResponse(response.status, merged, data, url, headers_at=headers_at)
        except aiohttp.ClientError as error:
            raise neutral_error(error) from error

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()


def default_transport(max_connections: int) -> httpx.AsyncBaseTransport:
    """The transport ``ORCHESTRA_TRANSPORT`` names (``aiohttp`` when unset), sized for
    ``max_connections`` concurrent requests; names are looked up in ``_transports.py``.
    """
    choice = os.environ.get("ORCHESTRA_TRANSPORT", "").strip() or DEFAULT_TRANSPORT
    return transport_factory(choice)(max_connections)
