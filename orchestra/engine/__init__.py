"""The async engine: runs compiled plans over one shared httpx client, emitting events."""

from orchestra.engine._breaker import Breakers
from orchestra.engine._config import is_secret_ref
from orchestra.engine._context_store import (
    ContextStore,
    InMemoryContextStore,
    config_fingerprint,
    persistent_values,
)
from orchestra.engine._hooks import StepCall, StepHook
from orchestra.engine._result import Assertion, Record, RunResult, StepSummary
from orchestra.engine._runner import Runner, new_run_id
from orchestra.engine._step import StepOutcome
from orchestra.engine._sync import arun, run, run_coroutine
from orchestra.engine._transport import (
    BodyTooLarge,
    DirectTransport,
    RawResponse,
    default_transport,
)
from orchestra.engine._transports import register_transport, transport_names

__all__ = [
    "Assertion",
    "BodyTooLarge",
    "Breakers",
    "ContextStore",
    "DirectTransport",
    "InMemoryContextStore",
    "RawResponse",
    "Record",
    "RunResult",
    "Runner",
    "StepCall",
    "StepHook",
    "StepOutcome",
    "StepSummary",
    "arun",
    "config_fingerprint",
    "default_transport",
    "is_secret_ref",
    "new_run_id",
    "persistent_values",
    "register_transport",
    "run",
    "run_coroutine",
    "transport_names",
]
