"""One captured exchange made ready to show: parsed headers, a body to render, a curl command.

The inspector shows what the capture stored, which is masked already. A JSON
body becomes a value for a collapsible tree; XML, CSV and other text stay
text; a base64 (binary) body is described, never decoded into the page.
Bodies past :data:`BODY_LIMIT` characters are cut, so one huge response
cannot freeze the browser. The curl command comes from the capture's own
exporter (``orchestra export --format curl``), one exchange at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from orchestra import capture

BODY_LIMIT = 200_000  # characters of a body sent to the browser
BINARY_PREVIEW = 512  # characters of a base64 body shown


@dataclass
class Body:
    """How to show one body: ``kind`` is json, text, binary or empty."""

    kind: str
    value: Any = None  # the parsed JSON value (kind json)
    text: str = ""  # the text to show (kind text/binary), cut to BODY_LIMIT
    size: int = 0  # characters stored
    truncated: bool = False
    content_type: str = ""


@dataclass
class ExchangeView:
    """An exchange as the inspector shows it."""

    row: dict[str, Any]
    request_headers: dict[str, str] = field(default_factory=dict)
    response_headers: dict[str, str] = field(default_factory=dict)
    request_body: Body = field(default_factory=lambda: Body("empty"))
    response_body: Body = field(default_factory=lambda: Body("empty"))
    curl: str = ""

    @property
    def exchange_id(self) -> int:
        return int(self.row["exchange_id"])


def _headers(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _content_type(headers: dict[str, str]) -> str:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return value.lower()
    return ""


def body(text: str | None, *, encoding: str | None, content_type: str) -> Body:
    """Decide how a stored body is shown (see the module docstring)."""
    if text is None or text == "":
        return Body("empty", content_type=content_type)
    size = len(text)
    if encoding == "base64":
        return Body(
            "binary",
            text=text[:BINARY_PREVIEW],
            size=size,
            truncated=size > BINARY_PREVIEW,
            content_type=content_type,
        )
    truncated = size > BODY_LIMIT
    shown = text[:BODY_LIMIT]
    looks_json = "json" in content_type or (not content_type and text.lstrip()[:1] in "{[")
    if looks_json and not truncated:
        try:
            return Body("json", value=orjson.loads(text), size=size, content_type=content_type)
        except orjson.JSONDecodeError:
            pass
    return Body("text", text=shown, size=size, truncated=truncated, content_type=content_type)


def curl_command(row: dict[str, Any]) -> str:
    """A runnable curl command for one captured exchange, after a ``#`` comment line."""
    return f"{capture.curl_comment(row)}\n{capture.curl_command(row, None)}\n"


def exchange_view(row: dict[str, Any]) -> ExchangeView:
    request_headers = _headers(row.get("request_headers"))
    response_headers = _headers(row.get("response_headers"))
    return ExchangeView(
        row=row,
        request_headers=request_headers,
        response_headers=response_headers,
        request_body=body(
            row.get("request_body"), encoding=None, content_type=_content_type(request_headers)
        ),
        response_body=body(
            row.get("response_body"),
            encoding=row.get("response_body_encoding"),
            content_type=_content_type(response_headers),
        ),
        curl=curl_command(row),
    )
