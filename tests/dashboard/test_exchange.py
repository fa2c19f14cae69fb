"""How the inspector shows a stored body (the lazy JSON tree too), and the views' formatting."""

from __future__ import annotations

import orjson
import panel as pn

from orchestra.dashboard._exchange import BINARY_PREVIEW, BODY_LIMIT, CSV_ROWS, body
from orchestra.dashboard._json_tree import CHILDREN_SHOWN, json_tree
from orchestra.dashboard._style import format_bytes, format_ms, status_class


def test_each_kind_of_body_gets_its_view():
    shown = body('{"a": [1, 2]}', encoding="utf-8", content_type="application/json")
    assert (shown.kind, shown.value) == ("json", {"a": [1, 2]})
    assert body("[1]", encoding="utf-8", content_type="").kind == "json"  # no content type
    xml = body("<a><b>1</b></a>", encoding="utf-8", content_type="application/xml")
    assert (xml.kind, xml.text) == ("xml", '<?xml version="1.0" ?>\n<a>\n  <b>1</b>\n</a>')
    csv = body('id,name\n1,x\n2,"y, z"\n', encoding="utf-8", content_type="text/csv")
    assert (csv.kind, csv.value, csv.rows) == (
        "csv",
        [["id", "name"], ["1", "x"], ["2", "y, z"]],
        2,
    )
    broken = body("{not json", encoding="utf-8", content_type="application/json")
    assert (broken.kind, broken.text) == ("text", "{not json")
    bad_xml = body("<a><b>", encoding="utf-8", content_type="text/xml")
    assert (bad_xml.kind, bad_xml.text) == ("text", "<a><b>")
    assert body(None, encoding=None, content_type="").kind == "empty"


def test_a_long_csv_shows_its_first_rows():
    text = "n\n" + "\n".join(str(i) for i in range(CSV_ROWS * 3))
    shown = body(text, encoding="utf-8", content_type="text/csv; charset=utf-8")
    assert shown.rows == CSV_ROWS * 3 and len(shown.value) == CSV_ROWS + 1


def test_huge_json_stays_a_value_and_huge_text_and_binary_are_cut():
    huge = orjson.dumps({"rows": ["x" * 100] * 5000}).decode()
    assert len(huge) > BODY_LIMIT
    shown = body(huge, encoding="utf-8", content_type="application/json")
    assert shown.kind == "json" and shown.value == orjson.loads(huge) and shown.text == ""
    text = body("y" * (BODY_LIMIT + 10), encoding="utf-8", content_type="text/plain")
    assert text.kind == "text" and text.truncated and len(text.text) == BODY_LIMIT
    binary = body("QUJD" * 1000, encoding="base64", content_type="image/png")
    assert binary.kind == "binary" and len(binary.text) == BINARY_PREVIEW and binary.truncated
    assert binary.size == 3000  # bytes, decoded


def _cards(viewable):
    return [o for o in viewable.select(pn.Card)]


def test_a_json_tree_builds_a_node_only_when_it_opens():
    value = {"items": [{"id": i, "tags": ["a"]} for i in range(CHILDREN_SHOWN * 2 + 5)], "n": 1}
    root = json_tree(value, "body")
    assert root.title == "body: {2 keys}"
    assert [card.title for card in _cards(root)] == ["body: {2 keys}", "items: [205 items]"]
    items = _cards(root)[1]
    assert items.collapsed and items.objects == []  # nothing built, nothing sent
    items.collapsed = False
    assert len(_cards(items)) == 1 + CHILDREN_SHOWN  # the first hundred items
    more = [b for b in items.select(pn.widgets.Button) if "more" in b.label]
    assert [b.label for b in more] == ["show 100 more of 105"]
    more[0].clicks += 1
    more = [b for b in items.select(pn.widgets.Button) if "more" in b.label]
    assert [b.label for b in more] == ["show 5 more of 5"]
    first = _cards(items)[1]
    assert first.title == "[0]: {2 keys}" and first.objects == []
    first.collapsed = False
    leaves = first.objects[0].object
    assert "id</span>: <span style='color:#1a5fb4'>0</span>" in leaves


def test_a_long_string_is_cut_in_the_tree():
    root = json_tree({"padding": "p" * 100_000}, "body")
    text = root.objects[0].object
    assert f"({100_000:,} characters)" in text and len(text) < 1000


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
