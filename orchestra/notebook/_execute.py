"""Running a compiled plan for a cell: capture, progress, upstream state, interrupts.

:func:`execute` builds the runner with :func:`orchestra._run.build_runner`
(so every cell run is captured like ``orchestra.run``), adds three
subscribers/hooks and runs it on the :class:`KernelLoop`:

* :class:`RunMonitor` — counts for progress and the summary;
* :class:`_SeedSteps` — puts earlier cells' ``steps.<name>`` into the run's
  scope when the run starts (the runner has ``context=`` but no ``steps=``);
* :class:`_RootContexts` — a step hook that notes the context before each
  root step, so a whole-flow run can later re-run any one step in place;
* :class:`_StartContext` — the context as the run started, persistent values
  (an ``incremental`` cursor) loaded: the "before" a run's output shows.

:func:`prepare` and :func:`collect` are the two halves of :func:`execute`; a
debug session (``_debug_session.py``) uses them around a run that pauses.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestra._run import DbOption, build_runner
from orchestra.engine import Runner, RunResult, StepCall
from orchestra.events import Event, RunStarted
from orchestra.notebook._kernel import KernelLoop, RunInterrupted
from orchestra.notebook._monitor import RunMonitor
from orchestra.notebook._progress import ProgressDriver
from orchestra.notebook._secrets import KnownSecrets
from orchestra.plan import CompiledPlan


@dataclass
class Execution:
    """What a run left behind, raw (mask before showing)."""

    runner: Runner
    monitor: RunMonitor
    published: dict[str, Any]  # steps.<name> values this run set
    context_before: dict[str, Any]  # as given to the run (a cell's upstream context)
    context_after: dict[str, Any]
    root_contexts: dict[str, dict[str, Any]] = field(default_factory=dict)
    interrupted: bool = False
    context_start: dict[str, Any] | None = None  # as the run started, persistent values loaded

    @property
    def context_shown(self) -> dict[str, Any]:
        """The context a run's output compares the end with: as it started."""
        return self.context_before if self.context_start is None else self.context_start

    @property
    def result(self) -> RunResult:
        return self.runner.result

    @property
    def status(self) -> str:
        status = str(self.result.status)
        return "interrupted" if self.interrupted and status == "running" else status


class _SeedSteps:
    """Subscriber: on ``RunStarted`` put earlier results into the run's ``steps`` scope."""

    def __init__(self, runner_box: list[Runner], steps: Mapping[str, Any]) -> None:
        self.runner_box = runner_box
        self.steps = steps

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted) and self.runner_box:
            run = self.runner_box[0].context  # set by Runner.run just before RunStarted
            if run is not None:
                for name, value in self.steps.items():
                    run.steps.setdefault(name, value)


class _StartContext:
    """Subscriber: a copy of the run's context on ``RunStarted`` (persistent values loaded)."""

    event_types = frozenset({RunStarted})

    def __init__(self, runner_box: list[Runner]) -> None:
        self.runner_box = runner_box
        self.context: dict[str, Any] | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted) and self.runner_box:
            run = self.runner_box[0].context  # set by Runner.run just before RunStarted
            if run is not None:
                self.context = copy.deepcopy(run.context)


class _RootContexts:
    """Step hook: a copy of the flow context before each root step starts."""

    def __init__(self, roots: list[str]) -> None:
        self.roots = set(roots)
        self.before: dict[str, dict[str, Any]] = {}

    async def before_step(self, call: StepCall) -> None:
        path = call.step.path
        if call.item_index is None and path in self.roots and path not in self.before:
            self.before[path] = copy.deepcopy(call.run.context)


@dataclass
class Prepared:
    """A runner built for a cell, not started yet (:func:`prepare`)."""

    runner: Runner
    monitor: RunMonitor
    roots: _RootContexts
    context_before: dict[str, Any]
    steps: Mapping[str, Any] | None
    known: KnownSecrets | None = None
    start: _StartContext | None = None


def prepare(
    plan: CompiledPlan,
    *,
    db: DbOption,
    config: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    steps: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    replay: str | None = None,
    keep_records: bool = True,
    hooks: list[Any] | None = None,
    subscribers: list[Any] | None = None,
    known: KnownSecrets | None = None,
    **options: Any,
) -> Prepared:
    """Build the runner (captured like ``orchestra.run``) with the monitor and upstream state.

    ``hooks`` and ``subscribers`` are added to the notebook's own; ``options``
    go to the runner (``mode="debug"``, ``replay_db=…``). ``known``: the
    notebook's secrets, given to the run's masker now and learning the run's
    own when it is collected.
    """
    monitor = RunMonitor()
    runner_box: list[Runner] = []
    roots = _RootContexts([node.name for node in plan.steps])
    start = _StartContext(runner_box)
    every: list[Any] = [monitor, start, *(subscribers or [])]
    if steps:
        every.append(_SeedSteps(runner_box, steps))
    runner, _ = build_runner(
        plan,
        config,
        db=db,
        replay=replay,
        context=dict(context or {}),
        environ=environ,
        subscribers=every,
        hooks=[roots, *(hooks or [])],
        keep_records=keep_records,
        **options,
    )
    runner_box.append(runner)
    if known is not None:
        known.arm(runner.masker)
    before = copy.deepcopy(dict(context or {}))
    return Prepared(runner, monitor, roots, before, steps, known, start)


def collect(prepared: Prepared, *, interrupted: bool = False) -> Execution:
    """What a finished (or interrupted, or stopped) run left behind."""
    runner = prepared.runner
    if prepared.known is not None:
        prepared.known.learn(runner.masker)
    run = runner.context
    before = prepared.context_before
    published: dict[str, Any] = {}
    after: dict[str, Any] = before
    if run is not None:
        prior = prepared.steps or {}
        published = {
            name: value
            for name, value in run.steps.items()
            if name not in prior or value is not prior[name]
        }
        after = copy.deepcopy(run.context)
    started = prepared.start.context if prepared.start is not None else None
    return Execution(
        runner,
        prepared.monitor,
        published,
        before,
        after,
        prepared.roots.before,
        interrupted,
        context_start=started,
    )


def execute(
    plan: CompiledPlan,
    *,
    loop: KernelLoop,
    db: DbOption,
    config: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    steps: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    replay: str | None = None,
    keep_records: bool = True,
    progress: str = "auto",
    known: KnownSecrets | None = None,
    **options: Any,
) -> Execution:
    """Run ``plan`` on ``loop`` and wait; an interrupt cancels it cleanly (``interrupted``)."""
    prepared = prepare(
        plan,
        db=db,
        config=config,
        context=context,
        steps=steps,
        environ=environ,
        replay=replay,
        keep_records=keep_records,
        known=known,
        **options,
    )
    driver = ProgressDriver(prepared.monitor, progress)
    interrupted = False
    try:
        loop.run(prepared.runner.run(), tick=driver.tick)
    except RunInterrupted:
        interrupted = True
    finally:
        driver.close()
    return collect(prepared, interrupted=interrupted)
