"""Auth at run time: the ``auth`` scope and the credential added to each request.

Static auth (bearer, basic, api_key) resolves once per run into a
:class:`ResolvedAuth`. Token auth (OAuth2, auth flows) is a
:class:`~orchestra.engine._tokens.TokenAuth` that fetches, caches and refreshes
its token. The exchange sees either through the :class:`Authenticator`
protocol: ``prepare`` before building a request, ``apply`` to decorate it, and
``refresh_after_401`` when a request carrying the credential answers 401.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from orchestra.engine._config import resolve_secret
from orchestra.errors import ConfigError
from orchestra.expressions import stringify
from orchestra.masking import Masker
from orchestra.plan import ApiKeyAuth, BasicAuth, CompiledAuth, Credential, SecretRef

if TYPE_CHECKING:
    from orchestra.engine._context import RunContext


class Authenticator(Protocol):
    """What the exchange needs from auth."""

    scope: dict[str, Any]
    refreshable: bool

    async def prepare(self, run: RunContext) -> None:
        """Make sure a valid credential is at hand (fetch or refresh a token)."""

    def apply(self, headers: dict[str, str], params: dict[str, Any]) -> str | None:
        """Add the credential unless the step sets it; returns what was added."""

    async def refresh_after_401(self, run: RunContext, used: str) -> None:
        """The credential ``used`` was refused: get a new one (once for all waiters)."""

    def observe_auth_response(self, run: RunContext, step: Any, response: Any) -> None:
        """Register secrets of a token response before any event carries them."""


@dataclass(slots=True)
class ResolvedAuth:
    """Static auth: the scope values and the header/param to add to every request."""

    scope: dict[str, Any] = field(default_factory=dict)
    header: tuple[str, str] | None = None
    param: tuple[str, str] | None = None
    refreshable: bool = False

    async def prepare(self, run: RunContext) -> None:
        return None

    def apply(self, headers: dict[str, str], params: dict[str, Any]) -> str | None:
        """Add the credential unless the step sets that header/param itself."""
        added = None
        if self.header and not any(k.lower() == self.header[0].lower() for k in headers):
            headers[self.header[0]] = added = self.header[1]
        if self.param and self.param[0] not in params:
            params[self.param[0]] = added = self.param[1]
        return added

    async def refresh_after_401(self, run: RunContext, used: str) -> None:
        return None

    def observe_auth_response(self, run: RunContext, step: Any, response: Any) -> None:
        return None


def resolve_credential(
    value: Credential,
    where: str,
    scope: Mapping[str, Any],
    masker: Masker,
    environ: Mapping[str, str],
    *,
    secret: bool = True,
) -> str:
    """A credential's value: a secret from the environment or a rendered template.

    The value is registered with the masker before it is returned (identifiers
    such as ``client_id`` pass ``secret=False``; values from ``{"env": …}`` are
    secret whatever their role).
    """
    if isinstance(value, SecretRef):
        resolved = resolve_secret({"env": value.env}, where=where, masker=masker, environ=environ)
    else:
        rendered = value.render(scope)
        if rendered is None:
            raise ConfigError(
                f'{where}: {value.source!r} is null; give the value in config or as {{"env": NAME}}'
            )
        resolved = stringify(rendered)
    if secret and not isinstance(value, SecretRef):  # resolve_secret registered that one
        masker.add(resolved, source=where)
    return resolved


_IDENTIFIERS = frozenset({"client_id", "username"})  # not secrets: masking them mangles output


def resolve_credentials(
    auth: CompiledAuth, scope: Mapping[str, Any], masker: Masker, environ: Mapping[str, str]
) -> dict[str, str]:
    """Every credential of the auth block, resolved and registered as secret."""
    return {
        key: resolve_credential(
            value, f"auth.{key}", scope, masker, environ, secret=key not in _IDENTIFIERS
        )
        for key, value in auth.credentials.items()
    }


def resolve_static_auth(
    auth: CompiledAuth, scope: Mapping[str, Any], masker: Masker, environ: Mapping[str, str]
) -> ResolvedAuth:
    """Resolve a bearer, basic or api_key block once per run."""
    values = resolve_credentials(auth, scope, masker, environ)
    model = auth.model
    if isinstance(model, BasicAuth):
        user, password = values["username"], values["password"]
        encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
        masker.add(encoded)
        return ResolvedAuth(
            scope={"type": "basic", "username": user, "password": password, "token": encoded},
            header=("Authorization", f"Basic {encoded}"),
        )
    if isinstance(model, ApiKeyAuth):
        value = values["value"]
        resolved = ResolvedAuth(scope={"type": "api_key", "name": model.name, "token": value})
        if model.location == "header":
            resolved.header = (model.name, value)
        else:
            resolved.param = (model.name, value)
        return resolved
    token = values["token"]
    return ResolvedAuth(
        scope={"type": "bearer", "token": token}, header=("Authorization", f"Bearer {token}")
    )
