"""``step_to_curl``: the first request of a plan step, before it runs, as a curl command.

The step's templates are rendered with the plan's config (overridden by
``config``) and an empty context, as on a run's first page: a parameter whose
whole value is null (a cursor) is left out. Secrets are never resolved: a
config value or credential ``{env: NAME}`` is written ``${NAME}`` for the shell
to expand. What only a run knows (``steps.…``, ``item.…``, ``parent.…``) stays
as its ``{template}``, listed in a comment to fill in (``prev.…`` is null on a
first page, so a parameter that is only ``{prev.…}`` is left out). The plan's static auth
is added (``-u`` for basic); a token auth gets a comment, since its token is
fetched at run time. The command itself is written by the one curl writer,
:func:`orchestra.plan._curl.curl_text`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from orchestra.errors import OrchestraError, PlanError, PlanIssue
from orchestra.expressions import (
    Expression,
    Template,
    ValueTemplate,
    past_host,
    scope_references,
    stringify,
)
from orchestra.plan._auth_models import ApiKeyAuth, BasicAuth, BearerAuth
from orchestra.plan._base import SecretRef
from orchestra.plan._compiled import CompiledAuth, CompiledStep, Credential
from orchestra.plan._curl import curl_text
from orchestra.plan._loader import PlanSource, load_plan

_MISSING = object()


def step_to_curl(plan: PlanSource, step_path: str, config: Mapping[str, Any] | None = None) -> str:
    """The ``curl`` command of ``step_path``'s first request, after ``#`` comments."""
    compiled = load_plan(plan)
    try:
        step = compiled.find(step_path)
    except KeyError:
        names = ", ".join(node.path for node in compiled.walk())
        raise PlanError(
            PlanIssue("steps", f"no step {step_path!r} in the plan", f"use one of: {names}"),
            source=compiled.key,
        ) from None
    if not isinstance(step, CompiledStep):
        raise PlanError(
            PlanIssue(
                step.plan_path,
                f"step {step_path!r} is a group, not a request",
                "export one of the requests inside it",
            ),
            source=compiled.key,
        )
    writer = _Writer({"config": _shell_secrets({**compiled.model.config, **(config or {})})})
    writer.auth(compiled.auth)
    url = writer.url(step.url)
    headers = {key: stringify(value) for key, value in writer.tree(step.headers).items()}
    params = writer.tree(step.params)
    if params:
        url = _with_query(url, params)
    body = None
    if step.body is not None:
        rendered = writer.tree(step.body)
        if isinstance(rendered, str):
            body = rendered
        elif rendered is not None:
            body = json.dumps(rendered, ensure_ascii=False, separators=(",", ":"))
            _default_header(headers, "Content-Type", "application/json")
    elif step.form is not None:
        body = _query_text(writer.tree(step.form))
        _default_header(headers, "Content-Type", "application/x-www-form-urlencoded")
    for name, value in writer.auth_headers.items():
        _default_header(headers, name, value)
    if writer.auth_param is not None and writer.auth_param[0] not in params:
        url = _with_query(url, dict([writer.auth_param]))
    command = curl_text(step.model.method, url, headers, body, user=writer.user)
    comments = [f"# {compiled.key}: step {step.path} ({step.model.method} {step.url.source})"]
    comments += writer.notes
    for source in dict.fromkeys(writer.unknown):
        comments.append(f"# {{{source}}} is known only when the flow runs: fill it in")
    return "\n".join([*comments, command])


def _shell_secrets(value: Any) -> Any:
    """Config with every ``{env: NAME}`` as ``${NAME}`` (the shell reads the secret)."""
    if isinstance(value, dict):
        if set(value) == {"env"} and isinstance(value["env"], str):
            return "${" + value["env"] + "}"
        return {key: _shell_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shell_secrets(item) for item in value]
    return value


def _default_header(headers: dict[str, str], name: str, value: str) -> None:
    if not any(key.lower() == name.lower() for key in headers):
        headers[name] = value


def _query_text(values: Any) -> str:
    pairs = []
    for key, value in (values or {}).items():
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                pairs.append((key, stringify(item)))
    return urlencode(pairs, safe="${}")


def _with_query(url: str, params: Mapping[str, Any]) -> str:
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, _query_text(params)) if part)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


_RUN_ONLY = ("steps", "item", "parent", "response")
"""Scope roots only a run fills (``prev`` and ``context`` are null on a first page)."""


def _run_only(expression: Expression) -> bool:
    """Whether ``expression`` reads what only a run knows (``item.id``, ``steps.x.body``)."""
    source = expression.source.strip()
    return source in _RUN_ONLY or any(scope_references(expression, root) for root in _RUN_ONLY)


class _Writer:
    """Renders one step's templates, keeping what only a run knows as ``{template}``."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = {"context": {}, "steps": {}, "auth": {}, **scope}
        self.unknown: list[str] = []
        self.notes: list[str] = []
        self.auth_headers: dict[str, str] = {}
        self.auth_param: tuple[str, str] | None = None
        self.user: str | None = None

    def value(self, expression: Expression) -> Any:
        try:
            found = expression.search(self.scope)
        except OrchestraError:
            found = None
        if found is None:
            self.unknown.append(expression.source)
            return _MISSING
        return found

    def text(self, template: Template, *, url: bool = False) -> str:
        pieces: list[str] = []
        for segment in template.segments:
            if isinstance(segment, str):
                pieces.append(segment)
                continue
            found = self.value(segment)
            if found is _MISSING:
                pieces.append("{" + segment.source + "}")
                continue
            text = stringify(found)
            if url and past_host("".join(pieces)) and "${" not in text:
                text = quote(text, safe="")
            pieces.append(text)
        return "".join(pieces)

    def url(self, template: Template) -> str:
        return self.text(template, url=True)

    def tree(self, template: ValueTemplate) -> Any:
        return self._node(template.compiled)

    def _node(self, node: Any) -> Any:
        if isinstance(node, Template):
            if node.whole is None:
                return self.text(node)
            try:
                found = node.whole.search(self.scope)
            except OrchestraError:
                found = None
            if found is None and _run_only(node.whole):  # {item.id}: kept for the user
                self.unknown.append(node.whole.source)
                return "{" + node.whole.source + "}"
            return found  # None: left out, as the engine leaves a null out on a first page
        if isinstance(node, dict):
            out = {key: self._node(child) for key, child in node.items()}
            return {key: value for key, value in out.items() if value is not None}
        if isinstance(node, list):
            return [self._node(child) for child in node]
        return node

    def credential(self, value: Credential) -> str:
        if isinstance(value, SecretRef):
            return "${" + value.env + "}"
        return self.text(value)

    def auth(self, auth: CompiledAuth | None) -> None:
        if auth is None:
            return
        model = auth.model
        values = {key: self.credential(value) for key, value in auth.credentials.items()}
        if isinstance(model, BearerAuth):
            self.auth_headers["Authorization"] = f"Bearer {values['token']}"
            self.scope["auth"] = {"type": "bearer", "token": values["token"]}
        elif isinstance(model, BasicAuth):
            self.user = f"{values['username']}:{values['password']}"
        elif isinstance(model, ApiKeyAuth):
            if model.location == "header":
                self.auth_headers[model.name] = values["value"]
            else:
                self.auth_param = (model.name, values["value"])
            self.scope["auth"] = {"type": "api_key", "name": model.name, "token": values["value"]}
        else:
            self.notes.append(
                f"# auth: {model.type} gets its token when the flow runs; add "
                "-H 'Authorization: Bearer …' with a token of your own"
            )
