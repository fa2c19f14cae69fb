"""Fetched tokens: OAuth2 client credentials, OAuth2 refresh tokens, auth flows.

One :class:`TokenAuth` per run holds the token in memory:

* it is fetched on the first request that needs it and cached for its
  lifetime minus ``expiry_skew_seconds`` (at most half the lifetime), on the
  run's clock;
* concurrent requests share one fetch: they wait on one ``asyncio.Lock`` and
  find the fresh token when they get it — fifty requests, one token request;
  if that fetch fails, the requests that waited for it get its error instead
  of fetching again;
* a request whose token is refused with 401 triggers one refresh (shared in
  the same way: a request that finds the token already replaced just uses the
  new one) and is sent once more (``_exchange.py``).

Token requests run as steps under the path ``auth`` (``auth.<name>`` for a
flow), through the normal exchange path: they are captured like any request.
Every token and refresh token is registered with the run's masker *before*
the ``ResponseReceived`` event that carries it is emitted.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Mapping
from typing import Any

from orchestra.engine._auth import resolve_credential, resolve_credentials
from orchestra.engine._context import RunContext
from orchestra.engine._exchange import Exchange
from orchestra.engine._step import StepRunner
from orchestra.errors import AuthError, RunError
from orchestra.events import TokenRefreshed
from orchestra.masking import Masker, is_sensitive_param
from orchestra.plan import CompiledAuth, CompiledStep, OAuth2RefreshToken
from orchestra.plan import TokenAuth as TokenAuthModel


def _register_sensitive(value: Any, masker: Masker, key: str = "") -> None:
    """Register every string under a key named like a secret (``access_token`` …)."""
    if isinstance(value, Mapping):
        for child_key, child in value.items():
            _register_sensitive(child, masker, str(child_key))
    elif isinstance(value, list):
        for child in value:
            _register_sensitive(child, masker, key)
    elif isinstance(value, str) and key and is_sensitive_param(key) and not _describes(key):
        masker.add(value)


_DESCRIPTIVE_SUFFIXES = ("_type", "_expires_in", "_expiry", "_uri", "_url", "_hint")


def _describes(key: str) -> bool:
    """Keys that describe a token rather than hold one (``token_type: Bearer``)."""
    return key.lower().endswith(_DESCRIPTIVE_SUFFIXES)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None


class TokenAuth:
    """The run's token: fetch once, share, cache, refresh (see the module docs)."""

    refreshable = True

    def __init__(
        self,
        compiled: CompiledAuth,
        *,
        config: dict[str, Any],
        masker: Masker,
        environ: Mapping[str, str],
        clock: Callable[[], float] = time.monotonic,
    ):
        self.compiled = compiled
        self.model: TokenAuthModel = compiled.model  # type: ignore[assignment]
        self.masker = masker
        self.clock = clock
        self.scope: dict[str, Any] = {"type": compiled.type, "token": None}
        scope = {"config": config}
        self.values = resolve_credentials(compiled, scope, masker, environ)
        self.extra = {
            key: resolve_credential(value, f"auth.extra_params.{key}", scope, masker, environ)
            for key, value in compiled.extra_params.items()
        }
        self.token: str | None = None
        self.expires_at: float | None = None
        self.fetches = 0  # finished fetches (failed ones included)
        self._lock = asyncio.Lock()
        self._failure: AuthError | None = None
        self._fetch_steps: dict[str, Any] = {}  # steps.<name> of the fetch in progress

    # -- the Authenticator protocol --------------------------------------

    @property
    def credential(self) -> str | None:
        """The header value sent with requests, e.g. ``Bearer abc``."""
        if self.token is None:
            return None
        return f"{self.model.prefix} {self.token}".strip()

    def valid(self) -> bool:
        return self.token is not None and (
            self.expires_at is None or self.clock() < self.expires_at
        )

    async def prepare(self, run: RunContext) -> None:
        if self.valid():
            return
        seen = self.fetches
        async with self._lock:
            if self.valid():
                return
            self._raise_if_failed_meanwhile(seen)
            await self._fetch(run, "initial" if self.token is None else "expired")

    def apply(self, headers: dict[str, str], params: dict[str, Any]) -> str | None:
        name = self.model.header
        credential = self.credential
        if credential is None or any(k.lower() == name.lower() for k in headers):
            return None
        headers[name] = credential
        return credential

    async def refresh_after_401(self, run: RunContext, used: str) -> None:
        seen = self.fetches
        async with self._lock:
            if self.credential != used and self.valid():
                return  # another request refreshed it while this one waited
            self._raise_if_failed_meanwhile(seen)
            await self._fetch(run, "unauthorized")

    def observe_auth_response(self, run: RunContext, step: Any, response: Exchange) -> None:
        """Mask what the token expressions would take from this answer, and secret-named keys."""
        _register_sensitive(response.body, self.masker)
        scope = self._final_scope(run, step, response.scope())
        for expression in (self.compiled.token_path, self.compiled.refresh_token_path):
            if expression is not None:
                value = expression.search(scope)
                if isinstance(value, str | int | float) and not isinstance(value, bool):
                    self.masker.add(str(value))

    # -- fetching ---------------------------------------------------------

    def _raise_if_failed_meanwhile(self, seen: int) -> None:
        if self.fetches != seen and self._failure is not None:
            raise self._failure

    def _oauth_scope(self) -> dict[str, Any]:
        model = self.model
        values = self.values
        basic = getattr(model, "client_auth", "body") == "basic"
        scope: dict[str, Any] = {
            "grant_type": "client_credentials",
            "refresh_token": None,
            "scope": " ".join(getattr(model, "scopes", [])) or None,
            "client_id": None if basic else values.get("client_id"),
            "client_secret": None if basic else values.get("client_secret"),
            "basic": None,
            "extra": self.extra,
        }
        if basic and "client_id" in values:
            pair = f"{values['client_id']}:{values['client_secret']}".encode()
            encoded = base64.b64encode(pair).decode()
            self.masker.add(encoded)
            scope["basic"] = f"Basic {encoded}"
        if isinstance(model, OAuth2RefreshToken):
            scope["grant_type"] = "refresh_token"
            scope["refresh_token"] = values["refresh_token"]
        return scope

    def _final_scope(
        self, run: RunContext, step: CompiledStep, response: dict[str, Any]
    ) -> dict[str, Any]:
        steps = {**self._fetch_steps, step.name: {**response, "status": "ok"}}
        return {"config": run.config, "context": run.context, "steps": steps, "response": response}

    async def _fetch(self, run: RunContext, reason: str) -> None:
        """Run the token steps and take the token; the lock is held by the caller."""
        self._fetch_steps = {}
        self._failure = None
        try:
            token, expires_in = await self._run_token_steps(run)
        except RunError as error:
            self._failure = AuthError(
                f"getting a token ({self.compiled.type}) failed: {run.masker.text(error.message)}",
                step_path=error.step_path or "auth",
                fix=error.fix or "check auth (token_url, client id/secret, token_path)",
            )
            raise self._failure from None
        finally:
            self.fetches += 1  # counted once over: requests waiting since see its outcome
        self.masker.add(token)
        self.token = token
        self.scope["token"] = token
        lifetime = expires_in or self.model.default_expires_in
        if lifetime is None:
            self.expires_at = None  # kept until a 401 says otherwise
        else:
            skew = min(self.model.expiry_skew_seconds, lifetime / 2)
            self.expires_at = self.clock() + lifetime - skew
        self.scope["expires_in"] = lifetime
        run.bus.emit(
            TokenRefreshed(
                run_id=run.run_id,
                at=time.time(),
                auth_type=self.compiled.type,
                reason=reason,
                expires_in=lifetime,
            )
        )

    async def _run_token_steps(self, run: RunContext) -> tuple[str, float | None]:
        runner = StepRunner(run, [])  # no debugger hooks inside token requests
        scope = {
            "config": run.config,
            "context": run.context,
            "steps": self._fetch_steps,
            "oauth": self._oauth_scope(),
        }
        last: dict[str, Any] | None = None
        for step in self.compiled.token_steps:
            outcome = await runner.run_step(step, scope)
            if outcome.error is not None:  # an auth step with on_error: continue
                raise outcome.error
            last = outcome.response
            self._fetch_steps[step.name] = outcome.as_scope()
        final = {
            "config": run.config,
            "context": run.context,
            "steps": self._fetch_steps,
            "response": last,
        }
        path = self.compiled.token_path
        token = None if path is None else path.search(final)
        if isinstance(token, bool) or not isinstance(token, str | int | float) or token == "":
            raise AuthError(
                f"auth.token_path {path.source if path else None!r} gave "
                f"{type(token).__name__ if token is not None else 'null'}, not a token",
                step_path="auth",
                fix="point token_path at the token in the answer, e.g. response.body.access_token",
            )
        refresh_path = self.compiled.refresh_token_path
        if refresh_path is not None:
            rotated = refresh_path.search(final)
            if isinstance(rotated, str) and rotated:
                self.masker.add(rotated)
                self.values["refresh_token"] = rotated
        expires_path = self.compiled.expires_in_path
        expires_in = None if expires_path is None else _seconds(expires_path.search(final))
        return str(token), expires_in
