"""``paginate:`` presets of an HTTP step and the plan fields they expand into.

A preset (``link_header``, ``json_link``, ``offset``, ``page_number``,
``cursor``) is sugar: :func:`expand_paginate` rewrites the step, when the plan
compiles, into fields any step may use — ``params``/``headers``/``body``
entries reading ``page_state``, ``page_state`` and ``page_state_updates`` (values
carried from one page of the step to the next), ``next_url`` (the next page's
URL, taken from the response) and ``while``. So the engine, the debugger, the
capture and ``limits.max_loops`` see ordinary pages, and ``orchestra validate
--explain`` can print what a preset means. ``auto`` is kept as it is: the
engine decides after the first response (:mod:`orchestra.engine._detect`).
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, Literal

import jmespath
from jmespath import exceptions as jp_errors
from pydantic import Field, TypeAdapter
from pydantic_core import PydanticCustomError

from orchestra.plan._base import _Model
from orchestra.plan._incremental import cursor_param_template


class _Preset(_Model):
    max_pages: int | None = Field(None, ge=1, description="Stop after this many pages.")


class LinkHeaderPaginate(_Preset):
    """Follow the ``Link: <…>; rel="next"`` response header (GitHub, json-server)."""

    type: Literal["link_header"] = Field(
        description='link_header: follow the Link: <…>; rel="next" header.'
    )


class JsonLinkPaginate(_Preset):
    """Follow a next-page URL found in the body, absolute or relative to the page's URL."""

    type: Literal["json_link"] = Field(
        description="json_link: follow a next-page URL found in the body (next_path)."
    )
    next_path: str = Field(
        description="JMESPath over the body, e.g. links.next, _links.next.href or "
        "@odata.nextLink (a key that is not a JMESPath path is read as one field name)."
    )


class OffsetPaginate(_Preset):
    """``?offset=0&limit=100``, then 100, 200 … until a short or empty page, or the total."""

    type: Literal["offset"] = Field(
        description="offset: offset=0, then +limit each page, until a short page or the total."
    )
    limit: int = Field(ge=1, description="Records asked for per page.")
    limit_param: str = Field(
        "limit", description="Query parameter that carries the page size (default limit)."
    )
    offset_param: str = Field(
        "offset", description="Query parameter that carries the offset (default offset)."
    )
    start: int = Field(0, ge=0, description="Offset of the first page.")
    total_path: str | None = Field(None, description="JMESPath over the body: total records.")


class PageNumberPaginate(_Preset):
    """``?page=1``, ``2`` … until an empty (or short, with ``size``) page, or the last page."""

    type: Literal["page_number"] = Field(
        description="page_number: page=1, 2 … until an empty or short page, or the last."
    )
    page_param: str = Field(
        "page", description="Query parameter that carries the page number (default page)."
    )
    start: int = Field(1, ge=0, description="Number of the first page.")
    size_param: str | None = Field(None, description="Query parameter of the page size.")
    size: int | None = Field(None, ge=1, description="Records per page (a shorter page is last).")
    total_pages_path: str | None = Field(None, description="JMESPath over the body: page count.")


class CursorPaginate(_Preset):
    """Send the cursor the previous page returned, until there is none (or has_more is false).

    Slack: ``cursor_path: response_metadata.next_cursor``; Google:
    ``cursor_path: nextPageToken, cursor_param: pageToken``; Stripe:
    ``cursor_path: "data[-1].id", cursor_param: starting_after, has_more_path: has_more``.
    """

    type: Literal["cursor"] = Field(
        description="cursor: send the cursor the previous page returned, until there is none."
    )
    cursor_path: str = Field(description="JMESPath over the body giving the next cursor.")
    cursor_param: str = Field("cursor", description="Name of the parameter that carries it.")
    in_: Literal["query", "body", "header"] = Field(
        "query",
        alias="in",
        description="Where the cursor goes: query parameter (default), JSON body field or header.",
    )
    initial: Any = Field(None, description="Cursor of the first request (template); none if unset.")
    has_more_path: str | None = Field(None, description="JMESPath over the body: more pages?")


