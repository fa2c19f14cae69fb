"""Auth models (seed 002 "Authentication Flow", Airbyte's authenticators).

Static: ``bearer``, ``basic``, ``api_key``. Token-based, fetched at run time,
cached for their lifetime minus a skew, shared by concurrent requests and
refreshed once when a request answers 401:

* ``oauth2_client_credentials`` — ``POST token_url`` with
  ``grant_type=client_credentials``;
* ``oauth2_refresh_token`` — ``POST token_url`` with
  ``grant_type=refresh_token`` (a rotated refresh token is kept);
* ``flow`` — an auth plan: ``steps`` run in order and ``token_path`` /
  ``expires_in_path`` (JMESPath over ``steps``, ``response`` — the last
  step's response — ``config`` and ``context``) give the token and its lifetime.

Credentials are templates (``"{config.client_id}"``) or ``{"env": "NAME"}``.
The token goes into ``header`` as ``"<prefix> <token>"`` and is ``{auth.token}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from orchestra.plan._base import Retry, StringOrSecret, _Model
from orchestra.plan._steps import HttpStep


class BearerAuth(_Model):
    type: Literal["bearer"] = Field(description="bearer: Authorization: Bearer <token>.")
    token: StringOrSecret = Field(description="Template, or {env: NAME}.")


class BasicAuth(_Model):
    type: Literal["basic"] = Field(description="basic: HTTP Basic with a user and password.")
    username: StringOrSecret = Field(description="User name: a template or {env: NAME}.")
    password: StringOrSecret = Field(description="Password: {env: NAME} or a template.")


class ApiKeyAuth(_Model):
    type: Literal["api_key"] = Field(description="api_key: a key in a header or parameter.")
    name: str = Field("X-API-Key", description="Header or query parameter name.")
    value: StringOrSecret = Field(description="The key: {env: NAME} or a template.")
    location: Literal["header", "query"] = Field(
        "header", alias="in", description="Where the key goes: header (default) or query."
    )


class _TokenAuth(_Model):
    """What every fetched-token auth shares: caching and how the token is sent."""

    expiry_skew_seconds: float = Field(
        30, ge=0, description="Refresh this long before expiry (at most half the lifetime)."
    )
    default_expires_in: float | None = Field(
        None, gt=0, description="Lifetime when the answer gives none (none: until a 401)."
    )
    header: str = Field("Authorization", description="Header that carries the token.")
    prefix: str = Field("Bearer", description='Header value is "<prefix> <token>" ("" for none).')


class _OAuth2(_TokenAuth):
    token_url: str = Field(description="Template, e.g. {config.base_url}/oauth/token.")
    client_id: StringOrSecret = Field(description="OAuth2 client id: a template or {env: NAME}.")
    client_secret: StringOrSecret = Field(
        description="OAuth2 client secret: {env: NAME} or a template."
    )
    scopes: list[str] = Field(default_factory=list, description="Sent space-separated.")
    client_auth: Literal["basic", "body"] = Field(
        "basic", description="basic: HTTP Basic header; body: client_id/secret in the form."
    )
    extra_params: dict[str, StringOrSecret] = Field(
        default_factory=dict, description="More form fields (audience, resource, …)."
    )
    token_path: str = Field("response.body.access_token", description="JMESPath to the token.")
    expires_in_path: str | None = Field(
        "response.body.expires_in", description="JMESPath to the lifetime in seconds."
    )
    timeout_seconds: float = Field(
        30, gt=0, description="Seconds to wait for the token endpoint (default 30)."
    )
    retry: Retry = Field(
        default_factory=Retry, description="How a failed token request is retried."
    )

    @field_validator("scopes", mode="before")
    @classmethod
    def _split_scopes(cls, value: Any) -> Any:
        return value.split() if isinstance(value, str) else value


class OAuth2ClientCredentials(_OAuth2):
    type: Literal["oauth2_client_credentials"] = Field(
        description="oauth2_client_credentials: POST token_url, grant_type=client_credentials."
    )


class OAuth2RefreshToken(_OAuth2):
    type: Literal["oauth2_refresh_token"] = Field(
        description="oauth2_refresh_token: POST token_url, grant_type=refresh_token."
    )
    refresh_token: StringOrSecret = Field(description="The long-lived refresh token.")
    refresh_token_path: str | None = Field(
        "response.body.refresh_token", description="Where a rotated refresh token is found."
    )


class FlowAuth(_TokenAuth):
    """An auth plan: its steps obtain the token (a login call, a custom token API)."""

    type: Literal["flow"] = Field(description="flow: run steps that obtain the token (token_path).")
    steps: list[HttpStep] = Field(min_length=1, description="Run in order, without auth.")
    token_path: str = Field(description="JMESPath over steps/response/config/context.")
    expires_in_path: str | None = Field(None, description="JMESPath to the lifetime in seconds.")


TokenAuth = OAuth2ClientCredentials | OAuth2RefreshToken | FlowAuth
StaticAuth = BearerAuth | BasicAuth | ApiKeyAuth

Auth = Annotated[
    BearerAuth | BasicAuth | ApiKeyAuth | OAuth2ClientCredentials | OAuth2RefreshToken | FlowAuth,
    Field(discriminator="type"),
]
