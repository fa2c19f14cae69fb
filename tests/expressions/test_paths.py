"""The walk completion makes through a sample value (``orchestra.expressions._paths``)."""

from __future__ import annotations

from orchestra.expressions import key_names, path_segments, value_at

BODY = {"items": [{"id": 1, "owner": {"login": "a"}}], "total-count": 1}


def test_segments_keep_each_names_brackets():
    assert path_segments("response.body.items[0][*]") == [
        ("response", []),
        ("body", []),
        ("items", ["0", "*"]),
    ]


def test_value_at_follows_indexes_and_projections():
    assert value_at(BODY, path_segments("items[0].owner")) == {"login": "a"}
    assert value_at(BODY, path_segments("items[].owner")) == {"login": "a"}
    assert value_at(BODY, path_segments("items[-1].id")) == 1
    assert value_at(BODY, path_segments("items[5].id")) is None
    assert value_at(BODY, path_segments("missing.x")) is None


def test_key_names_quote_what_jmespath_cannot_write_bare():
    assert key_names(BODY) == ["items", '"total-count"']
    assert key_names([1, 2]) == []
