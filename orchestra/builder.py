"""The Python builder: seed 000's fluent DSL producing the same plan as the JSON.

>>> from orchestra.builder import Flow, GET, step
>>> flow = (
...     Flow("user-stats", config={"base_url": "http://127.0.0.1:8765"})
...     .step("fetch_user", GET("{config.base_url}/items/1"))
...     .choice("check_user_type")
...         .when("steps.fetch_user.body.category == 'alpha'",
...               step("fetch_admin", GET("{config.base_url}/items/2")))
...         .otherwise(step("fetch_user_stats", GET("{config.base_url}/items/3")))
...     .end()
...     .parallel("extras")
...         .step("notifs", GET("{config.base_url}/items/4"))
...         .step("tasks", GET("{config.base_url}/items/5"))
...     .end()
... )
>>> flow.to_dict()["steps"][2]["parallel"][0]
{'name': 'notifs', 'url': '{config.base_url}/items/4'}

``flow.to_dict()`` is the plan JSON a user would write (only what was given),
``flow.to_json()`` its text, ``flow.to_plan()`` the validated
:class:`~orchestra.plan.Plan`, and ``orchestra.run(flow)`` /
``orchestra.load_plan(flow)`` accept the flow directly. Requests are built by
``GET(url, **fields)`` (and ``POST``, ``PUT``, ``PATCH``, ``DELETE``, ``HEAD``,
``OPTIONS``) where ``fields`` are HTTP step fields (``while_`` for ``while``);
every method of :class:`Request` returns a new request.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any, Self

from orchestra.plan import CompiledPlan, Plan, load_plan, validate_plan_data

_PYTHON_NAMES = {"while_": "while", "in_": "in"}


def _fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments to plan field names (``while_`` → ``while``), deep-copied."""
    return {_PYTHON_NAMES.get(key, key): copy.deepcopy(value) for key, value in values.items()}


class Request:
    """An HTTP request step without its name. Immutable: every method returns a copy."""

    __slots__ = ("fields",)

    def __init__(self, method: str, url: str, **fields: Any):
        self.fields: dict[str, Any] = {"url": url, **_fields(fields)}
        if method != "GET":
            self.fields["method"] = method

    def __repr__(self) -> str:
        return f"Request({self.fields!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Request) and other.fields == self.fields

    def _with(self, **fields: Any) -> Request:
        clone = Request.__new__(Request)
        clone.fields = {**copy.deepcopy(self.fields), **_fields(fields)}
        return clone

    def with_(self, **fields: Any) -> Request:
        """Set any HTTP step fields, e.g. ``timeout_seconds=5, emit=False``."""
        return self._with(**fields)

    def header(self, name: str, value: Any) -> Request:
        return self._with(headers={**self.fields.get("headers", {}), name: value})

    def param(self, name: str, value: Any) -> Request:
        return self._with(params={**self.fields.get("params", {}), name: value})

    def json(self, body: Any) -> Request:
        """A JSON body (templates inside strings are rendered)."""
        return self._with(body=body)

    def form(self, data: Mapping[str, Any]) -> Request:
        return self._with(form=dict(data))

    def extract(self, **expressions: str) -> Request:
        return self._with(extract={**self.fields.get("extract", {}), **expressions})

    def update_context(self, **expressions: str) -> Request:
        updates = {**self.fields.get("context_updates", {}), **expressions}
        return self._with(context_updates=updates)

    def paginate(self, while_: str, *, break_when: str | None = None) -> Request:
        fields: dict[str, Any] = {"while_": while_}
        if break_when is not None:
            fields["break_when"] = break_when
        return self._with(**fields)

    def retry(self, **policy: Any) -> Request:
        """``max_attempts``, ``backoff``, ``base_seconds``, ``on_status`` …"""
        return self._with(retry=policy)

    def expect(self, **assertions: Any) -> Request:
        """``status``, ``that``, ``body_schema``."""
        return self._with(expect=assertions)

    def compensate(self, request: Request) -> Request:
        """Saga: the request that undoes this one if a later step fails."""
        return self._with(compensate=request.fields)

    def fanout(
        self, name: str, request: Request, iterate_over: str | None = None, **fields: Any
    ) -> Request:
        """Add a sub-step run once per item of ``iterate_over`` (``concurrency`` …)."""
        sub = {"name": name, **request.fields, **_fields(fields)}
        if iterate_over is not None:
            sub["iterate_over"] = iterate_over
        return self._with(sub_steps=[*self.fields.get("sub_steps", []), sub])

    def on_error(self, policy: str) -> Request:
        """``abort`` (default) or ``continue``."""
        return self._with(on_error=policy)


def _method(name: str):
    def build(url: str, **fields: Any) -> Request:
        return Request(name, url, **fields)

    build.__name__ = build.__qualname__ = name
    build.__doc__ = f"A {name} request step: ``{name}(url, **fields)``."
    return build


GET = _method("GET")
POST = _method("POST")
PUT = _method("PUT")
PATCH = _method("PATCH")
DELETE = _method("DELETE")
HEAD = _method("HEAD")
OPTIONS = _method("OPTIONS")


class StepSpec:
    """A named request, for the step arguments of ``when``, ``otherwise``, ``parallel``."""

    __slots__ = ("name", "request")

    def __init__(self, name: str, request: Request):
        self.name = name
        self.request = request

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **copy.deepcopy(self.request.fields)}


def step(name: str, request: Request) -> StepSpec:
    """``step("fetch_admin", GET(url))``: a named step to pass to a container."""
    return StepSpec(name, request)


