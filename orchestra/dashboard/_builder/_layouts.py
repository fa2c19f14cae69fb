"""Hand-made layouts where a generated form would not do: step lists and rules.

The schema gives each field an editor (:mod:`._forms`), but a list of steps
or of rules would then be YAML text. These layouts draw them as a person
thinks of them, still from the schema's fields wherever a field is a field:

* a parallel group's steps, a choice's branches (each a ``when`` and its
  steps, reordered and deleted as a whole) and ``otherwise``, and the steps
  of a ``flow`` auth: nested step lists, each step a button that selects it
  in the step tree (where it is edited, duplicated, moved or deleted), with
  "+ Step" at the end of every list;
* a step's saga compensation: what it does and when it runs, a switch that
  adds or removes it, then its request fields;
* rate limits: one card per rule, saying what the rule allows in words
  ("10 requests per 1 s = 10/s, one window per step URL") with the units
  in the labels.

:func:`install` registers them with a :class:`~._forms.FormBuilder`.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable
from functools import partial
from typing import Any

import panel as pn

from orchestra.dashboard._builder._forms import FormBuilder, field_key
from orchestra.dashboard._builder._plan_edit import Key, format_path, get_in, parse_path
from orchestra.dashboard._builder._schema import FieldSpec, fields_of, step_model

HELP = "font-size:12px;color:#5f6b7a;margin:2px 0 6px"

REQUEST_FIELDS = ("method", "url", "params", "headers", "body", "form")

RATE_UNITS = {
    "requests": "Requests per window",
    "window_secs": "Window (seconds)",
    "max_wait": "Max wait (seconds)",
}
SCOPES = {
    "per_config": "one window for the run (all hosts and steps of this config)",
    "per_endpoint": "one window per step URL template (each endpoint on its own)",
    "global": "one window shared by every run in this process",
}
ON_ERROR = (
    "When a step of the group fails — wait: the others finish, then the group fails; "
    "cancel: the others are cancelled at once; continue: the others finish and the run "
    "goes on (it still ends failed)."
)


def install(forms: FormBuilder, select: Callable[[str], None]) -> None:
    """Register the hand-made layouts; ``select(path)`` selects a step in the tree."""
    layouts = Layouts(forms, select)
    forms.layouts.update(
        {
            (False, ("parallel",)): layouts.parallel,
            (False, ("choice",)): layouts.choice,
            (False, ("otherwise",)): layouts.otherwise,
            (False, ("compensate",)): layouts.compensation,
            (True, ("auth", "steps")): layouts.auth_steps,
            (True, ("rate_limits",)): layouts.rate_limits,
            (False, ("expect", "body_schema")): layouts.json_schema,
        }
    )


def _help(text: str) -> pn.pane.HTML:
    return pn.pane.HTML(
        f"<div style='{HELP}'>{text}</div>", sizing_mode="stretch_width", margin=(0, 10)
    )


def _button(label: str, css: str, action: Callable[[], None], **options: Any) -> pn.widgets.Button:
    button = pn.widgets.Button(
        label=label, css_classes=[css], margin=(2, 4), **{"width": 110, **options}
    )
    button.on_click(lambda event: action())
    return button


def step_label(step: dict[str, Any], nested: bool = False) -> str:
    """How a step reads in a step list: ``⇉ group``, ``◇ route``, ``items GET …/items``."""
    kind = step_model(step, nested=nested)
    name = str(step.get("name") or "(no name)")
    if kind == "ParallelStep":
        return f"⇉ {name} (parallel, {len(step.get('parallel') or [])} steps)"
    if kind == "ChoiceStep":
        return f"◇ {name} (choice, {len(step.get('choice') or [])} branches)"
    url = str(step.get("url") or "")
    return f"{name} · {step.get('method', 'GET')} {url}"


class Layouts:
    """The hand-made editors, bound to one form builder."""

    def __init__(self, forms: FormBuilder, select: Callable[[str], None]) -> None:
        self.forms = forms
        self.state = forms.state
        self.select = select
        self._summaries: list[tuple[int, pn.pane.HTML]] = []  # rate rules' in-words lines
        self.state.param.watch(self._summarize, ["plan"])

    def _pick(self, path: str, event: Any) -> None:
        self.select(path)

    # -- step lists -------------------------------------------------------------------------

    def step_list(self, list_path: str, title: str, help_text: str = "") -> pn.Card:
        """The steps of one list as buttons that select them, and "+ Step" at the end."""
        steps = get_in(self.state.plan, parse_path(list_path)) or []
        rows: list[Any] = [_help(help_text)] if help_text else []
        for index, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            path = f"{list_path}[{index}]"
            button = pn.widgets.Button(
                label=step_label(step, nested=list_path.endswith("sub_steps")),
                color="light",
                sizing_mode="stretch_width",
                margin=(1, 4),
                css_classes=["orchestra-step-link", f"ob-step:{path}"],
                description=f"Edit {step.get('name') or path} (it is selected in the step tree)",
            )
            button.on_click(partial(self._pick, path))
            rows.append(button)
        if not steps:
            rows.append(_help("<i>no steps yet</i>"))
        rows.append(
            _button(
                "+ Step",
                f"ob-add:{list_path}",
                lambda: self.state.add_child(list_path),
                description=f"Add a step at the end of {title.lower()}",
            )
        )
        return pn.Card(
            *rows,
            title=title,
            sizing_mode="stretch_width",
            css_classes=["orchestra-step-list", f"ob-list:{list_path}"],
        )

    def parallel(self, step: str, spec: FieldSpec, keys: tuple[Key, ...]) -> Any:
        errors = self.forms.slot(step, keys)
        return pn.Column(
            self.step_list(
                f"{step}.parallel",
                "Steps run at the same time",
                "Every step here starts together; the next step waits for all of them. "
                f"{html.escape(ON_ERROR)}",
            ),
            errors,
            sizing_mode="stretch_width",
            margin=0,
        )

    def otherwise(self, step: str, spec: FieldSpec, keys: tuple[Key, ...]) -> Any:
        errors = self.forms.slot(step, keys)
        return pn.Column(
            self.step_list(
                f"{step}.otherwise",
                "Otherwise",
                "Run when no branch's condition is true (none: nothing runs).",
            ),
            errors,
            sizing_mode="stretch_width",
            margin=0,
        )

    def choice(self, step: str, spec: FieldSpec, keys: tuple[Key, ...]) -> Any:
        branches = self.state.value(step, keys) or []
        errors = self.forms.slot(step, keys)
        when = next(s for s in fields_of("Branch") if s.key == "when")
        cards: list[Any] = [
            _help(
                "The first branch whose condition is true runs its steps; the steps of the "
                "other branches are recorded as skipped."
            )
        ]
        for index, _branch in enumerate(branches):
            prefix: tuple[Key, ...] = (*keys, index)
            tools = pn.Row(
                _button("↑ Up", f"ob-branch-up:{index}", self._branch(step, index, -1), width=70),
                _button(
                    "↓ Down", f"ob-branch-down:{index}", self._branch(step, index, +1), width=80
                ),
                _button(
                    "Delete branch",
                    f"ob-branch-delete:{index}",
                    partial(self.state.delete_branch, step, index),
                    color="danger",
                    width=120,
                ),
                sizing_mode="stretch_width",
            )
            cards.append(
                pn.Card(
                    self.forms.field_editor(step, when, prefix),
                    self.step_list(f"{step}.choice[{index}].steps", f"Steps of branch {index + 1}"),
                    tools,
                    title=f"Branch {index + 1}",
                    sizing_mode="stretch_width",
                    css_classes=["orchestra-branch", f"ob-branch:{index}"],
                )
            )
        cards.append(
            _button(
                "+ Branch",
                "ob-add-branch",
                lambda: self.state.add_branch(step),
                description="Add a branch (a condition and its steps) after the last one",
            )
        )
        cards.append(errors)
        return pn.Column(*cards, sizing_mode="stretch_width", margin=0)

    def _branch(self, step: str, index: int, by: int) -> Callable[[], None]:
        return lambda: self.state.move_branch(step, index, by)

    def auth_steps(self, step: str, spec: FieldSpec, keys: tuple[Key, ...]) -> Any:
        errors = self.forms.slot(step, keys)
        return pn.Column(
            self.step_list(
                "auth." + format_path(keys[1:]),
                "Auth steps (obtain the token)",
                "They run in order, without auth, before the first request that needs the "
                "token (and again when it expires or a request answers 401). The token path "
                "reads their results as steps.&lt;name&gt;; they are also in the step tree "
                "under the plan settings.",
            ),
            errors,
            sizing_mode="stretch_width",
            margin=0,
        )

    def json_schema(self, step: str, spec: FieldSpec, keys: tuple[Key, ...]) -> Any:
        """A JSON Schema is nested by nature: the YAML box, not key/value rows."""
        return self.forms.field_editor(
            step, dataclasses.replace(spec, kind="yaml"), keys[:-1], generated=True
        )

    # -- compensation -----------------------------------------------------------------------

    def compensation(self, step: str, spec: FieldSpec, keys: tuple[Key, ...]) -> Any:
        current = self.state.value(step, keys)
        errors = self.forms.slot(step, keys)
        switch = pn.widgets.Checkbox(
            label="Undo this step if a later step fails",
            value=current is not None,
            css_classes=[f"ob-f:{field_key(step, keys)}", "orchestra-builder-field"],
        )

        def toggle(event: Any) -> None:
            if event.new:
                url = str(self.state.value(step, ("url",)) or "")
                self.state.set_value(step, keys, {"method": "DELETE", "url": url})
            else:
                self.state.set_value(step, keys, None)
            self.state.revision += 1  # its fields are drawn (or go)

        switch.param.watch(toggle, "value")
        parts: list[Any] = [
            _help(
                "Saga: the request that undoes this step. It is registered when this step "
                "succeeds and runs only if the run later fails or aborts — compensations run "
                "newest first, each with this step's scope (<code>response</code> is this "
                "step's last response, e.g. <code>DELETE {config.base_url}/orders/"
                "{response.body.id}</code>)."
            ),
            switch,
        ]
        if isinstance(current, dict):
            specs = fields_of("Compensation")
            request = [s for s in specs if s.key in REQUEST_FIELDS]
            rest = [s for s in specs if s.key not in REQUEST_FIELDS]
            parts.extend(self.forms.fields(step, request, keys))
            parts.append(
                pn.Card(
                    *self.forms.fields(step, rest, keys),
                    title="More compensation fields (retry, timeout…)",
                    collapsed=True,
                    sizing_mode="stretch_width",
                )
            )
        parts.append(errors)
        return pn.Column(*parts, sizing_mode="stretch_width", margin=0)

    def _summarize(self, *events: Any) -> None:
        """Each drawn rule's line in words follows its fields as they are typed."""
        rules = self.state.plan.get("rate_limits") or []
        for index, pane in self._summaries:
            if index < len(rules):
                pane.object = _summary_text(rules[index])

    # -- rate limits ------------------------------------------------------------------------

    def rate_limits(self, step: str, spec: FieldSpec, keys: tuple[Key, ...]) -> Any:
        rules = self.state.value(step, keys) or []
        errors = self.forms.slot(step, keys)
        self._summaries = []
        scopes = "".join(
            f"<li><b>{name}</b>: {html.escape(text)}</li>" for name, text in SCOPES.items()
        )
        parts: list[Any] = [
            _help(
                "Each rule allows at most <b>requests</b> requests in any <b>window</b> of that "
                "many <b>seconds</b> (a sliding window): 10 per 1 s is 10 requests a second, "
                "100 per 60 s is 100 a minute. A request that would wait longer than <b>max "
                "wait</b> seconds fails instead. Rules apply highest priority first. Scope:"
                f"<ul style='margin:2px 0'>{scopes}</ul>Headers the API sends "
                "(X-RateLimit-*, a 429's Retry-After) pause the host on top of these."
            )
        ]
        specs = [
            dataclasses.replace(s, title=RATE_UNITS.get(s.key, s.title))
            for s in fields_of("RateLimit")
        ]
        for index, rule in enumerate(rules):
            prefix: tuple[Key, ...] = (*keys, index)
            summary = _help(html.escape(rate_summary(rule)))
            self._summaries.append((index, summary))
            parts.append(
                pn.Card(
                    summary,
                    *self.forms.fields(step, specs, prefix),
                    _button(
                        "Delete rule",
                        f"ob-rate-delete:{index}",
                        partial(self.state.delete_item, step, keys, index),
                        color="danger",
                    ),
                    title=f"Rule {index + 1}",
                    sizing_mode="stretch_width",
                    css_classes=["orchestra-rate-rule", f"ob-rate:{index}"],
                )
            )
        parts.append(
            _button(
                "+ Rate limit",
                "ob-add-rate",
                lambda: self.state.add_item(
                    step, keys, {"requests": 10, "window_secs": 1, "scope": "per_config"}
                ),
                width=130,
            )
        )
        parts.append(errors)
        return pn.Column(*parts, sizing_mode="stretch_width", margin=0)


def _summary_text(rule: Any) -> str:
    return f"<div style='{HELP}'>{html.escape(rate_summary(rule))}</div>"


def rate_summary(rule: Any) -> str:
    """A rule in words: ``10 requests per 1 s (10/s) · one window for the run…``."""
    if not isinstance(rule, dict):
        return ""
    requests, window = rule.get("requests"), rule.get("window_secs")
    scope = str(rule.get("scope") or "per_config")
    try:
        rate = float(requests) / float(window)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError):
        speed = ""
    else:
        per_minute = float(window) >= 60  # type: ignore[arg-type]
        speed = f" ({rate * 60:.3g}/min)" if per_minute else f" ({rate:.3g}/s)"
    return f"{requests} requests per {window} s{speed} · {SCOPES.get(scope, scope)}"
