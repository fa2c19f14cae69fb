"""Turning engine events into table rows as they happen (on the event loop).

:class:`RowBuilder` is called by the capture writer for every event that makes
a row, on the engine's thread, and appends the row's values to one flat list
per table (``tables``); the writer thread takes what is there at each flush
(:meth:`RowBuilder.take`) and hands whole columns to Arrow and DuckDB.

Why here and not on the writer thread: an event waiting in a queue for the
next flush is five or so live objects the garbage collector counts, and every
700 of them trigger a collection that walks the young objects of a fanout in
flight — tens of µs per request in all. Once converted the events die at
once; the flat lists hold only str, bytes, int, float and None, which the
collector does not track, and each row is appended with one ``list.extend``
of a tuple that is freed right away, so a fanout item (request sent,
response, step started and finished, record) costs a few µs here. JSON is
kept as ``str``, not orjson's ``bytes`` (bytes kept alive until the flush are
not pymalloc's memory and cost more than decoding them), and is serialized
without ``orjson.OPT_NON_STR_KEYS``, which would make it several times slower.

What is done here and what at the flush:

* masking *by name* (sensitive headers, query and form parameters) is done
  here, with small caches of what a name or set of names means: a row without
  a sensitive name costs no masking;
* masking *by value* (the run's secrets, wherever they appear) is done by the
  writer when it writes (``MASKED_COLUMNS``, ``mask_column``), with the
  masker as it is then: a secret registered after an event still masks it,
  and a run without secrets pays nothing;
* a page's records are one ``record_pages`` row, not a JSON text each, when the
  engine says they are the list at a DuckDB JSON path of the body it parsed
  (``RecordEmitted.source``) and the body is stored as text: DuckDB reads them
  out of ``exchanges.response_body`` when they are queried. A run with secrets
  gets them back as masked text at the flush (``page_rows``): masking the body
  as text would miss a secret the server wrote escaped (``\u0041``);
* response bodies stay the ``bytes`` that came over the wire: Arrow checks they
  are UTF-8 while copying them once, instead of Python decoding a 29 KB page to
  ``str`` and Arrow encoding it back (``fix_bodies`` stores the rare body that
  is not UTF-8 as base64, as ``body_text`` does).
"""

from __future__ import annotations

import base64
import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from orchestra._json import convert, to_json
from orchestra.capture._schema import COLUMNS, path_keys
from orchestra.events import (
    AssertionFailed,
    BreakerRejected,
    BreakerStateChanged,
    CompensationFinished,
    CompensationStarted,
    DebugAction,
    Event,
    FanoutStarted,
    PaginationDetected,
    RateLimitWait,
    RecordEmitted,
    RequestSent,
    ResponseIgnored,
    ResponseReceived,
    RetryScheduled,
    RunFinished,
    RunStarted,
    StepCapped,
    StepFinished,
    StepStarted,
    TokenRefreshed,
)
from orchestra.masking import Masker, is_sensitive_header, is_sensitive_param

_TEXT_TYPES = ("json", "xml", "csv", "text/", "javascript", "x-www-form-urlencoded", "html")

# The tables rows are built for, in the order a flush writes them.
# Exchanges come before records: a flush that takes a page's records by reference takes
# the row of their exchange's body in it or an earlier flush (``RowBuilder.take``).
ROW_TABLES = ("plans", "steps", "exchanges", "record_rows", "record_pages", "errors", "events")
WIDTHS = {table: len(COLUMNS[table]) for table in ROW_TABLES}
# A record_pages row carries one more value, never stored: the body its records are in
# (the writer reads them out of it as text when the run has secrets: ``page_rows``).
WIDTHS["record_pages"] += 1
# Bodies kept for the records that may follow their response: at most this many, and
# this many bytes (a page's records consume its body's entry; the oldest are evicted
# first, and an evicted body's records are stored as text). Responses of steps without
# ``records:`` are kept too (the builder cannot tell), hence the bound in bytes.
_KEPT_BODIES = 256
_KEPT_BYTES = 32 * 1024 * 1024

# Columns masked by value when written (index in the row). Bodies are masked only
# when stored as text (encoding column utf-8); plans hold secret references only.
MASKED_COLUMNS: dict[str, tuple[int, ...]] = {
    "exchanges": (8, 9, 13, 20),  # url, request_headers, response_headers, error
    "steps": (15,),  # error
    "record_rows": (7,),  # data (record_pages rows are never written when there are secrets)
    "errors": (7,),  # message
    "events": (7,),  # detail
}
BODY_COLUMNS = ((10, 11), (14, 15))  # exchanges: (body, encoding), request then response


