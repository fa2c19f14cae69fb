"""One request/response exchange: build, rate-limit, send, read, retry.

Evaluation order for each response (the plan format's: README, "The engine"):
a 401 on a request that carried a fetched token → one refresh and one
re-send; then ``abort_on`` → ``ignore_on`` → retry (``retry_when``, retryable
status, transport errors).
The later checks (``abort_when``, ``expect``, ``extract`` …) belong to the
step (``_step.py``). Every attempt passes the host's circuit breaker first.

Every request of the engine goes through here — plan steps, sub-steps,
compensations and token requests — so every one of them is an event pair
(``RequestSent`` / ``ResponseReceived``), even when it is cancelled in flight.

Redirects are followed here, one hop at a time (rules in ``_redirect.py``):
each hop is its own event pair with the same ``attempt`` and its ``hop``
number (0 for the request the step made), the step sees the last hop's
response and URL, and a chain longer than ``MAX_REDIRECTS`` fails the step
with :class:`~orchestra.errors.TooManyRedirects`, which is never retried.
Likewise an idempotent request whose keep-alive connection closed under it
is re-sent at once by this loop (the transports do not), as its own exchange.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx

from orchestra._json import request_json
from orchestra.engine._backoff import backoff_seconds, parse_retry_after
from orchestra.engine._context import RunContext
from orchestra.engine._decide import ABORT, ACCEPT, IGNORE, Decision, Verdict, decide
from orchestra.engine._redirect import MAX_REDIRECTS, REDIRECT_STATUSES, BadRedirect
from orchestra.engine._response import decode_body
from orchestra.engine._send import Prepared, Sender
from orchestra.engine._transport import BodyTooLarge, RawResponse, describe
from orchestra.errors import (
    AbortError,
    HTTPStatusError,
    LimitExceeded,
    RateLimitExceeded,
    RemoteClosed,
    RequestError,
    RunError,
    TemplateError,
    TooManyRedirects,
    TransportError,
    TransportTimeout,
)
from orchestra.events import RequestSent, ResponseIgnored, ResponseReceived, RetryScheduled
from orchestra.expressions import stringify, truthy
from orchestra.plan import CompiledStep

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(slots=True)
class Exchange:
    """A response as the engine sees it, after decoding."""

    exchange_id: int
    attempt: int
    status_code: int
    headers: dict[str, str]
    body: Any
    url: str
    elapsed_ms: float
    ignored: bool = False

    def scope(self) -> dict[str, Any]:
        """The ``response`` scope of templates and conditions."""
        return {
            "status_code": self.status_code,
            "headers": self.headers,
            "body": self.body,
            "url": self.url,
            "elapsed_ms": self.elapsed_ms,
            "links": parse_link_header(self.headers.get("link")),
        }


_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_REL = re.compile(r'rel\s*=\s*"?([^";]+)"?')


def parse_link_header(value: str | None) -> dict[str, str]:
    """RFC 8288 ``Link`` header as ``{rel: url}`` (``response.links.next``)."""
    if not value:
        return {}
    links: dict[str, str] = {}
    for match in _LINK.finditer(value):
        rel = _REL.search(match.group(2))
        if rel:
            for name in rel.group(1).split():
                links.setdefault(name, match.group(1))
    return links


NEXT_URL = "next_url"
"""Scope key of the URL a page requests when the step's ``next_url`` gave one."""


def _stringify_params(params: dict[str, Any]) -> dict[str, Any]:
    return {
        key: [stringify(v) for v in value] if isinstance(value, list) else stringify(value)
        for key, value in params.items()
        if value is not None
    }


