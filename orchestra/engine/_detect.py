"""``paginate: auto``: what pagination and which records list a first response shows.

:func:`detect_pagination` is pure: it reads one response (its URL, headers and
decoded JSON body) and returns a :class:`Detection` holding the explicit
``paginate:``/``records:`` a user would write, so that what auto-detection
chose can be announced and pasted (:func:`as_yaml`). The rules, first match
wins (the plan format's ``paginate: auto``):

1. a ``Link`` header with ``rel="next"`` (or the other page rels) → ``link_header``;
2. a next-page URL in the body (``next``, ``next_url``, ``nextUrl``,
   ``@odata.nextLink``, ``links.next``, ``_links.next.href``, ``paging.next``,
   ``meta.next``) → ``json_link``;
3. a cursor field (``next_cursor``, ``response_metadata.next_cursor``,
   ``nextPageToken``, ``next_page_token``, ``cursor``) → ``cursor``, sent back
   as the query parameter such APIs use (``cursor``, ``pageToken``, ``page_token``);
4. page or offset fields with a total (``total``, ``count``, ``total_pages`` …)
   → ``page_number`` or ``offset``;
5. a ``next_offset`` the server hands out → ``cursor`` sent back as ``offset``;
6. ``has_more`` with an ``id`` on the last record → Stripe-style ``cursor``
   sent back as ``starting_after``;
7. otherwise one page. Fields that look like pagination but matched no rule
   (named like next/cursor/page, or a total larger than the records returned)
   are named in :attr:`Detection.looks_paginated` so the run can warn.

The records list is the body when it is a list, else one list-valued field
among ``data``, ``items``, ``results``, ``value``, ``records``, ``entries``,
else HAL's ``_embedded.<name>``, else — only when a rule matched — the body's
only list-valued field (Slack's ``members``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from orchestra.engine._exchange import parse_link_header

Path = tuple[str, ...]
Spec = dict[str, Any]

RECORD_FIELDS = ("data", "items", "results", "value", "records", "entries")
NEXT_URL_PATHS: tuple[Path, ...] = (
    ("next",),
    ("next_url",),
    ("nextUrl",),
    ("@odata.nextLink",),
    ("links", "next"),
    ("_links", "next", "href"),
    ("paging", "next"),
    ("meta", "next"),
)
CURSOR_FIELDS: tuple[tuple[Path, str], ...] = (
    (("next_cursor",), "cursor"),
    (("response_metadata", "next_cursor"), "cursor"),
    (("nextPageToken",), "pageToken"),
    (("next_page_token",), "page_token"),
    (("cursor",), "cursor"),
)
PAGE_LINK_RELS = ("next", "last", "prev", "previous", "first")
# Where page and offset fields live: the body itself or one of these objects.
ENVELOPES: tuple[Path, ...] = ((), ("meta",), ("pagination",), ("paging",), ("page_info",))
TOTAL_FIELDS = ("total", "count", "total_count", "totalCount")
TOTAL_PAGES_FIELDS = ("total_pages", "totalPages")
PAGE_SIZE_FIELDS = ("per_page", "page_size", "pageSize")
# Words that make a field look like pagination (split from snake_case and camelCase).
PAGING_WORDS = frozenset(
    {"next", "nxt", "cursor", "cursors", "continuation", "skiptoken", "more", "page", "pages"}
    | {"offset", "after", "scroll"}
)
TOTAL_WORDS = frozenset({"total", "count"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


@dataclass(frozen=True)
class Detection:
    """What one response shows: the explicit spec to use, or why there is none."""

    paginate: dict[str, Any] | None  # the explicit spec a user would write; None = one page
    records: str | None  # JMESPath of the records list ("data", "@"); None = one record
    looks_paginated: tuple[str, ...]  # fields that look like pagination but matched no rule
    explanation: str  # one line for people


@dataclass(frozen=True)
class _Rule:
    """A matched rule: the spec and why it was chosen."""

    spec: Spec
    reason: str


def detect_pagination(*, url: str, headers: Mapping[str, str], body: Any) -> Detection:
    """The pagination and records list a first response shows (never raises)."""
    known = _known_records(body)
    sole = _sole_list_field(body)
    candidate = known if known is not None else sole
    query = _query(url)
    rule = (
        _link_header(headers)
        or _next_url(body)
        or _cursor_field(body)
        or _page_or_offset(body, query, _count(body, candidate))
        or _next_offset(body)
        or _has_more(body, candidate)
    )
    records = known if known is not None else (sole if rule is not None else None)
    note = _records_note(body, records)
    records_path = None if records is None else _records_path(records)
    if rule is not None:
        return Detection(rule.spec, records_path, (), f"{rule.reason}; {note}")
    suspicious = (*_looks_paginated(body, records), *_paging_headers(headers, body, records))
    if suspicious:
        fields = ", ".join(suspicious)
        reason = f"one page, but {fields} look like pagination and match no rule (write paginate:)"
    else:
        reason = "no pagination found: one page"
    return Detection(None, records_path, suspicious, f"{reason}; {note}")


def as_yaml(detection: Detection) -> str:
    """The ``paginate:``/``records:`` lines equivalent to ``detection`` (empty if neither)."""
    lines: dict[str, Any] = {}
    if detection.paginate is not None:
        spec = detection.paginate
        lines["paginate"] = spec["type"] if spec == {"type": "link_header"} else spec
    if detection.records is not None:
        lines["records"] = detection.records
    if not lines:
        return ""
    dumped: str = yaml.safe_dump(lines, sort_keys=False, default_flow_style=False)
    return dumped


def jmespath_of(path: Path) -> str:
    """``path`` as a JMESPath, quoting segments that are not plain identifiers."""
    return ".".join(
        segment if _IDENTIFIER.fullmatch(segment) else _quoted(segment) for segment in path
    )


def _quoted(segment: str) -> str:
    """A JMESPath quoted identifier: the segment as a JSON string."""
    return json.dumps(segment, ensure_ascii=False)


# -- the rules -----------------------------------------------------------------


def _link_header(headers: Mapping[str, str]) -> _Rule | None:
    values = [str(value) for name, value in headers.items() if str(name).lower() == "link"]
    rels = parse_link_header(", ".join(values))
    if "next" in rels:
        return _Rule({"type": "link_header"}, 'Link header with rel="next"')
    present = [rel for rel in PAGE_LINK_RELS if rel in rels]
    if present:
        reason = f'Link header with rel="{present[0]}" (no next page now)'
        return _Rule({"type": "link_header"}, reason)
    return None


def _next_url(body: Any) -> _Rule | None:
    for path in NEXT_URL_PATHS:
        found, value = _lookup(body, path)
        if isinstance(value, dict) and isinstance(value.get("href"), str):
            path, value = (*path, "href"), value["href"]
        if found and (value is None or _looks_like_url(value)):
            next_path = jmespath_of(path)
            reason = f"a next-page URL in the body at {next_path}"
            return _Rule({"type": "json_link", "next_path": next_path}, reason)
    return None


def _looks_like_url(value: Any) -> bool:
    if not isinstance(value, str) or not value or any(c.isspace() for c in value):
        return False
    return value.startswith(("http://", "https://", "/", "?", "."))  # "." for relative paths


def _cursor_field(body: Any) -> _Rule | None:
    for path, param in CURSOR_FIELDS:
        found, value = _lookup(body, path)
        if found and (value is None or isinstance(value, str) or _is_int(value)):
            spec: Spec = {"type": "cursor", "cursor_path": jmespath_of(path), "cursor_param": param}
            if isinstance(_field(body, "has_more"), bool):
                spec["has_more_path"] = "has_more"
            reason = f"a cursor in the body at {spec['cursor_path']}, sent back as ?{param}="
            return _Rule(spec, reason)
    return None


def _page_or_offset(body: Any, query: dict[str, str], count: int | None) -> _Rule | None:
    total_pages = _first_int(body, TOTAL_PAGES_FIELDS)
    total = _total(body, query, count)
    if total_pages is None and total is None:
        return None
    page = _first_int(body, ("page",))
    if page is not None or "page" in query:
        return _page_number(body, query, page, total_pages)
    offset = _first_int(body, ("offset",))
    limit = _first_int(body, ("limit",))
    if total is not None and (offset or limit or "offset" in query or "limit" in query):
        spec: Spec = {"type": "offset"}
        size = limit[1] if limit else _int(query.get("limit")) or count or None
        if size:
            spec["limit"] = size
        spec |= {"limit_param": "limit", "offset_param": "offset", "total_path": total[0]}
        return _Rule(spec, f"offset and limit with a total at {total[0]}")
    return None


def _total(body: Any, query: dict[str, str], count: int | None) -> tuple[str, int] | None:
    """The total of the collection; a ``count`` that equals a full page counts this page."""
    total = _first_int(body, TOTAL_FIELDS)
    if total is None or not total[0].endswith("count") or total[1] != count:
        return total
    size = _first_int(body, ("limit", *PAGE_SIZE_FIELDS))
    page_size = size[1] if size else _int(query.get("limit") or query.get("per_page"))
    return None if page_size is not None and count == page_size else total


def _page_number(
    body: Any, query: dict[str, str], page: tuple[str, int] | None, total_pages: Any
) -> _Rule:
    spec: Spec = {"type": "page_number", "page_param": "page"}
    spec["start"] = page[1] if page else _int(query.get("page")) or 1
    size = _first_int(body, PAGE_SIZE_FIELDS)
    size_param = next((name for name in PAGE_SIZE_FIELDS if name in query), None)
    if size is not None:
        spec["size_param"] = size_param or size[0].rsplit(".", 1)[-1]
        spec["size"] = size[1]
    elif size_param is not None and _int(query[size_param]):
        spec["size_param"], spec["size"] = size_param, _int(query[size_param])
    if total_pages is not None:
        spec["total_pages_path"] = total_pages[0]
    return _Rule(spec, "page numbers with a total")


def _next_offset(body: Any) -> _Rule | None:
    found, value = _lookup(body, ("next_offset",))
    if not found or not (value is None or _is_int(value)):
        return None
    spec: Spec = {"type": "cursor", "cursor_path": "next_offset", "cursor_param": "offset"}
    if isinstance(_field(body, "has_more"), bool):
        spec["has_more_path"] = "has_more"
    return _Rule(spec, "a next offset in the body at next_offset, sent back as ?offset=")


def _has_more(body: Any, records: Path | None) -> _Rule | None:
    if not isinstance(_field(body, "has_more"), bool) or not records:
        return None
    listed = _records_list(body, records)
    if listed is None or (listed and not (isinstance(listed[-1], dict) and "id" in listed[-1])):
        return None
    spec: Spec = {
        "type": "cursor",
        "cursor_path": f"{jmespath_of(records)}[-1].id",
        "cursor_param": "starting_after",
        "has_more_path": "has_more",
    }
    return _Rule(spec, "has_more with the last record's id, sent back as ?starting_after=")


# -- records -------------------------------------------------------------------


def _known_records(body: Any) -> Path | None:
    """``()`` (the body) for a list, a known records field, or HAL's ``_embedded.<name>``."""
    if isinstance(body, list):
        return ()
    if not isinstance(body, dict):
        return None
    for name in RECORD_FIELDS:
        if isinstance(body.get(name), list):
            return (name,)
    embedded = body.get("_embedded")
    if isinstance(embedded, dict):
        lists = [name for name, value in embedded.items() if isinstance(value, list)]
        if len(lists) == 1:
            return ("_embedded", lists[0])
    return None


