"""Running one request step: pages (``while``), conditions, extraction, fanout.

After a response passes the exchange checks (``_exchange.py``), the order is
``abort_when`` → ``expect`` → error status → ``extract`` / ``context_updates``
→ ``sub_steps`` → ``break_when`` / ``while`` (the plan format's order: README,
"The engine").

The same path runs plan steps, sub-steps (once per fanout item), saga
compensations and token requests (``CompiledStep.kind``). A step with a
``compensate`` block registers its compensation with the run's saga each time
it succeeds. Parallel groups and choices are in ``_control.py``.
"""

from __future__ import annotations

import asyncio
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import jsonschema
import yaml

from orchestra.engine import _gc
from orchestra.engine._context import RunContext
from orchestra.engine._decide import Verdict, check
from orchestra.engine._detect_hook import detect_pagination
from orchestra.engine._exchange import NEXT_URL, Exchange, exchange
from orchestra.engine._hooks import StepCall, StepHook
from orchestra.engine._response import detect_format
from orchestra.errors import (
    AbortError,
    ExpectationFailed,
    HTTPStatusError,
    LimitExceeded,
    PlanError,
    RunError,
)
from orchestra.events import (
    AssertionFailed,
    FanoutItemFinished,
    FanoutStarted,
    PageFinished,
    PaginationDetected,
    RecordEmitted,
    StepFinished,
    StepStarted,
)
from orchestra.expressions import truthy
from orchestra.plan import CompiledIncremental, CompiledStep, Incremental, compile_detected
from orchestra.types import StepStatus

CANCEL_REASONS: ContextVar[tuple[list[str], ...]] = ContextVar(
    "orchestra_cancel_reasons", default=()
)
"""Boxes of enclosing parallel groups; a group that cancels its children puts the reason
in its box, so a cancelled step can tell ``cancelled`` from ``interrupted``."""


def cancel_reason() -> str | None:
    """Why the current task was cancelled by a parallel group, if it was."""
    for box in CANCEL_REASONS.get():
        if box:
            return box[0]
    return None


def detached(value: Any) -> Any:
    """A copy of a list or object a step keeps (``extract``, ``context_updates``).

    An expression may select part of the scope that holds the kept value itself
    (``context_updates: {saved: context}``, ``extract: {all: '@'}``): kept as is,
    the context or the ``steps`` results would contain themselves, and masking,
    capture and every later step would loop forever. Scalars are returned as they are.
    """
    if isinstance(value, dict):
        return {key: detached(item) for key, item in value.items()}
    if isinstance(value, list):
        return [detached(item) for item in value]
    return value


@dataclass(slots=True)
class StepOutcome:
    """What one execution of a step (or a parallel group, or a choice) produced."""

    status: StepStatus
    response: dict[str, Any] | None = None  # the last page's response scope
    extract: dict[str, Any] = field(default_factory=dict)
    pages: int = 0
    records: int = 0
    error: RunError | None = None
    details: dict[str, Any] = field(default_factory=dict)  # e.g. the branch a choice took
    cursor: Any = None  # ``incremental``: the highest cursor value among the records so far

    def output(self) -> Any:
        """What enriches a fanout item: the extracted values, else the last body."""
        if self.extract:
            return self.extract
        return None if self.response is None else self.response["body"]

    def as_scope(self) -> dict[str, Any]:
        """``steps.<name>`` for later steps: the last response plus status and extracts."""
        scope = dict(self.response or {})
        scope.update(status=str(self.status), pages=self.pages, extract=self.extract)
        scope.update(self.details)
        return scope


