"""Exports of a captured run: the plan (JSON, YAML), HAR 1.2, curl, JSON Lines, CSV, Parquet.

Everything here reads what the capture stored, and the capture stores masked
values only: a secret read from ``{"env": NAME}`` appears as the reference
``${NAME}``, any other secret (a token obtained at run time, a sensitive
header or query parameter) as ``***``. Exports never unmask, with one explicit
exception: ``export_curl(reveal_secrets=True)`` puts the values of ``${NAME}``
references back from the environment of the exporting process.

* :func:`export_plan` — the exact plan JSON that ran (secrets as references);
  :func:`export_plan_yaml` — the same plan as YAML (``orchestra run`` reads it back).
* :func:`export_har` — HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/)
  that browser developer tools import; Orchestra's own fields start with ``_``.
* :func:`export_curl` — one runnable ``curl`` command per exchange, of the run or
  of a selection (a step, failed exchanges, chosen exchange ids).
* :func:`export_jsonl` — one JSON object per line for records, exchanges, steps,
  errors or events, streamed in chunks so a large run never sits in memory at once.
* :func:`export_records` — a run's (or one step's) records as a CSV or Parquet file,
  written by DuckDB straight from the capture; one step is its typed table, the
  same file ``orchestra export --format parquet --step`` writes.
"""

from __future__ import annotations

import base64
import datetime as dt
import http
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import orjson
import yaml

from orchestra.capture._exchange_filter import ExchangeFilter
from orchestra.capture._read import PAGED_BY, RUN_TABLES
from orchestra.capture._store import CaptureStore
from orchestra.masking import MASK
from orchestra.plan import SECRET_REFERENCE, curl_text

HAR_VERSION = "1.2"
RECORD_FORMATS = ("csv", "parquet")
JSONL_TABLES = tuple(RUN_TABLES)

_REFERENCE = SECRET_REFERENCE
_TEXT_TYPES = ("json", "xml", "csv", "text/", "javascript", "x-www-form-urlencoded", "html")
_CHUNK = 5000  # rows read per connection by export_jsonl


# -- reading -------------------------------------------------------------------------------


def _run_and_exchanges(
    store: CaptureStore, run: str | None, selection: Mapping[str, Any] | None = None
) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """The run's id, its row and its exchanges (plain values, no NaN/NaT), in one read.

    ``selection`` (``step_path``, ``errors_only``, ``exchange_ids``, ``filters``) narrows the
    exchanges.
    """
    with store.read() as reader:
        run_id = reader.resolve_run(run)
        run_row = reader.run(run_id) or {"run_id": run_id}
        if not selection:
            return run_id, run_row, reader.table_rows("exchanges", run_id)
        return run_id, run_row, reader.exchanges_for_export(run_id, **selection)