def _sole_list_field(body: Any) -> Path | None:
    if not isinstance(body, dict):
        return None
    lists = [name for name, value in body.items() if isinstance(value, list)]
    return (lists[0],) if len(lists) == 1 else None


def _records_path(records: Path) -> str:
    return jmespath_of(records) if records else "@"


def _records_list(body: Any, records: Path | None) -> list[Any] | None:
    if records is None:
        return None
    _, listed = _lookup(body, records)
    return listed if isinstance(listed, list) else None


def _count(body: Any, records: Path | None) -> int | None:
    listed = _records_list(body, records)
    return len(listed) if listed is not None else None


def _records_note(body: Any, records: Path | None) -> str:
    listed = _records_list(body, records)
    if records is None or listed is None:
        return "the body is one record"
    return f"records: {_records_path(records)} ({len(listed)} in this response)"


# -- looks paginated -------------------------------------------------------------


def _looks_paginated(body: Any, records: Path | None) -> Iterator[str]:
    """Fields that look like pagination (none matched a rule): names, or a total above the count."""
    if not isinstance(body, dict):
        return
    count = _count(body, records)
    for path, value in _fields(body):
        words = {word.lower() for word in _WORD.findall(path[-1])}
        if words & TOTAL_WORDS:
            if _is_int(value) and count is not None and value > count:
                yield jmespath_of(path)
        elif words & PAGING_WORDS and _present(value):
            yield jmespath_of(path)


