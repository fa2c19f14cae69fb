"""The kernel's current flow: a plan built one ``%%flow`` cell at a time.

A :class:`NotebookFlow` holds the plan's top-level settings (``key``,
``config``, ``auth``, ``rate_limits``, ``limits`` …), its root steps in order
and, for every step that ran, what later steps see: the ``steps.<name>``
values it published and the flow ``context`` before and after it.

Re-running a step (a cell defining a name that exists, or the same cell
again) replaces it *in place*: it runs against the ``steps`` and ``context``
that existed before it, and every step after it that had run is marked
``stale`` (kept, not re-run). ``%flow run`` runs the whole flow from the top
and clears every stale mark. Step results live in memory only: they hold raw
responses (later templates need real values, tokens included), so anything
shown to the user goes through the run's masker first.
"""

from __future__ import annotations

import copy
import logging
import os
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestra.masking import Masker, env_reference
from orchestra.notebook._secrets import KnownSecrets
from orchestra.plan import ReadCaps

logger = logging.getLogger("orchestra.notebook")

DEFAULT_KEY = "notebook"

PLAN_SETTINGS = (
    "key",
    "name",
    "description",
    "version",
    "integration",
    "config",
    "auth",
    "rate_limits",
    "limits",
    "circuit_breaker",
    "persistent_context",
    "wait_seconds",
    "enabled",
)
"""Top-level plan fields a flow keeps besides its steps."""

NOT_RUN = "pending"  # no run has reached the step yet (a --no-run cell, a loaded plan)
SKIPPED = "skipped"  # the last run is over and never ran it (as the CLI and dashboard say)
STALE = "stale"


@dataclass
class FlowStep:
    """One root step of the flow and what its last run left behind."""

    name: str
    spec: dict[str, Any]  # the step as written in the cell (plan JSON)
    source: str | None = None  # the cell text, to point at expressions in errors
    cell_id: str | None = None
    status: str = NOT_RUN  # pending | skipped | ok | failed | aborted | interrupted | stale …
    published: dict[str, Any] = field(default_factory=dict)  # steps.<name> values it set
    context_before: dict[str, Any] | None = None
    context_after: dict[str, Any] | None = None
    run_id: str | None = None
    stale_because: str | None = None
    paths: dict[str, str] = field(default_factory=dict)  # step path -> status of the last run
    caps: ReadCaps | None = None  # its last run was a test read (`%flow run --max-pages …`)

    @property
    def has_run(self) -> bool:
        return self.run_id is not None

    def forget(self, status: str = NOT_RUN) -> None:
        self.status, self.published, self.run_id = status, {}, None
        self.context_before = self.context_after = None
        self.stale_because, self.paths, self.caps = None, {}, None