class _Sequence:
    """Something holding an ordered list of steps: a flow, a branch, a parallel group."""

    def __init__(self) -> None:
        self._items: list[dict[str, Any]] = []

    def step(self, name: str, request: Request) -> Self:
        """Append an HTTP step."""
        self._items.append(StepSpec(name, request).to_dict())
        return self

    def _extend(self, steps: tuple[StepSpec, ...]) -> None:
        for spec in steps:
            if not isinstance(spec, StepSpec):
                raise TypeError(f"expected step(name, request), got {type(spec).__name__}")
            self._items.append(spec.to_dict())

    def choice(self, name: str | None = None) -> ChoiceBuilder:
        """Open a choice; add ``.when(...)`` branches, ``.otherwise(...)``, then ``.end()``."""
        node: dict[str, Any] = {} if name is None else {"name": name}
        node["choice"] = []
        self._items.append(node)
        return ChoiceBuilder(self, node)

    def parallel(
        self, name: str | None = None, *steps: StepSpec, on_error: str | None = None
    ) -> ParallelBuilder:
        """Open a parallel group (steps as arguments and/or ``.step(...)``), then ``.end()``."""
        node: dict[str, Any] = {} if name is None else {"name": name}
        group = ParallelBuilder(self, node)
        node["parallel"] = group._items
        if on_error is not None:
            node["on_error"] = on_error
        group._extend(steps)
        self._items.append(node)
        return group


class ParallelBuilder(_Sequence):
    """The children of a parallel group; ``end()`` returns to the enclosing flow or branch."""

    def __init__(self, parent: _Sequence, node: dict[str, Any]):
        super().__init__()
        self._parent = parent
        self._node = node

    def end(self) -> Any:
        return self._parent


class BranchBuilder(_Sequence):
    """The steps of one choice branch; ``when``/``otherwise``/``end`` go back to the choice."""

    def __init__(self, choice: ChoiceBuilder, items: list[dict[str, Any]]):
        super().__init__()
        self._choice = choice
        self._items = items

    def when(self, condition: str, *steps: StepSpec) -> BranchBuilder:
        return self._choice.when(condition, *steps)

    def otherwise(self, *steps: StepSpec) -> BranchBuilder:
        return self._choice.otherwise(*steps)

    def end(self) -> Any:
        return self._choice.end()


class ChoiceBuilder:
    """A choice being built: branches in order, the first true ``when`` wins."""

    def __init__(self, parent: _Sequence, node: dict[str, Any]):
        self._parent = parent
        self._node = node

    def when(self, condition: str, *steps: StepSpec) -> BranchBuilder:
        if "otherwise" in self._node:
            raise ValueError("when() after otherwise(): otherwise must be the last branch")
        branch: dict[str, Any] = {"when": condition, "steps": []}
        self._node["choice"].append(branch)
        builder = BranchBuilder(self, branch["steps"])
        builder._extend(steps)
        return builder

    def otherwise(self, *steps: StepSpec) -> BranchBuilder:
        if "otherwise" in self._node:
            raise ValueError("otherwise() given twice")
        self._node["otherwise"] = []
        builder = BranchBuilder(self, self._node["otherwise"])
        builder._extend(steps)
        return builder

    def end(self) -> Any:
        return self._parent


class Flow(_Sequence):
    """A plan built in Python. ``Flow(key, **plan_fields)`` then ``.step(...)`` …

    Plan fields are the top-level fields of a plan file: ``config``, ``auth``,
    ``limits``, ``rate_limits``, ``circuit_breaker``, ``persistent_context``,
    ``name``, ``description`` …
    """

    def __init__(self, key: str, **plan_fields: Any):
        super().__init__()
        self.key = key
        self._plan_fields = _fields(plan_fields)

    def __repr__(self) -> str:
        return f"Flow({self.key!r}, {len(self._items)} steps)"

    def configure(self, **plan_fields: Any) -> Flow:
        """Set top-level plan fields (``config={...}``, ``auth={...}`` …)."""
        self._plan_fields.update(_fields(plan_fields))
        return self

    def to_dict(self) -> dict[str, Any]:
        """The plan JSON a user would write for this flow."""
        fields = copy.deepcopy(self._plan_fields)
        return {"key": self.key, **fields, "steps": copy.deepcopy(self._items)}

    def to_plan(self) -> Plan:
        """The validated plan model (raises :class:`~orchestra.errors.PlanError` with paths)."""
        return validate_plan_data(self.to_dict(), source=f"Flow({self.key!r})")

    def compile(self) -> CompiledPlan:
        """Validate and compile (expressions, references) as ``load_plan`` does."""
        return load_plan(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The plan as JSON text, exactly what a plan file for this flow holds."""
        data = self.to_plan().model_dump(mode="json", by_alias=True, exclude_unset=True)
        return json.dumps(data, indent=indent, ensure_ascii=False)

    def run(self, config: Mapping[str, Any] | None = None, **options: Any):
        """Run the flow: ``orchestra.run(flow, config, **options)``."""
        from orchestra._run import run  # capture (DuckDB) loads when a flow first runs

        return run(self, config, **options)


__all__ = [
    "DELETE",
    "GET",
    "HEAD",
    "OPTIONS",
    "PATCH",
    "POST",
    "PUT",
    "BranchBuilder",
    "ChoiceBuilder",
    "Flow",
    "ParallelBuilder",
    "Request",
    "StepSpec",
    "step",
]