def _paging_headers(headers: Mapping[str, str], body: Any, records: Path | None) -> Iterator[str]:
    """Headers like ``X-Total-Count`` above the records returned, or ``X-Next-Page``."""
    count = _count(body, records)
    for name, value in headers.items():
        words = {word.lower() for word in _WORD.findall(str(name))}
        total = _int(str(value).strip())
        if words & TOTAL_WORDS:
            if total is not None and count is not None and total > count:
                yield f"{name} header"
        elif words & {"next", "cursor"} and str(value).strip():
            yield f"{name} header"


def _fields(body: dict[str, Any]) -> Iterator[tuple[Path, Any]]:
    """Top-level fields, and the fields of top-level objects (one level down)."""
    for name, value in body.items():
        if isinstance(value, dict) and name != "_embedded":
            for inner, inner_value in value.items():
                if not isinstance(inner_value, dict | list):
                    yield (name, inner), inner_value
        elif not isinstance(value, list):
            yield (name,), value


# -- lookups ---------------------------------------------------------------------


def _lookup(body: Any, path: Path) -> tuple[bool, Any]:
    """Whether ``path`` exists in ``body`` (objects only) and its value."""
    value = body
    for segment in path:
        if not isinstance(value, dict) or segment not in value:
            return False, None
        value = value[segment]
    return True, value


def _field(body: Any, name: str) -> Any:
    return body.get(name) if isinstance(body, dict) else None


def _present(value: Any) -> bool:
    """Whether a field holds something (``0`` does; null, false and empty text do not)."""
    return value is not None and value is not False and value != ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _first_int(body: Any, names: tuple[str, ...]) -> tuple[str, int] | None:
    """The first of ``names`` holding an integer in the body or an envelope: (path, value)."""
    for envelope in ENVELOPES:
        for name in names:
            found, value = _lookup(body, (*envelope, name))
            if found and _is_int(value):
                return jmespath_of((*envelope, name)), value
    return None


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isascii() and text.isdigit() else None


def _query(url: str) -> dict[str, str]:
    """The URL's query parameters (first value of each); empty if the URL does not parse."""
    try:
        parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    except ValueError:
        return {}
    return {name: values[0] for name, values in parsed.items()}
