"""The one step-level hook of the runner: where a debugger pauses and edits scope.

A hook's ``before_step`` is awaited before every step execution (sub-steps
included, once per fanout item). Awaiting something (an ``asyncio.Event`` set by
a "continue" button) pauses the run there; changing ``call.scope`` changes what
that step's requests see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from orchestra.engine._context import RunContext
    from orchestra.plan import CompiledStep


@dataclass(slots=True)
class StepCall:
    """One step about to run: the step, its (mutable) scope, where it sits."""

    run: RunContext
    step: CompiledStep
    scope: dict[str, Any]
    execution_id: str
    item_index: int | None = None


class StepHook(Protocol):
    async def before_step(self, call: StepCall) -> None: ...
