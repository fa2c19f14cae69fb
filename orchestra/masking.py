"""Masking of secret values: the one component every output path goes through.

Secrets are masked *by value* (any occurrence of a known secret string is replaced,
wherever it appears) and *by name* (sensitive headers and query parameters are
masked whatever their value). The engine registers every secret it resolves
(config ``{"env": …}`` values, auth tokens) with the run's :class:`Masker`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

SENSITIVE_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})
_SENSITIVE_HEADER_SUFFIXES = ("-key", "-token", "-secret", "-api-key")
_SENSITIVE_PARAM = re.compile(
    r"(token|api[_-]?key|apikey|password|passwd|secret|client[_-]?secret|signature)", re.I
)
_MIN_SECRET_LENGTH = 4  # shorter values would mask innocent text everywhere


def is_sensitive_header(name: str) -> bool:
    """True for headers that carry credentials (``Authorization``, ``X-Api-Key``, …)."""
    lower = name.lower()
    return lower in SENSITIVE_HEADERS or lower.endswith(_SENSITIVE_HEADER_SUFFIXES)


def is_sensitive_param(name: str) -> bool:
    """True for query/form parameters named like ``token``, ``api_key``, ``password``."""
    return bool(_SENSITIVE_PARAM.search(name))


class Masker:
    """Replaces known secret values in text, headers, URLs and JSON values."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Any) -> None:
        """Register a secret value; later output never shows it."""
        if secret is None:
            return
        text = str(secret)
        if len(text) < _MIN_SECRET_LENGTH or text in self._secrets:
            return
        self._secrets.add(text)
        ordered = sorted(self._secrets, key=len, reverse=True)  # longest first
        self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def text(self, value: str) -> str:
        """Mask every known secret occurring in ``value``."""
        if self._pattern is None or not value:
            return value
        return self._pattern.sub(MASK, value)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Mask sensitive headers by name and every header by value."""
        return {
            name: MASK if is_sensitive_header(name) else self.text(str(value))
            for name, value in headers.items()
        }

    def url(self, url: str) -> str:
        """Mask sensitive query parameters by name and secrets anywhere in the URL."""
        parts = urlsplit(url)
        if parts.query:
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            if any(is_sensitive_param(key) for key, _ in pairs):
                masked = [(k, MASK if is_sensitive_param(k) else v) for k, v in pairs]
                url = urlunsplit(parts._replace(query=urlencode(masked, safe="*")))
        return self.text(url)

    def value(self, value: Any) -> Any:
        """Mask secrets inside any JSON-like value (dicts, lists, strings)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value