def _nothing() -> None:
    pass


def plan_hash(plan: dict[str, Any]) -> str:
    """Content hash of a plan as written (secrets are references, never values)."""
    return hashlib.sha256(to_json(plan, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


_dumps = orjson.dumps


def _json(value: Any) -> str:
    """Any value as JSON text, by the one rule of :mod:`orchestra._json` (an integer
    beyond 64 bits becomes a string...): a value never stops capture."""
    # str, not orjson's bytes: bytes kept alive until the flush cost more than decoding
    # them (their memory is not pymalloc's). orjson is called here first, not through
    # to_json, whose extra call would be a large share of a small record's cost.
    try:
        return _dumps(value, default=convert).decode()
    except TypeError:  # what orjson refuses (an integer beyond 64 bits...): the rule
        return to_json(value).decode()


def body_text(raw: bytes | None, content_type: str) -> tuple[str | None, str | None]:
    """(text, encoding): utf-8 text when it is text, base64 otherwise."""
    body, encoding = _body(raw, content_type)
    if isinstance(body, bytes):
        return _utf8_or_base64(body)
    return body, encoding


def _utf8_or_base64(raw: bytes) -> tuple[str, str]:
    """A body said to be text: (text, "utf-8"), or (base64, "base64") if it is not UTF-8."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


def _body(raw: bytes | None, content_type: str) -> tuple[bytes | str | None, str | None]:
    """``body_text`` without decoding: the writer checks the UTF-8 (see ``fix_bodies``)."""
    if not raw:
        return None, None
    if _is_text(content_type):
        return raw, "utf-8"
    return base64.b64encode(raw).decode("ascii"), "base64"


# Small caches of decisions that depend only on names, which repeat from row to
# row. Cleared, never grown, past a bound (names a server makes up per request).
_CACHE_LIMIT = 4096
_TEXTUAL: dict[str, bool] = {}  # content type -> stored as text
_SENSITIVE_HEADERS: dict[tuple[str, ...], bool] = {}  # header names -> any sensitive


def _is_text(content_type: str) -> bool:
    textual = _TEXTUAL.get(content_type)
    if textual is None:
        lowered = content_type.lower()
        textual = not lowered or any(kind in lowered for kind in _TEXT_TYPES)
        if len(_TEXTUAL) >= _CACHE_LIMIT:
            _TEXTUAL.clear()
        _TEXTUAL[content_type] = textual
    return textual


def _headers_json(mask: Masker, headers: dict[str, str]) -> str:
    """Headers as JSON text, those with a sensitive name masked (the rest is masked by
    value when written)."""
    names = tuple(headers)
    sensitive = _SENSITIVE_HEADERS.get(names)
    if sensitive is None:
        sensitive = any(is_sensitive_header(name) for name in names)
        if len(_SENSITIVE_HEADERS) >= _CACHE_LIMIT:
            _SENSITIVE_HEADERS.clear()
        _SENSITIVE_HEADERS[names] = sensitive
    if sensitive:
        headers = mask.headers(headers)
    return _dumps(headers, default=str).decode()


def _url(mask: Masker, url: str) -> str:
    """``mask.url`` when a query parameter has a sensitive name (else masked by value later).

    Names are decoded before ``mask.url`` judges them, so a query with ``%`` or
    ``+`` goes through it too; otherwise a query in which ``is_sensitive_param``
    finds nothing anywhere has no sensitive name either.
    """
    query = url.partition("?")[2]
    if query and ("%" in query or "+" in query or is_sensitive_param(query)):
        return mask.url(url)
    return url


@dataclass
class RunState:
    """What the writer remembers about the run between events."""

    run_id: str
    plan_key: str
    plan_hash: str
    mode: str
    started_at: float
    config: str
    version: str
    status: str = "running"
    finished_at: float | None = None
    duration_ms: float | None = None
    requests: int = 0
    errors: int = 0
    records: int = 0
    error: str | None = None
    error_type: str | None = None
    error_step: str | None = None

    def row(self) -> tuple:
        return (
            self.run_id, self.plan_key, self.plan_hash, self.mode, self.status,
            self.started_at, self.finished_at, self.duration_ms, self.requests, self.errors,
            self.records, self.error, self.error_type, self.error_step, self.config,
            self.version,
        )  # fmt: skip


class RowBuilder:
    """Stateful converter: pairs requests with responses, step starts with ends.

    ``tables`` maps each table of ``ROW_TABLES`` to a flat list of values,
    ``WIDTHS[table]`` per row. Only the event loop appends (one ``extend`` per
    row) and only the writer thread removes (:meth:`take`), so no lock is
    needed: each is one operation under the GIL.
    """

    def __init__(self, version: str):
        self.version = version
        self.masker = Masker()
        self.run: RunState | None = None
        self.tables: dict[str, list[Any]] = {table: [] for table in ROW_TABLES}
        self.rows = 0  # rows appended since the writer last took them (approximate)
        self.body_bytes = 0  # bytes of bodies and records in those rows (approximate)
        self.limit_rows = self.limit_bytes = sys.maxsize  # past either, on_full() is called
        self.on_full: Callable[[], None] = _nothing
        self._requests: dict[int, RequestSent] = {}
        self._steps: dict[str, StepStarted] = {}
        self._step_requests: dict[str, int] = {}
        self._step_items: dict[str, int] = {}
        self._record_seq = 0
        self._error_seq = 0
        self._event_seq = 0
        self._exchanges = self.tables["exchanges"]
        self._records = self.tables["record_rows"]
        self._pages = self.tables["record_pages"]
        self._bodies: dict[int, bytes] = {}  # exchange id -> its body, stored as UTF-8 text
        self._kept_bytes = 0  # bytes of the bodies in _bodies
        self._page_next: tuple[int | None, int] = (None, 0)  # (exchange, index) a page row covers
        self._step_rows = self.tables["steps"]
        self.handlers = {kind: handler.__get__(self) for kind, handler in _HANDLERS.items()}

    def take(self) -> dict[str, list[Any]]:
        """Remove and return the rows appended so far, per table (writer thread)."""
        taken = {}
        self.rows = self.body_bytes = 0
        for table, values in self.tables.items():
            size = len(values)
            if size:
                taken[table] = values[:size]
                del values[:size]  # rows appended meanwhile stay, after size
        return taken

    def _row_added(self) -> None:
        self.rows += 1
        if self.rows >= self.limit_rows or self.body_bytes >= self.limit_bytes:
            self.on_full()

    # -- handlers ---------------------------------------------------------------------

    def _run_started(self, event: RunStarted) -> None:
        self.masker = event.masker
        digest = plan_hash(event.plan)
        self.run = RunState(
            run_id=event.run_id, plan_key=event.plan_key, plan_hash=digest, mode=event.mode,
            started_at=event.at, config=_json(self.masker.value(event.config)),
            version=self.version,
        )  # fmt: skip
        self.tables["plans"].extend((digest, event.plan_key, _json(event.plan), event.run_id,
                                     event.at))  # fmt: skip
        self.rows += 1

    def _request_sent(self, event: RequestSent) -> None:
        self._requests[event.exchange_id] = event
        step_requests = self._step_requests
        step_requests[event.execution_id] = step_requests.get(event.execution_id, 0) + 1
        if self.run is not None:
            self.run.requests += 1

    def _response(self, event: ResponseReceived) -> None:
        request = self._requests.pop(event.exchange_id, None)
        if request is None:
            return
        self._exchange_row(request, event)
        if event.error:
            self._error(event.at, event.step_path, "transport", None, event.exchange_id,
                        event.error)  # fmt: skip

    def _exchange_row(
        self, request: RequestSent, response: ResponseReceived | None, error: str | None = None
    ) -> None:
        mask = self.masker
        headers = request.headers
        url = request.url
        if "?" in url:
            url = _url(mask, url)
        raw_request = request.body
        request_body: bytes | str | None = raw_request
        request_size = 0
        request_encoding = None
        if raw_request:
            request_size = len(raw_request)
            content_type = headers.get("content-type", "")
            request_body, request_encoding = _body(raw_request, content_type)
            if request_encoding == "utf-8" and "x-www-form-urlencoded" in content_type:
                request_body, request_encoding = _form(mask, raw_request)  # text: the raw bytes
        request_headers = _headers_json(mask, headers)
        body: bytes | str | None
        if response is None:
            status = response_headers = body = encoding = size = elapsed = first_byte = None
        else:
            status = response.status_code
            headers = response.headers
            body = response.body
            size = len(body)
            self.body_bytes += size
            body, encoding = _body(body, headers.get("content-type", ""))
            if encoding == "utf-8" and type(body) is bytes:
                self._keep(request.exchange_id, body)
            response_headers = _headers_json(mask, headers)
            elapsed = response.elapsed_ms
            first_byte = response.first_byte_ms
            error = response.error
        self._exchanges.extend((
            request.run_id, request.exchange_id, request.execution_id, request.step_path,
            request.page, request.item_index, request.attempt, request.method, url,
            request_headers, request_body, request_encoding, status, response_headers, body,
            encoding, request_size, size, request.at, elapsed, error, request.hop, first_byte,
        ))  # fmt: skip
        self._row_added()

    def _step_started(self, event: StepStarted) -> None:
        self._steps[event.execution_id] = event

    def _fanout_started(self, event: FanoutStarted) -> None:
        parent = event.execution_id
        self._step_items[parent] = self._step_items.get(parent, 0) + event.total_items

    def _step_finished(self, event: StepFinished) -> None:
        started = self._steps.pop(event.execution_id, None)
        execution_id = event.execution_id
        self._step_rows.extend((
            event.run_id, execution_id,
            started.parent_execution_id if started else None, event.step_path,
            started.kind if started else None, event.item_index, event.status,
            event.reason, self._step_requests.pop(execution_id, 0),
            event.pages, self._step_items.pop(execution_id, 0), event.records,
            started.at if started else None, event.at, event.duration_ms, event.error,
        ))  # fmt: skip
        self._row_added()
        if event.error:
            self._error(event.at, event.step_path, f"step_{event.status}", None, None,
                        event.error)  # fmt: skip

    def _record(self, event: RecordEmitted) -> None:
        self._record_seq += 1
        if self.run is not None:
            self.run.records += 1
        if event.source is not None:
            if event.index and self._page_next == (event.exchange_id, event.index):
                self._page_next = (event.exchange_id, event.index + 1)
                return  # one of the page's records its record_pages row counts
            if not event.index and self._page(event):
                return
        data = _json(event.record)
        self.body_bytes += len(data)
        self._records.extend((event.run_id, self._record_seq, event.step_path, event.page,
                              event.item_index, event.exchange_id, event.at, data))  # fmt: skip
        self._row_added()

    def _keep(self, exchange_id: int, body: bytes) -> None:
        """Keep a body its records may refer to, evicting the oldest past the bounds."""
        bodies = self._bodies
        bodies[exchange_id] = body
        self._kept_bytes += len(body)
        while len(bodies) > _KEPT_BODIES or self._kept_bytes > _KEPT_BYTES:
            evicted = bodies.pop(next(iter(bodies)))
            self._kept_bytes -= len(evicted)

    def _page(self, event: RecordEmitted) -> bool:
        """The first record of a page: one record_pages row for the page's ``count``
        records, if its body was captured as text (else False: each is stored as text).

        The engine emits a page's records one after another with nothing in between (no
        await), so the row's count is right from the first; ``_page_next`` checks it.
        """
        body = self._bodies.pop(event.exchange_id, None)  # type: ignore[arg-type]
        if body is None:
            return False
        self._kept_bytes -= len(body)
        self._page_next = (event.exchange_id, 1)
        self._pages.extend((event.run_id, self._record_seq, event.step_path, event.page,
                            event.item_index, event.exchange_id, event.at, event.source, 0,
                            event.count, body))  # fmt: skip
        self._row_added()
        return True

    def _ignored(self, event: ResponseIgnored) -> None:
        message = f"status {event.status_code} ignored ({event.reason})"
        self._error(event.at, event.step_path, "ignored", event.status_code, event.exchange_id,
                    message)  # fmt: skip

    def _assertion(self, event: AssertionFailed) -> None:
        self._error(event.at, event.step_path, "assertion", None, event.exchange_id,
                    f"{event.expectation}: {event.message}")  # fmt: skip

    def _notable(self, event: Event) -> None:
        """Retries, rate-limit waits, breaker changes, compensation, token refreshes, caps."""
        self._event_seq += 1
        fields = {
            name: getattr(event, name)
            for name in getattr(event, "__dataclass_fields__", {})
            if name not in ("run_id", "at", "step_path", "exchange_id", "delay_seconds")
        }
        self.tables["events"].extend((
            event.run_id, self._event_seq, event.at, _event_name(type(event)),
            getattr(event, "step_path", None), getattr(event, "exchange_id", None),
            getattr(event, "delay_seconds", None), _json(fields),
        ))  # fmt: skip
        self._row_added()

    def _run_finished(self, event: RunFinished) -> None:
        for request in list(self._requests.values()):  # requests that never got an answer
            self._exchange_row(request, None, error=f"no response: run {event.status}")
        self._requests.clear()
        if event.error:
            self._error(event.at, event.step_path, f"run_{event.status}", None, None,
                        event.error)  # fmt: skip
        if self.run is not None:
            run = self.run
            run.error, run.error_type = event.error, event.error_type
            run.error_step, run.finished_at = event.step_path, event.at
            run.duration_ms, run.status = event.duration_ms, event.status

    def _error(self, at: float, step_path: str | None, kind: str, status: int | None,
               exchange_id: int | None, message: str) -> None:  # fmt: skip
        self._error_seq += 1
        if self.run is not None:
            self.run.errors += 1
            run_id = self.run.run_id
        else:
            run_id = None
        self.tables["errors"].extend((run_id, self._error_seq, at, step_path, kind, status,
                                      exchange_id, message))  # fmt: skip
        self._row_added()


def _form(mask: Masker, raw: bytes) -> tuple[str, str]:
    """A form body: its sensitive fields masked by name (then by value), or base64."""
    try:
        return mask.form(raw.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), "base64"


def fix_bodies(columns: list[list[Any]], masker: Masker | None) -> None:
    """Exchange bodies stored as text: masked by value with ``masker`` (bytes decoded
    first), and those that are not UTF-8 after all stored as base64 instead.

    Called with ``masker`` None only when Arrow refused a body column (not UTF-8).
    """
    text = masker.text if masker is not None else None
    for body_at, encoding_at in BODY_COLUMNS:
        bodies, encodings = columns[body_at], columns[encoding_at]
        for index, body in enumerate(bodies):
            if not body or encodings[index] != "utf-8":
                continue
            if type(body) is bytes:
                body, encodings[index] = _utf8_or_base64(body)
                if encodings[index] != "utf-8":
                    bodies[index] = body
                    continue
            bodies[index] = body if text is None else text(body)


def mask_column(masker: Masker, values: list[Any]) -> list[Any]:
    """Every text value of a column masked by value (bytes are UTF-8 JSON or text)."""
    text = masker.text
    return [
        value if not value else text(value.decode("utf-8") if type(value) is bytes else value)
        for value in values
    ]


_HANDLERS = {
    RunStarted: RowBuilder._run_started,
    RequestSent: RowBuilder._request_sent,
    ResponseReceived: RowBuilder._response,
    StepStarted: RowBuilder._step_started,
    FanoutStarted: RowBuilder._fanout_started,
    StepFinished: RowBuilder._step_finished,
    RecordEmitted: RowBuilder._record,
    ResponseIgnored: RowBuilder._ignored,
    AssertionFailed: RowBuilder._assertion,
    RunFinished: RowBuilder._run_finished,
}

_EVENT_NAMES: dict[type, str] = {
    RetryScheduled: "retry_scheduled",
    RateLimitWait: "rate_limit_wait",
    BreakerStateChanged: "breaker_state_changed",
    BreakerRejected: "breaker_rejected",
    CompensationStarted: "compensation_started",
    CompensationFinished: "compensation_finished",
    TokenRefreshed: "token_refreshed",
    DebugAction: "debug_action",
    PaginationDetected: "pagination_detected",
    StepCapped: "step_capped",
}


def _event_name(kind: type) -> str:
    for base in kind.__mro__:
        if base in _EVENT_NAMES:
            return _EVENT_NAMES[base]
    return kind.__name__


for _type in _EVENT_NAMES:
    _HANDLERS[_type] = RowBuilder._notable

HANDLED_EVENTS = frozenset(_HANDLERS)  # events that make rows (the writer subscribes to these)


def page_rows(values: list[Any]) -> list[Any]:
    """record_pages rows (``WIDTHS["record_pages"]`` values each, the body last) as the
    record_rows rows of their records: JSON text read out of the body as the engine
    read it (orjson, then the path's keys), for a run with secrets to mask them."""
    width = WIDTHS["record_pages"]
    rows: list[Any] = []
    for at in range(0, len(values), width):
        (run_id, seq, step_path, page, item_index, exchange_id, emitted_at, path, first,
         count, body) = values[at : at + width]  # fmt: skip
        found = orjson.loads(body)
        for key in path_keys(path):
            found = found[key]
        for offset, record in enumerate(found[first : first + count]):
            rows.extend((run_id, seq + offset, step_path, page, item_index, exchange_id,
                         emitted_at, _json(record)))  # fmt: skip
    return rows
