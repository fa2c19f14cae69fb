"""How the inspector shows a stored body (the lazy JSON tree too), and the views' formatting."""

from __future__ import annotations

import orjson

import orchestra
from orchestra.capture import CaptureStore
from orchestra.dashboard._exchange import (
    BINARY_PREVIEW,
    BODY_LIMIT,
    CSV_ROWS,
    body,
    exchange_view,
)
from orchestra.dashboard._json_tree import CHILDREN_SHOWN, json_tree
from orchestra.dashboard._style import format_bytes, format_count, format_ms, status_class


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


def catalogue(items: int) -> str:
    """One line of XML, as APIs send it: ``items`` items with an attribute, text and a leaf."""
    parts = "".join(f'<item id="{i}"><name>n &amp; {i}</name><tags/></item>' for i in range(items))
    return f'<?xml version="1.0"?><catalog><!-- items -->{parts}</catalog>'


def pretty_item(i: int) -> list[str]:
    return [f'  <item id="{i}">', f"    <name>n &amp; {i}</name>", "    <tags/>", "  </item>"]


def test_xml_of_any_size_is_re_indented_and_a_cut_view_says_so():
    small = body(catalogue(3), encoding=None, content_type="application/xml")
    expected = ['<?xml version="1.0" ?>', "<catalog>", "  <!-- items -->"]
    expected += [line for i in range(3) for line in pretty_item(i)] + ["</catalog>"]
    assert (small.kind, small.truncated, small.text.splitlines()) == ("xml", False, expected)
    text = catalogue(40_000)  # ~2 MB on one line
    assert len(text) > 10 * BODY_LIMIT
    large = body(text, encoding=None, content_type="text/xml; charset=utf-8")
    assert (large.kind, large.truncated, large.size) == ("xml", True, len(text))
    assert BODY_LIMIT - 200 < len(large.text) <= BODY_LIMIT
    lines = large.text.splitlines()
    assert lines[-1] == (f"<!-- orchestra: the view stops here; the body has {len(text):,} "
                         "characters, download it for all of them -->")  # fmt: skip
    shown = lines[3:-1]  # whole items, then part of the next one
    items = len(shown) // 4
    assert items > 1000
    assert shown[: items * 4] == [line for i in range(items) for line in pretty_item(i)]
    assert shown[items * 4 :] == pretty_item(items)[: len(shown) - items * 4]


def test_xml_entities_are_neither_fetched_nor_expanded_without_bound(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret-from-disk")
    external = (f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
                "<r>&x;</r>")  # fmt: skip
    shown = body(external, encoding=None, content_type="application/xml")
    assert "s3cret" not in shown.text
    entities = "".join(
        f'<!ENTITY e{n} "{f"&e{n - 1};" * 10 if n else "x" * 10}">' for n in range(8)
    )
    bomb = body(f"<!DOCTYPE r [{entities}]><r>&e7;</r>", encoding=None, content_type="text/xml")
    assert len(bomb.text) <= BODY_LIMIT  # 10^8 characters if expanded: cut (or refused) early


def test_csv_fields_may_hold_quoted_newlines():
    shown = body('id,note\n1,"x\ny"\n\n2,"a, ""b"""\n', encoding=None, content_type="text/csv")
    assert (shown.kind, shown.value, shown.rows) == (
        "csv", [["id", "note"], ["1", "x\ny"], ["2", 'a, "b"']], 2
    )  # fmt: skip


def test_a_binary_request_body_is_shown_as_binary_and_downloads_as_sent(demo_api_server, tmp_path):
    sent = bytes(range(256)).hex()  # sent as application/octet-stream: stored as base64
    plan = {"key": "upload", "config": {"base_url": demo_api_server.url, "data": sent},
            "steps": [{"name": "up", "method": "POST", "url": "{config.base_url}/echo",
                       "headers": {"Content-Type": "application/octet-stream"},
                       "body": "{config.data}"}]}  # fmt: skip
    result = orchestra.run(plan, db=tmp_path / "capture.duckdb")
    assert result.status == "succeeded", result.error
    store = CaptureStore(tmp_path / "capture.duckdb")
    with store.read() as db:
        row = db.exchange(result.run_id, int(store.exchanges(result.run_id).exchange_id[0]))
        assert row is not None and row["request_body_encoding"] == "base64"
        downloaded = db.exchange_body(result.run_id, row["exchange_id"], "request")
    view = exchange_view(row)
    request = view.request_body
    assert (request.kind, request.size, request.content_type) == (
        "binary", len(sent), "application/octet-stream"
    )  # fmt: skip
    assert downloaded == sent.encode()  # the bytes sent, not their base64


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


def _open(tree, node_id, start=0):
    """What the browser does when a node (or its "show more" line) is clicked."""
    tree.request = orjson.dumps([node_id, start]).decode()
    assert tree.request == ""  # handled, ready for the next click
    return tree.nodes[node_id]


def test_a_json_tree_sends_a_node_only_when_it_opens():
    value = {"items": [{"id": i, "tags": ["a"]} for i in range(CHILDREN_SHOWN * 2 + 5)], "n": 1}
    tree = json_tree(value, "body")
    assert list(tree.nodes) == ["[]"]  # the first level only
    assert tree.nodes["[]"]["entries"] == [
        {"key": "items", "preview": "[205 items]", "id": '["items"]'},
        {"key": "n", "preview": "1", "id": None},
    ]
    items = _open(tree, '["items"]')
    assert (len(items["entries"]), items["total"]) == (CHILDREN_SHOWN, 205)
    assert items["entries"][0] == {"key": "[0]", "preview": "{2 keys}", "id": '["items",0]'}
    items = _open(tree, '["items"]', CHILDREN_SHOWN)  # "show more"
    assert [e["key"] for e in items["entries"][-2:]] == ["[198]", "[199]"]
    first = _open(tree, '["items",0]')
    assert first["entries"] == [
        {"key": "id", "preview": "0", "id": None},
        {"key": "tags", "preview": "[1 item]", "id": '["items",0,"tags"]'},
    ]
    assert len(orjson.dumps(tree.nodes)) < 20_000  # previews, not the value


def test_a_long_string_is_cut_in_the_tree_and_a_scalar_body_is_one_line():
    tree = json_tree({"padding": "p" * 100_000}, "body")
    shown = tree.nodes["[]"]["entries"][0]["preview"]
    assert shown.endswith(f"… ({100_000:,} characters)") and len(shown) < 400
    assert json_tree(42).nodes["[]"]["entries"] == [{"key": "value", "preview": "42", "id": None}]


def test_status_classes_and_formats():
    assert [status_class(s) for s in (200, 302, 404, 429, 503, None, float("nan"))] == [
        "2xx", "3xx", "4xx", "429", "5xx", "no response", "no response",
    ]  # fmt: skip
    assert [
        format_ms(v) for v in (0, 0.42, 3.25, 12.4, 999.6, 1234, 59_996, 120_000, 125_000, None)
    ] == ["0 ms", "0.42 ms", "3.2 ms", "12 ms", "1.00 s", "1.23 s", "1 min", "2 min",
          "2 min 5 s", ""]  # fmt: skip
    assert [format_count(n, "error") for n in (0, 1, 2, 12_400, None)] == [
        "0 errors", "1 error", "2 errors", "12,400 errors", "0 errors",
    ]  # fmt: skip
    assert [format_bytes(v) for v in (512, 2048, 5 * 1024**2)] == ["512 B", "2.0 KB", "5.0 MB"]
