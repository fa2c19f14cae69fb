"""The exception tree of Orchestra.

Every error says where it happened (plan path, step path) and how to fix it::

    OrchestraError
    ├── PlanError                  the plan cannot be loaded (CLI exit code 2)
    │   └── ExpressionSyntaxError  a JMESPath expression does not parse
    ├── ConfigError                a config value or secret cannot be resolved
    ├── RequestImportError         a curl command or HAR file cannot become a step
    └── RunError                   something failed while the plan ran (exit code 1)
        ├── TemplateError          a template rendered to something unusable
        ├── ExpressionError        an expression failed on the data it was given (a type)
        ├── RequestError           the request failed after all retries
        │   └── TooManyRedirects   more than 20 redirects in a row (never retried)
        ├── HTTPStatusError        an error status nobody asked to ignore
        ├── AbortError             ``abort_on`` / ``abort_when`` stopped the run
        ├── ExpectationFailed      an ``expect`` assertion did not hold
        ├── LimitExceeded          a limit of ``limits`` was hit (context size included)
        ├── RateLimitExceeded      a rate-limit wait would exceed ``max_wait``
        ├── CircuitOpenError       the host's circuit breaker is open: failed fast
        └── AuthError              a token could not be obtained (OAuth2, auth flow)

Transports raise their own, neutral family, which the engine turns into a
``RequestError`` (or a retry) and which never reaches a plan's author::

    OrchestraError
    └── TransportError             a request got no complete answer
        ├── ConnectError           no connection: refused, DNS, TLS handshake
        ├── RemoteClosed           the connection closed before the answer
        ├── ReadError              the answer broke off or could not be read
        └── TransportTimeout       the transport's own deadline passed

Errors carry structured fields so callers (CLI, notebook, capture) can render
them without parsing messages, and they pickle cleanly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


class OrchestraError(Exception):
    """Base class of every error Orchestra raises on purpose."""


@dataclass(frozen=True)
class PlanIssue:
    """One problem found in a plan: where it is, what is wrong, how to fix it."""

    path: str
    message: str
    fix: str | None = None

    def __str__(self) -> str:
        text = f"{self.path or '<plan>'}: {self.message}"
        if self.fix:
            text += f"\n    fix: {self.fix}"
        return text


class PlanError(OrchestraError):
    """The plan is invalid. ``issues`` lists every problem found, each with its path."""

    def __init__(self, issues: list[PlanIssue] | PlanIssue, *, source: str | None = None):
        self.issues = [issues] if isinstance(issues, PlanIssue) else list(issues)
        self.source = source
        super().__init__(self._render())

    def __str__(self) -> str:
        return self._render()

    def _render(self) -> str:
        where = f" {self.source!r}" if self.source else ""
        count = len(self.issues)
        head = f"Invalid plan{where}: {count} problem{'s' if count != 1 else ''}"
        return head + "".join(f"\n  {issue}" for issue in self.issues)

    def __reduce__(self):  # pickle with structured fields
        return (_rebuild_plan_error, (self.issues, self.source))


def _rebuild_plan_error(issues: list[PlanIssue], source: str | None) -> PlanError:
    return PlanError(issues, source=source)


class ExpressionSyntaxError(PlanError):
    """A JMESPath expression (or a ``{…}`` template) does not parse.

    The message shows the whole template with a caret under the failing column.
    """

    def __init__(self, path: str, text: str, column: int, reason: str, fix: str | None = None):
        self.path = path
        self.text = text
        self.column = column
        self.reason = reason
        self.fix = fix or "check the JMESPath syntax (https://jmespath.org/specification.html)"
        caret = " " * column + "^"
        message = f"invalid expression: {reason}\n      {text}\n      {caret}"
        super().__init__(PlanIssue(path, message, self.fix))

    def __reduce__(self):
        return (ExpressionSyntaxError, (self.path, self.text, self.column, self.reason, self.fix))


class ConfigError(OrchestraError):
    """A config value cannot be resolved (missing environment variable, bad override)."""


class RequestImportError(OrchestraError):
    """A curl command or a HAR entry cannot be turned into a step.

    ``message`` names what could not be read (a flag, an argument, an entry),
    ``fix`` how to get past it, ``source`` what was being imported.
    """

    def __init__(self, message: str, *, fix: str | None = None, source: str | None = None):
        self.message = message
        self.fix = fix
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return where + self.message + (f"\n  fix: {self.fix}" if self.fix else "")

    def __str__(self) -> str:
        return self._render()

    def __reduce__(self):
        return (_rebuild_import_error, (self.message, self.fix, self.source))


def _rebuild_import_error(message: str, fix: str | None, source: str | None) -> RequestImportError:
    return RequestImportError(message, fix=fix, source=source)


class RunError(OrchestraError):
    """A failure while running a plan. ``step_path`` names the step that failed."""

    def __init__(self, message: str, *, step_path: str | None = None, fix: str | None = None):
        self.message = message
        self.step_path = step_path
        self.fix = fix
        super().__init__(self._render())

    def _render(self) -> str:
        text = f"step {self.step_path!r}: {self.message}" if self.step_path else self.message
        if self.fix:
            text += f" (fix: {self.fix})"
        return text

    def with_step(self, step_path: str) -> RunError:
        """Attach the step path if it is not known yet; returns ``self``."""
        if self.step_path is None:
            self.step_path = step_path
            self.args = (self._render(),)
        return self

    def __reduce__(self):
        return (_rebuild_run_error, (type(self), self.message, self.step_path, self.fix))


def _rebuild_run_error(cls: type[RunError], message: str, step_path: str | None, fix: str | None):
    error = cls.__new__(cls)
    RunError.__init__(error, message, step_path=step_path, fix=fix)
    return error


class TemplateError(RunError):
    """A template produced a value that cannot be sent (e.g. null inside a string)."""


class ExpressionError(RunError):
    """An expression that loaded fine failed on the data it met at run time, e.g. a
    function given a value of the wrong type (``abs('x')``). Load time checks names,
    arities and syntax; only the data can reveal this, so the step fails with it."""


class RequestError(RunError):
    """The HTTP request failed (connection, timeout, protocol) after all retries."""


class TooManyRedirects(RequestError):
    """The server redirected more than 20 times in a row; every hop is captured."""


class HTTPStatusError(RunError):
    """The API answered with an error status that the step does not handle."""

    def __init__(self, message: str, *, status_code: int, **kwargs):
        self.status_code = status_code
        super().__init__(message, **kwargs)

    def __reduce__(self):
        return (_rebuild_status_error, (self.message, self.status_code, self.step_path, self.fix))


def _rebuild_status_error(message, status_code, step_path, fix) -> HTTPStatusError:
    return HTTPStatusError(message, status_code=status_code, step_path=step_path, fix=fix)


class AbortError(RunError):
    """``abort_on`` or ``abort_when`` matched: the run stops with status ``aborted``."""


class ExpectationFailed(RunError):
    """An ``expect`` assertion of a step did not hold."""


class LimitExceeded(RunError):
    """A limit of the plan's ``limits`` block was hit (loops, depth, time, size)."""


