"""Masking of secret values: the one component every output path goes through.

Secrets are masked *by value* (any occurrence of a known secret string is replaced,
wherever it appears) and *by name* (sensitive headers and query parameters are
masked whatever their value). The engine registers every secret it resolves
(config ``{"env": …}`` values, auth tokens) with the run's :class:`Masker`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

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


_PLACEHOLDER = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}|\*\*\*")
_AUTH_SCHEME = re.compile(r"^[A-Za-z-]*\s*$")


def env_reference(name: str) -> str:
    """How a secret read from environment variable ``name`` appears once masked."""
    return "${" + name + "}"


def _outgoing_forms(text: str) -> set[str]:
    """``text`` as it may appear in stored output: raw, JSON-escaped, percent-encoded."""
    escaped = json.dumps(text)[1:-1]
    escaped_utf8 = json.dumps(text, ensure_ascii=False)[1:-1]
    forms = {text, escaped, escaped_utf8, quote(text, safe=""), quote_plus(text)}
    if "/" in text:
        forms |= {escaped.replace("/", "\\/"), escaped_utf8.replace("/", "\\/")}
    return forms


class Masker:
    """Replaces known secret values in text, headers, URLs and JSON values.

    A secret registered with a ``reference`` (a config value ``{"env": "NAME"}``)
    is replaced by ``${NAME}``: exports stay runnable in a shell that has the
    variable, and nothing secret is written. Other secrets become ``***``.
    """

    def __init__(self, secrets: Iterable[str] = ()):
        self._replacements: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Any, reference: str | None = None) -> None:
        """Register a secret value; later output never shows it.

        The forms a value takes on the way out are registered too: JSON-escaped
        (inside stored JSON text: ASCII-only or UTF-8, and with ``/`` escaped as
        ``\\/`` as PHP's ``json_encode`` and some Java encoders write it — an API
        that echoes a base64 token does) and percent-encoded (inside URLs and
        forms).
        """
        if secret is None:
            return
        text = str(secret)
        if len(text) < _MIN_SECRET_LENGTH:
            return
        known = self._replacements.get(text)
        if known is not None and (reference is None or known == reference):
            return  # already registered (a reference, once given, wins over ***)
        replacement = reference or MASK
        for variant in _outgoing_forms(text):
            if reference or variant not in self._replacements:
                self._replacements[variant] = replacement
        ordered = sorted(self._replacements, key=len, reverse=True)  # longest first
        self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._replacements)

    def text(self, value: str) -> str:
        """Mask every known secret occurring in ``value``."""
        if self._pattern is None or not value:
            return value
        replacements = self._replacements
        return self._pattern.sub(lambda match: replacements[match.group(0)], value)

    def _credential(self, value: str) -> str:
        """A credential value: keep ``Bearer ${NAME}``, else mask it whole."""
        masked = self.text(value)
        if masked != value and _AUTH_SCHEME.match(_PLACEHOLDER.sub("", masked)):
            return masked
        return MASK

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Mask sensitive headers by name and every header by value."""
        return {
            name: self._credential(str(value)) if is_sensitive_header(name)
            else self.text(str(value))
            for name, value in headers.items()
        }  # fmt: skip

    def url(self, url: str) -> str:
        """Mask sensitive query parameters by name and secrets anywhere in the URL."""
        parts = urlsplit(url)
        if parts.query:
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            if any(is_sensitive_param(key) for key, _ in pairs):
                masked = [(k, self._credential(v) if is_sensitive_param(k) else v)
                          for k, v in pairs]  # fmt: skip
                url = urlunsplit(parts._replace(query=urlencode(masked, safe="*${}")))
        return self.text(url)

    def form(self, text: str) -> str:
        """Mask a form-encoded body: sensitive fields by name, secrets by value."""
        pairs = parse_qsl(text, keep_blank_values=True)
        if any(is_sensitive_param(key) for key, _ in pairs):
            text = urlencode(
                [(k, MASK if is_sensitive_param(k) else v) for k, v in pairs], safe="*"
            )
        return self.text(text)

    def value(self, value: Any) -> Any:
        """Mask secrets inside any JSON-like value (dicts, lists, strings)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value