def build_request(
    run: RunContext, step: CompiledStep, scope: dict[str, Any]
) -> tuple[Prepared, str | None]:
    """Render the step's templates into a request ready to send.

    Returns the request and the auth credential added to it (None when the
    step sets its own, or for token requests, which never carry auth).
    """
    next_url = scope.get(NEXT_URL) if step.next_url is not None else None
    url = next_url or step.url.render_url(scope)
    headers = {k: stringify(v) for k, v in step.headers.render(scope).items() if v is not None}
    # a next_url is the whole next request: its query already says what the params said
    params = {} if next_url else _stringify_params(step.params.render(scope))
    credential = None if step.kind == "auth" else run.auth.apply(headers, params)
    content: bytes | None = None
    data = None
    if step.form is not None:
        data = _stringify_params(step.form.render(scope))
    elif step.body is not None:
        body = step.body.render(scope)
        if isinstance(body, str):
            content = body.encode()
        elif body is not None:
            content = request_json(body)  # exact big integers too
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
    if params and "?" in url:  # httpx would replace the URL's own query: merge them
        url, params = _with_query_params(url, params)
    try:
        request = run.sender().prepare(step.model.method, url, headers, params, content, data)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as error:
        raise _request_error(run, url, headers, error) from None
    return request, credential


def _with_query_params(url: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``url`` with ``params`` added to the query it already has (a param wins over
    the same name in the URL), as requests and aiohttp do; no params are left over."""
    try:
        return str(httpx.URL(url).copy_merge_params(params)), {}
    except (httpx.InvalidURL, ValueError):
        return url, params  # unchanged: preparing the request reports the URL's problem


def _request_error(
    run: RunContext, url: str, headers: dict[str, str], error: Exception
) -> TemplateError:
    """Why a rendered request cannot be built, blaming the part at fault."""
    for name, value in headers.items() if isinstance(error, UnicodeEncodeError) else ():
        if not value.isascii():
            return TemplateError(
                f"header {name!r} holds non-ASCII text ({run.masker.text(value)!r}): "
                "HTTP header values are ASCII",
                fix=f"percent-encode or base64 the value of {name!r}, or send it in the body",
            )
    return TemplateError(
        f"URL {run.masker.url(url)!r} is not valid: {run.masker.text(str(error))}",
        fix="check the url template and config.base_url (it needs http:// or https://)",
    )


def _too_large_message(error: BodyTooLarge, url: str) -> str:
    if error.size is not None:
        return (
            f"response of {url} is {error.size:,} bytes (Content-Length), over "
            f"max_response_bytes {error.limit:,}"
        )
    inflated = f" once decompressed ({error.encoding})" if error.encoding else ""
    return f"response of {url} exceeded max_response_bytes {error.limit:,}{inflated}"


def _no_response(
    run: RunContext,
    step_path: str,
    execution_id: str,
    exchange_id: int,
    page: int,
    attempt: int,
    item_index: int | None,
    started: float,
    error: str,
    *,
    cancelled: bool = False,
    hop: int = 0,
) -> ResponseReceived:
    """The event of an exchange that ended without a response (``started``: perf_counter)."""
    return ResponseReceived(
        run_id=run.run_id,
        at=time.time(),
        step_path=step_path,
        execution_id=execution_id,
        exchange_id=exchange_id,
        status_code=None,
        elapsed_ms=(time.perf_counter() - started) * 1000,
        error=error,
        page=page,
        attempt=attempt,
        item_index=item_index,
        cancelled=cancelled,
        hop=hop,
    )


async def exchange(
    run: RunContext,
    step: CompiledStep,
    scope: dict[str, Any],
    *,
    execution_id: str,
    page: int,
    item_index: int | None,
) -> Exchange:
    """Send the step's request, retrying as its policy says; returns the final response.

    The retry loop: each attempt is admitted (token, rate limit), sent with its
    redirects followed (:func:`_send_handling_redirects`), and judged — the one
    refresh after a 401 first, then :func:`~orchestra.engine._decide.decide`.
    """
    model = step.model
    uses_auth = step.kind != "auth"
    if uses_auth:
        await run.auth.prepare(run)
    request, credential = build_request(run, step, scope)
    endpoint = f"{model.method} {step.url.source}"
    host = request.host  # the rate limit's key, whatever the redirects
    attempt = 0
    hop, hop_request = 0, request  # where to (re)start: a re-send keeps the hop it failed on
    resent = refreshed = False
    while True:
        if hop == 0:
            attempt += 1
            if attempt > 1 and uses_auth and run.auth.refreshable:
                await run.auth.prepare(run)  # a long backoff may have outlived the token
                request, credential = build_request(run, step, scope)
            hop_request = request
            if run.limiter.active:
                await run.limiter.acquire(step.path, endpoint, host)
        try:
            result, answered = await _send_handling_redirects(
                run, step, scope, hop_request, hop, execution_id, page, attempt, item_index
            )
        except _NoAnswer as missing:
            may_resend = not resent and missing.request.method in IDEMPOTENT
            decision = decide(model, attempt, None, failure=missing.reason,
                              remote_closed=missing.remote_closed,
                              may_resend=may_resend)  # fmt: skip
            if decision.verdict is Verdict.RESEND:
                resent = True  # a keep-alive connection closed under us: go again now
                hop, hop_request = missing.hop, missing.request
                attempt -= hop == 0
                continue
            hop = 0
            await _retry_or_fail(run, step, missing.request, missing.exchange_id, attempt,
                                 decision, None, no_answer=True)  # fmt: skip
            continue
        hop = 0
        run.limiter.observe(host, result.status_code, result.headers)
        if type(result.body) is _Undecodable:
            raise result.body.error
        if credential is not None and _refresh_due(run, result.status_code, refreshed):
            refreshed = True  # one refresh and one re-send per request, never more
            await run.auth.refresh_after_401(run, credential)
            _announce_retry(run, step, result.exchange_id, attempt, 0.0, "401: token refreshed")
            request, credential = build_request(run, step, scope)
            continue
        decision = _judge(run, step, scope, result, attempt)
        if decision is ACCEPT:
            return result
        if decision is IGNORE:
            _emit_ignored(run, step, result)
            return result
        if decision is ABORT:
            raise AbortError(
                f"{answered.method} {run.masker.url(result.url)} answered "
                f"{result.status_code}, listed in abort_on"
            )
        retry_after = parse_retry_after(result.headers.get("retry-after"))
        await _retry_or_fail(run, step, answered, result.exchange_id, attempt, decision,
                             retry_after, status=result.status_code)  # fmt: skip


class _NoAnswer(Exception):
    """A request that got no answer: the reason shown, and where to re-send it from."""

    def __init__(self, reason: str, request: Prepared, hop: int, exchange_id: int, closed: bool):
        super().__init__(reason)
        self.reason = reason
        self.request = request
        self.hop = hop
        self.exchange_id = exchange_id
        self.remote_closed = closed


def _refresh_due(run: RunContext, status: int, refreshed: bool) -> bool:
    """A 401 on a request that carried a fetched token, not yet refreshed for: refresh once."""
    return status == 401 and run.auth.refreshable and not refreshed


def _judge(
    run: RunContext, step: CompiledStep, scope: dict[str, Any], result: Exchange, attempt: int
) -> Decision:
    """:func:`decide` for an answer, with the step's ``retry_when`` evaluated only if reached."""
    retry_when = step.retry_when
    if retry_when is None:
        return decide(step.model, attempt, result.status_code)
    return decide(
        step.model,
        attempt,
        result.status_code,
        retry_when=lambda: truthy(retry_when.search({**scope, "response": result.scope()})),
        retry_when_source=retry_when.source,
    )


def _emit_ignored(run: RunContext, step: CompiledStep, result: Exchange) -> None:
    run.bus.emit(
        ResponseIgnored(
            run_id=run.run_id,
            at=time.time(),
            step_path=step.path,
            exchange_id=result.exchange_id,
            status_code=result.status_code,
            reason="ignore_on",
        )
    )
    result.ignored = True


async def _retry_or_fail(
    run: RunContext,
    step: CompiledStep,
    request: Prepared,
    exchange_id: int,
    attempt: int,
    decision: Decision,
    retry_after: float | None,
    *,
    no_answer: bool = False,
    status: int = 0,
) -> None:
    """Wait before the next attempt (RETRY), or raise the step's error (FAIL)."""
    policy = step.model.retry
    if decision.verdict is Verdict.RETRY:
        cap = policy.max_backoff_seconds
        if cap is None:
            cap = run.limits.max_backoff_seconds
        await _wait_before_retry(
            run, step, exchange_id, attempt, policy, cap, decision.reason, retry_after
        )
        return
    attempts = f"{attempt} attempt{'s' if attempt > 1 else ''}"
    url = run.masker.url(request.url)
    if no_answer:
        raise RequestError(
            f"{request.method} {url} failed after {attempts}: {run.masker.text(decision.reason)}",
            fix="check that the API is reachable; raise timeout_seconds or retry.max_attempts",
        ) from None
    message = f"{request.method} {url}: {decision.reason} after {attempts}"
    fix = "raise retry.max_attempts, or handle the status with ignore_on / abort_on"
    if status >= 400:
        raise HTTPStatusError(message, status_code=status, fix=fix)
    raise RequestError(message, fix=fix)


async def _send_handling_redirects(
    run: RunContext,
    step: CompiledStep,
    scope: dict[str, Any],
    request: Prepared,
    hop: int,
    execution_id: str,
    page: int,
    attempt: int,
    item_index: int | None,
) -> tuple[Exchange, Prepared]:
    """Send ``request`` (hop number ``hop``) and follow its redirects, each hop an exchange.

    Each hop passes the host's breaker and is sent under one total timeout; a
    hop without an answer ends with its event and raises :class:`_NoAnswer`.
    Returns the last hop's response, decoded, and the request that got it.
    """
    sender = run.sender()
    timeout = step.model.timeout_seconds
    while True:
        exchange_id = run.next_exchange_id()
        ticket = _start_exchange(run, step, request, hop, exchange_id,
                                 execution_id, page, attempt, item_index)  # fmt: skip
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                response = await sender.send(request, run.limits.max_response_bytes, timeout)
        except BaseException as error:
            _end_without_answer(run, step, request, hop, exchange_id, ticket, started, error,
                                execution_id, page, attempt, item_index)  # fmt: skip
            raise
        elapsed = (time.perf_counter() - started) * 1000
        headers_at = response.headers_at
        first_byte = None if headers_at is None else (headers_at - started) * 1000
        if ticket is not None:
            breakers = run.breakers
            assert breakers is not None
            breakers.record(ticket, failed=breakers.is_failure(response.status_code),
                            step_path=step.path)  # fmt: skip
        if response.status_code in REDIRECT_STATUSES:
            following = _next_hop(run, step, sender, request, response, hop)
            if following is not None:
                _emit_answer(run, step, response, exchange_id, elapsed, execution_id,
                             page, attempt, item_index, hop, first_byte)  # fmt: skip
                if isinstance(following, str):
                    raise _redirect_error(run, request, following, hop)
                hop += 1
                request = following
                continue
        result = _receive(run, step, scope, request, response, exchange_id, elapsed, attempt)
        _emit_answer(run, step, response, exchange_id, elapsed, execution_id,
                     page, attempt, item_index, hop, first_byte)  # fmt: skip
        return result, request


def _start_exchange(
    run: RunContext,
    step: CompiledStep,
    request: Prepared,
    hop: int,
    exchange_id: int,
    execution_id: str,
    page: int,
    attempt: int,
    item_index: int | None,
) -> Any:
    """Pass the host's breaker (its ticket, or None without breakers) and announce the request."""
    breakers = run.breakers
    ticket = None
    if breakers is not None:
        host = request.host
        key = f"{host}:{request.port}" if request.port else host
        ticket = breakers.acquire(key, step.path, request.method, request.url)
    run.bus.emit(
        RequestSent(
            run_id=run.run_id,
            at=time.time(),
            step_path=step.path,
            execution_id=execution_id,
            exchange_id=exchange_id,
            method=request.method,
            url=request.url,
            headers=request.headers,
            body=request.body,
            page=page,
            attempt=attempt,
            item_index=item_index,
            hop=hop,
        )
    )
    return ticket


_NO_ANSWER_ERRORS = (TransportError, OSError, TimeoutError)


def _end_without_answer(
    run: RunContext,
    step: CompiledStep,
    request: Prepared,
    hop: int,
    exchange_id: int,
    ticket: Any,
    started: float,
    error: BaseException,
    execution_id: str,
    page: int,
    attempt: int,
    item_index: int | None,
) -> None:
    """Close an exchange that got no (usable) answer: breaker, event, the error to raise.

    An unexpected error is left alone (the caller re-raises it).
    """
    breakers = run.breakers
    if isinstance(error, BodyTooLarge):
        # the answer came: its status and headers are kept, its body is not
        if breakers is not None and ticket is not None:
            breakers.release(ticket)
        message = _too_large_message(error, run.masker.url(request.url))
        run.bus.emit(
            ResponseReceived(
                run_id=run.run_id,
                at=time.time(),
                step_path=step.path,
                execution_id=execution_id,
                exchange_id=exchange_id,
                status_code=error.status,
                headers=error.headers,
                elapsed_ms=(time.perf_counter() - started) * 1000,
                error=message,
                page=page,
                attempt=attempt,
                item_index=item_index,
                hop=hop,
            )
        )
        raise LimitExceeded(
            message,
            fix=f"raise limits.max_response_bytes (now {error.limit:,}) or request smaller pages",
        ) from None
    if isinstance(error, asyncio.CancelledError | RunError):
        # cancelled in flight (or a replay miss): the exchange still ends with an
        # event, and a half-open probe slot is given back uncounted
        if breakers is not None and ticket is not None:
            breakers.release(ticket)
        cancelled = isinstance(error, asyncio.CancelledError)
        run.bus.emit(
            _no_response(run, step.path, execution_id, exchange_id, page, attempt, item_index,
                         started, "cancelled while in flight" if cancelled else str(error),
                         cancelled=cancelled, hop=hop)
        )  # fmt: skip
        return
    if isinstance(error, _NO_ANSWER_ERRORS):
        reason = _failure_reason(error, step.model.timeout_seconds)
        if breakers is not None and ticket is not None:
            breakers.record(ticket, failed=breakers.is_failure(None), step_path=step.path)
        run.bus.emit(
            _no_response(run, step.path, execution_id, exchange_id, page, attempt,
                         item_index, started, reason, hop=hop)
        )  # fmt: skip
        closed = isinstance(error, RemoteClosed)
        raise _NoAnswer(reason, request, hop, exchange_id, closed) from None


def _receive(
    run: RunContext,
    step: CompiledStep,
    scope: dict[str, Any],
    request: Prepared,
    response: RawResponse,
    exchange_id: int,
    elapsed: float,
    attempt: int,
) -> Exchange:
    """The answer decoded, its secrets registered with the masker before any event carries it.

    A body that does not decode is an :class:`_Undecodable` (its error is
    raised once the answer's event is out).
    """
    headers = response.headers  # lower-cased names
    status = response.status_code
    try:
        body = _decode(response.body, step.model.response_format, headers, status)
    except RunError as error:
        body = _Undecodable(error)
    result = Exchange(exchange_id, attempt, status, headers, body, request.url, elapsed)
    if type(body) is not _Undecodable:
        if step.kind == "auth":
            run.auth.observe_auth_response(run, step, result)
        elif step.secrets or (type(body) is dict and not body.keys().isdisjoint(TOKEN_FIELDS)):
            register_response_secrets(run, step, scope, result)
    return result


class _Undecodable:
    """The body of an answer that did not decode, holding the error to raise."""

    __slots__ = ("error",)

    def __init__(self, error: RunError):
        self.error = error


def _emit_answer(
    run: RunContext,
    step: CompiledStep,
    response: RawResponse,
    exchange_id: int,
    elapsed: float,
    execution_id: str,
    page: int,
    attempt: int,
    item_index: int | None,
    hop: int,
    first_byte: float | None,
) -> None:
    run.bus.emit(
        ResponseReceived(
            run_id=run.run_id,
            at=time.time(),
            step_path=step.path,
            execution_id=execution_id,
            exchange_id=exchange_id,
            status_code=response.status_code,
            headers=response.headers,
            body=response.body,
            elapsed_ms=elapsed,
            first_byte_ms=first_byte,
            page=page,
            attempt=attempt,
            item_index=item_index,
            hop=hop,
        )
    )


# OAuth 2.0 / OpenID Connect token fields (RFC 6749 §5.1): secret wherever they appear at
# the top of a JSON answer, so a plan that fetches a token with a plain step is masked too.
TOKEN_FIELDS = frozenset({"access_token", "refresh_token", "id_token"})


def register_response_secrets(
    run: RunContext, step: CompiledStep, scope: dict[str, Any], result: Exchange
) -> None:
    """Register the answer's token fields and the step's ``secrets`` values with the masker."""
    body = result.body
    if type(body) is dict and not body.keys().isdisjoint(TOKEN_FIELDS):
        for name in TOKEN_FIELDS:
            value = body.get(name)
            if isinstance(value, str):
                run.masker.add(value)
    if step.secrets:
        full = {**scope, "response": result.scope()}
        for expression in step.secrets:
            _add_secret_values(run, expression.search(full))


def _add_secret_values(run: RunContext, value: Any) -> None:
    if isinstance(value, list):
        for each in value:
            _add_secret_values(run, each)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        run.masker.add(value)


def _next_hop(
    run: RunContext,
    step: CompiledStep,
    sender: Sender,
    request: Prepared,
    response: RawResponse,
    hop: int,
) -> Prepared | str | None:
    """The request of the next hop; None when the redirect names no target (it is the
    answer); a text saying why when it must not be followed (too many, bad Location).
    """
    try:
        following = sender.follow(request, response)
    except BadRedirect as error:
        return str(error)
    if following is None:
        return None
    if hop >= MAX_REDIRECTS:
        return f"more than {MAX_REDIRECTS} redirects in a row"
    return following


def _redirect_error(run: RunContext, request: Prepared, reason: str, hop: int) -> RunError:
    url = run.masker.url(request.url)
    if hop >= MAX_REDIRECTS:
        return TooManyRedirects(
            f"{request.method} {url}: {reason} (the limit); the server keeps redirecting",
            fix="check the URL (a redirect loop, often a missing trailing slash or a "
            "login page); every hop is in the capture's exchanges table",
        )
    return RequestError(
        f"{request.method} {url} redirected, but {reason}",
        fix="check the URL; the redirect's response is in the capture's exchanges table",
    )


def _failure_reason(error: BaseException, timeout: float) -> str:
    """The reason a request got no answer: the transport's words, or the engine's timeout."""
    if isinstance(error, TimeoutError | TransportTimeout):
        return f"timed out after {timeout:g}s"
    if isinstance(error, TransportError):
        return str(error)
    return describe(error.__cause__ or error)  # an OSError no transport mapped


def _decode(raw: bytes, fmt: str, headers: dict[str, str], status: int) -> Any:
    try:
        return decode_body(raw, fmt, headers.get("content-type", ""))
    except RunError:
        if status >= 400:  # error pages are often HTML even from JSON APIs
            return raw.decode("utf-8", errors="replace")
        raise


async def _wait_before_retry(
    run: RunContext,
    step: CompiledStep,
    exchange_id: int,
    attempt: int,
    policy,
    cap: float,
    reason: str,
    retry_after: float | None,
) -> None:
    delay = backoff_seconds(policy, attempt, cap)
    if retry_after is not None:
        if retry_after > run.limiter.max_wait:
            raise RateLimitExceeded(
                f"the API asked to retry after {retry_after:g}s, more than max_wait "
                f"{run.limiter.max_wait:g}s",
                fix="try later, or raise max_wait in rate_limits",
            )
        delay = retry_after
    _announce_retry(run, step, exchange_id, attempt, delay, reason)
    if delay > 0:
        await run.sleep(delay)


def _announce_retry(
    run: RunContext, step: CompiledStep, exchange_id: int, attempt: int, delay: float, reason: str
) -> None:
    run.bus.emit(
        RetryScheduled(
            run_id=run.run_id,
            at=time.time(),
            step_path=step.path,
            exchange_id=exchange_id,
            attempt=attempt + 1,
            delay_seconds=delay,
            reason=reason,
        )
    )
