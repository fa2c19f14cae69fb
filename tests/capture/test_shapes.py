"""Shapes compared by JSON kind, on structures DuckDB's ``json_group_structure`` infers."""

from __future__ import annotations

from typing import Any

import duckdb
import orjson
import pytest

from orchestra.capture._shapes import json_kind, leaves, shape_changes


def structure(*records: Any) -> Any:
    """What DuckDB infers over ``records`` (the query the capture reader runs per step)."""
    texts = [orjson.dumps(record).decode() for record in records]
    with duckdb.connect() as con:
        row = con.execute(
            "SELECT CAST(json_group_structure(v::JSON) AS VARCHAR) FROM unnest(?) AS t(v)", [texts]
        ).fetchone()
    assert row is not None
    return orjson.loads(row[0])


def changes(before: list[Any], after: list[Any]) -> tuple[dict, dict, dict]:
    found = shape_changes(structure(*before), structure(*after))
    return found.appeared, found.vanished, found.changed


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ([{"n": 1}], [{"n": -1}]),  # UBIGINT -> BIGINT
        ([{"n": 1}], [{"n": 1}, {"n": -1}]),  # UBIGINT -> HUGEINT
        ([{"n": 1}], [{"n": 1.5}]),  # integer -> number: one JSON number
        ([{"next": None}], [{"next": "abc"}]),  # only null, then a value
        ([{"next": "abc"}], [{"next": None}]),
        ([{"xs": []}], [{"xs": [{"id": 1, "tags": ["x"]}]}]),  # empty list, then objects
        ([{"xs": [{"id": 1}]}], [{"xs": []}]),
        ([{"o": None}], [{"o": {"a": {"b": 1}}}]),  # null, then a nested object
        ([{"o": {"a": None}}], [{"o": {"a": [1, 2]}}]),
    ],
)
def test_the_same_json_kinds_are_no_change(before: list[Any], after: list[Any]) -> None:
    assert structure(*before) != structure(*after)  # DuckDB's names do differ
    assert changes(before, after) == ({}, {}, {})


def test_real_changes_are_named_by_kind() -> None:
    assert changes([{"id": 1}], [{"id": "1"}]) == ({}, {}, {"id": ("integer", "string")})
    assert changes([{"ok": True}], [{"ok": "yes"}]) == ({}, {}, {"ok": ("boolean", "string")})
    assert changes([{"o": {"a": 1}}], [{"o": [1]}]) == ({}, {}, {"o": ("object", "array")})
    assert changes([{"v": 1}], [{"v": 1}, {"v": "x"}]) == ({}, {}, {"v": ("integer", "mixed")})
    assert changes([{"xs": [{"id": 1}]}], [{"xs": [{"id": "a"}]}]) == (
        {}, {}, {"xs[].id": ("integer", "string")}
    )  # fmt: skip


def test_fields_that_appear_or_vanish_are_listed_per_leaf() -> None:
    appeared, vanished, changed = changes(
        [{"a": 1, "old": {"x": "s", "y": [True]}}],
        [{"a": 1, "new": {"p": 1.5}, "empty": None}],
    )
    assert appeared == {"new.p": "number", "empty": "null"}  # a new key, even if only null
    assert vanished == {"old.x": "string", "old.y[]": "boolean"}
    assert changed == {}


def test_kinds_and_leaves() -> None:
    assert [json_kind(t) for t in ("UBIGINT", "HUGEINT", "DOUBLE", "VARCHAR", "BOOLEAN",
                                   "NULL", "JSON")] == [
        "integer", "integer", "number", "string", "boolean", "null", "mixed"
    ]  # fmt: skip
    assert leaves({"a": {"b": ["VARCHAR"]}, "c": ["NULL"]}) == {"a.b[]": "string", "c[]": "null"}
