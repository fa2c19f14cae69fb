"""How the inspector shows a stored body, and the small formatting helpers of the views."""

from __future__ import annotations

import orjson

from orchestra.dashboard._exchange import BINARY_PREVIEW, BODY_LIMIT, body
from orchestra.dashboard._style import format_bytes, format_ms, status_class


def test_json_becomes_a_tree_and_other_text_stays_text():
    shown = body('{"a": [1, 2]}', encoding="utf-8", content_type="application/json")
    assert (shown.kind, shown.value) == ("json", {"a": [1, 2]})
    assert body("[1]", encoding="utf-8", content_type="").kind == "json"  # no content type
    xml = body("<a><b>1</b></a>", encoding="utf-8", content_type="application/xml")
    assert (xml.kind, xml.text) == ("text", "<a><b>1</b></a>")
    assert body("id,name\n1,x", encoding="utf-8", content_type="text/csv").kind == "text"
    broken = body("{not json", encoding="utf-8", content_type="application/json")
    assert (broken.kind, broken.text) == ("text", "{not json")
    assert body(None, encoding=None, content_type="").kind == "empty"


def test_huge_and_binary_bodies_are_cut_before_the_browser():
    huge = orjson.dumps({"rows": ["x" * 100] * 5000}).decode()
    shown = body(huge, encoding="utf-8", content_type="application/json")
    assert shown.kind == "text" and shown.truncated
    assert len(shown.text) == BODY_LIMIT and shown.size == len(huge)
    binary = body("QUJD" * 1000, encoding="base64", content_type="image/png")
    assert binary.kind == "binary" and len(binary.text) == BINARY_PREVIEW and binary.truncated


def test_status_classes_and_formats():
    assert [status_class(s) for s in (200, 302, 404, 429, 503, None, float("nan"))] == [
        "2xx", "3xx", "4xx", "429", "5xx", "no response", "no response",
    ]  # fmt: skip
    assert [format_ms(v) for v in (12.4, 1234, 125_000, None)] == [
        "12 ms",
        "1.23 s",
        "2 m 05 s",
        "",
    ]
    assert [format_bytes(v) for v in (512, 2048, 5 * 1024**2)] == ["512 B", "2.0 KB", "5.0 MB"]
