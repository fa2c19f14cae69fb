"""Pydantic models of the plan format (README, "The plan format"): a superset of seed 002.

The models only describe and validate shapes. Expressions are compiled and
references checked by :mod:`orchestra.plan._compiled` after validation, so the
models stay plain data that serialises back to the JSON a user wrote
(``model_dump(by_alias=True, exclude_unset=True)``).

Steps live in :mod:`orchestra.plan._steps`, auth in
:mod:`orchestra.plan._auth_models`; this module holds the top level and
re-exports every model.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from orchestra.plan._auth_models import (
    ApiKeyAuth,
    Auth,
    BasicAuth,
    BearerAuth,
    FlowAuth,
    OAuth2ClientCredentials,
    OAuth2RefreshToken,
    StaticAuth,
    TokenAuth,
)
from orchestra.plan._base import STEP_NAME, Expect, Retry, SecretRef, StringOrSecret, _Model
from orchestra.plan._steps import (
    Branch,
    ChoiceStep,
    Compensation,
    HttpStep,
    ParallelStep,
    RequestSpec,
    ResponseFormat,
    Step,
    SubStep,
)

__all__ = [
    "STEP_NAME",
    "ApiKeyAuth",
    "Auth",
    "BasicAuth",
    "BearerAuth",
    "Branch",
    "ChoiceStep",
    "CircuitBreaker",
    "Compensation",
    "Expect",
    "FlowAuth",
    "HttpStep",
    "Limits",
    "OAuth2ClientCredentials",
    "OAuth2RefreshToken",
    "ParallelStep",
    "Plan",
    "RateLimit",
    "RequestSpec",
    "ResponseFormat",
    "Retry",
    "SecretRef",
    "StaticAuth",
    "Step",
    "StringOrSecret",
    "SubStep",
    "TokenAuth",
]

CONTEXT_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

MAX_CONTEXT_FIELD_BYTES = 64 * 1024
MAX_CONTEXT_TOTAL_BYTES = 1024 * 1024


class Limits(_Model):
    """Execution limits (seed 002 defaults)."""

    max_loops: int = Field(1000, ge=1, description="Pages of one paginated step.")
    max_nesting_depth: int = Field(
        5, ge=1, description="Levels of nested sub_steps, parallel groups and choice branches."
    )
    max_execution_seconds: float = Field(300, gt=0, description="Wall time of a whole run.")
    max_response_bytes: int = Field(10 * 1024 * 1024, ge=1, description="Size of one body.")
    default_concurrency: int = Field(50, ge=1, description="Fanout concurrency default.")
    max_backoff_seconds: float = Field(60, ge=0, description="Cap of one retry wait.")
    max_context_field_bytes: int = Field(
        MAX_CONTEXT_FIELD_BYTES, ge=1, description="JSON size of one persistent context field."
    )
    max_context_total_bytes: int = Field(
        MAX_CONTEXT_TOTAL_BYTES, ge=1, description="JSON size of all persistent context."
    )


class RateLimit(_Model):
    """``requests`` per ``window_secs``, counted per scope (seed 002)."""

    requests: int = Field(ge=1, description="Requests allowed in any one window.")
    window_secs: float = Field(gt=0, description="Length of the sliding window, in seconds.")
    scope: Literal["per_config", "per_endpoint", "global"] = Field(
        "per_config",
        description="per_config: one window for the run; per_endpoint: one per step URL "
        "template; global: one shared by every run in this process.",
    )
    priority: int = Field(0, description="Rules are applied highest priority first.")
    max_wait: float = Field(
        60, ge=0, description="Seconds: fail instead of waiting longer than this."
    )


class CircuitBreaker(_Model):
    """One breaker per host (seeds 003/004): closed → open → half-open → closed.

    *Closed*: requests pass; failures (``failure_statuses`` and, if
    ``count_transport_errors``, connection errors and timeouts) are counted in
    a sliding ``window_seconds``. ``failure_threshold`` failures in the window
    open the circuit. *Open*: every request to the host fails at once with
    ``CircuitOpenError`` until ``cooldown_seconds`` have passed. *Half-open*:
    exactly one request goes through as a probe (others still fail fast); its
    success closes the circuit, its failure opens it again for a new cool-down.
    """

    failure_threshold: int = Field(5, ge=1, description="Failures in the window that open it.")
    window_seconds: float = Field(60, gt=0, description="Sliding window for counting failures.")
    cooldown_seconds: float = Field(30, ge=0, description="Open time before the one probe.")
    failure_statuses: list[int] = Field(
        default_factory=lambda: [500, 502, 503, 504], description="Statuses counted as failures."
    )
    count_transport_errors: bool = Field(True, description="Count connection errors, timeouts.")


class Plan(_Model):
    """A whole plan: top-level settings and one ``step`` or a list of ``steps``.

    ``persistent_context`` names the ``context`` fields that outlive a run:
    when the runner has a context store, they are loaded before the run (per
    plan key and config fingerprint) and saved after a successful run, so an
    incremental sync can say ``since={context.last_sync_time}``. Each field's
    JSON may hold ``limits.max_context_field_bytes`` (64 KB) and all of them
    ``limits.max_context_total_bytes`` (1 MB), as in seed 002.
    """

    key: str = Field(min_length=1, description="Identifier of the plan.")
    name: str | None = Field(None, description="Human-readable name of the plan.")
    description: str | None = Field(None, description="What the plan does (free text).")
    version: str | int | None = Field(
        None, description="Version of the plan (string or number; kept, not interpreted)."
    )
    integration: str | None = Field(
        None, description="The integration or API the plan belongs to (free text, kept)."
    )
    config: dict[str, Any] = Field(
        default_factory=dict, description="Defaults, overridable at run time; {env: NAME} secret."
    )
    auth: Auth | None = Field(
        None,
        description="How every request authenticates: bearer, basic, api_key, "
        "oauth2_client_credentials, oauth2_refresh_token or flow (none by default).",
    )
    rate_limits: list[RateLimit] = Field(
        default_factory=list,
        description="Client-side rate rules (sliding windows of requests); none by default.",
    )
    limits: Limits = Field(
        default_factory=Limits,
        description="Safety limits of a run: pages, nesting, time, response size, backoff "
        "(seed 002 defaults).",
    )
    circuit_breaker: CircuitBreaker | None = Field(None, description="Per-host circuit breaker.")
    persistent_context: list[str] = Field(
        default_factory=list, description="context fields kept between runs (needs a store)."
    )
    step: HttpStep | None = Field(None, description="One root step (seed 002).")
    steps: list[Step] | None = Field(None, description="Ordered named steps (seed 000).")
    # Scheduling fields of seed 002: accepted and kept; Orchestra itself has no scheduler.
    wait_seconds: float | None = Field(None, description="Seed 002 schedule interval (kept).")
    enabled: bool | None = Field(None, description="Seed 002 schedule switch (kept).")

    @field_validator("persistent_context")
    @classmethod
    def _context_keys(cls, value: list[str]) -> list[str]:
        for key in value:
            if not CONTEXT_KEY.match(key):
                raise PydanticCustomError(
                    "context_key",
                    "persistent context field '{key}' must be an identifier "
                    "(letters, digits, '_') as it is used in context.<field>",
                    {"key": key},
                )
        duplicates = sorted({key for key in value if value.count(key) > 1})
        if duplicates:
            raise PydanticCustomError(
                "context_key",
                "persistent context field '{key}' is listed twice",
                {"key": duplicates[0]},
            )
        return value

    @model_validator(mode="after")
    def _one_root(self) -> Plan:
        if (self.step is None) == (self.steps is None):
            raise PydanticCustomError(
                "plan_root",
                "a plan needs exactly one of 'step' (one root step) or 'steps' (a list)",
            )
        if self.steps is not None and not self.steps:
            raise PydanticCustomError("plan_root", "'steps' is empty: add at least one step")
        return self

    def root_steps(self) -> list[HttpStep | ParallelStep | ChoiceStep]:
        """The top-level steps, whichever form the plan uses."""
        return [self.step] if self.step is not None else list(self.steps or [])
