"""Orchestra: author, debug, capture and run declarative API flows.

>>> import orchestra
>>> result = orchestra.run("plan.json", config={"base_url": "http://127.0.0.1:8765"})
>>> result.status
<RunStatus.SUCCEEDED: 'succeeded'>
"""

from orchestra.engine import Record, Runner, RunResult, StepCall, StepHook, arun, run
from orchestra.errors import (
    AbortError,
    ConfigError,
    ExpectationFailed,
    ExpressionSyntaxError,
    HTTPStatusError,
    LimitExceeded,
    OrchestraError,
    PlanError,
    RateLimitExceeded,
    RequestError,
    RunError,
    TemplateError,
)
from orchestra.plan import CompiledPlan, Plan, load_plan, plan_json_schema
from orchestra.types import RunStatus, StepStatus

__version__ = "0.1.0"

__all__ = [
    "AbortError",
    "CompiledPlan",
    "ConfigError",
    "ExpectationFailed",
    "ExpressionSyntaxError",
    "HTTPStatusError",
    "LimitExceeded",
    "OrchestraError",
    "Plan",
    "PlanError",
    "RateLimitExceeded",
    "Record",
    "RequestError",
    "RunError",
    "RunResult",
    "RunStatus",
    "Runner",
    "StepCall",
    "StepHook",
    "StepStatus",
    "TemplateError",
    "__version__",
    "arun",
    "load_plan",
    "plan_json_schema",
    "run",
]
