"""Redirects, followed by the engine one hop at a time, with aiohttp's rules.

The transports send exactly one request per call; the engine follows a
redirect itself (``_exchange.py``) so that every hop is an exchange of its own
— its own events and ``exchanges`` row, numbered by ``hop`` — and a chain that
does not end is a deterministic error, not a transport failure to retry.

The rules are aiohttp's (``ClientSession._request``), which httpx's client
also follows in substance:

* at most ``MAX_REDIRECTS`` (20, httpx's default) redirects per request;
* 303 → GET (except HEAD), 301/302 of a POST → GET; the body and its
  ``Content-Length`` are dropped then;
* ``Authorization``, ``Cookie`` and ``Proxy-Authorization`` are dropped when
  the origin changes (cookies the jar holds for the new origin are still sent
  by the transport, which keeps one jar per run);
* a relative ``Location`` is resolved against the current URL; a scheme other
  than http(s) is refused.
"""

from __future__ import annotations

from yarl import URL

MAX_REDIRECTS = 20  # httpx's default: the 21st redirect in a row is an error
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
_DROPPED_ACROSS_ORIGINS = frozenset(("authorization", "cookie", "proxy-authorization"))
_CONTROL_AND_SPACE = "".join(map(chr, range(0x21)))


class BadRedirect(ValueError):
    """The ``Location`` of a redirect cannot be followed (not a URL, not http/https)."""


def location_of(headers: dict[str, str]) -> str | None:
    """The target a redirect names (``Location``, or the obsolete ``URI``), if any."""
    return headers.get("location") or headers.get("uri")


def next_hop(
    status: int,
    method: str,
    body: bytes | None,
    url: str,
    location: str,
) -> tuple[str, bytes | None, str, bool]:
    """(method, body, url, same_origin) of the request that follows a redirect."""
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, body = "GET", None
    try:
        target = URL(location)
    except ValueError as error:
        raise BadRedirect(f"the Location {location!r} is not a URL") from error
    base = URL(url)
    scheme = target.scheme
    if scheme not in ("http", "https", ""):
        raise BadRedirect(f"the Location {location!r} is not an http(s) URL")
    if not scheme or (scheme == base.scheme and _has_no_authority(location, scheme)):
        target = base.join(target)
    try:
        same_origin = base.origin() == target.origin()
    except ValueError as error:
        raise BadRedirect(f"the Location {location!r} has no valid origin") from error
    return method, body, str(target), same_origin


def hop_headers(
    headers: dict[str, str], *, same_origin: bool, dropped_body: bool
) -> dict[str, str]:
    """The request headers of the next hop (names as given, any case)."""
    if same_origin and not dropped_body:
        return headers
    kept = {}
    for name, value in headers.items():
        lower = name.lower()
        if not same_origin and lower in _DROPPED_ACROSS_ORIGINS:
            continue
        if dropped_body and lower == "content-length":
            continue
        kept[name] = value
    return kept


def _has_no_authority(location: str, scheme: str) -> bool:
    """No "//" after the scheme ("http:/path", "http:path"): relative to the current URL."""
    location = location.strip(_CONTROL_AND_SPACE).translate(str.maketrans("", "", "\t\n\r"))
    rest = location[len(scheme) + 1 : len(scheme) + 3]
    return rest[:1] not in ("/", "\\") or rest[1:] not in ("/", "\\")
