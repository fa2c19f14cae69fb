"""One captured exchange made ready to show: parsed headers, a body to render, a curl command.

The inspector shows what the capture stored, which is masked already. A JSON
body of any size becomes a value for a lazily built tree (the value stays on
the server, see :mod:`orchestra.dashboard._json_tree`); XML of any size is
re-indented as it streams (:mod:`orchestra.dashboard._xml_view`, the first
:data:`BODY_LIMIT` characters' worth), CSV becomes its first :data:`CSV_ROWS`
rows for a table (quoted fields may span lines), other text stays text; a
base64 (binary) body is described, never decoded into the page. Text past
:data:`BODY_LIMIT` characters is cut, so one huge response cannot freeze the
browser; the full body is a download, read from the capture on click.
The curl command comes from the capture's own exporter (``orchestra export
--format curl``), one exchange at a time.
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
from dataclasses import dataclass, field
from typing import Any

import orjson

from orchestra import capture
from orchestra.dashboard._xml_view import pretty_xml

BODY_LIMIT = 200_000  # characters of a text body sent to the browser
JSON_LIMIT = 50_000_000  # characters of a JSON body parsed for the (lazy) tree
BINARY_PREVIEW = 512  # characters of a base64 body shown
CSV_ROWS = 100  # rows of a CSV body shown as a table


@dataclass
class Body:
    """How to show one body: ``kind`` is json, xml, csv, text, binary or empty."""

    kind: str
    value: Any = None  # the parsed JSON value (json), the first rows (csv: lists of cells)
    text: str = ""  # the text to show (xml pretty-printed, text, binary), cut to BODY_LIMIT
    size: int = 0  # characters stored (bytes for binary)
    truncated: bool = False
    content_type: str = ""
    rows: int = 0  # data rows of a CSV body (without its header)


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


def _json(text: str, content_type: str) -> Body | None:
    looks_json = "json" in content_type or (not content_type and text.lstrip()[:1] in "{[")
    if not looks_json or len(text) > JSON_LIMIT:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return Body("json", value=value, size=len(text), content_type=content_type)


def _xml(text: str, content_type: str) -> Body | None:
    if "xml" not in content_type:
        return None
    pretty = pretty_xml(text, BODY_LIMIT)  # streamed: a huge body costs its first screens
    if pretty is None:
        return None
    return Body(
        "xml", text=pretty.text, size=len(text), truncated=pretty.cut, content_type=content_type
    )


def _csv(text: str, content_type: str) -> Body | None:
    if "csv" not in content_type:
        return None
    reader = csv.reader(io.StringIO(text))  # quoted fields may hold newlines
    try:
        rows = [row for row in itertools.islice(reader, CSV_ROWS + 1) if row]
        rows_total = max(0, len(rows) - 1) + sum(1 for row in reader if row)
    except csv.Error:
        return None
    if not rows:
        return None
    return Body("csv", value=rows, size=len(text), content_type=content_type, rows=rows_total)


def body(text: str | None, *, encoding: str | None, content_type: str) -> Body:
    """Decide how a stored body is shown (see the module docstring)."""
    if text is None or text == "":
        return Body("empty", content_type=content_type)
    size = len(text)
    if encoding == "base64":
        return Body(
            "binary",
            text=text[:BINARY_PREVIEW],
            size=len(base64.b64decode(text, validate=False)),
            truncated=size > BINARY_PREVIEW,
            content_type=content_type,
        )
    shaped = _json(text, content_type) or _xml(text, content_type) or _csv(text, content_type)
    if shaped is not None:
        return shaped
    truncated = size > BODY_LIMIT
    return Body(
        "text", text=text[:BODY_LIMIT], size=size, truncated=truncated, content_type=content_type
    )


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
            row.get("request_body"),
            encoding=row.get("request_body_encoding"),
            content_type=_content_type(request_headers),
        ),
        response_body=body(
            row.get("response_body"),
            encoding=row.get("response_body_encoding"),
            content_type=_content_type(response_headers),
        ),
        curl=curl_command(row),
    )
