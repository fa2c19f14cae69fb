"""Compiling a validated :class:`Plan` into a :class:`CompiledPlan`.

Every template and expression is compiled here, at load time, and every
problem is collected with its plan path before anything is raised: syntax
errors, duplicate step names, nesting deeper than ``limits.max_nesting_depth``
and references to steps that do not exist or have not run yet
(:mod:`orchestra.plan._references`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import pydantic

from orchestra.errors import ExpressionSyntaxError, PlanError, PlanIssue
from orchestra.expressions import (
    Expression,
    Template,
    ValueTemplate,
    compile_expression,
    compile_template,
    compile_value,
)
from orchestra.plan._auth_models import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    FlowAuth,
    OAuth2RefreshToken,
    StaticAuth,
    TokenAuth,
)
from orchestra.plan._base import SecretRef
from orchestra.plan._compiled import (
    CompiledAuth,
    CompiledBranch,
    CompiledChoice,
    CompiledNode,
    CompiledParallel,
    CompiledPlan,
    CompiledStep,
    Credential,
)
from orchestra.plan._errors import issues_from_validation
from orchestra.plan._incremental import (
    CompiledIncremental,
    context_key,
    cursor_param_template,
)
from orchestra.plan._models import (
    ChoiceStep,
    Compensation,
    HttpStep,
    Limits,
    ParallelStep,
    Plan,
    RequestSpec,
    SubStep,
)
from orchestra.plan._paginate import (
    AutoPaginate,
    CursorPaginate,
    JsonLinkPaginate,
    LinkHeaderPaginate,
    OffsetPaginate,
    PageNumberPaginate,
    PaginateError,
    body_key,
    body_path,
    expand_step_data,
    records_json_path,
)
from orchestra.plan._references import check_references

T = TypeVar("T")

AUTH_PATH = "auth"
COMPENSATION_NAME = "compensate"


def compile_condition(text: str, *, path: str) -> Expression:
    """Compile a bare JMESPath condition; a single ``{…}`` template is accepted too."""
    try:
        return compile_expression(text, path=path)
    except ExpressionSyntaxError:
        stripped = text.strip()
        if stripped.startswith("{") and stripped.endswith("}"):
            template = compile_template(stripped, path=path)
            if template.whole is not None:
                return template.whole
        raise


def _template_expressions(templates: Iterable[Template | None]) -> list[tuple[str, Expression]]:
    return [(t.path, e) for t in templates if t is not None for e in t.expressions]


def _value_expressions(values: Iterable[ValueTemplate | None]) -> list[tuple[str, Expression]]:
    return _template_expressions(t for v in values if v is not None for t in v.templates())


class _Compiler:
    def __init__(self, plan: Plan | None, known_steps: Iterable[str] = ()):
        self.plan = plan
        self.limits: Limits = plan.limits if plan is not None else Limits()
        self.known_steps = frozenset(known_steps)
        self.issues: list[PlanIssue] = []
        self.errors: list[PlanError] = []
        self.names: dict[str, str] = {}  # steps namespace: name -> plan path

    # -- helpers ----------------------------------------------------------

    def guarded(self, fn: Callable[..., T], value: Any, path: str) -> T | None:
        """Call ``fn(value, path=path)``, collecting plan errors instead of raising."""
        try:
            return fn(value, path=path)
        except PlanError as error:
            self.issues.extend(error.issues)
            self.errors.append(error)
            return None

    def issue(self, path: str, message: str, fix: str | None = None) -> None:
        self.issues.append(PlanIssue(path, message, fix))

    def condition(self, text: str | None, path: str) -> Expression | None:
        return None if text is None else self.guarded(compile_condition, text, path)

    def check_depth(self, depth: int, plan_path: str) -> None:
        limit = self.limits.max_nesting_depth
        if depth == limit + 1:  # deeper levels are implied; report the first one only
            self.issue(
                plan_path,
                f"steps nest {depth} levels deep (sub_steps, parallel groups and choice "
                f"branches each add one); the limit is {limit}",
                "flatten the plan or raise limits.max_nesting_depth",
            )

    def claim_name(self, name: str, plan_path: str, explicit: bool) -> None:
        """Register ``name`` in the ``steps.<name>`` namespace; duplicates are issues."""
        where = f"{plan_path}.name" if explicit else plan_path
        first = self.names.get(name)
        if first is not None:
            self.issue(
                where,
                f"duplicate step name {name!r} (first used at {first})",
                "step names must be unique in the whole plan so steps.<name> is unambiguous",
            )
            return
        self.names[name] = plan_path

    # -- requests ---------------------------------------------------------

    def compile_request(
        self,
        model: RequestSpec,
        *,
        name: str,
        path: str,
        plan_path: str,
        depth: int,
        kind: str = "http",
    ) -> CompiledStep:
        """Compile an HTTP step, sub-step, compensation or token request."""

        def p(suffix: str) -> str:
            return f"{plan_path}.{suffix}"

        if isinstance(model, HttpStep) and model.paginate is not None:
            model = self.expand_paginate(model, plan_path, name)
        if isinstance(model, HttpStep) and model.incremental is not None:
            model = self.expand_incremental(model, plan_path, name)
        http = model if isinstance(model, HttpStep) else None
        url = self.guarded(compile_template, model.url, p("url")) or compile_template("")
        headers = self.guarded(compile_value, model.headers, p("headers")) or compile_value({})
        params = self.guarded(compile_value, model.params, p("params")) or compile_value({})
        body = None if model.body is None else self.guarded(compile_value, model.body, p("body"))
        form = None if model.form is None else self.guarded(compile_value, model.form, p("form"))
        conditions: dict[str, Expression | None] = {
            "retry_when": self.condition(model.retry_when, p("retry_when")),
        }
        if http is not None:
            conditions["while"] = self.condition(http.while_, p("while"))
            conditions["break_when"] = self.condition(http.break_when, p("break_when"))
            conditions["abort_when"] = self.condition(http.abort_when, p("abort_when"))
        updates = {
            key: self.condition(text, p(f"context_updates.{key}"))
            for key, text in (http.context_updates if http else {}).items()
        }
        extract = {
            key: self.condition(text, p(f"extract.{key}"))
            for key, text in (http.extract if http else {}).items()
        }
        expect_that = [
            self.condition(text, p(f"expect.that[{i}]"))
            for i, text in enumerate(model.expect.that if model.expect else [])
        ]
        secrets = [self.condition(text, p(f"secrets[{i}]")) for i, text in enumerate(model.secrets)]
        compiled = CompiledStep(
            model=model,
            name=name,
            path=path,
            plan_path=plan_path,
            depth=depth,
            url=url,
            headers=headers,
            params=params,
            body=body,
            form=form,
            while_=conditions.get("while"),
            break_when=conditions.get("break_when"),
            abort_when=conditions.get("abort_when"),
            retry_when=conditions["retry_when"],
            context_updates=updates,  # type: ignore[arg-type]
            extract=extract,  # type: ignore[arg-type]
            expect_that=expect_that,  # type: ignore[arg-type]
            secrets=[e for e in secrets if e is not None],
            kind=kind,
        )
        compiled.expressions = _template_expressions([url]) + _value_expressions(
            [headers, params, body, form]
        )
        named = [
            *((p(k), e) for k, e in conditions.items()),
            *((p(f"context_updates.{k}"), e) for k, e in updates.items()),
            *((p(f"extract.{k}"), e) for k, e in extract.items()),
            *((p(f"expect.that[{i}]"), e) for i, e in enumerate(expect_that)),
            *((p(f"secrets[{i}]"), e) for i, e in enumerate(secrets)),
        ]
        compiled.expressions += [(where, e) for where, e in named if e is not None]
        if isinstance(model, SubStep):
            compiled.iterate_over = self.condition(model.iterate_over, p("iterate_over"))
            if compiled.iterate_over is not None:
                compiled.expressions.append((p("iterate_over"), compiled.iterate_over))
            compiled.concurrency = model.concurrency or self.limits.default_concurrency
            compiled.emit_mode = model.fanout_emit_mode
        if http is not None:
            self._compile_pages(http, compiled)
            self._compile_incremental(http, compiled)
            self._compile_children(http, compiled, depth)
        return compiled

    def expand_paginate(self, model: HttpStep, plan_path: str, name: str) -> HttpStep:
        """The step with its ``paginate`` preset replaced by the fields it stands for.

        The preset's own JMESPath fields are compiled first, so a mistake is
        reported at ``paginate.<field>``, not in the generated ``while``.
        """
        preset = model.paginate
        where = f"{plan_path}.paginate"
        paths = {
            name: getattr(preset, name, None)
            for name in ("next_path", "total_path", "total_pages_path", "cursor_path",
                         "has_more_path")
        }  # fmt: skip
        failed = False
        for field, text in paths.items():
            if text is not None:
                failed |= self.condition(body_key(text), f"{where}.{field}") is None
        if model.records is not None:  # reported by _compile_pages if wrong
            try:
                compile_condition(body_key(model.records), path=f"{plan_path}.records")
            except PlanError:
                failed = True
        if failed or isinstance(preset, AutoPaginate):
            return model
        assert isinstance(
            preset,
            (LinkHeaderPaginate, JsonLinkPaginate, OffsetPaginate, PageNumberPaginate,
             CursorPaginate),
        )  # fmt: skip
        data = model.model_dump(by_alias=True, exclude_unset=True)
        try:
            expanded = expand_step_data(data, preset, model.records)
        except PaginateError as error:
            where = f"{plan_path}.{error.field} (step {name!r})"
            self.issue(where, str(error), error.fix)
            return model
        return type(model).model_validate(expanded)

    def expand_incremental(self, model: HttpStep, plan_path: str, name: str) -> HttpStep:
        """The step with ``incremental.param`` (and ``end_param``) added to its ``params``."""
        spec = model.incremental
        assert spec is not None
        where = f"{plan_path}.incremental (step {name!r})"
        if isinstance(model, SubStep):
            self.issue(
                where,
                "incremental works on a top-level step, not on a fanout sub-step",
                "move incremental to the step that lists the records",
            )
        if model.records is None and not isinstance(model.paginate, AutoPaginate):
            self.issue(
                where,
                "incremental reads its cursor from each record, but the step has no 'records'",
                "add records: <path of the list in the body> (records: data, or '@' for a list)",
            )
        template = cursor_param_template(name)
        if model.params.get(spec.param, template) != template:  # equal: already expanded
            self.issue(
                where,
                f"the step's params already set {spec.param!r}, which incremental sends",
                f"remove params.{spec.param} (incremental sends the saved cursor)",
            )
        added: dict[str, Any] = {spec.param: template}
        if spec.end_param is not None:
            if spec.end_value is None:
                self.issue(where, "end_param is set but end_value is not", "add end_value")
            added[spec.end_param] = spec.end_value
        return model.model_copy(update={"params": {**model.params, **added}})

    def _compile_incremental(self, model: HttpStep, compiled: CompiledStep) -> None:
        spec = model.incremental
        if spec is None:
            return
        cursor = self.condition(spec.cursor_path, f"{compiled.plan_path}.incremental.cursor_path")
        if cursor is not None:
            compiled.incremental = CompiledIncremental(spec, context_key(compiled.name), cursor)
            compiled.expressions.append((f"{compiled.plan_path}.incremental.cursor_path", cursor))

    def _compile_pages(self, model: HttpStep, compiled: CompiledStep) -> None:
        """``page_state``, ``page_state_updates``, ``next_url`` and ``records``."""
        where = compiled.plan_path
        if model.page_state:
            compiled.page_state = self.guarded(
                compile_value, model.page_state, f"{where}.page_state"
            )
        for key, text in model.page_state_updates.items():
            expression = self.condition(text, f"{where}.page_state_updates.{key}")
            if expression is not None:
                compiled.page_state_updates[key] = expression
                compiled.expressions.append((f"{where}.page_state_updates.{key}", expression))
        compiled.next_url = self.condition(model.next_url, f"{where}.next_url")
        if model.records is not None and self.condition(
            body_key(model.records), f"{where}.records"
        ):
            compiled.records = compile_condition(body_path(model.records), path=f"{where}.records")
            compiled.records_json_path = records_json_path(model.records)
        compiled.paginate_auto = isinstance(model.paginate, AutoPaginate)
        if compiled.page_state is not None:
            compiled.expressions += _value_expressions([compiled.page_state])
        for name in ("next_url", "records"):
            expression = getattr(compiled, name)
            if expression is not None:
                compiled.expressions.append((f"{where}.{name}", expression))

    def _compile_children(self, model: HttpStep, compiled: CompiledStep, depth: int) -> None:
        seen: set[str] = set()
        for index, sub in enumerate(model.sub_steps):
            sub_name = sub.name or f"sub_{index + 1}"
            sub_plan_path = f"{compiled.plan_path}.sub_steps[{index}]"
            if sub_name in seen:
                self.issue(sub_plan_path, f"duplicate step name {sub_name!r}", "rename it")
            if sub_name == COMPENSATION_NAME and model.compensate is not None:
                self.issue(
                    sub_plan_path,
                    f"sub-step name {COMPENSATION_NAME!r} clashes with the step's compensation "
                    f"path {compiled.path}.{COMPENSATION_NAME}",
                    "rename the sub-step",
                )
            seen.add(sub_name)
            self.check_depth(depth + 1, sub_plan_path)
            compiled.sub_steps.append(
                self.compile_request(
                    sub,
                    name=sub_name,
                    path=f"{compiled.path}.{sub_name}",
                    plan_path=sub_plan_path,
                    depth=depth + 1,
                    kind=compiled.kind,
                )
            )
        if model.compensate is not None:
            if compiled.kind == "auth":
                self.issue(
                    f"{compiled.plan_path}.compensate",
                    "auth steps cannot have a compensation",
                    "remove 'compensate' from the auth step",
                )
                return
            compiled.compensate = self.compile_compensation(model.compensate, compiled)

    def compile_compensation(self, model: Compensation, step: CompiledStep) -> CompiledStep:
        return self.compile_request(
            model,
            name=COMPENSATION_NAME,
            path=f"{step.path}.{COMPENSATION_NAME}",
            plan_path=f"{step.plan_path}.compensate",
            depth=step.depth,
            kind="compensation",
        )

    # -- the steps namespace ---------------------------------------------

    def compile_node(
        self,
        model: HttpStep | ParallelStep | ChoiceStep,
        *,
        name: str,
        parent_path: str,
        plan_path: str,
        depth: int,
    ) -> CompiledNode:
        path = f"{parent_path}.{name}" if parent_path else name
        self.claim_name(name, plan_path, explicit=model.name is not None)
        self.check_depth(depth, plan_path)
        if isinstance(model, ParallelStep):
            children = [
                self.compile_node(
                    child,
                    name=child.name or f"{name}_{index + 1}",
                    parent_path=path,
                    plan_path=f"{plan_path}.parallel[{index}]",
                    depth=depth + 1,
                )
                for index, child in enumerate(model.parallel)
            ]
            return CompiledParallel(model, name, path, plan_path, depth, children)
        if isinstance(model, ChoiceStep):
            branches = []
            for index, branch in enumerate(model.choice):
                branch_path = f"{plan_path}.choice[{index}]"
                when = self.condition(branch.when, f"{branch_path}.when")
                steps = self.compile_sequence(
                    branch.steps,
                    prefix=f"{name}_{index + 1}",
                    parent_path=path,
                    plan_path=f"{branch_path}.steps",
                    depth=depth + 1,
                )
                if when is not None:
                    branches.append(CompiledBranch(when, steps, branch_path, f"when[{index}]"))
            otherwise = self.compile_sequence(
                model.otherwise,
                prefix=f"{name}_otherwise",
                parent_path=path,
                plan_path=f"{plan_path}.otherwise",
                depth=depth + 1,
            )
            return CompiledChoice(model, name, path, plan_path, depth, branches, otherwise)
        return self.compile_request(model, name=name, path=path, plan_path=plan_path, depth=depth)

    def compile_sequence(
        self, models: list[Any], *, prefix: str, parent_path: str, plan_path: str, depth: int
    ) -> list[CompiledNode]:
        return [
            self.compile_node(
                model,
                name=model.name or f"{prefix}_{index + 1}",
                parent_path=parent_path,
                plan_path=f"{plan_path}[{index}]",
                depth=depth,
            )
            for index, model in enumerate(models)
        ]

    # -- auth -------------------------------------------------------------

    def credential(self, value: str | SecretRef, path: str) -> Credential | None:
        if isinstance(value, SecretRef):
            return value
        return self.guarded(compile_template, value, path)

    def compile_auth(self, model: StaticAuth | TokenAuth, path: str = AUTH_PATH) -> CompiledAuth:
        compiled = CompiledAuth(model)
        fields: dict[str, Any] = {}
        if isinstance(model, BearerAuth):
            fields = {"token": model.token}
        elif isinstance(model, BasicAuth):
            fields = {"username": model.username, "password": model.password}
        elif isinstance(model, ApiKeyAuth):
            fields = {"value": model.value}
        elif isinstance(model, FlowAuth):
            self._compile_flow(model, compiled, path)
        else:
            fields = {"client_id": model.client_id, "client_secret": model.client_secret}
            if isinstance(model, OAuth2RefreshToken):
                fields["refresh_token"] = model.refresh_token
                compiled.refresh_token_path = self.condition(
                    model.refresh_token_path, f"{path}.refresh_token_path"
                )
            for key, value in model.extra_params.items():
                credential = self.credential(value, f"{path}.extra_params.{key}")
                if credential is not None:
                    compiled.extra_params[key] = credential
            compiled.token_path = self.condition(model.token_path, f"{path}.token_path")
            compiled.expires_in_path = self.condition(
                model.expires_in_path, f"{path}.expires_in_path"
            )
            if self.guarded(compile_template, model.token_url, f"{path}.token_url") is not None:
                compiled.token_steps = [self._token_request(model, path)]
        for key, value in fields.items():
            credential = self.credential(value, f"{path}.{key}")
            if credential is not None:
                compiled.credentials[key] = credential
        return compiled

    def _token_request(self, model: Any, path: str) -> CompiledStep:
        """The ``POST token_url`` of OAuth2; its values come from the ``oauth`` scope."""
        form = {
            "grant_type": "{oauth.grant_type}",
            "refresh_token": "{oauth.refresh_token}",
            "scope": "{oauth.scope}",
            "client_id": "{oauth.client_id}",
            "client_secret": "{oauth.client_secret}",
        }
        for key in model.extra_params:
            form[key] = "{oauth.extra." + json.dumps(key) + "}"
        request = HttpStep.model_validate(
            {
                "url": model.token_url,
                "method": "POST",
                "form": form,
                "headers": {"Authorization": "{oauth.basic}", "Accept": "application/json"},
                "timeout_seconds": model.timeout_seconds,
                "retry": model.retry,
                "emit": False,
            }
        )
        return self.compile_request(
            request, name=AUTH_PATH, path=AUTH_PATH, plan_path=path, depth=0, kind="auth"
        )

    def _compile_flow(self, model: FlowAuth, compiled: CompiledAuth, path: str) -> None:
        seen: dict[str, str] = {}
        for index, step in enumerate(model.steps):
            name = step.name or f"step_{index + 1}"
            step_path = f"{path}.steps[{index}]"
            if name in seen:
                self.issue(
                    f"{step_path}.name",
                    f"duplicate auth step name {name!r} (first used at {seen[name]})",
                    "rename it",
                )
            seen[name] = step_path
            compiled.token_steps.append(
                self.compile_request(
                    step,
                    name=name,
                    path=f"{AUTH_PATH}.{name}",
                    plan_path=step_path,
                    depth=0,
                    kind="auth",
                )
            )
        compiled.token_path = self.condition(model.token_path, f"{path}.token_path")
        compiled.expires_in_path = self.condition(model.expires_in_path, f"{path}.expires_in_path")

    # -- the plan ---------------------------------------------------------

    def compile(self, source: str | None) -> CompiledPlan:
        plan = self.plan
        assert plan is not None
        if plan.step is not None:
            roots: list[CompiledNode] = [
                self.compile_node(
                    plan.step,
                    name=plan.step.name or "main",
                    parent_path="",
                    plan_path="step",
                    depth=0,
                )
            ]
        else:
            roots = self.compile_sequence(
                plan.steps or [], prefix="step", parent_path="", plan_path="steps", depth=0
            )
        auth = None if plan.auth is None else self.compile_auth(plan.auth)
        for key, value in (plan.config or {}).items():
            if isinstance(value, dict) and set(value) != {"env"} and "env" in value:
                self.issue(
                    f"config.{key}",
                    "a secret reference holds only 'env'",
                    'write {"env": "NAME"}',
                )
        self.issues.extend(check_references(roots, auth, self.known_steps))
        if len(self.issues) == 1 and len(self.errors) == 1:
            error = self.errors[0]  # keep the specific type (e.g. ExpressionSyntaxError)
            error.source = source
            raise error
        if self.issues:
            raise PlanError(self.issues, source=source)
        return CompiledPlan(plan, roots, source, auth)


def compile_plan(
    plan: Plan, *, source: str | None = None, known_steps: Iterable[str] = ()
) -> CompiledPlan:
    """Compile every template and expression of a validated plan and check references.

    ``known_steps`` names steps whose results exist before the plan starts
    (a notebook's earlier cells), so ``steps.<name>`` may refer to them.
    """
    return _Compiler(plan, known_steps).compile(source)


def compile_detected(
    step: CompiledStep, paginate: dict[str, Any] | None, records: str | None
) -> CompiledStep:
    """``step`` (written with ``paginate: auto``) recompiled as if ``paginate`` and
    ``records`` had been written (a ``records`` the user gave wins); a detection that
    does not compile raises :class:`PlanError` naming the step."""
    model = step.model
    assert isinstance(model, HttpStep)
    data = model.model_dump(by_alias=True, exclude_unset=True)
    data.pop("paginate", None)
    if paginate is not None:
        data["paginate"] = paginate
    if records is not None and model.records is None:
        data["records"] = records
    try:
        detected = type(model).model_validate(data)
    except pydantic.ValidationError as error:
        issues = issues_from_validation(error, type(model), data, (step.plan_path,))
        raise PlanError(issues) from None
    compiler = _Compiler(None)
    compiled = compiler.compile_request(
        detected,
        name=step.name,
        path=step.path,
        plan_path=step.plan_path,
        depth=step.depth,
        kind=step.kind,
    )
    if compiler.issues:
        raise PlanError(compiler.issues)
    return compiled


def compile_auth(model: StaticAuth | TokenAuth, *, source: str | None = None) -> CompiledAuth:
    """Compile an auth block given on its own (the runner's ``auth=`` override)."""
    compiler = _Compiler(None)
    compiled = compiler.compile_auth(model)
    compiler.issues.extend(check_references([], compiled, frozenset()))
    if compiler.issues:
        raise PlanError(compiler.issues, source=source)
    return compiled
