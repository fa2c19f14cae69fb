"""Turning engine events into masked table rows (runs in the writer thread)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from orchestra.events import (
    AssertionFailed,
    BreakerRejected,
    BreakerStateChanged,
    CompensationFinished,
    CompensationStarted,
    DebugAction,
    Event,
    FanoutStarted,
    RateLimitWait,
    RecordEmitted,
    RequestSent,
    ResponseIgnored,
    ResponseReceived,
    RetryScheduled,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    TokenRefreshed,
)
from orchestra.masking import Masker, is_sensitive_header

_TEXT_TYPES = ("json", "xml", "csv", "text/", "javascript", "x-www-form-urlencoded", "html")


def plan_hash(plan: dict[str, Any]) -> str:
    """Content hash of a plan as written (secrets are references, never values)."""
    return hashlib.sha256(orjson.dumps(plan, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _json_text(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


_SENSITIVE: dict[str, bool] = {}  # header name -> is_sensitive_header(name), learnt once


def _mask_headers(mask: Masker, headers: dict[str, str]) -> dict[str, str]:
    """``mask.headers(headers)`` without re-deciding, per row, which names are sensitive."""
    out = {}
    for name, value in headers.items():
        sensitive = _SENSITIVE.get(name)
        if sensitive is None:
            sensitive = _SENSITIVE[name] = is_sensitive_header(name)
            if len(_SENSITIVE) > 4096:  # names are few; never grow without end
                _SENSITIVE.clear()
        if sensitive:
            out.update(mask.headers({name: value}))
        else:
            out[name] = mask.text(str(value))
    return out


def _mask_url(mask: Masker, url: str) -> str:
    """``mask.url(url)``; a URL without a query needs no parsing (only value masking)."""
    return mask.text(url) if "?" not in url else mask.url(url)


def body_text(raw: bytes | None, content_type: str) -> tuple[str | None, str | None]:
    """(text, encoding): utf-8 text when it is text, base64 otherwise."""
    if not raw:
        return None, None
    lowered = content_type.lower()
    if any(kind in lowered for kind in _TEXT_TYPES) or not lowered:
        try:
            return raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    return base64.b64encode(raw).decode("ascii"), "base64"


@dataclass
class Batch:
    """Rows collected for one flush, per table, plus the run rows to upsert."""

    rows: dict[str, list[tuple]] = field(default_factory=dict)

    def add(self, table: str, row: tuple) -> None:
        self.rows.setdefault(table, []).append(row)

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


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
    """Stateful converter: pairs requests with responses, step starts with ends."""

    def __init__(self, version: str):
        self.version = version
        self.masker = Masker()
        self.run: RunState | None = None
        self._requests: dict[int, RequestSent] = {}
        self._steps: dict[str, StepStarted] = {}
        self._step_requests: dict[str, int] = {}
        self._step_items: dict[str, int] = {}
        self._record_seq = 0
        self._error_seq = 0
        self._event_seq = 0

    def convert(self, events: list[Event], batch: Batch) -> None:
        for event in events:
            handler = _HANDLERS.get(type(event))
            if handler is not None:
                handler(self, event, batch)

    # -- handlers ---------------------------------------------------------------------

    def _run_started(self, event: RunStarted, batch: Batch) -> None:
        self.masker = event.masker
        digest = plan_hash(event.plan)
        self.run = RunState(
            run_id=event.run_id, plan_key=event.plan_key, plan_hash=digest, mode=event.mode,
            started_at=event.at, config=_json_text(self.masker.value(event.config)),
            version=self.version,
        )  # fmt: skip
        batch.add("plans", (digest, event.plan_key, _json_text(event.plan), event.run_id, event.at))

    def _request_sent(self, event: RequestSent, batch: Batch) -> None:
        self._requests[event.exchange_id] = event
        self._step_requests[event.execution_id] = self._step_requests.get(event.execution_id, 0) + 1
        if self.run:
            self.run.requests += 1

    def _response(self, event: ResponseReceived, batch: Batch) -> None:
        request = self._requests.pop(event.exchange_id, None)
        if request is None:
            return
        self._exchange_row(request, event, batch)
        if event.error:
            self._error(batch, event.at, event.step_path, "transport", None, event.exchange_id,
                        event.error)  # fmt: skip

    def _exchange_row(
        self, request: RequestSent, response: ResponseReceived | None, batch: Batch,
        error: str | None = None,
    ) -> None:  # fmt: skip
        mask = self.masker
        request_type = request.headers.get("content-type", "")
        request_body, request_encoding = body_text(request.body, request_type)
        if request_body is not None and request_encoding == "utf-8":
            if "x-www-form-urlencoded" in request_type:
                request_body = mask.form(request_body)
            else:
                request_body = mask.text(request_body)
        status = headers = body = encoding = None
        size = None
        elapsed = None
        if response is not None:
            status = response.status_code
            headers = _json_text(_mask_headers(mask, response.headers))
            body, encoding = body_text(response.body, response.headers.get("content-type", ""))
            if body is not None and encoding == "utf-8":
                body = mask.text(body)
            size = len(response.body)
            elapsed = response.elapsed_ms
            error = response.error
        batch.add(
            "exchanges",
            (
                request.run_id, request.exchange_id, request.execution_id, request.step_path,
                request.page, request.item_index, request.attempt, request.method,
                _mask_url(mask, request.url), _json_text(_mask_headers(mask, request.headers)),
                request_body,
                request_encoding, status, headers, body, encoding, len(request.body or b""),
                size, request.at, elapsed, None if error is None else mask.text(error),
            ),
        )  # fmt: skip

    def _step_started(self, event: StepStarted, batch: Batch) -> None:
        self._steps[event.execution_id] = event

    def _fanout_started(self, event: FanoutStarted, batch: Batch) -> None:
        parent = event.execution_id
        self._step_items[parent] = self._step_items.get(parent, 0) + event.total_items

    def _step_finished(self, event: StepFinished, batch: Batch) -> None:
        started = self._steps.pop(event.execution_id, None)
        error = None if event.error is None else self.masker.text(event.error)
        batch.add(
            "steps",
            (
                event.run_id, event.execution_id,
                started.parent_execution_id if started else None, event.step_path,
                started.kind if started else None, event.item_index, event.status,
                event.reason, self._step_requests.pop(event.execution_id, 0),
                event.pages, self._step_items.pop(event.execution_id, 0), event.records,
                started.at if started else None, event.at, event.duration_ms, error,
            ),
        )  # fmt: skip
        if error:
            self._error(batch, event.at, event.step_path, f"step_{event.status}", None, None, error)

    def _record(self, event: RecordEmitted, batch: Batch) -> None:
        self._record_seq += 1
        if self.run:
            self.run.records += 1
        data = self.masker.text(_json_text(event.record))
        batch.add(
            "records",
            (event.run_id, self._record_seq, event.step_path, event.page, event.item_index,
             event.exchange_id, event.at, data),
        )  # fmt: skip

    def _ignored(self, event: ResponseIgnored, batch: Batch) -> None:
        message = f"status {event.status_code} ignored ({event.reason})"
        self._error(
            batch,
            event.at,
            event.step_path,
            "ignored",
            event.status_code,
            event.exchange_id,
            message,
        )

    def _assertion(self, event: AssertionFailed, batch: Batch) -> None:
        self._error(batch, event.at, event.step_path, "assertion", None, event.exchange_id,
                    f"{event.expectation}: {event.message}")  # fmt: skip

    def _notable(self, event: Event, batch: Batch) -> None:
        """Retries, rate-limit waits, breaker changes, compensation, token refreshes."""
        self._event_seq += 1
        fields = {
            name: getattr(event, name)
            for name in getattr(event, "__dataclass_fields__", {})
            if name not in ("run_id", "at", "step_path", "exchange_id", "delay_seconds")
        }
        batch.add(
            "events",
            (
                event.run_id, self._event_seq, event.at, _EVENT_NAMES[type(event)],
                getattr(event, "step_path", None), getattr(event, "exchange_id", None),
                getattr(event, "delay_seconds", None),
                self.masker.text(_json_text(fields)),
            ),
        )  # fmt: skip

    def _run_finished(self, event: RunFinished, batch: Batch) -> None:
        for request in list(self._requests.values()):  # requests that never got an answer
            self._exchange_row(request, None, batch, error=f"no response: run {event.status}")
        self._requests.clear()
        if event.error:
            self._error(batch, event.at, event.step_path, f"run_{event.status}", None, None,
                        event.error)  # fmt: skip
        if self.run:
            run = self.run
            run.status, run.finished_at, run.duration_ms = event.status, event.at, event.duration_ms
            run.error = None if event.error is None else self.masker.text(event.error)
            run.error_type, run.error_step = event.error_type, event.step_path

    def _error(self, batch: Batch, at: float, step_path: str | None, kind: str,
               status: int | None, exchange_id: int | None, message: str) -> None:  # fmt: skip
        self._error_seq += 1
        if self.run:
            self.run.errors += 1
            run_id = self.run.run_id
        else:
            run_id = None
        batch.add(
            "errors",
            (run_id, self._error_seq, at, step_path, kind, status, exchange_id,
             self.masker.text(message)),
        )  # fmt: skip


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
}
for _type in _EVENT_NAMES:
    _HANDLERS[_type] = RowBuilder._notable

HANDLED_EVENTS = frozenset(_HANDLERS)  # events that make rows (the writer subscribes to these)
