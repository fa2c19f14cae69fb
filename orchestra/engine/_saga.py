"""Saga compensation (seeds 001, 003, 004).

A step with ``compensate`` registers its compensation each time it succeeds
(a fanout sub-step once per item), together with the scope it ran in and its
last response. If the run then fails or aborts, :meth:`Saga.compensate` runs
the compensations in reverse order of registration through the normal step
path — so each is retried by its own ``retry`` policy and every exchange is
captured. A compensation that still fails is recorded and the rest run; the
run ends ``compensated`` or ``compensation_failed``. An interrupted run is not
compensated: the user stopped it, and more requests are the last thing they want.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from orchestra.engine._context import RunContext
from orchestra.engine._step import StepRunner
from orchestra.errors import RunError
from orchestra.events import CompensationFinished, CompensationStarted
from orchestra.plan import CompiledStep
from orchestra.types import RunStatus, StepStatus


@dataclass(frozen=True, slots=True)
class Compensation:
    """One registered compensation: the request, the scope, the execution it undoes."""

    step: CompiledStep  # the compensation itself (kind "compensation")
    scope: dict[str, Any]
    undoes_execution_id: str


class Saga:
    """The run's compensation log."""

    def __init__(self) -> None:
        self.log: list[Compensation] = []

    def register(self, step: CompiledStep, scope: dict[str, Any], execution_id: str) -> None:
        """Remember how to undo one successful execution of ``step``."""
        if step.compensate is not None:
            self.log.append(Compensation(step.compensate, scope, execution_id))

    async def compensate(
        self, run: RunContext, runner: StepRunner, status: RunStatus, error: BaseException | None
    ) -> RunStatus:
        """Run every compensation in reverse order; returns the run's new status."""
        started = time.perf_counter()
        log, self.log = self.log, []
        run.bus.emit(
            CompensationStarted(
                run_id=run.run_id,
                at=time.time(),
                count=len(log),
                run_status=str(status),
                error=None if error is None else run.masker.text(str(error)),
                failed_step=getattr(error, "step_path", None),
            )
        )
        succeeded = failed = 0
        for entry in reversed(log):  # a cancellation stops the rollback and propagates
            try:
                outcome = await runner.run_step(
                    entry.step,
                    {**entry.scope, "steps": run.steps, "context": run.context},
                    parent_execution_id=entry.undoes_execution_id,
                )
            except RunError:
                failed += 1  # recorded by its StepFinished; the others still run
                continue
            if outcome.status in (StepStatus.OK, StepStatus.IGNORED):
                succeeded += 1
            else:
                failed += 1
        final = RunStatus.COMPENSATED if not failed else RunStatus.COMPENSATION_FAILED
        run.bus.emit(
            CompensationFinished(
                run_id=run.run_id,
                at=time.time(),
                status=str(final),
                succeeded=succeeded,
                failed=failed,
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        )
        return final

    def __len__(self) -> int:
        return len(self.log)
