"""The runner: one run of a plan from start to finish.

It resolves config and auth, loads persistent context, opens one shared
``httpx.AsyncClient``, runs the root steps in order, enforces the run-time
limit, compensates a failed saga, saves persistent context after a success,
and turns every ending — success, failure, abort, compensation, cancellation
— into a ``RunFinished`` event.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import httpx

from orchestra.engine._auth import Authenticator, ResolvedAuth, resolve_static_auth
from orchestra.engine._breaker import Breakers
from orchestra.engine._capping import Capping
from orchestra.engine._config import resolve_config
from orchestra.engine._context import RunContext
from orchestra.engine._context_store import ContextStore, config_fingerprint, persistent_values
from orchestra.engine._control import NodeRunner
from orchestra.engine._hooks import StepHook
from orchestra.engine._logging import mask_library_logs
from orchestra.engine._ratelimit import RateLimiter
from orchestra.engine._result import ResultCollector, RunResult
from orchestra.engine._saga import Saga
from orchestra.engine._step import StepOutcome
from orchestra.engine._tokens import TokenAuth
from orchestra.engine._transport import default_transport
from orchestra.errors import AbortError, LimitExceeded, RunError
from orchestra.events import EventBus, RateLimitWait, RunFinished, RunStarted, Subscriber
from orchestra.masking import Masker
from orchestra.plan import (
    CompiledAuth,
    CompiledParallel,
    CompiledPlan,
    CompiledStep,
    PlanSource,
    ReadCaps,
    StaticAuth,
    compile_auth,
    load_plan,
)
from orchestra.plan import TokenAuth as TokenAuthModel
from orchestra.types import RunStatus

AuthOverride = StaticAuth | TokenAuthModel | Mapping[str, Any] | None


def new_run_id() -> str:
    """Sortable and unique: ``20261122-091500-3f9a1c``."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def _max_concurrency(plan: CompiledPlan) -> int:
    widest = 1
    parallel = 0
    for step in plan.walk():
        if isinstance(step, CompiledStep) and step.is_fanout:
            widest = max(widest, step.concurrency)
        elif isinstance(step, CompiledParallel):
            parallel += len(step.children)
    return widest + parallel


def _auth_override(auth: AuthOverride) -> CompiledAuth | None:
    if auth is None:
        return None
    return compile_auth(_auth_model(auth), source="auth override")


def _auth_model(auth: AuthOverride):
    if not isinstance(auth, Mapping):
        return auth
    from pydantic import BaseModel, TypeAdapter, ValidationError

    from orchestra.errors import PlanError
    from orchestra.plan import Auth, issues_from_validation

    class _AuthHolder(BaseModel):
        auth: Auth

    try:
        return TypeAdapter(Auth).validate_python(dict(auth))
    except ValidationError as error:
        issues = issues_from_validation(error, _AuthHolder, {"auth": dict(auth)}, prefix=("auth",))
        raise PlanError(issues, source="auth override") from None


