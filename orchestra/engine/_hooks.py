"""The step hooks of the runner: where a debugger pauses and edits scope.

A hook is any object with ``async def before_step(call)``; it may also define
the two *page hooks*, which the runner looks up once per run (with
``hasattr``), so a run without them pays nothing per request:

``before_step(call)``
    Awaited before every step execution: root steps, parallel and choice
    children, saga compensations, and sub-steps once per fanout item
    (``call.item_index`` is then set: this is the per-item hook point).
``before_page(call)`` (optional)
    Awaited before each page's request of a step execution, after
    ``delay_seconds``; ``call.page`` is the page number (1, 2 …) and
    ``call.scope`` holds ``prev``. The first page's hook follows
    ``before_step`` with no request in between.
``after_response(call)`` (optional)
    Awaited when a page's response has passed the exchange's own checks
    (``abort_on``, ``ignore_on``, retries) and before ``abort_when`` →
    ``expect`` → error status → ``extract`` / ``context_updates`` →
    ``sub_steps`` → ``while``; ``call.scope`` holds ``response``. A response
    the exchange retries, ignores or fails on never gets here.

Awaiting something inside a hook (an ``asyncio.Event`` set by a "continue"
button) pauses that step there; replacing ``call.scope`` (or changing it in
place) changes what the step sees from then on: the whole execution for
``before_step``, that page's request for ``before_page``, that response's
checks and extraction for ``after_response``. Token requests run no hooks.
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
    page: int | None = None  # set for before_page / after_response


class StepHook(Protocol):
    async def before_step(self, call: StepCall) -> None: ...


class PageHook(StepHook, Protocol):
    """A hook that also defines the optional page hooks (see the module docstring)."""

    async def before_page(self, call: StepCall) -> None: ...

    async def after_response(self, call: StepCall) -> None: ...
