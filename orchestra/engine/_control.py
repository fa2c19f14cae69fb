"""Running the ``steps`` namespace: HTTP steps, parallel groups and choices (seed 000).

:meth:`NodeRunner.run_node` runs any node and then publishes its result as
``steps.<name>``. A parallel group runs its children as tasks on the run's
loop and joins them (``on_error``: ``wait`` | ``cancel`` | ``continue``); a
choice evaluates each ``when`` against the scope and runs the first true
branch, recording every step of the other branches as ``skipped``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from orchestra.engine._step import CANCEL_REASONS, StepOutcome, StepRunner, cancel_reason
from orchestra.errors import AbortError, RunError
from orchestra.events import StepFinished, StepStarted
from orchestra.expressions import truthy
from orchestra.plan import (
    CompiledChoice,
    CompiledNode,
    CompiledParallel,
    CompiledStep,
)
from orchestra.types import StepStatus


class NodeRunner(StepRunner):
    """A :class:`StepRunner` that also runs parallel groups and choices."""

    async def run_node(
        self,
        node: CompiledNode,
        scope: dict[str, Any] | None = None,
        *,
        parent_execution_id: str | None = None,
    ) -> StepOutcome:
        """Run one node of the ``steps`` namespace and publish ``steps.<name>``."""
        run = self.run
        if isinstance(node, CompiledStep):
            outcome = await self.run_step(
                node,
                run.base_scope() if scope is None else scope,
                parent_execution_id=parent_execution_id,
            )
        else:
            outcome = await self._control(node, parent_execution_id)
        run.steps[node.name] = outcome.as_scope()
        return outcome

    async def _control(
        self, node: CompiledParallel | CompiledChoice, parent_execution_id: str | None
    ) -> StepOutcome:
        """StepStarted/StepFinished around a group or a choice, with the same failure rules."""
        run = self.run
        execution_id = run.next_execution_id()
        run.bus.emit(
            StepStarted(
                run_id=run.run_id,
                at=time.time(),
                step_path=node.path,
                execution_id=execution_id,
                parent_execution_id=parent_execution_id,
                kind=node.kind,
            )
        )
        started = time.perf_counter()
        outcome = StepOutcome(StepStatus.RUNNING)
        reason = None
        try:
            if isinstance(node, CompiledParallel):
                await self._parallel(node, execution_id, outcome)
            else:
                await self._choice(node, execution_id, outcome)
            if outcome.status is StepStatus.RUNNING:
                outcome.status = StepStatus.OK
        except AbortError as error:
            outcome.status, outcome.error = StepStatus.ABORTED, error
            raise
        except RunError as error:  # a child's error names the child; a `when`, the choice
            outcome.status, outcome.error = StepStatus.FAILED, error.with_step(node.path)
            raise
        except asyncio.CancelledError:
            reason = cancel_reason()
            outcome.status = StepStatus.INTERRUPTED if reason is None else StepStatus.CANCELLED
            raise
        finally:
            run.bus.emit(
                StepFinished(
                    run_id=run.run_id,
                    at=time.time(),
                    step_path=node.path,
                    execution_id=execution_id,
                    status=str(outcome.status),
                    duration_ms=(time.perf_counter() - started) * 1000,
                    error=None if outcome.error is None else run.masker.text(str(outcome.error)),
                    reason=reason,
                )
            )
        return outcome

    # -- parallel ---------------------------------------------------------

    async def _parallel(
        self, node: CompiledParallel, execution_id: str, outcome: StepOutcome
    ) -> None:
        box: list[str] = []
        token = CANCEL_REASONS.set((*CANCEL_REASONS.get(), box))
        try:  # tasks copy the context when created: each child sees this group's box
            tasks = [
                asyncio.create_task(
                    self.run_node(child, parent_execution_id=execution_id),
                    name=f"orchestra:{child.path}",
                )
                for child in node.children
            ]
        finally:
            CANCEL_REASONS.reset(token)
        try:
            if node.on_error == "cancel":
                await self._join_cancelling(node, tasks, box)
            else:
                await asyncio.wait(tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        errors = [_task_error(task) for task in tasks]
        failed = [child.name for child, error in zip(node.children, errors, strict=True) if error]
        outcome.details = {"failed": failed}
        first = next((error for error in errors if error is not None), None)
        if first is None:
            return
        if not isinstance(first, RunError) or node.on_error != "continue":
            raise first
        outcome.status, outcome.error = StepStatus.FAILED, first  # recorded; the run goes on

    @staticmethod
    async def _join_cancelling(
        node: CompiledParallel, tasks: list[asyncio.Task[StepOutcome]], box: list[str]
    ) -> None:
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            broken = [task for task in done if _task_error(task) is not None]
            if broken and pending:
                child = node.children[tasks.index(broken[0])]
                box.append(f"{child.name!r} failed in parallel group {node.name!r}")
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending)
                return

    # -- choice -----------------------------------------------------------

    async def _choice(self, node: CompiledChoice, execution_id: str, outcome: StepOutcome) -> None:
        run = self.run
        scope = run.base_scope()
        taken: list[CompiledNode] | None = None
        label = None
        for branch in node.branches:
            if truthy(branch.when.search(scope)):
                taken, label = branch.steps, branch.label
                break
        if taken is None and node.otherwise:
            taken, label = node.otherwise, "otherwise"
        outcome.details = {"branch": label}
        chosen = f"took {label}" if label else "took no branch"
        for branch in node.branches:
            if branch.steps is not taken:
                self._skip(branch.steps, execution_id, f"choice {node.name!r} {chosen}")
        if node.otherwise and node.otherwise is not taken:
            self._skip(node.otherwise, execution_id, f"choice {node.name!r} {chosen}")
        for step in taken or []:
            await self.run_node(step, parent_execution_id=execution_id)

    def _skip(self, nodes: list[CompiledNode], parent_execution_id: str, reason: str) -> None:
        """Record every step under ``nodes`` as skipped (StepStarted + StepFinished)."""
        run = self.run
        for top in nodes:
            for node in top.walk():
                execution_id = run.next_execution_id()
                now = time.time()
                run.bus.emit(
                    StepStarted(
                        run_id=run.run_id,
                        at=now,
                        step_path=node.path,
                        execution_id=execution_id,
                        parent_execution_id=parent_execution_id,
                        kind=node.kind,
                    )
                )
                run.bus.emit(
                    StepFinished(
                        run_id=run.run_id,
                        at=now,
                        step_path=node.path,
                        execution_id=execution_id,
                        status=str(StepStatus.SKIPPED),
                        duration_ms=0.0,
                        reason=reason,
                    )
                )
                if not node.is_fanout:
                    run.steps[node.name] = {"status": str(StepStatus.SKIPPED)}


def _task_error(task: asyncio.Task[Any]) -> BaseException | None:
    if task.cancelled():
        return None
    return task.exception()
