"""A validated plan with every template and expression compiled.

The engine runs :class:`CompiledPlan` and its nodes — :class:`CompiledStep`
(an HTTP step, a compensation or an auth request), :class:`CompiledParallel`
and :class:`CompiledChoice`; nothing is parsed while requests are in flight.
Compiling happens in :mod:`orchestra.plan._compiler`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from orchestra.expressions import Expression, Template, ValueTemplate
from orchestra.plan._auth_models import FlowAuth, OAuth2RefreshToken, StaticAuth, TokenAuth
from orchestra.plan._base import SecretRef
from orchestra.plan._incremental import CompiledIncremental
from orchestra.plan._models import ChoiceStep, HttpStep, ParallelStep, Plan, RequestSpec, SubStep


@dataclass(slots=True)
class CompiledStep:
    """One request step ready to run: its model plus compiled templates and expressions.

    ``kind`` is ``http`` for plan steps and sub-steps, ``compensation`` for a
    saga compensation and ``auth`` for a token request (never shown as records).
    """

    model: RequestSpec
    name: str
    path: str  # dotted step path, e.g. "contacts.details"
    plan_path: str  # where it sits in the plan file, e.g. "steps[1].sub_steps[0]"
    depth: int
    url: Template
    headers: ValueTemplate
    params: ValueTemplate
    body: ValueTemplate | None
    form: ValueTemplate | None
    while_: Expression | None
    break_when: Expression | None
    abort_when: Expression | None
    retry_when: Expression | None
    context_updates: dict[str, Expression]
    extract: dict[str, Expression]
    expect_that: list[Expression]
    secrets: list[Expression] = field(default_factory=list)  # values registered as secret
    iterate_over: Expression | None = None
    concurrency: int = 1
    emit_mode: str = "record"
    sub_steps: list[CompiledStep] = field(default_factory=list)
    compensate: CompiledStep | None = None
    kind: str = "http"
    expressions: list[tuple[str, Expression]] = field(default_factory=list)
    page_state: ValueTemplate | None = None  # initial values, rendered when the step starts
    page_state_updates: dict[str, Expression] = field(default_factory=dict)
    next_url: Expression | None = None  # the next page's URL, from the response
    records: Expression | None = None  # the list of records in a page (over the scope)
    records_json_path: str | None = None  # the same list as a DuckDB JSON path over the body
    paginate_auto: bool = False  # ``paginate: auto``: detect after the first response
    incremental: CompiledIncremental | None = None  # ``incremental:`` (plan/_incremental.py)

    @property
    def is_fanout(self) -> bool:
        return isinstance(self.model, SubStep)

    @property
    def emits(self) -> bool:
        """Whether responses become records (auth and compensation requests never do)."""
        return self.kind == "http" and isinstance(self.model, HttpStep) and self.model.emit

    @property
    def on_error(self) -> str:
        return self.model.on_error if isinstance(self.model, HttpStep) else "abort"

    def walk(self) -> Iterator[CompiledStep]:
        """This step and its sub-steps, depth first (compensations are not plan steps)."""
        yield self
        for sub in self.sub_steps:
            yield from sub.walk()


@dataclass(slots=True)
class CompiledParallel:
    """A parallel group: ``children`` run concurrently, joined before the next step."""

    model: ParallelStep
    name: str
    path: str
    plan_path: str
    depth: int
    children: list[CompiledNode]
    kind: str = "parallel"

    is_fanout = False

    @property
    def on_error(self) -> str:
        return self.model.on_error

    def walk(self) -> Iterator[CompiledNode]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(slots=True)
class CompiledBranch:
    """One ``when`` branch of a choice (``label`` is ``when[0]``, ``when[1]`` …)."""

    when: Expression
    steps: list[CompiledNode]
    plan_path: str
    label: str


@dataclass(slots=True)
class CompiledChoice:
    """A choice: the first branch whose ``when`` is true runs, else ``otherwise``."""

    model: ChoiceStep
    name: str
    path: str
    plan_path: str
    depth: int
    branches: list[CompiledBranch]
    otherwise: list[CompiledNode]
    kind: str = "choice"

    is_fanout = False

    def walk(self) -> Iterator[CompiledNode]:
        yield self
        for branch in self.branches:
            for step in branch.steps:
                yield from step.walk()
        for step in self.otherwise:
            yield from step.walk()


CompiledNode = CompiledStep | CompiledParallel | CompiledChoice
"""A node of the ``steps`` namespace: an HTTP step, a parallel group or a choice."""


Credential = Template | SecretRef
"""An auth value: a template over ``config`` or a secret read from the environment."""


@dataclass(slots=True)
class CompiledAuth:
    """The plan's auth block, compiled.

    ``credentials`` hold the static values (``token``, ``username`` …) and the
    OAuth2 client values; ``token_steps`` are the requests that obtain a
    token (one synthetic ``POST token_url`` for OAuth2, the user's steps for
    ``flow``), run under the path ``auth``.
    """

    model: StaticAuth | TokenAuth
    credentials: dict[str, Credential] = field(default_factory=dict)
    extra_params: dict[str, Credential] = field(default_factory=dict)
    token_steps: list[CompiledStep] = field(default_factory=list)
    token_path: Expression | None = None
    expires_in_path: Expression | None = None
    refresh_token_path: Expression | None = None

    @property
    def type(self) -> str:
        return self.model.type

    @property
    def fetches_tokens(self) -> bool:
        return bool(self.token_steps)

    @property
    def is_flow(self) -> bool:
        return isinstance(self.model, FlowAuth)

    @property
    def uses_refresh_token(self) -> bool:
        return isinstance(self.model, OAuth2RefreshToken)


@dataclass(slots=True)
class CompiledPlan:
    """A plan ready to run. ``model`` is the validated pydantic plan."""

    model: Plan
    steps: list[CompiledNode]
    source: str | None = None
    auth: CompiledAuth | None = None

    @property
    def key(self) -> str:
        return self.model.key

    def walk(self) -> Iterator[CompiledNode]:
        """Every step in plan order: HTTP steps with their sub-steps, groups, choices."""
        for step in self.steps:
            yield from step.walk()

    def incremental_defaults(self) -> dict[str, Any]:
        """Each ``incremental`` step's context key and its ``initial_value``."""
        return {
            step.incremental.key: step.incremental.spec.initial_value
            for step in self.walk()
            if isinstance(step, CompiledStep) and step.incremental is not None
        }

    def find(self, path_or_name: str) -> CompiledNode:
        for step in self.walk():
            if path_or_name in (step.path, step.name):
                return step
        raise KeyError(path_or_name)

    def to_dict(self) -> dict[str, Any]:
        """The plan as the JSON a user would write (only the fields that were set)."""
        return self.model.model_dump(mode="json", by_alias=True, exclude_unset=True)
