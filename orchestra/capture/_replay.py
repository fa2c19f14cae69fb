"""Replay: run a plan against the exchanges captured in an earlier run.

:class:`ReplayTransport` is an httpx transport. Each request is matched to a
captured exchange by method, URL and body, in capture order (the same request
made three times gets the three captured answers in turn). Matching uses masked
values, as the capture stores them: the runner hands the transport its masker
(``use_masker``), so a request carrying a secret matches the masked capture. A
request the capture does not hold fails with :class:`ReplayMiss` naming it.
"""

from __future__ import annotations

import base64
from collections import defaultdict, deque
from typing import Any

import httpx
import orjson

from orchestra.capture._rows import body_text
from orchestra.capture._store import CaptureStore
from orchestra.errors import RunError
from orchestra.masking import Masker


class ReplayMiss(RunError):
    """The replayed run made a request that the captured run did not make.

    Not a transport error: a miss is deterministic, so the engine fails the step
    at once instead of retrying it.
    """


def _key(method: str, url: str, body: str | None) -> tuple[str, str, str]:
    return (method.upper(), url, body or "")


class ReplayTransport(httpx.AsyncBaseTransport):
    """Answers requests from a captured run instead of the network."""

    def __init__(self, exchanges: list[dict[str, Any]], *, source: str = "capture"):
        self.source = source
        self.masker = Masker()
        self._answers: dict[tuple[str, str, str], deque[dict[str, Any]]] = defaultdict(deque)
        for exchange in exchanges:
            key = _key(exchange["method"], exchange["url"], exchange.get("request_body"))
            self._answers[key].append(exchange)
        self.served = 0

    @classmethod
    def from_store(cls, store: CaptureStore, run: str | None = None) -> ReplayTransport:
        with store.read() as reader:
            run_id = reader.resolve_run(run)
            exchanges = reader.table_rows("exchanges", run_id)
        return cls(exchanges, source=f"run {run_id} in {store.path}")

    def use_masker(self, masker: Masker) -> None:
        """Called by the runner: match requests the way the capture masked them."""
        self.masker = masker

    def _request_key(self, request: httpx.Request) -> tuple[str, str, str]:
        content_type = request.headers.get("content-type", "")
        body, encoding = body_text(request.content, content_type)  # as the capture stored it
        if body is not None and encoding == "utf-8":
            if "x-www-form-urlencoded" in content_type:
                body = self.masker.form(body)
            else:
                body = self.masker.text(body)
        return _key(request.method, self.masker.url(str(request.url)), body)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = self._request_key(request)
        answers = self._answers.get(key)
        if not answers:
            method, url, body = key
            detail = f" with body {body[:80]!r}" if body else ""
            raise ReplayMiss(
                f"replay: {self.source} holds no answer for {method} {url}{detail}",
                fix="replay with the plan and config of the captured run (it changed, or "
                "asked more times)",
            )
        exchange = answers.popleft()
        self.served += 1
        if exchange.get("status_code") is None:
            raise httpx.ConnectError(
                f"replayed failure: {exchange.get('error') or 'no response'}", request=request
            )
        headers = orjson.loads(exchange["response_headers"] or "{}")
        headers.pop("content-encoding", None)
        headers.pop("transfer-encoding", None)
        headers.pop("content-length", None)
        body_text = exchange.get("response_body")
        if body_text is None:
            content = b""
        elif exchange.get("response_body_encoding") == "base64":
            content = base64.b64decode(body_text)
        else:
            content = body_text.encode("utf-8")
        return httpx.Response(
            int(exchange["status_code"]), headers=headers, content=content, request=request
        )