def _headers(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    value = orjson.loads(text)
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _iso(moment: dt.datetime | None) -> str:
    """ISO 8601 in UTC with milliseconds (capture timestamps are naive UTC)."""
    if moment is None:
        moment = dt.datetime.fromtimestamp(0, dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def _request_body_is_base64(headers: Mapping[str, str], body: str | None) -> bool:
    """Whether a stored request body is base64 (the capture keeps no encoding for it).

    The writer stores a body as text when its content type is text-like (or
    absent) and it decodes as UTF-8, and as base64 otherwise; the same rule
    recognises it here for non-text content types.
    """
    if not body:
        return False
    content_type = (_header(headers, "content-type") or "").lower()
    if not content_type or any(kind in content_type for kind in _TEXT_TYPES):
        return False
    try:
        base64.b64decode(body, validate=True)
    except ValueError:
        return False
    return True


# -- plan -----------------------------------------------------------------------------------


def export_plan(store: CaptureStore, run: str | None = None) -> dict[str, Any]:
    """The exact plan JSON that ran (secrets stay ``{"env": NAME}`` references)."""
    return store.plan(run)


def export_plan_yaml(store: CaptureStore, run: str | None = None) -> str:
    """The plan that ran as YAML, keys in the plan's order (secrets stay references)."""
    return yaml.safe_dump(
        export_plan(store, run), sort_keys=False, allow_unicode=True, default_flow_style=False
    )


# -- HAR --------------------------------------------------------------------------------------


def _name_values(headers: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in headers.items()]


def _status_text(status: int | None) -> str:
    if not status:
        return ""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _har_request(exchange: dict[str, Any]) -> dict[str, Any]:
    headers = _headers(exchange["request_headers"])
    url = exchange["url"] or ""
    body = exchange["request_body"]
    request: dict[str, Any] = {
        "method": exchange["method"] or "GET",
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _name_values(headers),
        "queryString": [
            {"name": name, "value": value}
            for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True)
        ],
        "headersSize": -1,
        "bodySize": int(exchange["request_size"] or 0),
    }
    if body is not None:
        post: dict[str, Any] = {
            "mimeType": _header(headers, "content-type") or "",
            "text": body,
        }
        if _request_body_is_base64(headers, body):
            post["_encoding"] = "base64"
        request["postData"] = post
    return request


def _har_response(exchange: dict[str, Any]) -> dict[str, Any]:
    status = exchange["status_code"]
    if status is None:  # no response: a transport error, a timeout, a cancelled request
        return {
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown", "text": ""},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
            "_error": exchange["error"] or "no response",
        }
    headers = _headers(exchange["response_headers"])
    size = int(exchange["response_size"] or 0)
    content: dict[str, Any] = {
        "size": size,
        "mimeType": _header(headers, "content-type") or "x-unknown",
    }
    if exchange["response_body"] is not None:
        content["text"] = exchange["response_body"]
        if exchange["response_body_encoding"] == "base64":
            content["encoding"] = "base64"
    length = _header(headers, "content-length")
    response: dict[str, Any] = {
        "status": int(status),
        "statusText": _status_text(int(status)),
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _name_values(headers),
        "content": content,
        "redirectURL": _header(headers, "location") or "",
        "headersSize": -1,
        "bodySize": int(length) if length and length.isdigit() else size,
    }
    if exchange["error"]:
        response["_error"] = exchange["error"]
    return response


def _har_entry(exchange: dict[str, Any], page_id: str) -> dict[str, Any]:
    elapsed = exchange["elapsed_ms"]
    total = round(float(elapsed), 3) if elapsed is not None and elapsed >= 0 else 0.0
    # waiting for the first byte, then receiving the body, where the transport told when
    # the first byte came (first_byte_ms); all of it is "wait" where it did not
    first_byte = exchange.get("first_byte_ms")
    wait = total
    if first_byte is not None and first_byte == first_byte and first_byte >= 0:  # not NaN
        wait = min(round(float(first_byte), 3), total)
    return {
        "pageref": page_id,
        "startedDateTime": _iso(exchange["started_at"]),
        "time": total,
        "request": _har_request(exchange),
        "response": _har_response(exchange),
        "cache": {},
        "timings": {"send": 0, "wait": wait, "receive": round(total - wait, 3)},
        "_orchestra": {
            "run_id": exchange["run_id"],
            "exchange_id": exchange["exchange_id"],
            "execution_id": exchange["execution_id"],
            "step_path": exchange["step_path"],
            "page": exchange["page"],
            "item_index": exchange["item_index"],
            "attempt": exchange["attempt"],
            "hop": exchange.get("hop") or 0,
        },
    }


def export_har(store: CaptureStore, run: str | None = None) -> dict[str, Any]:
    """The exchanges of a run as a HAR 1.2 log (``json.dump`` it to a ``.har`` file).

    One page per run; each entry carries ``_orchestra`` (step path, page, item
    index, attempt, redirect hop, exchange id). Each redirect hop is an entry of
    its own, its ``redirectURL`` the Location the next entry requested. An
    exchange that got no response has status 0 and its error in ``response._error``.
    """
    from orchestra._version import __version__

    run_id, run_row, exchanges = _run_and_exchanges(store, run)
    started = run_row.get("started_at") or (exchanges[0]["started_at"] if exchanges else None)
    plan_key = run_row.get("plan_key") or "plan"
    return {
        "log": {
            "version": HAR_VERSION,
            "creator": {"name": "Orchestra", "version": __version__},
            "pages": [
                {
                    "startedDateTime": _iso(started),
                    "id": run_id,
                    "title": f"{plan_key} — run {run_id}",
                    "pageTimings": {"onContentLoad": -1, "onLoad": -1},
                }
            ],
            "entries": [_har_entry(exchange, run_id) for exchange in exchanges],
            "comment": f"Orchestra run {run_id} of plan {plan_key!r} "
            f"({run_row.get('status') or 'unknown'}); secrets are masked",
            "_orchestra": {
                "run_id": run_id,
                "plan_key": run_row.get("plan_key"),
                "status": run_row.get("status"),
                "mode": run_row.get("mode"),
            },
        }
    }


# -- curl -------------------------------------------------------------------------------------


class _Revealer:
    """Puts ``${NAME}`` values back from an environment, encoded for where they stand."""

    def __init__(self, environ: Mapping[str, str]):
        self.environ = environ
        self.missing: set[str] = set()

    def __call__(self, text: str, encode: Callable[[str], str] | None = None) -> str:
        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.environ:
                self.missing.add(name)
                return match.group(0)
            secret = self.environ[name]
            return encode(secret) if encode else secret

        return _REFERENCE.sub(value, text)


def _json_escape(value: str) -> str:
    return json.dumps(value)[1:-1]


def _url_escape(value: str) -> str:
    return quote(value, safe="")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def curl_comment(exchange: dict[str, Any]) -> str:
    status = exchange["status_code"]
    outcome = str(status) if status is not None else "no response"
    if status is None and exchange["error"]:
        outcome += f" ({_one_line(exchange['error'])})"
    comment = (
        f"# {exchange['step_path']} page {exchange['page']} "
        f"attempt {exchange['attempt']} -> {outcome}"
    )
    if exchange["item_index"] is not None:
        comment += f" (item {exchange['item_index']})"
    return comment


def curl_command(exchange: dict[str, Any], reveal: _Revealer | None) -> str:
    headers = _headers(exchange["request_headers"])
    method = (exchange["method"] or "GET").upper()
    url = exchange["url"] or ""
    body = exchange["request_body"]
    content_type = (_header(headers, "content-type") or "").lower()
    binary = _request_body_is_base64(headers, body)
    if reveal is not None:
        url = reveal(url, _url_escape)
        if body is not None and not binary:
            if "x-www-form-urlencoded" in content_type:
                body = reveal(body, quote_plus)
            elif "json" in content_type:
                body = reveal(body, _json_escape)
            else:
                body = reveal(body)

    headers = {name: reveal(value) if reveal is not None else value
               for name, value in headers.items()}  # fmt: skip
    return curl_text(method, url, headers, body, base64_body=binary)


def export_curl(
    store: CaptureStore,
    run: str | None = None,
    *,
    reveal_secrets: bool = False,
    environ: Mapping[str, str] | None = None,
    step_path: str | None = None,
    errors_only: bool = False,
    exchange_ids: list[int] | None = None,
    filters: ExchangeFilter | None = None,
) -> str:
    """One runnable ``curl`` command per exchange of a run, each after a ``#`` comment.

    ``step_path``, ``errors_only`` (status >= 400 or none), ``filters`` (an
    :class:`~orchestra.capture.ExchangeFilter`: status, error kind, URL, item,
    page, attempt, body text, and its sort) and ``exchange_ids`` narrow the
    exchanges to a selection: the dashboard's exchange list, step or exchange.
    With ``filters`` the commands follow the list's order.

    Secrets stay masked as they were stored: ``${NAME}`` (read from the
    environment at run time) is left in double quotes for the shell to expand,
    ``***`` (a token obtained at run time, a sensitive header) must be filled in
    by hand. ``reveal_secrets=True`` replaces ``${NAME}`` with the value from
    ``environ`` (default ``os.environ``); a variable that is not set stays a
    reference, with a warning comment.
    """
    selection: dict[str, Any] = {}
    if step_path is not None or errors_only or exchange_ids is not None or filters is not None:
        selection = {"step_path": step_path, "errors_only": errors_only,
                     "exchange_ids": exchange_ids, "filters": filters}  # fmt: skip
    run_id, run_row, exchanges = _run_and_exchanges(store, run, selection)
    env = os.environ if environ is None else environ
    count = len(exchanges)
    lines = [
        f"# Orchestra run {run_id} of plan {run_row.get('plan_key')!r} "
        f"({run_row.get('status') or 'unknown'}): {count} exchange{'' if count == 1 else 's'}"
    ]
    if reveal_secrets:
        lines.append(
            "# secrets read from the environment are revealed below: do not share this file"
        )
    commands = []
    any_reference = False
    for exchange in exchanges:
        reveal = _Revealer(env) if reveal_secrets else None
        command = curl_command(exchange, reveal)
        comment = [curl_comment(exchange)]
        if reveal is not None:
            for name in sorted(reveal.missing):
                comment.append(
                    f"# warning: ${name} is not set in the environment; left as ${{{name}}} "
                    "for the shell to expand"
                )
        if _REFERENCE.search(command):
            any_reference = True
        if MASK in command:
            comment.append(
                f"# note: {MASK} is a value masked at capture (a token obtained at run time or "
                "a credential); it cannot be revealed: put the real value in by hand"
            )
        commands.append("\n".join([*comment, command]))
    if any_reference:
        lines.append(
            "# ${NAME} are secrets from environment variables: the shell expands them "
            "when you run the command"
        )
    return "\n\n".join(["\n".join(lines), *commands]) + "\n"


# -- JSON Lines ------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return _iso(value)
    return value


_JSON_COLUMNS = {"request_headers", "response_headers", "data", "config", "plan", "detail"}


def _jsonl_row(table: str, row: dict[str, Any]) -> dict[str, Any]:
    if table == "records":
        return {
            "seq": row["seq"],
            "step_path": row["step_path"],
            "page": row["page"],
            "item_index": row["item_index"],
            "data": orjson.loads(row["data"]) if row["data"] is not None else None,
        }
    return {
        column: orjson.loads(value)
        if column in _JSON_COLUMNS and isinstance(value, str)
        else _plain(value)
        for column, value in row.items()
    }


def export_jsonl(
    store: CaptureStore, run: str | None = None, table: str = "records"
) -> Iterator[str]:
    """One JSON object per row of ``table`` for a run, as lines without a newline.

    ``records``: ``{"seq", "step_path", "page", "item_index", "data"}`` with
    ``data`` the emitted value; ``exchanges``, ``steps``, ``errors``, ``events``:
    the table's row, JSON columns (headers, detail) as objects and timestamps
    in ISO 8601.
    Rows are read in chunks, each on a connection of its own, so a long export
    never holds the capture file open.
    """
    if table not in JSONL_TABLES:
        raise ValueError(f"table must be one of {', '.join(JSONL_TABLES)} (got {table!r})")
    run_id = store.resolve_run(run)
    key = PAGED_BY.get(table)
    if key is None:  # steps: no sequence column; a run's steps fit in memory
        with store.read() as reader:
            rows = reader.table_rows(table, run_id)
        for row in rows:
            yield orjson.dumps(_jsonl_row(table, row)).decode()
        return
    last = -1
    while True:
        with store.read() as reader:
            rows = reader.table_rows(table, run_id, after=last, limit=_CHUNK)
        for row in rows:
            yield orjson.dumps(_jsonl_row(table, row)).decode()
        if len(rows) < _CHUNK:
            return
        last = rows[-1][key]


# -- CSV and Parquet ---------------------------------------------------------------------------


def export_records(
    store: CaptureStore,
    target: str | os.PathLike[str],
    run: str | None = None,
    *,
    file_format: str = "csv",
    step_path: str | None = None,
) -> int:
    """Write the records of a run (or of one step path) to ``target``; how many were written.

    ``file_format`` is ``csv`` or ``parquet``. The whole run has the columns
    ``seq, step_path, page, item_index, data`` (each record as JSON). One step is
    written as its typed table — the same columns as ``CaptureStore.table`` and
    ``orchestra export --format parquet --step`` (``run_id``, then a column per
    field; nested values as STRUCTs and LISTs in Parquet, JSON text in CSV); with
    ``run`` left out (or ``last``) that is the latest run that ran the step. A step
    without records in the run raises ``TableNotFound`` naming the steps that have
    some. DuckDB writes the file from the capture, so a large run never sits in memory.
    """
    if file_format not in RECORD_FORMATS:
        raise ValueError(
            f"file_format must be one of {', '.join(RECORD_FORMATS)} (got {file_format!r})"
        )
    with store.read() as reader:
        run_id = reader.resolve_run(run) if step_path is None else reader.table_run(step_path, run)
        return reader.copy_records(
            run_id, os.fspath(target), step_path=step_path, file_format=file_format
        )
