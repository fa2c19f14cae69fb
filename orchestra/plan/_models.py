"""Pydantic models of the plan format (SPEC §2): a superset of seed 002.

The models only describe and validate shapes. Expressions are compiled by
:mod:`orchestra.plan._compiled` after validation, so the models stay plain data
that serialises back to the JSON a user wrote (``model_dump(by_alias=True,
exclude_unset=True)``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

STEP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

# Fields of SPEC §2 that later issues implement. They are recognised so the user
# gets "not supported yet" instead of "unknown field".
_NOT_YET_STEP_FIELDS = {
    "compensate": "saga compensation",
    "parallel": "parallel steps",
    "choice": "choice steps",
    "otherwise": "choice steps",
}
_NOT_YET_PLAN_FIELDS = {"circuit_breaker": "circuit breakers"}
_NOT_YET_AUTH_TYPES = {
    "oauth2_client_credentials": "OAuth2 client credentials",
    "oauth2_refresh_token": "OAuth2 refresh tokens",
    "flow": "auth flows",
}


def _reject_not_yet(data: Any, table: dict[str, str]) -> None:
    if isinstance(data, dict):
        for key, feature in table.items():
            if key in data:
                raise PydanticCustomError(
                    "not_supported_yet",
                    "'{field}' ({feature}) is not supported yet in this version of Orchestra",
                    {"field": key, "feature": feature},
                )


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=False)


class SecretRef(_Model):
    """A value read from the environment at run time: ``{"env": "NAME"}``. Always secret."""

    env: str = Field(description="Name of the environment variable holding the value.")


class Retry(_Model):
    """How a failed request is retried (seed 002 "Retry Logic")."""

    max_attempts: int = Field(3, ge=1, le=100, description="Attempts in total, first included.")
    backoff: Literal["fibonacci", "exponential", "constant"] = Field(
        "fibonacci", description="fibonacci: 1,1,2,3,5,8... times base_seconds (seed 002)."
    )
    base_seconds: float = Field(1.0, ge=0, description="Unit of the backoff sequence.")
    max_backoff_seconds: float | None = Field(
        None, ge=0, description="Cap of one wait; defaults to limits.max_backoff_seconds (60)."
    )
    jitter: float = Field(0.2, ge=0, le=1, description="± fraction of random jitter per wait.")
    on_status: list[int] = Field(
        default_factory=lambda: [429, 500, 502, 503, 504],
        description="Statuses that are retried.",
    )
    on_transport_error: bool = Field(True, description="Retry connection errors and timeouts.")


class Expect(_Model):
    """Assertions on each response of the step; a failure fails the step (exit 1)."""

    status: list[int] | None = Field(None, description="Allowed status codes.")
    that: list[str] = Field(
        default_factory=list, description="JMESPath predicates over the scope that must be true."
    )
    body_schema: dict[str, Any] | None = Field(None, description="JSON Schema for response.body.")

    @field_validator("status", mode="before")
    @classmethod
    def _single_status(cls, value: Any) -> Any:
        return [value] if isinstance(value, int) else value

    @field_validator("body_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            import jsonschema

            try:
                jsonschema.validators.validator_for(value).check_schema(value)
            except jsonschema.SchemaError as error:
                raise PydanticCustomError(
                    "bad_schema", "not a valid JSON Schema: {reason}", {"reason": error.message}
                ) from None
        return value

    @field_validator("that", mode="before")
    @classmethod
    def _single_predicate(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Limits(_Model):
    """Execution limits (seed 002 defaults)."""

    max_loops: int = Field(1000, ge=1, description="Pages of one paginated step.")
    max_nesting_depth: int = Field(5, ge=1, description="Levels of nested sub_steps.")
    max_execution_seconds: float = Field(300, gt=0, description="Wall time of a whole run.")
    max_response_bytes: int = Field(10 * 1024 * 1024, ge=1, description="Size of one body.")
    default_concurrency: int = Field(50, ge=1, description="Fanout concurrency default.")
    max_backoff_seconds: float = Field(60, ge=0, description="Cap of one retry wait.")


class RateLimit(_Model):
    """``requests`` per ``window_secs``, counted per scope (seed 002)."""

    requests: int = Field(ge=1)
    window_secs: float = Field(gt=0)
    scope: Literal["per_config", "per_endpoint", "global"] = "per_config"
    priority: int = Field(0, description="Rules are applied highest priority first.")
    max_wait: float = Field(60, ge=0, description="Fail instead of waiting longer than this.")


StringOrSecret = str | SecretRef


class BearerAuth(_Model):
    type: Literal["bearer"]
    token: StringOrSecret = Field(description="Template, or {env: NAME}.")


class BasicAuth(_Model):
    type: Literal["basic"]
    username: StringOrSecret
    password: StringOrSecret


class ApiKeyAuth(_Model):
    type: Literal["api_key"]
    name: str = Field("X-API-Key", description="Header or query parameter name.")
    value: StringOrSecret
    location: Literal["header", "query"] = Field("header", alias="in")


Auth = Annotated[BearerAuth | BasicAuth | ApiKeyAuth, Field(discriminator="type")]

ResponseFormat = Literal["auto", "json", "xml", "csv", "text", "binary"]


class HttpStep(_Model):
    """One HTTP request, optionally paginated (``while``) and fanned out (``sub_steps``)."""

    name: str | None = Field(None, description="Unique name; results are steps.<name>.")
    url: str = Field(description="URL template, e.g. {config.base_url}/users/{item.id}.")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    headers: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict, description="Query parameters.")
    body: Any = Field(None, description="JSON value with templates inside, or a template string.")
    form: dict[str, Any] | None = Field(None, description="Form-encoded body.")
    timeout_seconds: float = Field(30, gt=0)
    delay_seconds: float = Field(0, ge=0, description="Pause before each request of the step.")
    response_format: ResponseFormat = "auto"
    while_: str | None = Field(None, alias="while", description="Keep paginating while true.")
    break_when: str | None = None
    abort_when: str | None = None
    retry_when: str | None = None
    abort_on: list[int] = Field(default_factory=list)
    ignore_on: list[int] = Field(default_factory=list)
    retry: Retry = Field(default_factory=Retry)
    context_updates: dict[str, str] = Field(default_factory=dict)
    extract: dict[str, str] = Field(default_factory=dict)
    emit: bool = Field(True, validation_alias="emit_to_kafka")
    sub_steps: list[SubStep] = Field(default_factory=list)
    expect: Expect | None = None
    on_error: Literal["abort", "continue"] = "abort"
    breakpoint: bool = Field(False, description="Pause here when debugging.")

    @model_validator(mode="before")
    @classmethod
    def _prepare(cls, data: Any) -> Any:
        _reject_not_yet(data, _NOT_YET_STEP_FIELDS)
        if isinstance(data, dict):
            if "emit_to_kafka" in data and "emit" in data:
                raise PydanticCustomError(
                    "duplicate_alias", "give either 'emit' or its alias 'emit_to_kafka', not both"
                )
            if "emit" in data:
                data = {**data, "emit_to_kafka": data["emit"]}
                del data["emit"]
            if isinstance(data.get("method"), str):
                data = {**data, "method": data["method"].upper()}
        return data

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str | None) -> str | None:
        if value is not None and not STEP_NAME.match(value):
            raise PydanticCustomError(
                "step_name",
                "step name {name!r} must start with a letter or '_' and hold only letters, "
                "digits, '_' and '-'",
                {"name": value},
            )
        return value


class SubStep(HttpStep):
    """A fanout step: runs once per item of ``iterate_over`` (or once, without it)."""

    iterate_over: str | None = Field(None, description="JMESPath over the parent scope.")
    concurrency: int | None = Field(None, ge=1, description="Parallel items (default 50).")
    fanout_emit_mode: Literal["record", "page"] = "record"


class Plan(_Model):
    """A whole plan: top-level settings and one ``step`` or a list of ``steps``."""

    key: str = Field(min_length=1, description="Identifier of the plan.")
    name: str | None = None
    description: str | None = None
    version: str | int | None = None
    integration: str | None = None
    config: dict[str, Any] = Field(
        default_factory=dict, description="Defaults, overridable at run time; {env: NAME} secret."
    )
    auth: Auth | None = None
    rate_limits: list[RateLimit] = Field(default_factory=list)
    limits: Limits = Field(default_factory=Limits)
    step: HttpStep | None = Field(None, description="One root step (seed 002).")
    steps: list[HttpStep] | None = Field(None, description="Ordered named steps (seed 000).")
    # Scheduling fields of seed 002: accepted and kept; Orchestra itself has no scheduler.
    wait_seconds: float | None = Field(None, description="Seed 002 schedule interval (kept).")
    enabled: bool | None = Field(None, description="Seed 002 schedule switch (kept).")

    @model_validator(mode="before")
    @classmethod
    def _not_yet(cls, data: Any) -> Any:
        _reject_not_yet(data, _NOT_YET_PLAN_FIELDS)
        return data

    @field_validator("auth", mode="before")
    @classmethod
    def _auth_not_yet(cls, value: Any) -> Any:
        if isinstance(value, dict):
            _reject_not_yet({value.get("type"): True}, _NOT_YET_AUTH_TYPES)
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

    def root_steps(self) -> list[HttpStep]:
        """The top-level steps, whichever form the plan uses."""
        return [self.step] if self.step is not None else list(self.steps or [])


HttpStep.model_rebuild()
SubStep.model_rebuild()
