"""Response shapes compared by JSON kind, not by the storage type DuckDB infers.

``json_group_structure`` names the narrowest SQL type that holds every value it
saw: ``1`` is ``UBIGINT``, ``-1`` is ``BIGINT``, both together ``HUGEINT``; a
field that is null in every record is ``NULL`` and an empty list ``["NULL"]``.
Those names change with the values, not with the shape, so :func:`shape_changes`
maps each to a JSON kind before comparing:

* ``integer`` (every ``*INT*`` type) and ``number`` (``DOUBLE``, ``FLOAT``,
  ``DECIMAL``). They are one kind for the comparison: ``1`` becoming ``1.5`` is
  the same JSON type and no change; the report still names the kind it saw.
* ``string`` (``VARCHAR`` and the other text-like types), ``boolean``,
  ``object`` (a dict), ``array`` (a list, compared by its element).
* ``mixed`` (``JSON``): values of several kinds in one run, or an object that is
  always empty. It equals only ``mixed``.
* ``null`` (``NULL``): only nulls were seen, so the kind is unknown; it matches
  every kind, on either side and at any depth (an empty list's element too). A
  field that was always null and now has a value did not appear or change.

A field is ``appeared`` when no record of run A has it and some record of run B
does (and ``vanished`` the other way round); it is reported per leaf path
(``items[].id``) with its kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NULL = "null"
MIXED = "mixed"
_NUMBERS = frozenset({"integer", "number"})
_STRINGS = frozenset({"VARCHAR", "UUID", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE",
                      "BLOB", "BIT", "INTERVAL"})  # fmt: skip


@dataclass
class ShapeChanges:
    """Leaf paths that appeared (kind in B), vanished (kind in A) or changed kind (A, B)."""

    appeared: dict[str, str] = field(default_factory=dict)
    vanished: dict[str, str] = field(default_factory=dict)
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)


def json_kind(duckdb_type: str) -> str:
    """The JSON kind of a type name ``json_group_structure`` gives for a scalar."""
    name = duckdb_type.upper()
    if name == "NULL":
        return NULL
    if name == "JSON":
        return MIXED
    if name == "BOOLEAN":
        return "boolean"
    if "INT" in name:
        return "integer"
    if name in ("DOUBLE", "FLOAT", "REAL") or name.startswith("DECIMAL"):
        return "number"
    if name in _STRINGS:
        return "string"
    return name.lower()


def kind(shape: Any) -> str:
    """The JSON kind at the top of an inferred structure."""
    if isinstance(shape, dict):
        return "object" if shape else MIXED
    if isinstance(shape, list):
        return "array"
    return json_kind(str(shape))


def _unknown(shape: Any) -> bool:
    return not isinstance(shape, (dict, list)) and kind(shape) == NULL


def _same_kind(one: str, two: str) -> bool:
    return one == two or (one in _NUMBERS and two in _NUMBERS)


def leaves(shape: Any, prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": ["VARCHAR"]}}`` -> ``{"a.b[]": "string"}``: a path per leaf kind."""
    if isinstance(shape, dict) and shape:
        flat: dict[str, str] = {}
        for name, inner in shape.items():
            flat.update(leaves(inner, f"{prefix}.{name}" if prefix else name))
        return flat
    if isinstance(shape, list):
        return leaves(shape[0] if shape else "NULL", f"{prefix}[]")
    return {prefix or "(value)": kind(shape)}


def shape_changes(shape_a: Any, shape_b: Any) -> ShapeChanges:
    """What differs between two inferred structures of one step's records, by JSON kind."""
    changes = ShapeChanges()
    _compare(shape_a, shape_b, "", changes)
    return changes


def _compare(one: Any, two: Any, path: str, changes: ShapeChanges) -> None:
    if _unknown(one) or _unknown(two):
        return  # only nulls on one side: any kind matches
    if isinstance(one, dict) and one and isinstance(two, dict) and two:
        for name in [*one, *(n for n in two if n not in one)]:
            inner = f"{path}.{name}" if path else name
            if name not in two:
                changes.vanished.update(leaves(one[name], inner))
            elif name not in one:
                changes.appeared.update(leaves(two[name], inner))
            else:
                _compare(one[name], two[name], inner, changes)
        return
    if isinstance(one, list) and isinstance(two, list):
        _compare(one[0] if one else "NULL", two[0] if two else "NULL", f"{path}[]", changes)
        return
    kind_a, kind_b = kind(one), kind(two)
    if not _same_kind(kind_a, kind_b):
        changes.changed[path or "(value)"] = (kind_a, kind_b)
