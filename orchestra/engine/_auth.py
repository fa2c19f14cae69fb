"""Static auth (bearer, basic, api_key): the ``auth`` scope and request decoration."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestra.engine._config import resolve_secret
from orchestra.errors import ConfigError
from orchestra.expressions import compile_template, stringify
from orchestra.masking import Masker
from orchestra.plan import ApiKeyAuth, BasicAuth, BearerAuth, SecretRef


@dataclass(slots=True)
class ResolvedAuth:
    """What a request gets from auth: the scope values and the header/param to add."""

    scope: dict[str, Any] = field(default_factory=dict)
    header: tuple[str, str] | None = None
    param: tuple[str, str] | None = None

    def apply(self, headers: dict[str, str], params: dict[str, Any]) -> None:
        """Add the credential unless the step sets that header/param itself."""
        if self.header and not any(k.lower() == self.header[0].lower() for k in headers):
            headers[self.header[0]] = self.header[1]
        if self.param and self.param[0] not in params:
            params[self.param[0]] = self.param[1]


def _value(raw: Any, where: str, scope: Mapping[str, Any], masker: Masker, environ) -> str:
    if isinstance(raw, SecretRef):
        raw = {"env": raw.env}
    value = resolve_secret(raw, where=where, masker=masker, environ=environ)
    if not isinstance(raw, Mapping):  # a template such as "{config.token}"
        rendered = compile_template(str(value), path=where).render(scope)
        if rendered is None:
            raise ConfigError(
                f'{where}: {value!r} is null; give the value in config or as {{"env": NAME}}'
            )
        value = stringify(rendered)
    masker.add(value)
    return value


def resolve_auth(
    auth: BearerAuth | BasicAuth | ApiKeyAuth | None,
    scope: Mapping[str, Any],
    masker: Masker,
    environ: Mapping[str, str],
) -> ResolvedAuth:
    """Resolve the plan's auth block once per run; every credential becomes a secret."""
    if auth is None:
        return ResolvedAuth()
    if isinstance(auth, BearerAuth):
        token = _value(auth.token, "auth.token", scope, masker, environ)
        return ResolvedAuth(
            scope={"type": "bearer", "token": token}, header=("Authorization", f"Bearer {token}")
        )
    if isinstance(auth, BasicAuth):
        user = _value(auth.username, "auth.username", scope, masker, environ)
        password = _value(auth.password, "auth.password", scope, masker, environ)
        encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
        masker.add(encoded)
        return ResolvedAuth(
            scope={"type": "basic", "username": user, "password": password, "token": encoded},
            header=("Authorization", f"Basic {encoded}"),
        )
    value = _value(auth.value, "auth.value", scope, masker, environ)
    resolved = ResolvedAuth(scope={"type": "api_key", "name": auth.name, "token": value})
    if auth.location == "header":
        resolved.header = (auth.name, value)
    else:
        resolved.param = (auth.name, value)
    return resolved
