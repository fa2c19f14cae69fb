"""``run`` / ``arun``: the public way to run a plan, async inside, one sync wrapper."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from orchestra.engine._result import RunResult
from orchestra.engine._runner import Runner
from orchestra.plan import PlanSource

T = TypeVar("T")


async def arun(plan: PlanSource, config: Mapping[str, Any] | None = None, **options) -> RunResult:
    """Run a plan on the current event loop. Options are those of :class:`Runner`."""
    return await Runner(plan, config, **options).run()


def run(plan: PlanSource, config: Mapping[str, Any] | None = None, **options) -> RunResult:
    """Run a plan and wait for it (see :func:`run_coroutine`)."""
    return run_coroutine(Runner(plan, config, **options).run())


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code.

    Without a running event loop this is ``asyncio.run``. Inside one (a Jupyter
    cell) the coroutine gets a loop of its own on a worker thread, so the
    caller's loop is never re-entered.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = asyncio.run(coroutine)
        except BaseException as error:  # re-raised on the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="orchestra-run", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]
