"""Decoding response bodies: json, xml (to JSON), csv (list of rows), text, binary."""

from __future__ import annotations

import base64
import csv
import io
from typing import Any

import orjson
import xmltodict

from orchestra.errors import RunError


def detect_format(content_type: str) -> str:
    """The body format implied by a Content-Type header."""
    ct = content_type.split(";", 1)[0].strip().lower()
    if ct.endswith("json") or ct.endswith("+json"):
        return "json"
    if ct.endswith("xml"):
        return "xml"
    if ct in ("text/csv", "application/csv"):
        return "csv"
    if ct.startswith("text/") or ct in ("application/x-www-form-urlencoded", ""):
        return "text"
    return "binary"


def decode_body(raw: bytes, fmt: str, content_type: str, charset: str | None = None) -> Any:
    """Decode ``raw`` as ``fmt`` (``auto`` looks at the Content-Type)."""
    if not raw:
        return None
    if fmt == "auto":
        fmt = detect_format(content_type)
        if fmt == "text" and raw[:1] in (b"{", b"["):
            try:
                return orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass
    try:
        if fmt == "json":
            return orjson.loads(raw)
        if fmt == "xml":
            return xmltodict.parse(raw)
        if fmt == "csv":
            return list(csv.DictReader(io.StringIO(raw.decode(charset or "utf-8"))))
        if fmt == "text":
            return raw.decode(charset or "utf-8", errors="replace")
        return base64.b64encode(raw).decode("ascii")
    except (ValueError, orjson.JSONDecodeError, Exception) as error:
        raise RunError(
            f"response body is not valid {fmt}: {error}",
            fix="set response_format to match what the API sends (text works for anything)",
        ) from None
