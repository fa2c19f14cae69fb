"""HTTP transports: the default one (aiohttp, called directly) and the direct-transport protocol.

Measured on these machines (shared/MEASURED.md, bench/): httpx's own async
transport falls to ~250 requests/s at concurrency 50; httpx over an aiohttp
transport (``httpx-aiohttp``) reaches ~2,000; raw aiohttp ~6,000. The gap
between the last two is httpx's per-request machinery — ``build_request``,
URL parsing, cookie extraction, the ``Request``/``Response``/stream wrappers —
which cost more per exchange than the engine itself.

So the engine calls its default transport *directly*: a :class:`DirectTransport`
has ``fetch(method, url, headers, body, max_bytes=…)`` returning a
:class:`RawResponse` whose body is already read, and the engine skips
``httpx.AsyncClient.send`` for it (``orchestra/engine/_send.py``). Users and
tests keep httpx's API: any ``httpx.AsyncBaseTransport`` passed as
``transport=`` (``httpx.MockTransport``, the capture replayer) goes through
``httpx.AsyncClient`` as before, and a :class:`DirectTransport` is itself an
``httpx.AsyncBaseTransport``, so it also works inside a plain httpx client.

:class:`AiohttpTransport` — the default — keeps one aiohttp session per run:
a pool sized to the run's concurrency, keep-alive shorter than common server
timeouts, redirects followed as httpx's client does (``follow_redirects``,
at most 20), cookies kept in aiohttp's jar for the run, bodies decompressed,
TLS verified with the same CA bundle httpx uses (certifi). Timeouts are the
engine's (one total per request, ``asyncio.timeout``); the body size limit is
checked on ``Content-Length`` and while reading.
"""

from __future__ import annotations

import os
import ssl
import threading
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx

# Below typical server keep-alive timeouts, to avoid reusing a closing connection.
KEEPALIVE_EXPIRY_SECONDS = 4.0
MAX_REDIRECTS = 20  # httpx's default
_CHUNK = 64 * 1024

ACCEPT_ENCODING = aiohttp.client_reqrep.ClientRequest.DEFAULT_HEADERS.get(
    "Accept-Encoding", "gzip, deflate"
)  # what aiohttp can decompress here (brotli/zstd only when their packages are installed)


@dataclass(slots=True)
class RawResponse:
    """A response with its body read: what a :class:`DirectTransport` returns."""

    status_code: int
    headers: dict[str, str]  # lower-cased names; a repeated header's values joined by ", "
    body: bytes  # decompressed
    url: str  # the final URL, after redirects


class BodyTooLarge(Exception):
    """The response body is over ``max_bytes`` (``size`` is its Content-Length, if known)."""

    def __init__(self, size: int | None, limit: int):
        super().__init__(size, limit)
        self.size = size
        self.limit = limit


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
        the transport's own errors (``aiohttp.ClientError``, ``OSError``).
        """
        raise NotImplementedError

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
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
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None),  # the engine times each request
            auto_decompress=True,
            trust_env=False,
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # as httpx: cookies of IP hosts too
            skip_auto_headers=("Content-Type",),  # as httpx: no type made up for raw bytes
        )

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
        async with session.request(
            method,
            url,
            headers=headers,
            data=body,
            allow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            ssl=self._ssl_for(url),
        ) as response:
            length = response.content_length
            if length is not None and length > max_bytes:
                raise BodyTooLarge(length, max_bytes)
            if length is not None:
                data = await response.read()
            else:
                chunks: list[bytes] = []
                total = 0
                async for chunk in response.content.iter_chunked(_CHUNK):
                    total += len(chunk)
                    if total > max_bytes:
                        raise BodyTooLarge(None, max_bytes)
                    chunks.append(chunk)
                data = b"".join(chunks)
            merged: dict[str, str] = {}
            for name, value in response.headers.items():
                key = name.lower()
                if key in merged:
                    merged[key] = f"{merged[key]}, {value}"
                else:
                    merged[key] = value
            final = str(response.url) if response.history else url
            return RawResponse(response.status, merged, data, final)

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()


def default_transport(max_connections: int) -> httpx.AsyncBaseTransport:
    """The engine's default transport, sized for ``max_connections`` concurrent requests.

    ``ORCHESTRA_TRANSPORT`` picks it: ``aiohttp`` (the default) or ``reqwest``
    (:class:`~orchestra.engine._reqwest.ReqwestTransport`, on pyreqwest — the
    ``orchestra[reqwest]`` extra — imported only then).
    """
    choice = os.environ.get("ORCHESTRA_TRANSPORT", "").strip().lower() or "aiohttp"
    if choice == "reqwest":
        try:
            from orchestra.engine._reqwest import reqwest_transport
        except ModuleNotFoundError as error:
            raise RuntimeError(
                f"ORCHESTRA_TRANSPORT=reqwest needs pyreqwest ({error}): "
                "pip install 'orchestra[reqwest]', or unset ORCHESTRA_TRANSPORT"
            ) from None
        return reqwest_transport(max_connections)
    if choice != "aiohttp":
        raise ValueError(f"ORCHESTRA_TRANSPORT must be 'aiohttp' or 'reqwest', not {choice!r}")
    return AiohttpTransport(max_connections)
