"""The JSON Schema of the plan format, for editors (`orchestra schema`)."""

from __future__ import annotations

from typing import Any

from orchestra.plan._models import Plan


def plan_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) describing a plan file."""
    schema = Plan.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Orchestra plan"
    return schema
