"""``steps_from_har``: entries of a HAR file (browser dev tools' "Save all as HAR") as steps.

HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/): each entry's
``request`` holds the method, URL, headers and ``postData`` (``text``, or
form ``params``). One entry (``entry=N``, counted from 0) or all of them
become steps as described in :mod:`orchestra.plan._imported`; with all of
them, a browser's HAR is narrowed to its API calls — entries whose
``_resourceType`` (Chrome's field) is ``xhr`` or ``fetch`` — when it says.
Steps are named after the last word of their URL's path (``/v1/users`` →
``users``), numbered when two would share a name.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from orchestra.errors import RequestImportError
from orchestra.plan._imported import Imported, RawRequest, imported_step, name_from_url

SOURCE = "HAR file"
API_RESOURCE_TYPES = frozenset({"xhr", "fetch"})


def steps_from_har(
    har_json: str | bytes | dict[str, Any], entry: int | None = None
) -> list[Imported]:
    """One step per entry (or the one ``entry``), each with its auth, config and secrets."""
    entries = _entries(har_json)
    if entry is not None:
        if not -len(entries) <= entry < len(entries):
            raise RequestImportError(
                f"entry {entry} does not exist: the file has {len(entries)} "
                f"entr{'y' if len(entries) == 1 else 'ies'} (0 to {len(entries) - 1})",
                fix="give an index from that range, or leave --entry out to import them all",
                source=SOURCE,
            )
        chosen = [(entry % len(entries), entries[entry])]
    else:
        chosen = list(enumerate(entries))
        api = [(i, e) for i, e in chosen if _resource_type(e) in API_RESOURCE_TYPES]
        if api:
            chosen = api
    names: set[str] = set()
    return [
        imported_step(
            _request(index, found), name=_unique(name_from_url(found["request"]["url"]), names)
        )
        for index, found in chosen
    ]


def _entries(har_json: str | bytes | dict[str, Any]) -> list[dict[str, Any]]:
    data: Any = har_json
    if isinstance(har_json, (str, bytes)):
        try:
            data = json.loads(har_json)
        except ValueError as error:
            raise RequestImportError(
                f"not JSON: {error}",
                fix="save the HAR again from the browser's network panel (Save all as HAR)",
                source=SOURCE,
            ) from None
    entries = data.get("log", {}).get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise RequestImportError(
            "no log.entries: this is not a HAR file, or it recorded no requests",
            fix="record the requests in the browser's network panel, then Save all as HAR",
            source=SOURCE,
        )
    return entries


def _resource_type(entry: Any) -> str | None:
    return entry.get("_resourceType") if isinstance(entry, dict) else None


def _request(index: int, entry: Any) -> RawRequest:
    request = entry.get("request") if isinstance(entry, dict) else None
    if not isinstance(request, dict) or not isinstance(request.get("url"), str):
        raise RequestImportError(
            f"entry {index} has no request.url", fix="pick another entry", source=SOURCE
        )
    headers = [
        (str(h.get("name", "")), str(h.get("value", "")))
        for h in request.get("headers") or []
        if isinstance(h, dict) and h.get("name")
    ]
    body = None
    post = request.get("postData")
    if isinstance(post, dict):
        mime = str(post.get("mimeType") or "")
        if mime.lower().startswith("multipart/"):
            raise RequestImportError(
                f"entry {index} sends a multipart form ({mime}), which a plan step cannot send",
                fix="write its fields as form: or body: by hand, or pick another entry",
                source=SOURCE,
            )
        if isinstance(post.get("text"), str):
            body = post["text"]
        elif isinstance(post.get("params"), list) and post["params"]:
            fields = [p for p in post["params"] if isinstance(p, dict)]
            body = urlencode([(p.get("name", ""), p.get("value", "")) for p in fields])
        if body is not None and mime and not any(h.lower() == "content-type" for h, _ in headers):
            headers.append(("Content-Type", mime))
    return RawRequest(
        url=request["url"], method=str(request.get("method") or "GET"), headers=headers, body=body
    )


def _unique(name: str, taken: set[str]) -> str:
    unique, number = name, 2
    while unique in taken:
        unique, number = f"{name}_{number}", number + 1
    taken.add(unique)
    return unique