class StepRunner:
    """Executes steps of one run; holds the hooks and the failure policy."""

    def __init__(self, run: RunContext, hooks: list[StepHook]):
        self.run = run
        self.hooks = hooks
        # optional page hooks (a debugger's): looked up once per runner, never per request
        self.page_hooks = [hook for hook in hooks if hasattr(hook, "before_page")]
        self.response_hooks = [hook for hook in hooks if hasattr(hook, "after_response")]

    async def run_step(
        self,
        step: CompiledStep,
        scope: dict[str, Any],
        *,
        parent_execution_id: str | None = None,
        item_index: int | None = None,
    ) -> StepOutcome:
        run = self.run
        execution_id = run.next_execution_id()
        run.bus.emit(
            StepStarted(
                run_id=run.run_id,
                at=time.time(),
                step_path=step.path,
                execution_id=execution_id,
                parent_execution_id=parent_execution_id,
                item_index=item_index,
                kind=step.kind,
            )
        )
        started = time.perf_counter()
        outcome = StepOutcome(StepStatus.RUNNING)
        reason = None
        if item_index is None:  # not a fanout item: keep the collector off the old heap
            _gc.enter()
        try:
            shown_state = None
            if self.page_hooks and (step.page_state is not None or step.page_state_updates):
                # a debugger's run: the first page's state is in the step stop's scope, so
                # `%flow set page_state.x=…` there sets where paging starts
                shown_state = Paging.initial_state(step, scope)
                scope = {**scope, "page_state": detached(shown_state)}
            for hook in self.hooks:
                call = StepCall(run, step, scope, execution_id, item_index)
                await hook.before_step(call)
                scope = call.scope
            if shown_state is not None and scope.get("page_state") == shown_state:
                # not edited at the stop: rendered again from the scope as the stop left it,
                # so an edit of what page_state reads (`set context.start=…`) still counts
                scope = {key: value for key, value in scope.items() if key != "page_state"}
            try:
                await self._pages(step, scope, execution_id, item_index, outcome)
                if step.incremental is not None and outcome.cursor is not None:
                    # only once every page is read; saved only if the run succeeds
                    run.context[step.incremental.key] = outcome.cursor
            except RunError as error:  # as errors.step_context, without a generator per step
                raise error.with_step(step.path) from error.__cause__
            if outcome.status is StepStatus.RUNNING:
                outcome.status = StepStatus.OK
        except AbortError as error:
            outcome.status, outcome.error = StepStatus.ABORTED, error
            raise
        except RunError as error:
            outcome.status, outcome.error = StepStatus.FAILED, error
            if step.on_error == "abort":
                raise
        except asyncio.CancelledError:
            reason = cancel_reason()
            outcome.status = StepStatus.INTERRUPTED if reason is None else StepStatus.CANCELLED
            raise
        finally:
            if item_index is None:
                _gc.leave()
            run.bus.emit(
                StepFinished(
                    run_id=run.run_id,
                    at=time.time(),
                    step_path=step.path,
                    execution_id=execution_id,
                    status=str(outcome.status),
                    duration_ms=(time.perf_counter() - started) * 1000,
                    pages=outcome.pages,
                    records=outcome.records,
                    error=None if outcome.error is None else run.masker.text(str(outcome.error)),
                    item_index=item_index,
                    reason=reason,
                )
            )
        if step.compensate is not None and outcome.status is StepStatus.OK and run.saga is not None:
            run.saga.register(step, {**scope, "response": outcome.response}, execution_id)
        return outcome

    async def _pages(
        self,
        step: CompiledStep,
        scope: dict[str, Any],
        execution_id: str,
        item_index: int | None,
        outcome: StepOutcome,
    ) -> None:
        run = self.run
        model = step.model
        prev: dict[str, Any] | None = None
        paging = Paging.start(step, scope)
        while True:
            outcome.pages += 1
            page = outcome.pages
            if page > run.limits.max_loops:
                outcome.pages -= 1
                raise LimitExceeded(
                    f"paginated {run.limits.max_loops} pages, the max_loops limit "
                    f"(is the `while` condition ever false?)",
                    fix="check `while`/`break_when`, or raise limits.max_loops",
                )
            if model.delay_seconds:
                await run.sleep(model.delay_seconds)
            page_scope = {**scope, "prev": prev}
            if paging is not None:
                page_scope.update(paging.scope())
            if self.page_hooks:  # only a debugger's run has them: one truth test per page
                for hook in self.page_hooks:
                    call = StepCall(run, step, page_scope, execution_id, item_index, page)
                    await hook.before_page(call)
                    page_scope = call.scope
                if paging is not None:  # a paused page's edits are what later pages build on
                    paging.adopt(page_scope)
            result = await exchange(
                run,
                step,
                page_scope,
                execution_id=execution_id,
                page=page,
                item_index=item_index,
            )
            if result.ignored:
                outcome.status = StepStatus.IGNORED
                outcome.response = result.scope()
                return
            response = result.scope()
            outcome.response = response
            full = {**page_scope, "response": response}
            if self.response_hooks:
                for hook in self.response_hooks:
                    call = StepCall(run, step, full, execution_id, item_index, page)
                    await hook.after_response(call)
                    full = call.scope
                if paging is not None:
                    paging.adopt(full)
            self._check(step, full, result)
            if step.extract:
                outcome.extract = {
                    key: detached(expression.search(full))
                    for key, expression in step.extract.items()
                }
            for key, expression in step.context_updates.items():
                run.context[key] = detached(expression.search(full))
            if step.paginate_auto and page == 1:
                # `paginate: auto` (issue 19 item 4): from here on the step runs as if
                # the detected paginate/records had been written in the plan.
                step = self._detected(step, response, execution_id, item_index)
                paging = Paging.start(step, scope)
            records = None if step.records is None else page_records(step, full)
            if records is not None:
                full["records"] = records
            if run.bus.wants(PageFinished):
                run.bus.emit(
                    PageFinished(
                        run_id=run.run_id,
                        at=time.time(),
                        step_path=step.path,
                        execution_id=execution_id,
                        page=page,
                        status_code=result.status_code,
                    )
                )
            if step.emits and (records is not None or not step.is_fanout):
                emitted = [result.body] if records is None else records
                if run.capping is not None:
                    emitted = run.capping.admit(step.path, emitted)
                    if records is not None and len(emitted) < len(records):
                        full["records"] = emitted  # a fanout over `records` runs the kept ones
                source = None
                count = len(emitted)
                if records is not None and count == len(records) and not self.response_hooks:
                    source = _records_source(step, result)  # (a capped page: text)
                for index, record in enumerate(emitted):
                    outcome.records += 1
                    run.bus.emit(
                        RecordEmitted(
                            run_id=run.run_id,
                            at=time.time(),
                            step_path=step.path,
                            record=record,
                            page=page,
                            item_index=item_index,
                            exchange_id=result.exchange_id,
                            source=source,
                            index=index,
                            count=count,
                        )
                    )
            for sub in step.sub_steps:
                outcome.records += await self._fanout(sub, full, execution_id)
            if (
                step.incremental is not None
                and records is not None
                and track_cursor(step.incremental, records, run.context, outcome)
            ):
                return  # row_order: the records passed the previous cursor or end_value
            if step.break_when is not None and truthy(step.break_when.search(full)):
                return
            if step.while_ is None or not truthy(step.while_.search(full)):
                return
            if run.capping is not None and run.capping.stop_paging(step.path, page):
                return  # a test read's max_pages or max_records
            if paging is not None:
                paging.advance(full)
            prev = response

    def _detected(
        self,
        step: CompiledStep,
        response: dict[str, Any],
        execution_id: str,
        item_index: int | None,
    ) -> CompiledStep:
        """``step`` recompiled with the pagination detected in its first ``response``,
        announced as a :class:`PaginationDetected` event (with the YAML to paste)."""
        run = self.run
        detection = detect_pagination(
            url=response["url"], headers=response["headers"], body=response["body"]
        )
        paste = {
            key: value
            for key, value in (("paginate", detection.paginate), ("records", detection.records))
            if value is not None
        }
        run.bus.emit(
            PaginationDetected(
                run_id=run.run_id,
                at=time.time(),
                step_path=step.path,
                execution_id=execution_id,
                paginate=detection.paginate,
                records=detection.records,
                looks_paginated=tuple(detection.looks_paginated),
                explanation=detection.explanation,
                yaml=yaml.safe_dump(paste, sort_keys=False) if paste else "",
                item_index=item_index,
            )
        )
        try:
            return compile_detected(step, detection.paginate, detection.records)
        except PlanError as error:
            problems = "; ".join(f"{issue.path}: {issue.message}" for issue in error.issues)
            raise RunError(
                f"paginate: auto detected {paste or 'one page'}, which does not compile: "
                f"{problems}",
                step_path=step.path,
                fix="write paginate: and records: explicitly in the plan",
            ) from None

    def _check(self, step: CompiledStep, full: dict[str, Any], result: Exchange) -> None:
        """``abort_when`` → ``expect`` → unhandled error status (the order: ``check``)."""
        abort_when = step.abort_when
        expect = step.model.expect
        failed = check(
            result.status_code,
            abort_when=None if abort_when is None else lambda: truthy(abort_when.search(full)),
            abort_when_source="" if abort_when is None else abort_when.source,
            expected_statuses=None if expect is None else expect.status,
            expectations=None
            if expect is None
            else lambda: self._expectation_failures(step, full, result),
        )
        if failed is None:
            return
        run = self.run
        if failed.verdict is Verdict.ABORT:
            raise AbortError(failed.reason)
        for expectation, message in failed.failures:
            run.bus.emit(
                AssertionFailed(
                    run_id=run.run_id,
                    at=time.time(),
                    step_path=step.path,
                    expectation=expectation,
                    message=run.masker.text(message),
                    exchange_id=result.exchange_id,
                )
            )
        if failed.failures:
            raise ExpectationFailed(failed.reason)
        raise HTTPStatusError(
            f"{run.masker.url(result.url)} answered {result.status_code}",
            status_code=result.status_code,
            fix="handle it with ignore_on, abort_on, retry.on_status or expect.status",
        )

    @staticmethod
    def _expectation_failures(
        step: CompiledStep, full: dict[str, Any], result: Exchange
    ) -> list[tuple[str, str]]:
        """The step's ``expect`` items that do not hold, as ``(expectation, message)``."""
        expect = step.model.expect
        assert expect is not None
        status = result.status_code
        failures = []
        if expect.status is not None and status not in expect.status:
            failures.append(("status", f"status {status} is not one of {expect.status}"))
        for expr in step.expect_that:
            if not truthy(expr.search(full)):
                failures.append((expr.source, f"{expr.source!r} is not true"))
        if expect.body_schema is not None:
            try:
                jsonschema.validate(result.body, expect.body_schema)
            except jsonschema.ValidationError as error:
                where = "/".join(str(p) for p in error.absolute_path) or "<body>"
                failures.append(
                    ("body_schema", f"body does not match schema at {where}: {error.message}")
                )
        return failures

    async def _fanout(self, sub: CompiledStep, parent: dict[str, Any], parent_id: str) -> int:
        """Run ``sub`` once per item with at most ``concurrency`` in flight (bounded tasks)."""
        run = self.run
        if sub.iterate_over is None:
            items: list[Any] = [None]
        else:
            try:
                found = sub.iterate_over.search(parent)
            except RunError as error:  # the expression is the sub-step's
                raise error.with_step(sub.path) from None
            if found is None:
                items = []
            elif isinstance(found, list):
                items = found
            else:
                raise RunError(
                    f"iterate_over {sub.iterate_over.source!r} gave {type(found).__name__}, "
                    "not a list",
                    step_path=sub.path,
                    fix="point iterate_over at an array, e.g. response.body.items[*]",
                )
        if run.capping is not None:
            items = run.capping.fanout_items(sub.path, items)
        run.bus.emit(
            FanoutStarted(
                run_id=run.run_id,
                at=time.time(),
                step_path=sub.path,
                execution_id=parent_id,
                total_items=len(items),
            )
        )
        if not items:
            return 0
        base = {**run.base_scope(), "parent": parent.get("response"), "response": None}
        page_buffer: list[Any] | None = [None] * len(items) if sub.emit_mode == "page" else None
        emitted = 0
        work = iter(enumerate(items))

        async def worker() -> None:
            nonlocal emitted
            capping = run.capping
            for index, item in work:
                if capping is not None and capping.records_full(sub.path):
                    capping.report(sub.path, "max_records", capping.caps.max_records or 0)
                    return
                outcome = await self.run_step(
                    sub, {**base, "item": item}, parent_execution_id=parent_id, item_index=index
                )
                if run.bus.wants(FanoutItemFinished):
                    run.bus.emit(
                        FanoutItemFinished(
                            run_id=run.run_id,
                            at=time.time(),
                            step_path=sub.path,
                            item_index=index,
                            status=str(outcome.status),
                        )
                    )
                if not sub.emits or outcome.status is not StepStatus.OK:
                    continue
                if sub.records is not None:  # its records were emitted page by page
                    emitted += outcome.records
                    continue
                enriched = _enrich(item, sub.name, outcome.output())
                if capping is not None and not capping.admit(sub.path, [enriched]):
                    return  # max_records counts the items, also those grouped into a page
                if page_buffer is not None:
                    page_buffer[index] = enriched
                else:
                    emitted += 1
                    run.bus.emit(
                        RecordEmitted(
                            run_id=run.run_id,
                            at=time.time(),
                            step_path=sub.path,
                            record=enriched,
                            item_index=index,
                        )
                    )

        workers = min(sub.concurrency, len(items))
        if workers == 1:
            await worker()
        else:
            try:
                async with asyncio.TaskGroup() as group:
                    for _ in range(workers):
                        group.create_task(worker())
            except BaseExceptionGroup as group_error:
                raise _first_error(group_error) from None
        if page_buffer is not None:
            page = [record for record in page_buffer if record is not None]
            if not page and run.capping is not None and run.capping.records_full(sub.path):
                return emitted  # max_records was reached before this page: no empty page
            emitted += 1
            run.bus.emit(
                RecordEmitted(run_id=run.run_id, at=time.time(), step_path=sub.path, record=page)
            )
        return emitted


