"""The engine's HTTP edge: turn a rendered request into bytes on the wire, and back.

Two senders share one contract — ``prepare`` a request (method, final URL,
the headers as they are sent, body, host and port), then ``send`` it and get a
:class:`~orchestra.engine._transport.RawResponse` with the body read (raising
:class:`~orchestra.engine._transport.BodyTooLarge` past the size limit):

* :class:`DirectSender` — for a :class:`~orchestra.engine._transport.DirectTransport`
  (the default aiohttp transport): no ``httpx.Request``/``Response`` on the hot
  path. Requests are prepared exactly as ``httpx.AsyncClient.build_request``
  would (same URL normalisation, query encoding and default headers — checked
  by tests against httpx itself); anything unusual (a body, a form, a URL that
  httpx would rewrite) is prepared by httpx and then sent directly.
* :class:`HttpxSender` — for any other ``httpx`` transport (``MockTransport``,
  the capture replayer): ``httpx.AsyncClient.send``, one request at a time.

Neither follows redirects: ``follow`` gives the request of the next hop (or
None), and the engine sends it as an exchange of its own (``_exchange.py``,
rules in ``_redirect.py``). Bodies are limited on their decompressed size
while they stream, on both (``_transport.BodyReader``).
"""

from __future__ import annotations

import logging
import re
import time
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

import httpx

from orchestra.engine._redirect import hop_headers, location_of, next_hop
from orchestra.engine._transport import (
    ACCEPT_ENCODING,
    BodyReader,
    BoundedDecoder,
    DirectTransport,
    RawResponse,
    describe,
)
from orchestra.errors import ReadError, RemoteClosed, TransportError, TransportTimeout


class Prepared:
    """A request ready to send; ``headers`` is what events and the capture show."""

    __slots__ = ("body", "headers", "host", "method", "port", "request", "send_headers", "url")

    def __init__(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        host: str,
        port: int | None,
        *,
        send_headers: dict[str, str] | None = None,
        request: httpx.Request | None = None,
    ):
        self.method = method
        self.url = url
        self.headers = headers  # lower-cased names, as dict(httpx.Request.headers)
        self.body = body
        self.host = host
        self.port = port
        self.send_headers = send_headers
        self.request = request

    @classmethod
    def of(
        cls,
        request: httpx.Request,
        *,
        send_headers: dict[str, str] | None = None,
        keep_request: bool = False,
    ) -> Prepared:
        """What an ``httpx.Request`` says (kept whole when ``keep_request``)."""
        return cls(
            request.method,
            str(request.url),
            dict(request.headers),
            request.content or None,
            request.url.host,
            request.url.port,
            send_headers=send_headers,
            request=request if keep_request else None,
        )


class HttpxSender:
    """Sends through ``httpx.AsyncClient`` (any httpx transport)."""

    direct = False

    def __init__(self, client: httpx.AsyncClient):
        self.client = client

    def prepare(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        params: dict[str, Any] | None,
        content: bytes | None,
        data: dict[str, Any] | None,
    ) -> Prepared:
        request = self.client.build_request(
            method, url, params=params or None, headers=headers, content=content, data=data
        )
        return Prepared.of(request, keep_request=True)

    async def send(
        self, prepared: Prepared, max_bytes: int, timeout: float | None = None
    ) -> RawResponse:
        request = prepared.request
        assert request is not None
        try:
            response = await self.client.send(request, stream=True, follow_redirects=False)
            headers_at = time.perf_counter()
            try:
                headers = {k.lower(): v for k, v in response.headers.items()}
                raw = await _read_limited(response, headers, max_bytes)
            finally:
                await response.aclose()
        except httpx.TransportError as error:
            raise _neutral_error(error) from error
        return RawResponse(
            response.status_code, headers, raw, str(response.url), response.next_request,
            headers_at,
        )  # fmt: skip

    def follow(self, prepared: Prepared, response: RawResponse) -> Prepared | None:
        """The next hop of a redirect, as httpx's client builds it (None: not a redirect)."""
        following = response.next_request
        if following is None:
            return None
        following.read()  # the previous hop's bytes (httpx passes its stream on)
        return Prepared.of(following, keep_request=True)


def _neutral_error(error: httpx.TransportError) -> TransportError:
    """httpx's error as the engine's neutral one (:mod:`orchestra.errors`), same text."""
    if isinstance(error, httpx.TimeoutException):
        return TransportTimeout(str(error))
    cause = error.__cause__ or error
    if isinstance(error, httpx.RemoteProtocolError):
        return RemoteClosed(describe(cause))
    return TransportError(describe(cause))


async def _read_limited(response: httpx.Response, headers: dict[str, str], max_bytes: int) -> bytes:
    """The decompressed body, stopped past ``max_bytes`` (``BodyTooLarge``).

    gzip and deflate are inflated here piece by piece (httpx would inflate a
    whole chunk at once, and a ``MockTransport`` body is one chunk); other
    encodings are left to httpx and counted as they come.
    """
    try:  # a response made with content= (MockTransport, replay) is read and decoded already
        content = response.content
    except httpx.ResponseNotRead:
        pass
    else:
        if len(content) > max_bytes:
            raise BodyReader(max_bytes, response.status_code, headers).too_large(None)
        return content
    length = headers.get("content-length")
    encoding = headers.get("content-encoding")
    try:
        decoder = BoundedDecoder.for_encoding(encoding) if encoding else None
    except ReadError:  # br/zstd: httpx may have its own decoder
        decoder = None
    reader = BodyReader(max_bytes, response.status_code, headers, decoder)
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise reader.too_large(int(length))
    if encoding is None and length is not None:
        return await response.aread()
    chunks = response.aiter_raw() if decoder is not None else response.aiter_bytes()
    try:
        async for chunk in chunks:
            reader.add(chunk)
        return reader.body()
    except ReadError as error:  # as httpx's own decoders fail
        raise httpx.DecodingError(str(error), request=response.request) from error


