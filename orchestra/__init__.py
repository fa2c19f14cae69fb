"""Orchestra: author, debug, capture and run declarative API flows.

>>> import orchestra
>>> result = orchestra.run("plan.json", config={"base_url": "http://127.0.0.1:8765"})
>>> result.status
<RunStatus.SUCCEEDED: 'succeeded'>
>>> orchestra.CaptureStore("orchestra.duckdb").exchanges(result.run_id)
"""

from orchestra._run import arun, run
from orchestra.builder import Flow
from orchestra.capture import CaptureStore
from orchestra.engine import (
    ContextStore,
    InMemoryContextStore,
    Record,
    Runner,
    RunResult,
    StepCall,
    StepHook,
)
from orchestra.errors import (
    AbortError,
    AuthError,
    CircuitOpenError,
    ConfigError,
    ExpectationFailed,
    ExpressionError,
    ExpressionSyntaxError,
    HTTPStatusError,
    LimitExceeded,
    OrchestraError,
    PlanError,
    RateLimitExceeded,
    RequestError,
    RunError,
    TemplateError,
    TooManyRedirects,
)
from orchestra.plan import CompiledPlan, Plan, load_plan, plan_json_schema
from orchestra.types import RunStatus, StepStatus

__version__ = "0.1.0"


def load_ipython_extension(ipython) -> None:
    """``%load_ext orchestra``: register the ``%%flow`` / ``%flow`` magics (IPython only)."""
    from orchestra.notebook import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    """``%unload_ext orchestra``."""
    from orchestra.notebook import unload_ipython_extension as unload

    unload(ipython)


__all__ = [
    "AbortError",
    "AuthError",
    "CaptureStore",
    "CircuitOpenError",
    "CompiledPlan",
    "ConfigError",
    "ContextStore",
    "ExpectationFailed",
    "ExpressionError",
    "ExpressionSyntaxError",
    "Flow",
    "HTTPStatusError",
    "InMemoryContextStore",
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
    "TooManyRedirects",
    "__version__",
    "arun",
    "load_plan",
    "plan_json_schema",
    "run",
]
