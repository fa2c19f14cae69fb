"""Building blocks shared by every plan model: the strict base class, secret
references, the retry policy and response expectations."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

STEP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
"""What a step name may hold: it is used in ``steps.<name>`` and in dotted step paths."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=False)


def check_step_name(value: str | None) -> str | None:
    """Validator body shared by every model with a step ``name``."""
    if value is not None and not STEP_NAME.match(value):
        raise PydanticCustomError(
            "step_name",
            "step name '{name}' must start with a letter or '_' and hold only letters, "
            "digits, '_' and '-'",
            {"name": value},
        )
    return value


class SecretRef(_Model):
    """A value read from the environment at run time: ``{"env": "NAME"}``. Always secret."""

    env: str = Field(description="Name of the environment variable holding the value.")


StringOrSecret = str | SecretRef


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
