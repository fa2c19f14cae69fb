"""A real HTTP server on 127.0.0.1 that echoes what it received, in every encoding.

Servers and serializers write a value back in many forms: percent-encoded by one
encoder or another (``/`` kept or not, ``+`` for a space, lower-case hex),
JSON-escaped (ASCII-only or UTF-8, ``/`` as ``\\/``), JSON inside JSON (escaped
twice). The masking tests send a secret in a query parameter, a header, a JSON
body and Basic credentials, and have it echoed back here in each form in
``FORMS``:

* ``/echo/<form>``: every value received — query values, the ``X-Secret`` and
  ``Authorization`` headers, the user and password of Basic credentials, the
  strings of a JSON body (or the body text) — written in that form; JSON forms
  answer ``application/json`` (``{"form": …, "echo": ["…", …]}``, the encoded
  values inserted as they are), the others ``text/plain``, one value a line;
* ``/target``: the raw request target and header lines, as the server got them.

``encoded_forms(secret)`` lists what to search for afterwards; it is built from
the standard library's encoders only, independently of ``orchestra.masking``.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit


def _json_escaped(value: str, *, ascii_only: bool = True) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)[1:-1]


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda match: match.group(0).lower(), text)


def _upper_unicode_escapes(text: str) -> str:
    return re.sub(r"\\u[0-9a-f]{4}", lambda match: "\\u" + match.group(0)[2:].upper(), text)


FORMS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "percent": lambda s: quote(s, safe=""),
    "percent-slash-kept": lambda s: quote(s, safe="/"),
    "percent-lower-hex": lambda s: _lower_hex(quote(s, safe="")),
    "percent-twice": lambda s: quote(quote(s, safe=""), safe=""),
    "form-plus": quote_plus,
    "form-plus-slash-kept": lambda s: quote_plus(s, safe="/"),
    "encodeURIComponent": lambda s: quote(s, safe="!'()*~"),
    "json-ascii": _json_escaped,
    "json-utf8": lambda s: _json_escaped(s, ascii_only=False),
    "json-escaped-slash": lambda s: _json_escaped(s).replace("/", "\\/"),
    "json-upper-hex": lambda s: _upper_unicode_escapes(_json_escaped(s)),
    "json-twice-ascii": lambda s: _json_escaped(_json_escaped(s)),
    "json-twice-utf8": lambda s: _json_escaped(
        _json_escaped(s, ascii_only=False), ascii_only=False
    ),
    "json-of-percent": lambda s: _json_escaped(quote(s, safe="/")).replace("/", "\\/"),
}


def encoded_forms(secret: str) -> set[str]:
    """Every form of ``secret`` a leak could take (what the tests search for)."""
    return {encode(secret) for encode in FORMS.values()}


def basic_credentials(user: str, password: str) -> str:
    """The ``Authorization`` value of Basic credentials."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for child in value.values():
            yield from _strings(child)
    elif isinstance(value, list):
        for child in value:
            yield from _strings(child)


class _EchoHandler(BaseHTTPRequestHandler):
    server: EchoHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the tests read what matters from the capture

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        self.server.requests += 1
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        if path == "/target":
            lines = [self.requestline, *(f"{k}: {v}" for k, v in self.headers.items())]
            self._send("text/plain; charset=utf-8", "\n".join(lines))
            return
        form = path.removeprefix("/echo/")
        encode = FORMS.get(form)
        if encode is None:
            self._send("text/plain", f"unknown form {form!r}", status=404)
            return
        encoded = [encode(value) for value in self._received(body)]
        if form.startswith("json"):
            items = ", ".join(f'"{value}"' for value in encoded)
            self._send("application/json", f'{{"form": "{form}", "echo": [{items}]}}')
        else:
            self._send("text/plain; charset=utf-8", "\n".join(encoded))

    def _received(self, body: bytes) -> list[str]:
        """Every value the request carried, decoded."""
        values = [value for _, value in parse_qsl(urlsplit(self.path).query)]
        values += [
            self.headers[name] for name in ("X-Secret", "Authorization") if name in self.headers
        ]
        authorization = self.headers.get("Authorization", "")
        if authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode("utf-8", "replace")
            values += [authorization[6:], *decoded.split(":", 1)]
        if body:
            text = body.decode("utf-8", "replace")
            try:
                values += list(_strings(json.loads(text)))
            except ValueError:
                values.append(text)
        return values

    def _send(self, content_type: str, text: str, status: int = 200) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class EchoHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    requests = 0


@dataclass
class EchoServer:
    """A running echo server: its base URL and how many requests it answered."""

    server: EchoHTTPServer

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> int:
        return self.server.requests


@contextmanager
def echo_server() -> Iterator[EchoServer]:
    """Serve on 127.0.0.1 (a free port) in a thread, for the ``with`` block."""
    server = EchoHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, name="echo-server", daemon=True)
    thread.start()
    try:
        yield EchoServer(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
