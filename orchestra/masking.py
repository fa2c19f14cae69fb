"""Masking of secret values: the one component every output path goes through.

Secrets are masked *by value* (any occurrence of a known secret string is replaced,
wherever it appears) and *by name* (sensitive headers and query parameters are
masked whatever their value). The engine registers every secret it resolves
(config ``{"env": …}`` values, auth credentials and tokens, the base64 of Basic
credentials) with the run's :class:`Masker`. By value, a secret is found in any
encoding a server or serializer writes it in (``secret_branches``); values
shorter than ``MIN_SECRET_LENGTH`` characters are masked by name only, with a
warning on the ``orchestra.masking`` logger naming where the value came from.
"""

from __future__ import annotations

import logging
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
# Shorter values are not masked by value: they would mask innocent text everywhere
# ("abc" in every URL). Names still mask them (``Authorization``, ``?token=``).
MIN_SECRET_LENGTH = 4

logger = logging.getLogger("orchestra.masking")


def _warn_short(source: str) -> None:
    """Say (without the value) that the secret from ``source`` will not be masked."""
    logger.warning(
        "the secret from %s is shorter than %d characters: it is not masked by value "
        "(only where its header or parameter name is sensitive); use a longer secret",
        source,
        MIN_SECRET_LENGTH,
    )


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


# One rule for every encoding: each character of a secret may appear in any form
# an encoder writes it in, so a regex built per secret matches all their mixes at
# once: raw (also with `/` or `!'()*~` left as is by one encoder and not another),
# percent-encoded (UTF-8 bytes, hex in either case, also double-encoded `%25XX`),
# space as `+` (forms), and JSON-escaped to any depth (`\"`, `\\\"`, `\/`, `\n`,
# `\u00fc`, `\\u00fc`, surrogate pairs; hex in either case).
_JSON_SHORT_ESCAPES = {'"': '"', "/": "/", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}
# one or more backslashes (one per JSON level: 1, 3, 7 before `"`, 1, 2, 4 before `u`),
# written to start with a literal (see _char_forms)
_ESCAPING_BACKSLASHES = r"\\\\*"


def _either_case(hex_digits: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in hex_digits)


def _percent(char: str) -> str:
    """``char``'s UTF-8 bytes as ``%XX`` (or ``%25XX``, encoded twice), either case."""
    return "".join("%(?:25)?" + _either_case(f"{byte:02X}") for byte in char.encode())


def _json_unicode(char: str) -> str:
    r"""``char`` as ``\uXXXX`` (a surrogate pair beyond the BMP) at any JSON depth."""
    code = ord(char)
    units = [code] if code < 0x10000 else [0xD800 + ((code - 0x10000) >> 10),
                                           0xDC00 + ((code - 0x10000) & 0x3FF)]  # fmt: skip
    return "".join(_ESCAPING_BACKSLASHES + "u" + _either_case(f"{unit:04X}") for unit in units)


def _char_forms(char: str) -> list[str]:
    """Regexes for one character of a secret, one per form it is written in.

    Each starts with a literal character, which lets ``re`` skip quickly through
    text where no secret can start (see ``secret_branches``). Escaped forms come
    first: a secret ending in ``%`` takes the whole ``%25``, not just the ``%``.
    """
    if char.isascii() and char.isalnum():
        return [char]  # no encoder escapes letters and digits: a literal, fast to match
    forms = [_percent(char), _json_unicode(char)]
    if char == "\\":  # escaped at any JSON depth (2, 4, 8 backslashes)
        forms.append(r"\\\\(?:\\\\)*")
    elif (short := _JSON_SHORT_ESCAPES.get(char)) is not None:
        forms.append(_ESCAPING_BACKSLASHES + re.escape(short))
    if char == " ":
        forms.append(r"\+")
    return [*forms, re.escape(char)]


def secret_branches(secret: str) -> list[str]:
    """Regexes (source) that together match ``secret`` in every outgoing form.

    One per form of the first character, each followed by one group matching the
    rest: a pattern made of such branches starts every branch with a literal, so
    ``re`` only tries it where one of those characters occurs.
    """
    rest = "".join("(?:" + "|".join(_char_forms(char)) + ")" for char in secret[1:])
    return [f"{first}({rest})" for first in _char_forms(secret[0])]


class Masker:
    """Replaces known secret values in text, headers, URLs and JSON values.

    A secret registered with a ``reference`` (a config value ``{"env": "NAME"}``)
    is replaced by ``${NAME}``: exports stay runnable in a shell that has the
    variable, and nothing secret is written. Other secrets become ``***``.
    Values shorter than ``MIN_SECRET_LENGTH`` are not masked by value (they would
    mask innocent text everywhere); registering one logs a warning naming its
    ``source``.
    """

    def __init__(self, secrets: Iterable[str] = ()):
        self._replacements: dict[str, str] = {}  # secret -> replacement
        # The pattern is compiled when text is next masked, not at each ``add``: a
        # burst of registrations (a fanout's session tokens) costs one compile.
        # (count of secrets it knows, pattern, replacement per group number): one
        # attribute swapped whole, as the capture writer's thread masks while the
        # event loop registers secrets.
        self._registered = 0
        self._compiled: tuple[int, re.Pattern[str], tuple[str, ...]] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: Any, reference: str | None = None, *, source: str | None = None) -> None:
        """Register a secret value; later output never shows it, in any form.

        Every form it takes on the way out is matched (``secret_branches``): raw,
        percent-encoded (``/`` kept or not, ``+`` for space, hex in either case),
        JSON-escaped once or more (ASCII-only or UTF-8, ``/`` as ``\\/``).
        ``source`` names where the value comes from (``config.token (env
        API_TOKEN)``), for the warning about a value too short to mask.
        """
        if secret is None:
            return
        text = str(secret)
        if len(text) < MIN_SECRET_LENGTH:
            if source is not None:
                _warn_short(source)
            return
        known = self._replacements.get(text)
        if known is not None and (reference is None or known == reference):
            return  # already registered (a reference, once given, wins over ***)
        self._replacements[text] = reference or MASK
        self._registered += 1

    def _compile(self) -> tuple[int, re.Pattern[str], tuple[str, ...]]:
        """One pattern for every secret known now, longest first."""
        registered, known = self._registered, self._replacements.copy()
        branches: list[str] = []
        replacements = [MASK]  # by group number: one group per branch (see secret_branches)
        for secret in sorted(known, key=len, reverse=True):
            for branch in secret_branches(secret):
                branches.append(branch)
                replacements.append(known[secret])
        self._compiled = compiled = (
            registered,
            re.compile("|".join(branches)),
            tuple(replacements),
        )
        return compiled

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._replacements)

    def text(self, value: str) -> str:
        """Mask every known secret occurring in ``value``, in any form."""
        if not self._registered or not value:
            return value
        compiled = self._compiled
        if compiled is None or compiled[0] != self._registered:
            compiled = self._compile()
        _, pattern, replacements = compiled
        return pattern.sub(lambda match: replacements[match.lastindex or 0], value)

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
