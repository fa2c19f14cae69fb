"""Resolving a run's config: plan defaults, run-time overrides, env secrets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from orchestra.errors import ConfigError
from orchestra.masking import Masker, env_reference


def is_secret_ref(value: Any) -> bool:
    """``{"env": "NAME"}``: a value read from the environment at run time."""
    return isinstance(value, Mapping) and set(value) == {"env"} and isinstance(value["env"], str)


def resolve_secret(value: Any, *, where: str, masker: Masker, environ: Mapping[str, str]) -> Any:
    """Resolve one ``{"env": NAME}`` reference (registering it as secret); others pass."""
    if not is_secret_ref(value):
        return value
    name = value["env"]
    if name not in environ:
        raise ConfigError(
            f"{where}: environment variable {name!r} is not set "
            f"(export {name}=… or override {where} at run time)"
        )
    secret = environ[name]
    masker.add(secret, reference=env_reference(name), source=f"{where} (env {name})")
    return secret


def resolve_config(
    defaults: Mapping[str, Any],
    overrides: Mapping[str, Any] | None,
    masker: Masker,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Merge overrides into the plan's config and resolve secret references."""
    environ = os.environ if environ is None else environ
    merged = {**defaults, **(overrides or {})}
    return {
        key: _resolve_nested(value, f"config.{key}", masker, environ)
        for key, value in merged.items()
    }


def _resolve_nested(value: Any, where: str, masker: Masker, environ: Mapping[str, str]) -> Any:
    if is_secret_ref(value):
        return resolve_secret(value, where=where, masker=masker, environ=environ)
    if isinstance(value, Mapping):
        return {k: _resolve_nested(v, f"{where}.{k}", masker, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_nested(v, f"{where}[{i}]", masker, environ) for i, v in enumerate(value)]
    return value