def track_cursor(
    incremental: CompiledIncremental,
    records: list[Any],
    context: dict[str, Any],
    outcome: StepOutcome,
) -> bool:
    """Raise ``outcome.cursor`` to the page's highest cursor value (up to ``end_value``);
    whether ``row_order`` says the step has read everything new."""
    spec = incremental.spec
    previous = context.get(incremental.key)
    stop = False
    for record in records:
        value = incremental.cursor.search(record)
        if value is None:
            continue
        beyond_end = spec.end_value is not None and _after(value, spec.end_value, spec)
        if beyond_end:
            stop |= spec.row_order is not None
            continue
        highest = previous if outcome.cursor is None else outcome.cursor
        if highest is None or _after(value, highest, spec):  # never moves back
            outcome.cursor = value
        if spec.row_order == "desc" and previous is not None and not _after(value, previous, spec):
            stop = True
    return stop


def _after(value: Any, other: Any, spec: Incremental) -> bool:
    try:
        return bool(value > other)
    except TypeError:
        raise RunError(
            f"incremental cursor_path {spec.cursor_path!r} gave {value!r}, which cannot be "
            f"compared with {other!r}",
            fix="point cursor_path at a value of one type in every record (a timestamp "
            "string or a number), and give initial_value/end_value of that type",
        ) from None


