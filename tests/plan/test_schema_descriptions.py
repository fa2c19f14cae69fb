"""Every field of the plan's JSON Schema says what it does (the builder's help, editors' hover)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from orchestra.plan import plan_json_schema


def properties(node: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    """Every (model.field, schema) of a schema, nested inline objects included."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for key, prop in (node.get("properties") or {}).items():
            found.append((f"{where}.{key}", prop))
            found.extend(properties(prop, f"{where}.{key}"))
        for key in ("items", "additionalProperties"):
            found.extend(properties(node.get(key), where))
        for option in node.get("anyOf", []) + node.get("oneOf", []):
            found.extend(properties(option, where))
    return found


def test_every_field_of_the_plan_schema_has_a_description() -> None:
    schema = plan_json_schema()
    fields = properties(schema, "Plan")
    for name, model in schema["$defs"].items():
        fields.extend(properties(model, name))
    assert len(fields) > 200  # the walk sees the whole format
    missing = [name for name, prop in fields if not str(prop.get("description", "")).strip()]
    assert missing == [], f"fields without description=: {missing}"


def test_orchestra_schema_prints_the_descriptions() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "orchestra", "schema"], capture_output=True, text=True, check=True
    ).stdout
    printed = json.loads(out)
    timeout = printed["$defs"]["HttpStep"]["properties"]["timeout_seconds"]
    assert "default 30" in timeout["description"]