class NotebookFlow:
    """The flow a notebook builds; see the module docstring for re-run semantics."""

    def __init__(self, key: str = DEFAULT_KEY) -> None:
        self.default_key = key
        self.settings: dict[str, Any] = {}
        self.steps: list[FlowStep] = []
        self.secrets: dict[str, str] = {}  # NAME -> value, never stored or shown
        self.known = KnownSecrets()  # every value shown to the user is masked with it
        # told after each %flow command (a builder showing the flow); kept weakly, so a
        # builder that is gone stops being told
        self.watchers: list[weakref.WeakMethod[Callable[[], None]]] = []

    # -- structure ----------------------------------------------------------------------

    @property
    def key(self) -> str:
        return str(self.settings.get("key") or self.default_key)

    @property
    def config(self) -> dict[str, Any]:
        return self.settings.setdefault("config", {})

    def names(self) -> list[str]:
        return [step.name for step in self.steps]

    def find(self, name: str) -> FlowStep | None:
        return next((step for step in self.steps if step.name == name), None)

    def position(self, name: str) -> int:
        return self.names().index(name)

    def by_cell(self, cell_id: str | None) -> FlowStep | None:
        if cell_id is None:
            return None
        return next((step for step in self.steps if step.cell_id == cell_id), None)

    def plan(self, steps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The flow as plan JSON (``steps`` replaces the flow's steps, e.g. one cell's step)."""
        plan: dict[str, Any] = {"key": self.key}
        plan.update({k: copy.deepcopy(v) for k, v in self.settings.items() if k != "key" and v})
        plan["steps"] = [copy.deepcopy(s.spec) for s in self.steps] if steps is None else steps
        return plan

    def place(self, spec: dict[str, Any], *, cell_id: str | None, source: str | None) -> FlowStep:
        """Add a step, or replace the step of the same name (or of the same cell) in place."""
        name = spec["name"]
        by_cell = self.by_cell(cell_id)
        existing = self.find(name) or by_cell
        if by_cell is not None and by_cell is not existing:
            by_cell.cell_id = None  # the cell now defines another existing step
        if existing is None:
            step = FlowStep(name, spec, source, cell_id)
            self.steps.append(step)
            return step
        existing.name, existing.spec, existing.source = name, spec, source
        existing.cell_id = cell_id or existing.cell_id
        return existing

    def remove(self, name: str) -> None:
        self.steps = [step for step in self.steps if step.name != name]

    def replace_all(self, plan: Mapping[str, Any], *, source: str | None = None) -> None:
        """Make a whole plan the current flow (nothing has run yet)."""
        secrets, known, watchers = self.secrets, self.known, self.watchers
        self.__init__(self.default_key)  # type: ignore[misc]
        self.secrets, self.known, self.watchers = secrets, known, watchers
        self.settings = {k: copy.deepcopy(v) for k, v in plan.items() if k in PLAN_SETTINGS}
        roots = plan.get("steps") or ([plan["step"]] if plan.get("step") else [])
        for index, spec in enumerate(roots):
            spec = copy.deepcopy(spec)
            spec.setdefault("name", "main" if "step" in plan else f"step_{index + 1}")
            self.steps.append(FlowStep(spec["name"], spec, source))

    def reset(self, *, secrets: bool = False) -> None:
        kept, known = ({}, KnownSecrets()) if secrets else (self.secrets, self.known)
        watchers = self.watchers
        self.__init__(self.default_key)  # type: ignore[misc]
        self.secrets, self.known, self.watchers = kept, known, watchers

    def watch(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (a bound method, kept weakly) after each change by a command."""
        self.watchers.append(weakref.WeakMethod(callback))

    def changed(self) -> None:
        """A ``%flow`` line or ``%%flow`` cell ran: tell the watchers (they re-read the flow).
        A watcher that fails is logged, never the command's failure."""
        alive = []
        for ref in self.watchers:
            callback = ref()
            if callback is None:
                continue
            alive.append(ref)
            try:
                callback()
            except Exception as error:
                logger.error("a view of the flow could not follow it", exc_info=error)
        self.watchers = alive

    # -- state between cells ------------------------------------------------------------

    def upstream(self, step: FlowStep) -> tuple[dict[str, Any], dict[str, Any]]:
        """``steps`` and ``context`` as they were just before ``step`` (for running it)."""
        index = self.steps.index(step)
        published: dict[str, Any] = {}
        context: dict[str, Any] = {}
        for earlier in self.steps[:index]:
            published.update(earlier.published)
            if earlier.context_after is not None:
                context = earlier.context_after
        return published, copy.deepcopy(context)

    def upstream_caps(self, step: FlowStep) -> ReadCaps | None:
        """The caps of the test read that left the context :meth:`upstream` gives ``step``
        (None: a whole run's). A run from that context is a test read too: what a
        capped run left (a cursor from page 2) must never be saved as persistent context."""
        for earlier in reversed(self.steps[: self.steps.index(step)]):
            if earlier.context_after is not None:
                return earlier.caps
        return None

    def record(
        self,
        step: FlowStep,
        *,
        status: str,
        run_id: str,
        published: dict[str, Any],
        context_before: dict[str, Any],
        context_after: dict[str, Any] | None,
        paths: dict[str, str] | None = None,
        mark_later: bool = True,
        caps: ReadCaps | None = None,
    ) -> list[str]:
        """Store a step's run; marks later steps that had run ``stale`` and returns them.
        ``caps``: the run was a test read with these caps."""
        step.status, step.run_id, step.published, step.caps = status, run_id, published, caps
        step.paths = dict(paths or {})
        step.context_before, step.context_after = context_before, context_after
        step.stale_because = None
        stale: list[str] = []
        if not mark_later:
            return stale
        for later in self.steps[self.steps.index(step) + 1 :]:
            if later.has_run and later.status != STALE:
                later.status, later.stale_because = STALE, step.name
                stale.append(later.name)
        return stale

    @property
    def context(self) -> dict[str, Any]:
        """The flow context after the last step that ran."""
        for step in reversed(self.steps):
            if step.context_after is not None:
                return step.context_after
        return {}

    def stale(self) -> list[str]:
        return [step.name for step in self.steps if step.status == STALE]

    def environ(self) -> dict[str, str]:
        """The environment a run reads ``{env: NAME}`` from: the process's plus the secrets."""
        return {**os.environ, **self.secrets}

    def keep_secret(self, name: str, value: str) -> None:
        """A ``%flow secret`` value: runs read it as ``{env: NAME}``, output shows ``${NAME}``."""
        self.secrets[name] = value
        self.known.add(value, env_reference(name))

    def known_secrets(self) -> KnownSecrets:
        """Every secret the flow has met so far (for a run's masker, and for output).

        The ``{env: NAME}`` references of the settings and steps are resolved
        here, so a value is masked from the moment the flow names it.
        """
        fragments = [self.settings, *(step.spec for step in self.steps)]
        self.known.learn_references(fragments, self.environ())
        return self.known

    @property
    def masker(self) -> Masker:
        """The masker for anything shown to the user (see :meth:`known_secrets`)."""
        return self.known_secrets().masker

    def __iter__(self) -> Iterator[FlowStep]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)
