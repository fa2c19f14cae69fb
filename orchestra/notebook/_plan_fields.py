"""Which plan fields (and which values) are valid at a place in a ``%%flow`` cell.

Read from the plan models' own JSON Schema (:func:`orchestra.plan.plan_json_schema`),
so completion offers exactly what the loader accepts: a path of keys from the
cell's top (``["sub_steps", "paginate"]``) leads through ``$ref``, unions and
arrays to the object schemas that may stand there. The keys already written
beside the cursor narrow a union: a mapping holding ``parallel`` is a parallel
group, and ``type: offset`` picks the ``offset`` preset of ``paginate`` (or the
matching member of ``auth``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from orchestra.plan import plan_json_schema

Schema = dict[str, Any]

_STEP_REFS = ("HttpStep", "ParallelStep", "ChoiceStep")


@functools.cache
def _schema() -> Schema:
    return plan_json_schema()


def _resolve(schema: Schema) -> Schema:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _schema()["$defs"][ref.removeprefix("#/$defs/")]
    return schema


def _objects(schema: Schema) -> list[Schema]:
    """The object schemas a value may be: unions expanded, arrays read through."""
    schema = _resolve(schema)
    found: list[Schema] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for member in schema.get(key, ()):
            found.extend(_objects(member))
    if isinstance(schema.get("items"), dict):
        found.extend(_objects(schema["items"]))
    if "properties" in schema:
        found.append(schema)
    return found


def _roots(whole_plan: bool) -> list[Schema]:
    """A cell holding ``steps:`` is a plan; any other cell is a step or plan settings."""
    plan = _schema()
    if whole_plan:
        return [plan]
    return [plan, *(_schema()["$defs"][name] for name in _STEP_REFS)]


def _literal(schema: Schema) -> list[Any]:
    schema = _resolve(schema)
    if "const" in schema:
        return [schema["const"]]
    values = list(schema.get("enum", ()))
    for key in ("anyOf", "oneOf"):
        for member in schema.get(key, ()):
            values.extend(_literal(member))
    return values


def _narrow(objects: list[Schema], siblings: Mapping[str, str]) -> list[Schema]:
    """Keep the union members that accept every key written beside the cursor."""
    kept = [o for o in objects if all(key in o["properties"] for key in siblings)]
    kind = siblings.get("type")
    if kind:
        typed = [o for o in kept if kind in _literal(o["properties"].get("type", {}))]
        kept = typed or kept
    return kept or objects


def schemas_at(path: Sequence[str], *, whole_plan: bool) -> list[Schema]:
    """The object schemas of the mapping reached by ``path`` (keys from the cell's top)."""
    objects = _roots(whole_plan)
    for key in path:
        objects = [
            member
            for schema in objects
            if key in schema["properties"]
            for member in _objects(schema["properties"][key])
        ]
    return objects


def fields_at(
    path: Sequence[str], siblings: Mapping[str, str], *, whole_plan: bool
) -> list[tuple[str, str]]:
    """``(field, description)`` valid in the mapping at ``path``, minus those written."""
    objects = _narrow(schemas_at(path, whole_plan=whole_plan), siblings)
    seen: dict[str, str] = {}
    for schema in objects:
        for name, prop in schema["properties"].items():
            if name not in siblings and name not in seen:
                seen[name] = str(_resolve(prop).get("description") or prop.get("description") or "")
    return list(seen.items())


def values_at(
    path: Sequence[str], key: str, siblings: Mapping[str, str], *, whole_plan: bool
) -> list[str]:
    """The literal values (enum, const) the field ``key`` of the mapping at ``path`` takes."""
    objects = _narrow(schemas_at(path, whole_plan=whole_plan), siblings)
    values: list[str] = []
    for schema in objects:
        prop = schema["properties"].get(key)
        if prop is not None:
            values.extend(str(v) for v in _literal(prop) if v is not None)
    return list(dict.fromkeys(values))
