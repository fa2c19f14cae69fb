"""The async engine: runs compiled plans over one shared httpx client, emitting events."""

from orchestra.engine._hooks import StepCall, StepHook
from orchestra.engine._result import Assertion, Record, RunResult, StepSummary
from orchestra.engine._runner import Runner, new_run_id
from orchestra.engine._step import StepOutcome
from orchestra.engine._sync import arun, run
from orchestra.engine._transport import default_transport

__all__ = [
    "Assertion",
    "Record",
    "RunResult",
    "Runner",
    "StepCall",
    "StepHook",
    "StepOutcome",
    "StepSummary",
    "arun",
    "default_transport",
    "new_run_id",
    "run",
]