class AutoPaginate(_Preset):
    """Detect the pagination from the first response and announce what was found."""

    type: Literal["auto"] = Field(
        description="auto: detect the pagination from the first response and announce it."
    )


Paginate = Annotated[
    LinkHeaderPaginate
    | JsonLinkPaginate
    | OffsetPaginate
    | PageNumberPaginate
    | CursorPaginate
    | AutoPaginate,
    Field(discriminator="type"),
]
"""The ``paginate:`` field of an HTTP step."""

PRESETS = ("link_header", "json_link", "offset", "page_number", "cursor", "auto")


def normalize_paginate(value: Any) -> Any:
    """``paginate: link_header`` → ``{type: link_header}``; an unknown preset is an error
    that names the presets and the closest one."""
    if isinstance(value, str):
        value = {"type": value}
    if isinstance(value, dict):
        kind = value.get("type")
        if kind is None:
            raise PydanticCustomError(
                "paginate_type",
                "paginate needs a 'type': one of {presets}",
                {"presets": ", ".join(PRESETS)},
            )
        if kind not in PRESETS:
            close = difflib.get_close_matches(str(kind), PRESETS, n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise PydanticCustomError(
                "paginate_type",
                "unknown paginate preset {kind}; {hint}presets: {presets}",
                {"kind": repr(kind), "hint": hint, "presets": ", ".join(PRESETS)},
            )
    elif value is not None and not isinstance(value, _Preset):
        raise PydanticCustomError(
            "paginate_type",
            "paginate is a preset name (paginate: link_header) or an object with a 'type' "
            "(paginate: {type: cursor, cursor_path: next_cursor})",
        )
    return value


# -- expansion -------------------------------------------------------------


def body_key(text: str) -> str:
    """The JMESPath a preset's path means: itself, or ``"@odata.nextLink"`` quoted."""
    try:
        jmespath.compile(text)
    except jp_errors.JMESPathError:
        if _ODD_KEY.match(text):
            return f'"{text}"'
    return text


def body_path(text: str) -> str:
    """A JMESPath over the body, as an expression over the response scope.

    A key that is not valid JMESPath (``@odata.nextLink``) is read as one field name.
    """
    text = body_key(text)
    if _FIELD_CHAIN.match(text):
        return f"response.body.{text}"
    return f"response.body | ({text})"


def records_json_path(text: str) -> str | None:
    """The DuckDB JSON path of a ``records`` path over the body, or None if it has none.

    Capture stores a page's records as a reference to the page's body when DuckDB can
    find them there itself (``capture/_rows.py``): a chain of field names (``data``,
    ``response.items``, ``"@odata.value"``) or ``@`` (the body is the list). Anything
    else (filters, projections, functions, an index) is None: the records are stored
    as text. Keys are quoted (``$."data"``); a key with a quote, a backslash or a
    control character, or an empty one, is None too.
    """
    try:
        node = jmespath.compile(body_key(text)).parsed
    except jp_errors.JMESPathError:
        return None
    keys: list[str] = []
    if not _field_chain(node, keys):
        return None
    if any(not key or _UNQUOTABLE.search(key) for key in keys):
        return None
    return "$" + "".join(f'."{key}"' for key in keys)


def _field_chain(node: dict[str, Any], keys: list[str]) -> bool:
    """Whether ``node`` is ``@`` or a chain of fields (appending their names to ``keys``)."""
    kind = node.get("type")
    if kind == "current":
        return not keys
    if kind == "field":
        keys.append(node["value"])
        return True
    if kind == "subexpression":
        left, right = node["children"]
        return (
            left.get("type") != "current"
            and _field_chain(left, keys)
            and (right.get("type") == "field" and _field_chain(right, keys))
        )
    return False


_UNQUOTABLE = re.compile(r'["\\\x00-\x1f]')


_ODD_KEY = re.compile(r"^[@$][A-Za-z0-9_.@$:-]*$")
"""A key like ``@odata.nextLink``: not JMESPath, read as one field name."""
_FIELD_CHAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _literal(value: Any) -> str:
    import json

    return "`" + json.dumps(value) + "`"


def _records_count(records: str | None) -> str | None:
    return None if records is None else f"length(({body_path(records)}) || `[]`)"


class Expansion:
    """What a preset adds to its step (the fields of :class:`HttpStep` it sets)."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.headers: dict[str, Any] = {}
        self.body: dict[str, Any] = {}
        self.page_state: dict[str, Any] = {}
        self.page_state_updates: dict[str, str] = {}
        self.next_url: str | None = None
        self.conditions: list[str] = []  # all must hold for another page


class PaginateError(ValueError):
    """A preset that cannot work as given; ``field`` is where, ``fix`` what to do."""

    def __init__(self, field: str, message: str, fix: str):
        super().__init__(message)
        self.field = field
        self.fix = fix


def expansion(preset: Any, records: str | None) -> Expansion:
    """The fields a preset (not ``auto``) stands for; raises :class:`PaginateError`."""
    out = Expansion()
    if isinstance(preset, LinkHeaderPaginate):
        out.next_url = "response.links.next"
        out.conditions.append("response.links.next")
    elif isinstance(preset, JsonLinkPaginate):
        out.next_url = body_path(preset.next_path)
        out.conditions.append(out.next_url)
    elif isinstance(preset, OffsetPaginate):
        _offset(preset, records, out)
    elif isinstance(preset, PageNumberPaginate):
        _page_number(preset, records, out)
    elif isinstance(preset, CursorPaginate):
        _cursor(preset, out)
    if preset.max_pages is not None:
        out.page_state["pages"] = 1
        out.page_state_updates["pages"] = "sum([page_state.pages, `1`])"
        out.conditions.append(f"page_state.pages < {_literal(preset.max_pages)}")
    return out


def _offset(preset: OffsetPaginate, records: str | None, out: Expansion) -> None:
    count = _records_count(records)
    if count is None and preset.total_path is None:
        raise PaginateError(
            "paginate",
            "offset pagination cannot tell the last page: the step has no 'records' "
            "and the preset no 'total_path'",
            "add records: <path of the list> (a short page is the last) or total_path",
        )
    limit = _literal(preset.limit)
    out.params[preset.limit_param] = preset.limit
    out.params[preset.offset_param] = "{page_state.offset}"
    out.page_state["offset"] = preset.start
    out.page_state_updates["offset"] = f"sum([page_state.offset, {limit}])"
    if count is not None:
        out.conditions.append(f"{count} >= {limit}")
    if preset.total_path is not None:
        out.conditions.append(
            f"sum([page_state.offset, {limit}]) < ({body_path(preset.total_path)})"
        )


def _page_number(preset: PageNumberPaginate, records: str | None, out: Expansion) -> None:
    count = _records_count(records)
    if count is None and preset.total_pages_path is None:
        raise PaginateError(
            "paginate",
            "page_number pagination cannot tell the last page: the step has no 'records' "
            "and the preset no 'total_pages_path'",
            "add records: <path of the list> (an empty page is the last) or total_pages_path",
        )
    out.params[preset.page_param] = "{page_state.page}"
    if preset.size_param is not None:
        if preset.size is None:
            raise PaginateError(
                "paginate.size", "size_param is set but size is not", "add size: <records per page>"
            )
        out.params[preset.size_param] = preset.size
    out.page_state["page"] = preset.start
    out.page_state_updates["page"] = "sum([page_state.page, `1`])"
    if count is not None:
        least = 1 if preset.size is None else preset.size
        out.conditions.append(f"{count} >= {_literal(least)}")
    if preset.total_pages_path is not None:
        out.conditions.append(
            f"sum([page_state.page, {_literal(1 - preset.start)}]) "
            f"< ({body_path(preset.total_pages_path)})"
        )


def _cursor(preset: CursorPaginate, out: Expansion) -> None:
    target = {"query": out.params, "body": out.body, "header": out.headers}[preset.in_]
    target[preset.cursor_param] = "{page_state.cursor}"
    out.page_state["cursor"] = preset.initial
    cursor = body_path(preset.cursor_path)
    out.page_state_updates["cursor"] = cursor
    if preset.has_more_path is not None:
        out.conditions.append(f"({body_path(preset.has_more_path)}) && ({cursor})")
    else:
        out.conditions.append(cursor)


def bare_condition(text: str) -> str:
    """A condition as bare JMESPath (``{…}`` around the whole is accepted in plans)."""
    stripped = text.strip()
    if stripped.startswith("{") and stripped.endswith("}") and not stripped.startswith("{{"):
        try:
            jmespath.compile(stripped)
        except jp_errors.JMESPathError:
            return stripped[1:-1]
    return stripped


def expand_step_data(data: dict[str, Any], preset: Any, records: str | None) -> dict[str, Any]:
    """The raw step ``data`` (as a user writes it) with ``paginate`` replaced by its fields."""
    out = expansion(preset, records)
    data = {key: value for key, value in data.items() if key != "paginate"}
    for field in ("params", "headers"):
        added = getattr(out, field)
        if added:
            data[field] = {**(data.get(field) or {}), **added}
    if out.body:
        body = data.get("body")
        if body is not None and not isinstance(body, dict):
            raise PaginateError(
                "paginate.in",
                "the cursor goes in the body, but the step's body is not a JSON object",
                "make body an object or send the cursor in: query",
            )
        data["body"] = {**(body or {}), **out.body}
    if out.page_state:
        data["page_state"] = {**out.page_state, **(data.get("page_state") or {})}
        data["page_state_updates"] = {
            **out.page_state_updates,
            **(data.get("page_state_updates") or {}),
        }
    if out.next_url is not None:
        data["next_url"] = out.next_url
    conditions = out.conditions
    condition = conditions[0] if len(conditions) == 1 else " && ".join(f"({c})" for c in conditions)
    mine = data.get("while")
    data["while"] = condition if mine is None else f"({condition}) && ({bare_condition(mine)})"
    return data


_PRESET_ADAPTER: TypeAdapter[Any] = TypeAdapter(Paginate)


def expand_plan_data(data: Any) -> Any:
    """A plan (or one step) as JSON data, with every ``paginate`` preset but ``auto``
    replaced by the fields it stands for: what ``validate --explain`` and
    ``%flow show --expanded`` print. ``data`` must be a valid plan."""
    if isinstance(data, list):
        return [expand_plan_data(item) for item in data]
    if not isinstance(data, dict):
        return data
    expanded = {
        key: value if key in ("body", "config", "params", "headers", "page_state")
        else expand_plan_data(value)
        for key, value in data.items()
    }  # fmt: skip
    if "url" in expanded and expanded.get("paginate") is not None:
        preset = _PRESET_ADAPTER.validate_python(normalize_paginate(expanded["paginate"]))
        if not isinstance(preset, AutoPaginate):
            expanded = expand_step_data(expanded, preset, expanded.get("records"))
    incremental = expanded.get("incremental")
    if "url" in expanded and isinstance(incremental, dict) and expanded.get("name"):
        added: dict[str, Any] = {incremental["param"]: cursor_param_template(expanded["name"])}
        if incremental.get("end_param"):
            added[incremental["end_param"]] = incremental.get("end_value")
        expanded["params"] = {**(expanded.get("params") or {}), **added}
    return expanded
