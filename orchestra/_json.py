"""JSON of any value Orchestra stores: one rule, and never an exception.

The capture file (config, plans, records, event detail, persistent context),
the CLI's records file and the persistent-context size checks turn values
into JSON here, so that a value can never stop capture in the middle of a
run (orjson refuses integers beyond 64 bits, which left exchanges without
their run row). orjson does the work; a value that JSON or orjson cannot hold
is converted, not refused:

=====================================  ==========================================
value                                  stored as
=====================================  ==========================================
int below -2**63 or from 2**64 on      string of its digits: ``"1180591620717411303424"``
float NaN, Infinity, -Infinity         ``null`` (orjson's rule)
datetime, date, time                   ISO 8601 string (orjson's rule)
Decimal                                string, exact: ``"1.50"``
set, frozenset, tuple                  array
bytes, bytearray                       string, UTF-8 (invalid bytes replaced)
dict key that is not a string          string: ``1`` -> ``"1"``, ``None`` -> ``"null"``
anything else                          ``str(value)``
a cycle, or nesting past 255 levels    the string ``"<not storable as JSON: ...>"``
=====================================  ==========================================

A request body built from values (:func:`request_json`) follows the same rule,
except that an integer beyond 64 bits goes over the wire as the exact number.

Cost: values orjson takes as they are (every value parsed from a response
or a plan file) take the fast path unchanged — one ``orjson.dumps`` call;
only a value that orjson refuses pays for a walk that converts it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import orjson

logger = logging.getLogger("orchestra")

_dumps = orjson.dumps
_INT_MIN, _INT_END = -(2**63), 2**64  # what orjson writes as a number
_KEYS = {True: "true", False: "false", None: "null"}


def convert(value: Any) -> Any:
    """What orjson cannot serialise by itself (called by orjson for that value only)."""
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)  # Decimal (exact), UUID (orjson's own rule anyway), anything else


def to_json(value: Any, *, option: int = 0, default: Callable[[Any], Any] | None = None) -> bytes:
    """``value`` as JSON (UTF-8 bytes) by the rule above; ``option`` as for orjson.

    ``default`` replaces :func:`convert` for objects JSON has no type for.
    """
    default = default or convert
    try:
        return _dumps(value, default=default, option=option)
    except TypeError:  # orjson.JSONEncodeError: an integer beyond 64 bits, a key, a cycle
        pass
    try:
        return _dumps(_plain(value, default), default=default, option=option)
    except (TypeError, ValueError, RecursionError) as error:
        logger.warning("a %s value cannot be stored as JSON (%s); its text is stored instead",
                       type(value).__name__, error)  # fmt: skip
        return _dumps(f"<not storable as JSON: {type(value).__name__}: {error}>", option=option)


def json_text(value: Any, *, option: int = 0) -> str:
    """``to_json(value)`` as ``str``."""
    return to_json(value, option=option).decode()


def request_json(value: Any) -> bytes:
    """A request body built from values, for the wire: as :func:`to_json`, except that
    an integer beyond 64 bits is sent as the exact JSON number it is, not a string."""
    try:
        return _dumps(value, default=convert)
    except TypeError:
        pass
    return to_json(_plain(value, convert, _exact_number))


def _exact_number(value: int) -> Any:
    return orjson.Fragment(str(int(value)).encode())


def _plain(
    value: Any, default: Callable[[Any], Any], big: Callable[[int], Any] = lambda n: str(int(n))
) -> Any:
    """``value`` with what orjson refuses converted: big integers (by ``big``), keys,
    sets, tuples."""
    if isinstance(value, str | float | bool) or value is None:
        return value
    if isinstance(value, int):
        return value if _INT_MIN <= value < _INT_END else big(value)
    if isinstance(value, Mapping):
        return {_key(key): _plain(item, default, big) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item, default, big) for item in value]
    if isinstance(value, orjson.Fragment):
        return value
    try:
        _dumps(value, default=default)
    except TypeError:  # e.g. a big integer in what ``default`` made of it
        return _plain(default(value), default, big)
    return value


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return _KEYS[key]
    isoformat = getattr(key, "isoformat", None)
    return isoformat() if callable(isoformat) else str(key)
