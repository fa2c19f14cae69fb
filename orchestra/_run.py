"""``orchestra.run`` / ``orchestra.arun``: the engine plus capture into DuckDB.

The engine (``orchestra.engine.run``) knows nothing of storage; this is the
surface that adds the capture subscriber, so every run from Python lands in a
DuckDB file — ``orchestra.duckdb`` in the working directory unless ``db=`` (or
the ``ORCHESTRA_DB`` environment variable) says otherwise; ``db=None`` turns
capture off. ``replay="RUN_ID"`` answers requests from that captured run
instead of the network. A captured run's ``result.table("users")`` reads that
step's records back from the file as typed columns (``CaptureStore.table``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestra.capture import CaptureContextStore, CaptureStore, ReplayTransport
from orchestra.engine import Runner, RunResult
from orchestra.plan import PlanSource

DB_ENV = "ORCHESTRA_DB"
_DEFAULT = object()

DbOption = str | Path | CaptureStore | None


def default_db() -> str:
    """``$ORCHESTRA_DB`` or ``orchestra.duckdb`` in the working directory."""
    return os.environ.get(DB_ENV) or "orchestra.duckdb"


def open_store(db: DbOption | object = _DEFAULT) -> CaptureStore | None:
    if db is _DEFAULT:
        db = default_db()
    if db is None:
        return None
    return db if isinstance(db, CaptureStore) else CaptureStore(db)  # type: ignore[arg-type]


def build_runner(
    plan: PlanSource,
    config: Mapping[str, Any] | None = None,
    *,
    db: DbOption | object = _DEFAULT,
    replay: str | None = None,
    replay_db: DbOption | object = _DEFAULT,
    **options: Any,
) -> tuple[Runner, CaptureStore | None]:
    """A runner whose run is captured into ``db``.

    With ``replay``, requests are answered from that run in ``replay_db``
    (default: ``db``), so ``db=None, replay_db="ci.duckdb"`` replays without
    capturing the replay.
    """
    store = open_store(db)
    subscribers = list(options.pop("subscribers", ()))
    if replay is not None:
        source = store if replay_db is _DEFAULT else open_store(replay_db)
        if source is None:
            raise ValueError("replay needs a capture to replay from: pass replay_db= or db=")
        options["transport"] = ReplayTransport.from_store(source, replay)
        options.setdefault("mode", "replay")
    if store is not None:
        subscribers.insert(0, store.writer())
        if "context_store" not in options:
            options["context_store"] = CaptureContextStore(store.database)
    runner = Runner(plan, config, subscribers=subscribers, **options)
    context_store = options.get("context_store")
    if isinstance(context_store, CaptureContextStore):  # masks with the run's secrets
        context_store.masker = runner.masker
        context_store.run_id = runner.run_id  # and names the run that saved the values
    if store is not None:
        runner.result.db = store.path
        runner.result.table_reader = functools.partial(store.table, run=runner.run_id)
    return runner, store


async def arun(
    plan: PlanSource,
    config: Mapping[str, Any] | None = None,
    *,
    db: DbOption | object = _DEFAULT,
    replay: str | None = None,
    **options: Any,
) -> RunResult:
    """Run a plan on the running loop, captured into ``db`` (``replay_db=`` also works)."""
    runner, _ = build_runner(plan, config, db=db, replay=replay, **options)
    return await runner.run()


def run(
    plan: PlanSource,
    config: Mapping[str, Any] | None = None,
    *,
    db: DbOption | object = _DEFAULT,
    replay: str | None = None,
    **options: Any,
) -> RunResult:
    """Run a plan and wait for it, captured into ``db`` (see module docstring)."""
    from orchestra.engine import run_coroutine

    runner, _ = build_runner(plan, config, db=db, replay=replay, **options)
    return run_coroutine(runner.run())
