"""Run-time config for ``orchestra run``: ``--config k=v`` flags, a config file, the environment.

Layers, lowest first: the plan's ``config`` defaults, ``ORCHESTRA_CONFIG_<KEY>``
environment variables, ``--config-file``, then ``--config`` flags. Values parse
as JSON when they can (``10``, ``true``, ``{"env": "NAME"}``) and are strings
otherwise. A dotted key (``page.size=2``) or a double underscore in an
environment name (``ORCHESTRA_CONFIG_PAGE__SIZE``) sets a nested value; nested
objects merge key by key across the layers, while a secret reference
``{"env": "NAME"}`` is one value that is never merged into (the engine resolves
it at run time and masks what it reads).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeGuard

from orchestra.errors import ConfigError, PlanError
from orchestra.plan import decode_plan, parse_text

ENV_PREFIX = "ORCHESTRA_CONFIG_"
_KEY_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def parse_value(text: str) -> Any:
    """``'10'`` → 10, ``'true'`` → True, ``'{"env": "X"}'`` → dict, ``'abc'`` → ``'abc'``."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def split_key(key: str, *, where: str) -> list[str]:
    """``'page.size'`` → ``['page', 'size']``; raises :class:`ConfigError` on empty parts."""
    parts = key.split(".")
    for part in parts:
        if not _KEY_PART.match(part):
            raise ConfigError(
                f"{where}: invalid config key {key!r} "
                "(use names like base_url, or dotted names like page.size)"
            )
    return parts


def parse_assignment(text: str) -> tuple[list[str], Any]:
    """``'page.size=2'`` → ``(['page', 'size'], 2)``."""
    key, sep, value = text.partition("=")
    if not sep:
        raise ConfigError(
            f"--config {text!r}: expected KEY=VALUE, e.g. --config base_url=http://127.0.0.1:8765"
        )
    return split_key(key.strip(), where=f"--config {text!r}"), parse_value(value)


def is_secret_ref(value: Any) -> bool:
    """``{"env": "NAME"}``: a reference the engine reads from the environment."""
    return isinstance(value, Mapping) and set(value) == {"env"} and isinstance(value["env"], str)


def _mergeable(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return isinstance(value, Mapping) and not is_secret_ref(value)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``; nested objects merge, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if _mergeable(current) and _mergeable(value):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def set_path(target: dict[str, Any], keys: list[str], value: Any, *, where: str) -> None:
    """Set ``target[k1][k2]… = value``, creating objects on the way."""
    node = target
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        elif not isinstance(child, dict) or is_secret_ref(child):  # (where we can set a key)
            dotted = ".".join(keys[: depth + 1])
            raise ConfigError(f"{where}: config.{dotted} is not an object, cannot set a key in it")
        node = child
    node[keys[-1]] = value


def from_assignments(assignments: Iterable[str]) -> dict[str, Any]:
    """The object that repeated ``--config k=v`` flags describe (later flags win)."""
    config: dict[str, Any] = {}
    for text in assignments:
        keys, value = parse_assignment(text)
        set_path(config, keys, value, where=f"--config {text!r}")
    return config


def from_environment(environ: Mapping[str, str], prefix: str = ENV_PREFIX) -> dict[str, Any]:
    """``ORCHESTRA_CONFIG_BASE_URL=…`` → ``{'base_url': …}``; ``__`` nests (``A__B`` → a.b)."""
    config: dict[str, Any] = {}
    for name in sorted(environ):
        if not name.startswith(prefix) or len(name) == len(prefix):
            continue
        keys = split_key(name[len(prefix) :].lower().replace("__", "."), where=name)
        set_path(config, keys, parse_value(environ[name]), where=name)
    return config


def from_file(path: str | Path) -> dict[str, Any]:
    """Load a JSON or YAML config file that holds one object."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"--config-file {str(path)!r}: cannot read it: {error}") from None
    try:  # the plan loader's own reader: same encodings, nesting, alias and integer budgets
        data = parse_text(decode_plan(raw, source=str(path)), source=str(path))
    except PlanError as error:
        raise ConfigError(f"--config-file {str(path)!r}: {_problems(error)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"--config-file {str(path)!r}: expected an object of config values, "
            f"got {type(data).__name__}"
        )
    return data


def _problems(error: PlanError) -> str:
    """The loader's problems without its "Invalid plan" heading (a config file is no plan)."""
    return "; ".join(str(issue) for issue in error.issues)


def build_overrides(
    *,
    assignments: Iterable[str] = (),
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Every override layer merged: environment < config file < ``--config`` flags."""
    config = from_environment(environ or {})
    if config_file is not None:
        config = deep_merge(config, from_file(config_file))
    return deep_merge(config, from_assignments(assignments))


def apply_to_defaults(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level overrides for the engine, with nested objects merged into the plan's defaults.

    The engine replaces top-level keys, so ``--config page.size=2`` must carry
    the rest of the plan's ``page`` object along.
    """
    return {
        key: deep_merge(defaults[key], value)
        if _mergeable(defaults.get(key)) and _mergeable(value)
        else value
        for key, value in overrides.items()
    }
