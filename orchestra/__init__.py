"""Orchestra: author, debug, capture and run declarative API flows.

>>> import orchestra
>>> result = orchestra.run("plan.json", config={"base_url": "http://127.0.0.1:8765"})
>>> result.status
<RunStatus.SUCCEEDED: 'succeeded'>
>>> orchestra.CaptureStore("orchestra.duckdb").exchanges(result.run_id)
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from orchestra._version import __version__
from orchestra.builder import Flow
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
from orchestra.plan import CompiledPlan, Plan, ReadCaps, load_plan, plan_json_schema
from orchestra.types import RunStatus, StepStatus

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and import-linter
    from orchestra._run import arun, run
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

# Names whose modules load the engine's transport (aiohttp, httpx) or capture
# (DuckDB, pandas, pyarrow): imported on first use (PEP 562), so that
# `import orchestra.plan` stays as light as the plan format itself.
_LAZY_EXPORTS = {
    "arun": "orchestra._run",
    "run": "orchestra._run",
    "CaptureStore": "orchestra.capture",
    "ContextStore": "orchestra.engine",
    "InMemoryContextStore": "orchestra.engine",
    "Record": "orchestra.engine",
    "Runner": "orchestra.engine",
    "RunResult": "orchestra.engine",
    "StepCall": "orchestra.engine",
    "StepHook": "orchestra.engine",
}


if not TYPE_CHECKING:  # hidden from type checkers, which would take any name as valid

    def __getattr__(name: str) -> Any:
        module = _LAZY_EXPORTS.get(name)
        if module is None:
            # `import orchestra; orchestra.capture…` worked while the root imported
            # everything: a subpackage is still reachable as an attribute.
            if importlib.util.find_spec(f"{__name__}.{name}") is None:
                raise AttributeError(f"module 'orchestra' has no attribute {name!r}")
            return importlib.import_module(f"{__name__}.{name}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later lookups find it without coming here
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY_EXPORTS})


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext orchestra``: register the ``%%flow`` / ``%flow`` magics (IPython only)."""
    from orchestra.notebook import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
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
    "ReadCaps",
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
