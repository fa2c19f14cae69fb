"""The plan format: pydantic models, loading from JSON/YAML, compiling, JSON Schema."""

from orchestra.plan._compiled import CompiledPlan, CompiledStep, compile_plan
from orchestra.plan._loader import PlanSource, load_plan, parse_text, validate_plan_data
from orchestra.plan._models import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    Expect,
    HttpStep,
    Limits,
    Plan,
    RateLimit,
    Retry,
    SecretRef,
    SubStep,
)
from orchestra.plan._schema import plan_json_schema

__all__ = [
    "ApiKeyAuth",
    "BasicAuth",
    "BearerAuth",
    "CompiledPlan",
    "CompiledStep",
    "Expect",
    "HttpStep",
    "Limits",
    "Plan",
    "PlanSource",
    "RateLimit",
    "Retry",
    "SecretRef",
    "SubStep",
    "compile_plan",
    "load_plan",
    "parse_text",
    "plan_json_schema",
    "validate_plan_data",
]
