"""Step models: HTTP steps, fanout sub-steps, saga compensations and the two
control steps of seed 000, ``parallel`` and ``choice``.

A step in a ``steps`` list is one of three shapes, told apart by its keys::

    {"name": "users", "url": "…"}                                  an HTTP step
    {"name": "extras", "parallel": [steps…], "on_error": "wait"}   a parallel group
    {"name": "route", "choice": [{"when": "…", "steps": [steps…]}],
     "otherwise": [steps…]}                                         a choice

Names of HTTP steps, parallel children and choice-branch steps share one
namespace (``steps.<name>``) and must be unique in the whole plan.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator
from pydantic_core import PydanticCustomError

from orchestra.plan._base import Expect, Retry, _Model, check_step_name
from orchestra.plan._incremental import Incremental
from orchestra.plan._paginate import Paginate, normalize_paginate

ResponseFormat = Literal["auto", "json", "xml", "csv", "text", "binary"]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class RequestSpec(_Model):
    """The request part shared by HTTP steps and compensations."""

    url: str = Field(description="URL template, e.g. {config.base_url}/users/{item.id}.")
    method: Method = Field("GET", description="HTTP method (default GET).")
    headers: dict[str, Any] = Field(
        default_factory=dict,
        description="Request headers, name: value; values are templates or {env: NAME} "
        "(credentials: use auth or {env: NAME}, never a literal).",
    )
    params: dict[str, Any] = Field(default_factory=dict, description="Query parameters.")
    body: Any = Field(None, description="JSON value with templates inside, or a template string.")
    form: dict[str, Any] | None = Field(None, description="Form-encoded body.")
    timeout_seconds: float = Field(
        30,
        gt=0,
        description="Seconds to wait for one response (default 30); then a transport "
        "error, retried by retry.",
    )
    delay_seconds: float = Field(0, ge=0, description="Pause before each request of the step.")
    response_format: ResponseFormat = Field(
        "auto",
        description="How the body is read: auto (from Content-Type, the default), json, xml "
        "(converted to JSON), csv (rows as objects), text, binary (base64).",
    )
    retry_when: str | None = Field(
        None, description="JMESPath over the scope and response: when true, the request is retried."
    )
    abort_on: list[int] = Field(
        default_factory=list, description="Status codes that stop the whole run (checked first)."
    )
    ignore_on: list[int] = Field(
        default_factory=list,
        description="Status codes recorded as ignored: the step (a fanout item) is skipped and "
        "the run goes on.",
    )
    retry: Retry = Field(
        default_factory=Retry,
        description="How a failed request is retried (default: 3 attempts, fibonacci backoff, "
        "on 429/500/502/503/504 and transport errors).",
    )
    expect: Expect | None = Field(
        None, description="Assertions on each response; a failed one fails the step."
    )
    secrets: list[str] = Field(
        default_factory=list,
        description=(
            "JMESPath over the response whose values are secret (e.g. response.body.session_key): "
            "registered before the response is captured, so no output shows them. Top-level "
            "access_token, refresh_token and id_token fields of a JSON answer are always secret."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _upper_method(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("method"), str):
            data = {**data, "method": data["method"].upper()}
        return data


class Compensation(RequestSpec):
    """Saga compensation: the request that undoes a step (seeds 001, 003, 004).

    It is registered when its step succeeds and runs only if the run later
    fails or aborts: compensations run in reverse order of registration, each
    with the scope of the step it undoes (``response`` is that step's last
    response, ``item``/``parent`` its fanout item and parent), e.g.
    ``DELETE {config.base_url}/orders/{steps.create_order.body.id}``. A failing
    compensation is retried by its own ``retry`` policy, then recorded, and the
    remaining compensations still run. Its step path is ``<step path>.compensate``.
    """


class HttpStep(RequestSpec):
    """One HTTP request, optionally paginated (``while``) and fanned out (``sub_steps``)."""

    name: str | None = Field(None, description="Unique name; results are steps.<name>.")
    while_: str | None = Field(None, alias="while", description="Keep paginating while true.")
    break_when: str | None = Field(
        None, description="JMESPath checked after each page: when true, pagination stops."
    )
    abort_when: str | None = Field(
        None, description="JMESPath checked on each response: when true, the run is aborted."
    )
    context_updates: dict[str, str] = Field(
        default_factory=dict,
        description="name: JMESPath, evaluated after each response into context.<name> "
        "(later steps read {context.<name>}).",
    )
    extract: dict[str, str] = Field(
        default_factory=dict,
        description="name: JMESPath over each response; steps.<name> and the fanout's "
        "records carry these values instead of the whole body.",
    )
    emit: bool = Field(
        True,
        validation_alias="emit_to_kafka",
        description="Emit this step's records to the run's output (default true; alias "
        "emit_to_kafka).",
    )
    sub_steps: list[SubStep] = Field(
        default_factory=list,
        description="Fanout steps, run for each item of their iterate_over after each page.",
    )
    compensate: Compensation | None = Field(
        None, description="Saga: the request that undoes this step if a later step fails."
    )
    on_error: Literal["abort", "continue"] = Field(
        "abort",
        description="abort (default): a failure of this step fails the run; continue: it is "
        "recorded as failed and the run goes on (and still ends failed).",
    )
    breakpoint: bool = Field(False, description="Pause here when debugging.")
    paginate: Paginate | None = Field(
        None,
        description="A pagination preset (link_header, json_link, offset, page_number, cursor, "
        "auto); expanded into page_state, next_url and while when the plan loads.",
    )
    records: str | None = Field(
        None,
        description="JMESPath over each page's body selecting the list whose elements are "
        "emitted one record each (records: data, records: '@'). Without it a page is a record.",
    )
    incremental: Incremental | None = Field(
        None,
        description="Fetch only records changed since the last successful run: the highest "
        "cursor_path value is kept per plan key and config and sent as param (needs records).",
    )
    page_state: dict[str, Any] = Field(
        default_factory=dict,
        description="Values carried from page to page (page_state.<key>); templates, "
        "rendered when the step starts.",
    )
    page_state_updates: dict[str, str] = Field(
        default_factory=dict,
        description="JMESPath evaluated after each page; the next page sees the new page_state.",
    )
    next_url: str | None = Field(
        None,
        description="JMESPath giving the next page's URL (absolute or relative); that page "
        "requests it as it is, without the step's params.",
    )

    @field_validator("paginate", mode="before")
    @classmethod
    def _paginate_shorthand(cls, value: Any) -> Any:
        return normalize_paginate(value)

    @model_validator(mode="before")
    @classmethod
    def _emit_alias(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "emit_to_kafka" in data and "emit" in data:
                raise PydanticCustomError(
                    "duplicate_alias", "give either 'emit' or its alias 'emit_to_kafka', not both"
                )
            if "emit" in data:
                data = {**data, "emit_to_kafka": data["emit"]}
                del data["emit"]
        return data

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str | None) -> str | None:
        return check_step_name(value)


class SubStep(HttpStep):
    """A fanout step: runs once per item of ``iterate_over`` (or once, without it)."""

    iterate_over: str | None = Field(None, description="JMESPath over the parent scope.")
    concurrency: int | None = Field(None, ge=1, description="Parallel items (default 50).")
    fanout_emit_mode: Literal["record", "page"] = Field(
        "record",
        description="record (default): each item is one record, with this step's output; "
        "page: one list of records per parent page.",
    )


class ParallelStep(_Model):
    """Children run concurrently and are joined before the next step (seed 000).

    ``on_error`` says what one failing child does to the group:

    * ``wait`` (default): the other children run to their end, then the group
      fails with the first error in plan order. Nothing in flight is cut off,
      so every side effect is known and gets its saga compensation.
    * ``cancel``: the other children are cancelled at once (their steps end
      ``cancelled``), then the group fails.
    * ``continue``: the other children run to their end, the group is recorded
      as failed and the run goes on (it still ends ``failed``).
    """

    name: str | None = Field(None, description="Unique name; steps.<name> gives the status.")
    parallel: list[Step] = Field(min_length=1, description="Steps run at the same time.")
    on_error: Literal["wait", "cancel", "continue"] = Field(
        "wait",
        description="When a step fails: wait (default) lets the others finish, then fails the "
        "group; cancel stops the others at once; continue lets the run go on (it ends failed).",
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str | None) -> str | None:
        return check_step_name(value)


class Branch(_Model):
    """One branch of a choice: its steps run in order when ``when`` is true."""

    when: str = Field(description="JMESPath condition over config, auth, context and steps.")
    steps: list[Step] = Field(
        min_length=1, description="Steps run in order when the condition is true."
    )


class ChoiceStep(_Model):
    """The first branch whose ``when`` is true runs, else ``otherwise`` (seed 000).

    Every step of the branches not taken is recorded with status ``skipped``
    and ``steps.<name>`` of each is ``{"status": "skipped"}``.
    """

    name: str | None = Field(None, description="Unique name; steps.<name> gives the branch.")
    choice: list[Branch] = Field(
        min_length=1, description="Branches, tried in order: the first whose when is true runs."
    )
    otherwise: list[Step] = Field(
        default_factory=list,
        description="Steps run when no branch's condition is true (none: nothing runs).",
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str | None) -> str | None:
        return check_step_name(value)


STEP_TAGS: dict[str, type[_Model]] = {
    "HttpStep": HttpStep,
    "ParallelStep": ParallelStep,
    "ChoiceStep": ChoiceStep,
}
"""Tags of the step union; pydantic puts them in error locations (stripped for display)."""

CONTROL_KEYS = ("parallel", "choice", "otherwise")


def step_kind(value: Any) -> str:
    """Which step model a raw value is: the keys ``parallel`` / ``choice`` decide."""
    if isinstance(value, dict):
        if "parallel" in value:
            return "ParallelStep"
        if "choice" in value or "otherwise" in value:
            return "ChoiceStep"
        return "HttpStep"
    for tag, model in STEP_TAGS.items():
        if isinstance(value, model):
            return tag
    return "HttpStep"


Step = Annotated[
    Annotated[HttpStep, Tag("HttpStep")]
    | Annotated[ParallelStep, Tag("ParallelStep")]
    | Annotated[ChoiceStep, Tag("ChoiceStep")],
    Discriminator(step_kind),
]
"""A step of a ``steps`` list, a parallel group or a choice branch."""


HttpStep.model_rebuild()
SubStep.model_rebuild()
ParallelStep.model_rebuild()
Branch.model_rebuild()
ChoiceStep.model_rebuild()