class Runner:
    """Runs a plan once. Build it, then ``await runner.run()``.

    ``sleep`` and ``clock`` replace ``asyncio.sleep`` and ``time.monotonic`` for
    every wait and every timer of the engine (backoff, delays, rate limits,
    circuit breakers, token lifetimes): tests pass a fake pair so that nothing
    really sleeps.

    ``context_store`` keeps the plan's ``persistent_context`` fields between
    runs (see :mod:`orchestra.engine._context_store`).

    ``caps`` makes the run a test read (:class:`~orchestra.plan.ReadCaps`): steps
    stop at the caps, ``result.partial`` says where, and no persistent context is
    saved, whatever the run's status.
    """

    def __init__(
        self,
        plan: PlanSource,
        config: Mapping[str, Any] | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        auth: AuthOverride = None,
        transport: httpx.AsyncBaseTransport | None = None,
        subscribers: Iterable[Subscriber] = (),
        hooks: Iterable[StepHook] = (),
        keep_records: bool = True,
        environ: Mapping[str, str] | None = None,
        run_id: str | None = None,
        mode: str = "run",
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        context_store: ContextStore | None = None,
        caps: ReadCaps | None = None,
    ):
        self.plan = load_plan(plan)
        self.config_overrides = dict(config or {})
        self.initial_context = dict(context or {})
        self.auth_override = _auth_override(auth)
        self.context_store = context_store
        self.caps = caps if caps is not None and caps.any else None
        self.transport = transport
        self.bus = EventBus()
        self.run_id = run_id or new_run_id()
        self.result = RunResult(self.run_id, self.plan.key)
        self.bus.subscribe(ResultCollector(self.result, keep_records=keep_records))
        for subscriber in subscribers:
            self.bus.subscribe(subscriber)
        self.hooks = list(hooks)
        self.environ = os.environ if environ is None else environ
        self.mode = mode
        self.sleep = sleep
        self.clock = clock
        self.masker = Masker()
        self.context: RunContext | None = None
        self.stop_requested = False  # Runner.stop(): the run ends `stopped`, not `interrupted`
        self._task: asyncio.Task[Any] | None = None

    def _on_rate_wait(self, step_path: str, delay: float, reason: str) -> None:
        self.bus.emit(
            RateLimitWait(
                run_id=self.run_id,
                at=time.time(),
                step_path=step_path,
                delay_seconds=delay,
                reason=reason,
            )
        )

    def _prepare(self, client: httpx.AsyncClient) -> RunContext:
        masker = self.masker
        config = resolve_config(self.plan.model.config, self.config_overrides, masker, self.environ)
        limiter = RateLimiter(
            self.plan.model.rate_limits,
            on_wait=self._on_rate_wait,
            sleep=self.sleep,
            clock=self.clock,
        )
        breakers = None
        if self.plan.model.circuit_breaker is not None:
            breakers = Breakers(
                self.plan.model.circuit_breaker, bus=self.bus, run_id=self.run_id, clock=self.clock
            )
        return RunContext(
            run_id=self.run_id,
            plan=self.plan,
            client=client,
            bus=self.bus,
            masker=masker,
            config=config,
            auth=self._authenticator(config),
            limiter=limiter,
            context={**self._load_context(), **self.initial_context},
            sleep=self.sleep,
            clock=self.clock,
            breakers=breakers,
            saga=Saga(),
            capping=None if self.caps is None else Capping(self.caps, self.bus, self.run_id),
        )

    def _authenticator(self, config: dict[str, Any]) -> Authenticator:
        auth = self.auth_override or self.plan.auth
        if auth is None:
            return ResolvedAuth()
        if auth.fetches_tokens:
            return TokenAuth(
                auth, config=config, masker=self.masker, environ=self.environ, clock=self.clock
            )
        return resolve_static_auth(auth, {"config": config}, self.masker, self.environ)

    def _context_key(self) -> tuple[str, str]:
        merged = {**self.plan.model.config, **self.config_overrides}
        return self.plan.key, config_fingerprint(merged)

    def _persistent_keys(self) -> list[str]:
        """``persistent_context`` plus each ``incremental`` step's cursor field."""
        return [*self.plan.model.persistent_context, *self.plan.incremental_defaults()]

    def _load_context(self) -> dict[str, Any]:
        keys = self._persistent_keys()
        if not keys:
            return {}
        loaded = {} if self.context_store is None else self.context_store.load(*self._context_key())
        values = {key: loaded[key] for key in keys if key in loaded}
        for key, initial in self.plan.incremental_defaults().items():
            values.setdefault(key, initial)  # no successful run saved a cursor yet
        return values

    def _save_context(self, run: RunContext) -> None:
        keys = self._persistent_keys()
        if self.context_store is None or not keys or self.caps is not None:  # a test read
            return
        limits = run.limits
        values = persistent_values(
            run.context,
            keys,
            field_limit=limits.max_context_field_bytes,
            total_limit=limits.max_context_total_bytes,
        )
        try:
            self.context_store.save(*self._context_key(), values)
        except Exception as error:
            raise RunError(
                f"saving persistent context failed: {type(error).__name__}: {error}",
                fix="check the context store (the capture file) is writable",
            ) from error

    def _client(self) -> httpx.AsyncClient:
        connections = _max_concurrency(self.plan) + 10
        transport = self.transport or default_transport(connections)
        use_masker = getattr(transport, "use_masker", None)
        if callable(use_masker):  # e.g. a replay transport that matches masked captures
            use_masker(self.masker)
        return httpx.AsyncClient(transport=transport, follow_redirects=True, timeout=None)

    async def run(self) -> RunResult:
        """Run every root step in order; never raises for run failures (see ``result``)."""
        started = time.perf_counter()
        mask_library_logs(self.masker)
        self._task = asyncio.current_task()
        async with self._client() as client:
            run = self.context = self._prepare(client)
            self.bus.emit(
                RunStarted(
                    run_id=self.run_id,
                    at=time.time(),
                    plan_key=self.plan.key,
                    plan=self.plan.to_dict(),
                    config=run.config,
                    masker=self.masker,
                    mode=self.mode,
                )
            )
            status = RunStatus.SUCCEEDED
            error: RunError | None = None
            try:
                async with asyncio.timeout(run.limits.max_execution_seconds):
                    await self._run_steps(run)
            except AbortError as caught:
                status, error = RunStatus.ABORTED, caught
            except RunError as caught:
                status, error = RunStatus.FAILED, caught
            except TimeoutError:
                status = RunStatus.FAILED
                error = LimitExceeded(
                    f"the run took longer than max_execution_seconds "
                    f"({run.limits.max_execution_seconds:g}s) and was stopped",
                    fix="raise limits.max_execution_seconds or make the plan do less",
                )
            except asyncio.CancelledError:
                if not self.stop_requested:
                    self._finish(RunStatus.INTERRUPTED, None, started)
                    raise
                if self._task is not None:
                    self._task.uncancel()  # a stop ends the run cleanly: run() returns
                status = RunStatus.STOPPED
            except Exception as caught:  # a bug, not a plan failure: still end the run
                self._finish(RunStatus.FAILED, caught, started)
                raise
            if status is RunStatus.SUCCEEDED and self._any_failure():
                status = RunStatus.FAILED
            if status in (RunStatus.FAILED, RunStatus.ABORTED) and run.saga:
                try:
                    status = await run.saga.compensate(
                        run, NodeRunner(run, self.hooks), status, error
                    )
                except asyncio.CancelledError:
                    stopped = RunStatus.STOPPED if self.stop_requested else RunStatus.INTERRUPTED
                    self._finish(stopped, error, started)
                    raise
            if status is RunStatus.SUCCEEDED:
                try:
                    self._save_context(run)
                except RunError as caught:
                    status, error = RunStatus.FAILED, caught
            self._finish(status, error, started)
        self.result.context = self.masker.value(run.context)
        return self.result

    async def _run_steps(self, run: RunContext) -> None:
        runner = NodeRunner(run, self.hooks)
        for node in self.plan.steps:
            await runner.run_node(node)

    async def run_step(self, name: str, scope: dict[str, Any]) -> StepOutcome:
        """Run one step again against a given scope (for the debugger's re-run)."""
        if self.context is None:
            raise RuntimeError("run_step needs a prepared run; call run() first")
        node = self.plan.find(name)
        runner = NodeRunner(self.context, self.hooks)
        if isinstance(node, CompiledStep):
            return await runner.run_step(node, scope)
        return await runner.run_node(node)

    def stop(self) -> None:
        """End the run now as ``stopped`` (a debugger's stop); call it on the run's loop.

        The run's task is cancelled like an interrupt (requests in flight are
        cancelled, everything captured is kept), but the run ends ``stopped``
        and ``run()`` returns its result instead of raising ``CancelledError``.
        """
        self.stop_requested = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _any_failure(self) -> bool:
        return bool(self.result.assertion_failures) or any(
            s.statuses.get("failed") for s in self.result.steps.values()
        )

    def _finish(self, status: RunStatus, error: BaseException | None, started: float) -> None:
        if isinstance(error, RunError):
            error.message = self.masker.text(error.message)
            error.args = (self.masker.text(str(error)),)
        self.result.error = error
        self.bus.emit(
            RunFinished(
                run_id=self.run_id,
                at=time.time(),
                status=str(status),
                duration_ms=(time.perf_counter() - started) * 1000,
                error=None if error is None else self.masker.text(str(error)),
                error_type=None if error is None else type(error).__name__,
                step_path=getattr(error, "step_path", None),
            )
        )