class RateLimitExceeded(RunError):
    """Waiting for a rate limit would take longer than ``max_wait``."""


class CircuitOpenError(RunError):
    """The circuit breaker of the request's host is open (or half-open with its one
    probe in flight): the request failed at once, without being sent."""

    def __init__(self, message: str, *, host: str, retry_in_seconds: float | None = None, **kw):
        self.host = host
        self.retry_in_seconds = retry_in_seconds
        super().__init__(message, **kw)

    def __reduce__(self):
        return (
            _rebuild_circuit_error,
            (self.message, self.host, self.retry_in_seconds, self.step_path, self.fix),
        )


def _rebuild_circuit_error(message, host, retry_in_seconds, step_path, fix) -> CircuitOpenError:
    return CircuitOpenError(
        message, host=host, retry_in_seconds=retry_in_seconds, step_path=step_path, fix=fix
    )


class AuthError(RunError):
    """Obtaining or refreshing a token failed (token endpoint error, no token in the answer)."""


class TransportError(OrchestraError):
    """A request that got no complete answer, as every transport reports it.

    Each transport maps its HTTP library's exceptions to this family at its
    boundary (the library's error is kept as ``__cause__``), so the engine
    names no library. ``str()`` is the reason a failed exchange shows, in
    the transport's words ("cannot connect: …", "ServerDisconnectedError: …").
    """


class ConnectError(TransportError):
    """No connection was made (refused, unknown host, TLS): the request never left."""


class RemoteClosed(TransportError):
    """A connection closed before the answer came (often a keep-alive race, RFC 9112 §9.3.1).

    The engine re-sends an idempotent request once, at once, as an exchange of its own.
    """


class ReadError(TransportError):
    """The answer broke off or could not be read (short body, bad encoding, not HTTP)."""


class TransportTimeout(TransportError, TimeoutError):
    """The transport's own deadline passed (the engine reports its ``timeout_seconds``).

    Also a ``TimeoutError``, as a deadline of ``asyncio.timeout`` is: whichever
    fires first, the caller sees a timeout.
    """


@contextmanager
def step_context(step_path: str) -> Iterator[None]:
    """Attach ``step_path`` to any :class:`RunError` raised inside the block."""
    try:
        yield
    except RunError as error:
        raise error.with_step(step_path) from error.__cause__
