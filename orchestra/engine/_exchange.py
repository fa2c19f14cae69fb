"""One request/response exchange: build, rate-limit, send, read, retry.

Evaluation order for each response (SPEC §2): a 401 on a request that carried
a fetched token → one refresh and one re-send; then ``abort_on`` →
``ignore_on`` → retry (``retry_when``, retryable status, transport errors).
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

import aiohttp
import httpx

from orchestra._json import request_json
from orchestra.engine._backoff import backoff_seconds, parse_retry_after
from orchestra.engine._context import RunContext
from orchestra.engine._redirect import MAX_REDIRECTS, REDIRECT_STATUSES, BadRedirect
from orchestra.engine._response import decode_body
from orchestra.engine._send import Prepared, Sender
from orchestra.engine._transport import BodyTooLarge, RawResponse
from orchestra.errors import (
    AbortError,
    HTTPStatusError,
    LimitExceeded,
    RateLimitExceeded,
    RequestError,
    RunError,
    TemplateError,
    TooManyRedirects,
)
from orchestra.events import RequestSent, ResponseIgnored, ResponseReceived, RetryScheduled
from orchestra.expressions import stringify, truthy
from orchestra.plan import CompiledStep

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_TRANSPORT_ERRORS = (httpx.TransportError, aiohttp.ClientError, OSError, TimeoutError)


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
    url = step.url.render_url(scope)
    headers = {k: stringify(v) for k, v in step.headers.render(scope).items() if v is not None}
    params = _stringify_params(step.params.render(scope))
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
        url, params = _with_query_params(url, params), {}
    try:
        request = run.sender().prepare(step.model.method, url, headers, params, content, data)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as error:
        raise _request_error(run, url, headers, error) from None
    return request, credential


def _with_query_params(url: str, params: dict[str, Any]) -> str:
    """``url`` with ``params`` added to the query it already has (a param wins over
    the same name in the URL), as requests and aiohttp do."""
    try:
        return str(httpx.URL(url).copy_merge_params(params))
    except (httpx.InvalidURL, ValueError):
        return url  # reported with the URL's own problem when the request is prepared


def _request_error(
    run: RunContext, url: str, headers: dict[str, str], error: Exception
) -> TemplateError:
    """Why a rendered request cannot be built, blaming the part at fault."""
    for name, value in headers.items():
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


async def _send_once(sender: Sender, request: Prepared, timeout: float, limit: int) -> RawResponse:
    """One request under one total timeout (connect, send, wait, read the body)."""
    async with asyncio.timeout(timeout):
        return await sender.send(request, limit, timeout)


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
    """Send the step's request, retrying as its policy says; returns the final response."""
    model = step.model
    policy = model.retry
    cap = policy.max_backoff_seconds
    if cap is None:
        cap = run.limits.max_backoff_seconds
    uses_auth = step.kind != "auth"
    if uses_auth:
        await run.auth.prepare(run)
    request, credential = build_request(run, step, scope)
    host = request.host
    breaker_key = f"{host}:{request.port}" if request.port else host
    endpoint = f"{model.method} {step.url.source}"
    bus = run.bus
    sender = run.sender()
    limiter = run.limiter
    attempt = 0
    hop = 0  # redirects followed in this attempt; hop_request is the one on the wire
    hop_request = request
    quick_retry_used = False
    refreshed_after_401 = False
    breakers = run.breakers
    while True:
        if hop == 0:
            attempt += 1
            if attempt > 1 and uses_auth and run.auth.refreshable:
                await run.auth.prepare(run)  # a long backoff may have outlived the token
                request, credential = build_request(run, step, scope)
            hop_request = request
            if limiter.active:
                await limiter.acquire(step.path, endpoint, host)
        ticket = None
        if breakers is not None:
            ticket = breakers.acquire(breaker_key, step.path, hop_request.method, hop_request.url)
        exchange_id = run.next_exchange_id()
        bus.emit(
            RequestSent(
                run_id=run.run_id,
                at=time.time(),
                step_path=step.path,
                execution_id=execution_id,
                exchange_id=exchange_id,
                method=hop_request.method,
                url=hop_request.url,
                headers=hop_request.headers,
                body=hop_request.body,
                page=page,
                attempt=attempt,
                item_index=item_index,
                hop=hop,
            )
        )
        started = time.perf_counter()
        try:
            response = await _send_once(
                sender, hop_request, model.timeout_seconds, run.limits.max_response_bytes
            )
        except BodyTooLarge as error:
            # the answer came: its status and headers are kept, its body is not
            if breakers is not None and ticket is not None:
                breakers.release(ticket)
            message = _too_large_message(error, run.masker.url(hop_request.url))
            bus.emit(
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
                fix=f"raise limits.max_response_bytes (now {error.limit:,}) "
                "or request smaller pages",
            ) from None
        except (asyncio.CancelledError, RunError) as error:
            # cancelled in flight (or a replay miss): the exchange still ends with an
            # event, and a half-open probe slot is given back uncounted
            if breakers is not None and ticket is not None:
                breakers.release(ticket)
            cancelled = isinstance(error, asyncio.CancelledError)
            bus.emit(
                _no_response(run, step.path, execution_id, exchange_id, page, attempt,
                             item_index, started,
                             "cancelled while in flight" if cancelled else str(error),
                             cancelled=cancelled, hop=hop)
            )  # fmt: skip
            raise
        except _TRANSPORT_ERRORS as error:
            reason = _transport_failure(error, model.timeout_seconds)
            if breakers is not None and ticket is not None:
                breakers.record(ticket, failed=breakers.is_failure(None), step_path=step.path)
            bus.emit(
                _no_response(run, step.path, execution_id, exchange_id, page, attempt,
                             item_index, started, reason, hop=hop)
            )  # fmt: skip
            if (
                not quick_retry_used
                and hop_request.method in IDEMPOTENT
                and _closed_under_us(error)
            ):
                quick_retry_used = True  # a keep-alive connection closed under us: go again now
                if hop == 0:
                    attempt -= 1
                continue
            hop = 0
            if policy.on_transport_error and attempt < policy.max_attempts:
                await _wait_before_retry(run, step, exchange_id, attempt, policy, cap, reason, None)
                continue
            raise RequestError(
                f"{hop_request.method} {run.masker.url(hop_request.url)} failed after {attempt} "
                f"attempt{'s' if attempt > 1 else ''}: {run.masker.text(reason)}",
                fix="check that the API is reachable; raise timeout_seconds or retry.max_attempts",
            ) from None
        elapsed = (time.perf_counter() - started) * 1000
        headers = response.headers  # lower-cased names
        raw = response.body
        status = response.status_code
        if breakers is not None and ticket is not None:
            breakers.record(ticket, failed=breakers.is_failure(status), step_path=step.path)
        if status in REDIRECT_STATUSES:
            following = _next_hop(run, step, sender, hop_request, response, hop)
            if following is not None:
                bus.emit(
                    ResponseReceived(
                        run_id=run.run_id,
                        at=time.time(),
                        step_path=step.path,
                        execution_id=execution_id,
                        exchange_id=exchange_id,
                        status_code=status,
                        headers=headers,
                        body=raw,
                        elapsed_ms=elapsed,
                        page=page,
                        attempt=attempt,
                        item_index=item_index,
                        hop=hop,
                    )
                )
                if isinstance(following, str):
                    raise _redirect_error(run, hop_request, following, hop)
                hop += 1
                hop_request = following
                continue
        final_hop, hop = hop, 0
        url = hop_request.url  # the step sees the URL that answered
        decode_error: RunError | None = None
        try:
            body = _decode(raw, model.response_format, headers, status)
        except RunError as error:
            body, decode_error = None, error
        result = Exchange(exchange_id, attempt, status, headers, body, url, elapsed)
        if decode_error is None:  # mask secrets of the answer before any event carries it
            if step.kind == "auth":
                run.auth.observe_auth_response(run, step, result)
            elif step.secrets or (type(body) is dict and not body.keys().isdisjoint(TOKEN_FIELDS)):
                register_response_secrets(run, step, scope, result)
        bus.emit(
            ResponseReceived(
                run_id=run.run_id,
                at=time.time(),
                step_path=step.path,
                execution_id=execution_id,
                exchange_id=exchange_id,
                status_code=status,
                headers=headers,
                body=raw,
                elapsed_ms=elapsed,
                page=page,
                attempt=attempt,
                item_index=item_index,
                hop=final_hop,
            )
        )
        limiter.observe(host, status, headers)
        if decode_error is not None:
            raise decode_error
        if (
            status == 401
            and credential is not None
            and run.auth.refreshable
            and not refreshed_after_401
        ):
            refreshed_after_401 = True  # one refresh and one re-send per request, never more
            await run.auth.refresh_after_401(run, credential)
            _announce_retry(run, step, exchange_id, attempt, 0.0, "401: token refreshed")
            request, credential = build_request(run, step, scope)
            continue
        if status in model.abort_on:
            raise AbortError(
                f"{hop_request.method} {run.masker.url(url)} answered {status}, listed in abort_on"
            )
        if status in model.ignore_on:
            bus.emit(
                ResponseIgnored(
                    run_id=run.run_id,
                    at=time.time(),
                    step_path=step.path,
                    exchange_id=exchange_id,
                    status_code=status,
                    reason="ignore_on",
                )
            )
            result.ignored = True
            return result
        retry_reason = None
        if status in policy.on_status:
            retry_reason = f"status {status}"
        elif step.retry_when is not None and truthy(
            step.retry_when.search({**scope, "response": result.scope()})
        ):
            retry_reason = f"retry_when {step.retry_when.source!r} is true"
        if retry_reason is None:
            return result
        if attempt < policy.max_attempts:
            retry_after = parse_retry_after(headers.get("retry-after"))
            await _wait_before_retry(
                run, step, exchange_id, attempt, policy, cap, retry_reason, retry_after
            )
            continue
        message = (
            f"{hop_request.method} {run.masker.url(url)}: {retry_reason} after {attempt} "
            f"attempt{'s' if attempt > 1 else ''}"
        )
        fix = "raise retry.max_attempts, or handle the status with ignore_on / abort_on"
        if status >= 400:
            raise HTTPStatusError(message, status_code=status, fix=fix)
        raise RequestError(message, fix=fix)


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


def _closed_under_us(error: BaseException) -> bool:
    """A keep-alive connection closed before the answer (RFC 9112 §9.3.1): re-send once.

    aiohttp's own rule (``ClientSession._request``), whose silent re-send is
    turned off in the transports so that the re-send is an exchange of its own.
    """
    if isinstance(error, httpx.RemoteProtocolError | aiohttp.ServerDisconnectedError):
        return True
    return isinstance(error, aiohttp.ClientOSError) and not isinstance(
        error, aiohttp.ClientConnectorError
    )


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


def _transport_failure(error: BaseException, timeout: float) -> str:
    """Say what really went wrong (httpx-aiohttp maps refusals to ConnectTimeout)."""
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect: {error}"
    cause = error.__cause__
    if isinstance(cause, aiohttp.ClientConnectorError):
        return f"cannot connect: {cause}"
    if isinstance(error, TimeoutError | httpx.TimeoutException | aiohttp.ServerTimeoutError):
        return f"timed out after {timeout:g}s"
    cause = cause or error
    return f"{type(cause).__name__}: {cause}".rstrip(": ")


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
