"""Persistent context: ``context`` fields that outlive a run (seed 002).

A plan lists them in ``persistent_context``. A :class:`ContextStore` keeps
their values per plan key and config fingerprint: the runner loads them
before the run (values passed as ``context=`` win) and saves them after a
*successful* run only — a failed incremental sync must not move its
``last_sync_time`` past data it never read. Before saving, each field's JSON
must fit ``limits.max_context_field_bytes`` (64 KB) and all of them
``limits.max_context_total_bytes`` (1 MB); otherwise the run fails with a
:class:`~orchestra.errors.LimitExceeded` naming the field.

:class:`InMemoryContextStore` serves tests and notebooks; the capture layer
provides the DuckDB-backed store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import orjson

from orchestra._json import to_json
from orchestra.engine._config import is_secret_ref
from orchestra.errors import LimitExceeded


@runtime_checkable
class ContextStore(Protocol):
    """Where persistent context lives between runs."""

    def load(self, plan_key: str, config_fingerprint: str) -> dict[str, Any]:
        """The values saved by the last successful run (``{}`` if none)."""
        ...

    def save(self, plan_key: str, config_fingerprint: str, values: dict[str, Any]) -> None:
        """Replace the saved values of this plan key and config."""
        ...


class InMemoryContextStore:
    """A :class:`ContextStore` in a dict (values are copied in and out as JSON)."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], bytes] = {}

    def load(self, plan_key: str, config_fingerprint: str) -> dict[str, Any]:
        raw = self._values.get((plan_key, config_fingerprint))
        return {} if raw is None else orjson.loads(raw)

    def save(self, plan_key: str, config_fingerprint: str, values: dict[str, Any]) -> None:
        self._values[(plan_key, config_fingerprint)] = to_json(values)

    def __len__(self) -> int:
        return len(self._values)


def config_fingerprint(config: Mapping[str, Any]) -> str:
    """A stable hash of the run's config *before* secrets are resolved.

    ``{"env": NAME}`` references are hashed as references, so no secret value
    goes into the fingerprint and rotating a secret keeps the context.
    """

    def plain(value: Any) -> Any:
        if is_secret_ref(value):
            return {"env": value["env"]}
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    encoded = to_json(plain(config), option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(encoded).hexdigest()[:32]


def persistent_values(
    context: Mapping[str, Any], keys: list[str], *, field_limit: int, total_limit: int
) -> dict[str, Any]:
    """The persistent fields of ``context``, checked against the size limits."""
    values = {key: context[key] for key in keys if key in context}
    total = 2
    for key, value in values.items():
        size = len(to_json(value))  # as stored: any value is (orchestra._json)
        if size > field_limit:
            raise LimitExceeded(
                f"persistent context field {key!r} is {size:,} bytes of JSON, over the "
                f"{field_limit:,}-byte limit per field; it was not saved",
                fix="store less in it (a cursor or a timestamp, not the data), or raise "
                "limits.max_context_field_bytes",
            )
        total += size + len(key) + 4
    if total > total_limit:
        raise LimitExceeded(
            f"persistent context is {total:,} bytes of JSON in all, over the "
            f"{total_limit:,}-byte limit; it was not saved",
            fix="persist fewer or smaller fields, or raise limits.max_context_total_bytes",
        )
    return values