def _records_source(step: CompiledStep, result: Exchange) -> str | None:
    """The DuckDB JSON path of the page's records in its captured body, when DuckDB reads
    them there as the engine did: the ``records`` path has one, and the body was parsed
    as JSON by orjson (UTF-8, standard JSON) from the bytes the capture stores, not
    through a debugger's hook (the caller checks that). Else None: stored as text."""
    path = step.records_json_path
    if path is None or type(result.body) not in (dict, list):
        return None
    fmt: str = step.model.response_format
    if fmt == "auto":
        fmt = detect_format(result.headers.get("content-type", ""))  # text: JSON if it parsed
    return path if fmt in ("json", "text") else None


def page_records(step: CompiledStep, full: dict[str, Any]) -> list[Any]:
    """The page's records as the step's ``records`` path selects them (null: none)."""
    assert step.records is not None
    found = step.records.search(full)
    if found is None:
        return []
    if not isinstance(found, list):
        written = getattr(step.model, "records", None)
        raise RunError(
            f"records {written!r} gave {type(found).__name__}, not a list",
            step_path=step.path,
            fix="point records at the list of records in the body, e.g. records: data "
            "(or records: '@' for a body that is a list)",
        )
    return found


@dataclass(slots=True)
class Paging:
    """What a step carries from one page to the next: ``page_state`` and ``next_url``."""

    step: CompiledStep
    state: dict[str, Any] | None
    next_url: str | None = None

    @classmethod
    def start(cls, step: CompiledStep, scope: dict[str, Any]) -> Paging | None:
        if step.page_state is None and not step.page_state_updates and step.next_url is None:
            return None
        state = None
        if step.page_state is not None or step.page_state_updates:
            given = scope.get("page_state")  # a debugger's step stop put (and maybe edited) it
            state = dict(given) if isinstance(given, dict) else cls.initial_state(step, scope)
        return cls(step, state)

    @staticmethod
    def initial_state(step: CompiledStep, scope: dict[str, Any]) -> dict[str, Any]:
        """The first page's ``page_state``: the step's ``page_state`` rendered."""
        rendered = {} if step.page_state is None else step.page_state.render(scope)
        return dict(rendered) if isinstance(rendered, dict) else {}

    def adopt(self, scope: dict[str, Any]) -> None:
        """Take ``page_state`` and ``next_url`` from a page's scope after a debugger's stop:
        what was set there (a field or the whole object) is what the next page builds on."""
        state = scope.get("page_state")
        if self.state is not None and isinstance(state, dict):
            self.state = state
        found = scope.get(NEXT_URL)
        if found is None or isinstance(found, str):
            self.next_url = found

    def scope(self) -> dict[str, Any]:
        """The page scope's ``page_state`` and ``next_url`` (null on the first page)."""
        values: dict[str, Any] = {NEXT_URL: self.next_url}
        if self.state is not None:
            values["page_state"] = self.state
        return values

    def advance(self, full: dict[str, Any]) -> None:
        """After a page that leads to another: the next ``page_state`` and URL."""
        step = self.step
        if self.state is not None and step.page_state_updates:
            self.state = {
                **self.state,
                **{k: detached(e.search(full)) for k, e in step.page_state_updates.items()},
            }
        if step.next_url is not None:
            self.next_url = _next_url(step, full)


def _next_url(step: CompiledStep, full: dict[str, Any]) -> str | None:
    """The next page's URL: absolute, or relative to this page's URL; null: the step's URL."""
    assert step.next_url is not None
    found = step.next_url.search(full)
    if found is None or found == "":
        return None
    if not isinstance(found, str):
        raise RunError(
            f"next_url {step.next_url.source!r} gave {type(found).__name__}, not a URL",
            step_path=step.path,
            fix="point next_url (or paginate.next_path) at the next page's URL",
        )
    response = full.get("response") or {}
    return urljoin(str(response.get("url") or ""), found)


def _enrich(item: Any, name: str, output: Any) -> Any:
    """Seed 002: each fanout item is enriched with its sub-step's output."""
    if isinstance(item, dict):
        return {**item, name: output}
    if item is None:
        return output
    return {"item": item, name: output}


def _first_error(group: BaseExceptionGroup) -> BaseException:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return _first_error(error)
        if not isinstance(error, asyncio.CancelledError):
            return error
    return group.exceptions[0]