# A URL httpx leaves exactly as it is: lower-case host, a path, only characters
# httpx does not re-encode, valid percent escapes, no dot segments, no fragment.
_SIMPLE_URL = re.compile(
    r"(https?)://([a-z0-9][a-z0-9.\-]*)(?::([0-9]{1,5}))?"
    r"(/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*)(\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*)?"
)
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def _canonical(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


class DirectSender:
    """Calls a :class:`DirectTransport`'s ``fetch`` without httpx's client machinery."""

    direct = True

    def __init__(self, client: httpx.AsyncClient, transport: DirectTransport):
        self.client = client
        self.transport = transport
        # a transport that enforces the engine's deadline itself (and so stops the request
        # on the wire, not only the awaiting task) says so; others get no timeout argument
        self._takes_timeout = bool(getattr(transport, "fetch_takes_timeout", False))
        if client.headers.get("accept-encoding") != ACCEPT_ENCODING:
            # advertise what the transport decompresses, not what httpx would
            client.headers["Accept-Encoding"] = ACCEPT_ENCODING
        self._defaults = {_canonical(k): v for k, v in client.headers.items()}
        self._report_defaults = {k.lower(): v for k, v in client.headers.items()}
        self._canonical_names = {k.lower(): k for k in self._defaults}
        self._hosts: dict[str, tuple[str, str, int | None] | None] = {}

    def _authority(self, url: str) -> tuple[str, str, int | None, str] | None:
        """(netloc, host, port, url) when httpx would keep ``url`` byte for byte."""
        match = _SIMPLE_URL.fullmatch(url)
        if match is None:
            return None
        scheme, host, port_text, path, _ = match.groups()
        if "/." in path or ("%" in url and _BAD_ESCAPE.search(url)):
            return None
        port = None
        if port_text is not None:
            port = int(port_text)
            if port == _DEFAULT_PORTS[scheme] or port > 65535 or port_text[0] == "0":
                return None  # httpx drops a default port and normalises the number
        netloc = host if port_text is None else f"{host}:{port_text}"
        return netloc, host, port, url

    def prepare(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        params: dict[str, Any] | None,
        content: bytes | None,
        data: dict[str, Any] | None,
    ) -> Prepared:
        fast = (
            content is None
            and data is None
            and method in _BODYLESS
            and (not params or ("?" not in url and "#" not in url))
        )
        found = self._authority(url) if fast else None
        if found is None or (params and any(isinstance(v, list) for v in params.values())):
            return self._prepare_with_httpx(method, url, headers, params, content, data)
        netloc, host, port, url = found
        if params:
            url = f"{url}?{urlencode(params)}"
        report = {"host": netloc, **self._report_defaults}
        send = dict(self._defaults)
        for name, value in headers.items():
            lower = name.lower()
            if lower in report:
                del report[lower]
                send.pop(self._canonical_names.get(lower, name), None)
            report[lower] = value
            send[name] = value
        return Prepared(method, url, report, None, host, port, send_headers=send)

    def _prepare_with_httpx(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        params: dict[str, Any] | None,
        content: bytes | None,
        data: dict[str, Any] | None,
    ) -> Prepared:
        request = self.client.build_request(
            method, url, params=params or None, headers=headers, content=content, data=data
        )
        if request.url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{request.url.scheme}://'."
            )
        set_by_step = {k.lower() for k in headers}
        send = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in request.headers.raw
            if key.lower() != b"host" or "host" in set_by_step  # aiohttp sets Host per hop
        }
        return Prepared.of(request, send_headers=send)

    async def send(
        self, prepared: Prepared, max_bytes: int, timeout: float | None = None
    ) -> RawResponse:
        extra = {"timeout": timeout} if self._takes_timeout else {}
        response = await self.transport.fetch(
            prepared.method,
            prepared.url,
            prepared.send_headers,  # type: ignore[arg-type]
            prepared.body,
            max_bytes=max_bytes,
            **extra,
        )
        if _HTTPX_LOGGER.isEnabledFor(logging.INFO):  # the line httpx's client would log
            _HTTPX_LOGGER.info(
                'HTTP Request: %s %s "%s %d %s"',
                prepared.method,
                prepared.url,
                "HTTP/1.1",
                response.status_code,
                _reason(response.status_code),
            )
        return response

    def follow(self, prepared: Prepared, response: RawResponse) -> Prepared | None:
        """The request of the next hop when ``response`` is a redirect with a target
        (None otherwise), by aiohttp's rules (``_redirect.py``); raises ``BadRedirect``.
        """
        location = location_of(response.headers)
        if not location:
            return None
        method, body, url, same_origin = next_hop(
            response.status_code, prepared.method, prepared.body, prepared.url, location
        )
        dropped_body = body is None and prepared.body is not None
        send = hop_headers(
            prepared.send_headers or {}, same_origin=same_origin, dropped_body=dropped_body
        )
        report = hop_headers(prepared.headers, same_origin=same_origin, dropped_body=dropped_body)
        target = httpx.URL(url)
        if not same_origin:
            report = {**report, "host": target.netloc.decode("ascii")}
        return Prepared(method, url, report, body, target.host, target.port, send_headers=send)


_HTTPX_LOGGER = logging.getLogger("httpx")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


Sender = HttpxSender | DirectSender


def sender_for(client: httpx.AsyncClient) -> Sender:
    """The sender for a run's client: direct when its transport allows it."""
    transport = getattr(client, "_transport", None)
    if isinstance(transport, DirectTransport):
        return DirectSender(client, transport)
    return HttpxSender(client)
