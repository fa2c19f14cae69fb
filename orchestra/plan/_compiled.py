"""A validated plan with every template and expression compiled.

The engine runs :class:`CompiledPlan` / :class:`CompiledStep`; nothing is
parsed while requests are in flight.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from orchestra.errors import ExpressionSyntaxError, PlanError, PlanIssue
from orchestra.expressions import (
    Expression,
    Template,
    ValueTemplate,
    compile_expression,
    compile_template,
    compile_value,
)
from orchestra.plan._models import HttpStep, Plan, SubStep


@dataclass(slots=True)
class CompiledStep:
    """One step ready to run: its model plus compiled templates and expressions."""

    model: HttpStep
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
    iterate_over: Expression | None = None
    concurrency: int = 1
    emit_mode: str = "record"
    sub_steps: list[CompiledStep] = field(default_factory=list)

    @property
    def is_fanout(self) -> bool:
        return isinstance(self.model, SubStep)

    def walk(self) -> Iterator[CompiledStep]:
        yield self
        for sub in self.sub_steps:
            yield from sub.walk()


@dataclass(slots=True)
class CompiledPlan:
    """A plan ready to run. ``model`` is the validated pydantic plan."""

    model: Plan
    steps: list[CompiledStep]
    source: str | None = None

    @property
    def key(self) -> str:
        return self.model.key

    def walk(self) -> Iterator[CompiledStep]:
        for step in self.steps:
            yield from step.walk()

    def find(self, path_or_name: str) -> CompiledStep:
        for step in self.walk():
            if path_or_name in (step.path, step.name):
                return step
        raise KeyError(path_or_name)

    def to_dict(self) -> dict[str, Any]:
        """The plan as the JSON a user would write (only the fields that were set)."""
        return self.model.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _condition(text: str | None, *, path: str) -> Expression | None:
    """Compile a bare JMESPath condition; a single ``{…}`` template is accepted too."""
    if text is None:
        return None
    try:
        return compile_expression(text, path=path)
    except ExpressionSyntaxError:
        stripped = text.strip()
        if stripped.startswith("{") and stripped.endswith("}"):
            template = compile_template(stripped, path=path)
            if template.whole is not None:
                return template.whole
        raise


class _Compiler:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.issues: list[PlanIssue] = []
        self.errors: list[PlanError] = []
        self.limits = plan.limits

    def guarded(self, fn, value, path: str):
        """Call ``fn(value, path=path)``, collecting plan errors instead of raising."""
        try:
            return fn(value, path=path)
        except PlanError as error:
            self.issues.extend(error.issues)
            self.errors.append(error)
            return None

    def compile_step(
        self, step: HttpStep, *, name: str, parent_path: str, plan_path: str, depth: int
    ) -> CompiledStep:
        path = f"{parent_path}.{name}" if parent_path else name
        if depth > self.limits.max_nesting_depth:
            self.issues.append(
                PlanIssue(
                    plan_path,
                    f"sub_steps nest {depth} levels deep; the limit is "
                    f"{self.limits.max_nesting_depth}",
                    "flatten the plan or raise limits.max_nesting_depth",
                )
            )

        def p(suffix: str) -> str:
            return f"{plan_path}.{suffix}"

        def cond(attr: str, alias: str | None = None) -> Expression | None:
            return self.guarded(_condition, getattr(step, attr), p(alias or attr))

        compiled = CompiledStep(
            model=step,
            name=name,
            path=path,
            plan_path=plan_path,
            depth=depth,
            url=self.guarded(compile_template, step.url, p("url"))
            or compile_template("", path=p("url")),
            headers=self.guarded(compile_value, step.headers, p("headers")) or compile_value({}),
            params=self.guarded(compile_value, step.params, p("params")) or compile_value({}),
            body=None if step.body is None else self.guarded(compile_value, step.body, p("body")),
            form=None if step.form is None else self.guarded(compile_value, step.form, p("form")),
            while_=cond("while_", "while"),
            break_when=cond("break_when"),
            abort_when=cond("abort_when"),
            retry_when=cond("retry_when"),
            context_updates={
                key: self.guarded(_condition, text, p(f"context_updates.{key}"))
                for key, text in step.context_updates.items()
            },
            extract={
                key: self.guarded(_condition, text, p(f"extract.{key}"))
                for key, text in step.extract.items()
            },
            expect_that=[
                self.guarded(_condition, text, p(f"expect.that[{i}]"))
                for i, text in enumerate(step.expect.that if step.expect else [])
            ],
        )
        if isinstance(step, SubStep):
            compiled.iterate_over = cond("iterate_over")
            compiled.concurrency = step.concurrency or self.limits.default_concurrency
            compiled.emit_mode = step.fanout_emit_mode
        seen: set[str] = set()
        for index, sub in enumerate(step.sub_steps):
            sub_name = sub.name or f"sub_{index + 1}"
            sub_plan_path = f"{plan_path}.sub_steps[{index}]"
            if sub_name in seen:
                self.issues.append(
                    PlanIssue(sub_plan_path, f"duplicate step name {sub_name!r}", "rename it")
                )
            seen.add(sub_name)
            compiled.sub_steps.append(
                self.compile_step(
                    sub, name=sub_name, parent_path=path, plan_path=sub_plan_path, depth=depth + 1
                )
            )
        return compiled

    def compile(self, source: str | None) -> CompiledPlan:
        roots: list[CompiledStep] = []
        seen: set[str] = set()
        if self.plan.step is not None:
            roots.append(
                self.compile_step(
                    self.plan.step,
                    name=self.plan.step.name or "main",
                    parent_path="",
                    plan_path="step",
                    depth=0,
                )
            )
        else:
            for index, step in enumerate(self.plan.steps or []):
                name = step.name or f"step_{index + 1}"
                if name in seen:
                    self.issues.append(
                        PlanIssue(
                            f"steps[{index}].name",
                            f"duplicate step name {name!r}",
                            "step names must be unique so steps.<name> is unambiguous",
                        )
                    )
                seen.add(name)
                roots.append(
                    self.compile_step(
                        step, name=name, parent_path="", plan_path=f"steps[{index}]", depth=0
                    )
                )
        for key, value in (self.plan.config or {}).items():
            if isinstance(value, dict) and set(value) != {"env"} and "env" in value:
                self.issues.append(
                    PlanIssue(
                        f"config.{key}",
                        "a secret reference holds only 'env'",
                        'write {"env": "NAME"}',
                    )
                )
        if len(self.issues) == 1 and len(self.errors) == 1:
            error = self.errors[0]  # keep the specific type (e.g. ExpressionSyntaxError)
            error.source = source
            raise error
        if self.issues:
            raise PlanError(self.issues, source=source)
        return CompiledPlan(self.plan, roots, source)


def compile_plan(plan: Plan, *, source: str | None = None) -> CompiledPlan:
    """Compile every template and expression of a validated plan."""
    return _Compiler(plan).compile(source)
