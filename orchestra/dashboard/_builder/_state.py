"""The builder's state: the plan being edited, its problems, the selection and the last try.

One ``param`` object, like the dashboard's: the forms, the YAML view, the
step tree and the "Try it" views watch it, and tests drive it directly. The
plan is kept as the JSON a user writes; every edit re-validates it with the
loader (:func:`orchestra.plan.load_plan`), so the problems shown are the
loader's own messages with their plan paths and fixes. A plan with problems
can be saved as a draft but not exported.

Where the plan comes from and goes to is a :class:`PlanBinding`: a plan file
(:class:`FileBinding`, saved on request) or, in a notebook, the kernel's
current flow (saved after every edit that leaves the plan valid).
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import param
import yaml

from orchestra.dashboard._builder import _complete, _io, _plan_edit, _yaml_keep
from orchestra.dashboard._builder._plan_edit import Key
from orchestra.errors import ExpressionSyntaxError, OrchestraError, PlanError, PlanIssue
from orchestra.expressions import compile_expression, compile_template
from orchestra.masking import Masker, env_reference
from orchestra.plan import decode_plan, load_plan, parse_text

logger = logging.getLogger("orchestra.dashboard")

EMPTY_PLAN: dict[str, Any] = {
    "key": "new-flow",
    "config": {"base_url": "http://127.0.0.1:8765"},
    "steps": [{"name": "step_1", "url": "{config.base_url}/items"}],
}

BODY_RELATIVE = frozenset(
    {"records", "next_path", "cursor_path", "total_path", "total_pages_path", "has_more_path"}
)
"""Fields whose JMESPath reads a page's body rather than the step's whole scope."""

PARENT_SCOPE = frozenset({"iterate_over"})
"""Fields of a sub-step evaluated on its parent's response."""

TEMPLATE_FIELDS = frozenset({"url", "token_url"})
"""Fields holding a ``{…}`` template: a clicked path is inserted as ``{path}``."""

EXPRESSION_FIELDS = frozenset(
    {"while", "break_when", "abort_when", "retry_when", "next_url", "when", "iterate_over"}
)
"""Fields holding a JMESPath expression (with those ending in ``_path`` or ``_when``)."""


def completes(field: str) -> bool:
    """Whether the field at key ``field`` takes an expression or template (completion)."""
    last = re.sub(r"\[\d+\]$", "", field.rsplit(".", 1)[-1])
    return last in EXPRESSION_FIELDS | BODY_RELATIVE | TEMPLATE_FIELDS or last.endswith(
        ("_path", "_when")
    )


RECORDS_SHOWN = 500


class PlanBinding(Protocol):
    """Where the edited plan lives: a file, or a notebook's current flow."""

    live: bool  # True: every valid edit is written at once; False: on save

    @property
    def label(self) -> str: ...

    def read(self) -> dict[str, Any] | None: ...

    def write(self, plan: dict[str, Any]) -> None: ...

    def environ(self) -> Mapping[str, str]: ...

    def keep_secret(self, name: str, value: str) -> None: ...


class FileBinding:
    """A plan file: read when opened, written by save (JSON or YAML by its suffix)."""

    live = False

    def __init__(self, path: str | Path | None = None, *, keep_file: bool = True) -> None:
        self.path = Path(path) if path else None
        self.secrets: dict[str, str] = {}  # imported secret values: in memory, never saved
        # saving over the file keeps its comments and formatting (False: "Save as" over
        # another file, whose comments are about another plan)
        self.keep_file = keep_file

    @property
    def label(self) -> str:
        return str(self.path) if self.path else "unsaved plan"

    def read(self) -> dict[str, Any] | None:
        if self.path is None or not self.path.exists():
            return None
        text = decode_plan(self.path.read_bytes(), source=str(self.path))
        data = parse_text(text, source=str(self.path))
        return data if isinstance(data, dict) else None

    def write(self, plan: dict[str, Any]) -> None:
        """Write ``plan``; over a YAML file someone wrote, its comments, order, quotes and
        indentation stay wherever the plan did not change (see ``_yaml_keep``)."""
        if self.path is None:
            raise ValueError("choose a file to save to (Save as)")
        text = None
        if self.keep_file and self.path.suffix.lower() != ".json" and self.path.is_file():
            original = self.path.read_text(encoding="utf-8")
            text = _yaml_keep.updated_yaml(original, plan)
        self.path.write_text(
            text if text is not None else plan_text(plan, self.path.suffix), encoding="utf-8"
        )

    def environ(self) -> Mapping[str, str]:
        import os

        return {**os.environ, **self.secrets}

    def keep_secret(self, name: str, value: str) -> None:
        self.secrets[name] = value


def plan_text(plan: dict[str, Any], suffix: str = ".yaml") -> str:
    if suffix.lower() == ".json":
        return json.dumps(plan, indent=2) + "\n"
    return _plan_edit.plan_yaml(plan)


def issue_step_and_field(issue: PlanIssue, step_paths: list[str]) -> tuple[str, str]:
    """Which step (plan path, '' for the plan's settings) and field an issue is about."""
    path = issue.path.split(" (step ", 1)[0]
    owner = ""
    for candidate in step_paths:
        if (path == candidate or path.startswith(candidate + ".")) and len(candidate) > len(owner):
            owner = candidate
    rest = path[len(owner) :].lstrip(".") if owner else path
    return owner, rest


class ExportBlocked(OrchestraError):
    """The plan has problems: it can be saved as a draft, not exported."""


class BuilderState(param.Parameterized):
    """The edited plan and everything the builder's views show about it."""

    plan = param.Dict(default={}, doc="The plan as written (JSON data).")
    revision = param.Integer(default=0, doc="Counts replacements of the whole plan (forms redraw).")
    yaml_text = param.String(default="", doc="The plan as YAML, as the YAML view shows it.")
    yaml_error = param.String(default="", doc="Why the YAML view's text is not a plan.")
    issues = param.List(default=[], item_type=PlanIssue, doc="The loader's problems.")
    selected = param.String(default="", doc="Plan path of the selected step ('' = settings).")
    focused = param.String(default="", doc="Key of the form field that had focus last.")
    dirty = param.Boolean(default=False, doc="Changed since the last save.")
    message = param.String(default="", doc="What the last action did.")
    flow_changed = param.String(
        default="", doc="Why the plan shown is not the flow's: it changed under a draft."
    )
    error = param.String(default="", doc="Why the last action failed.")

    max_pages = param.Integer(
        default=_io.Caps.max_pages, bounds=(1, None), doc="Pages per step in a try."
    )
    max_fanout_items = param.Integer(
        default=_io.Caps.max_fanout_items, bounds=(1, None), doc="Items of a fanout in a try."
    )
    max_records = param.Integer(
        default=_io.Caps.max_records, bounds=(1, None), doc="Records per step in a try."
    )
    try_scope: param.Selector = param.Selector(
        default="flow up to this step",
        objects=["flow up to this step", "this step only"],
        doc="Run the flow up to the selected step, or that step alone.",
    )
    running = param.Boolean(default=False, doc="A try is running.")
    run_id = param.String(default=None, allow_None=True, doc="The last try's run.")
    partial = param.String(default="", doc="Why the last try stopped early ('' = it did not).")
    try_summary = param.String(default="", doc="Status, requests, records and time of the try.")
    records = param.DataFrame(default=None, allow_None=True, doc="Records of the selected step.")
    response = param.Parameter(default=None, doc="Body of the last response the tree shows.")
    response_label = param.String(default="", doc="Whose response the tree shows.")
    expression = param.String(default="", doc="The playground's expression.")
    expression_result = param.String(default="", doc="Its value on the last response.")
    completions = param.List(default=[], doc="Texts completing the focused field's expression.")

    def __init__(
        self,
        plan: dict[str, Any] | None = None,
        *,
        binding: PlanBinding | None = None,
        db: str | Path | None = None,
        **params: Any,
    ):
        super().__init__(**params)
        self.binding: PlanBinding = binding if binding is not None else FileBinding()
        from orchestra._run import default_db

        self.db = str(db if db is not None else default_db())
        self._records: list[tuple[str, Any]] = []  # (step path, masked record) of the last try
        self.masker = Masker()  # the secrets typed in here: masks the builder's messages
        self.param.watch(self._on_expression, ["expression", "response"])
        self.param.watch(self._on_selected, ["selected"])
        self.param.watch(self._on_focused, ["focused"])
        self.param.watch(self._on_expression, ["focused"])
        if plan is None:
            plan = self.binding.read()
        self.replace(plan if plan is not None else copy.deepcopy(EMPTY_PLAN), dirty=False)
        watch = getattr(self.binding, "watch", None)
        if watch is not None:  # a notebook flow: a %%flow cell's step shows up by itself
            watch(self._binding_changed)

    # -- the plan as a whole ----------------------------------------------------------------

    def replace(self, plan: dict[str, Any], *, dirty: bool = True, write: bool = True) -> None:
        """Edit another plan (from a file, a template, the YAML view or the flow)."""
        plan = _plan_edit.normalized(plan)
        paths = [path for path, _, _ in _plan_edit.all_steps(plan)]
        selected = self.selected if self.selected in paths else (paths[0] if paths else "")
        self.param.update(
            plan=plan,
            revision=self.revision + 1,
            yaml_text=_plan_edit.plan_yaml(plan),
            yaml_error="",
            selected=selected,
            dirty=dirty,
        )
        self.validate()
        if write and dirty:
            self._write_live()

    def refresh(self, *, force: bool = False) -> None:
        """Read the plan again from where it lives (a flow changed by a ``%%flow`` cell).

        An unsaved draft (edits with problems, which the flow never got) is not dropped:
        the draft stays and ``flow_changed`` says the flow moved on under it; ``force``
        (the "Reload from flow" button) takes the flow's plan anyway.
        """
        plan = self.binding.read()
        if plan is None or _plan_edit.normalized(plan) == self.plan:
            self.flow_changed = ""
            return
        if self.dirty and not force:
            take = (
                "press “Reload from flow” to show the flow instead"
                if getattr(self.binding, "watch", None) is not None
                else "open the file again to show it instead"
            )
            self.flow_changed = (
                f"{self.binding.label} changed while this draft has unsaved changes "
                f"({len(self.issues)} problem(s)): the draft is kept; {take} (the draft "
                "is dropped)"
            )
            return
        self.replace(plan, dirty=False, write=False)
        self.flow_changed = ""

    def _binding_changed(self) -> None:
        """The binding's plan changed outside the builder (a ``%flow`` command ran)."""
        if getattr(self.binding, "watch", None) is not None:  # still that flow, not a file
            self.refresh()

    def set_yaml(self, text: str) -> None:
        """The YAML view was edited: the plan follows when the text is a plan object."""
        try:
            data = parse_text(text, source="YAML view")
        except PlanError as error:
            self.yaml_error = str(error)
            return
        if not isinstance(data, dict):
            self.yaml_error = "the YAML view must hold a plan object (key:, steps:)"
            return
        self.replace(data)

    def validate(self) -> list[PlanIssue]:
        """Check the plan as the loader does; the problems land in ``issues``."""
        try:
            load_plan(copy.deepcopy(self.plan))
        except PlanError as error:
            self.issues = list(error.issues)
        except ExpressionSyntaxError as error:  # defensive: compile reports these as issues
            self.issues = [PlanIssue(error.path, str(error))]
        else:
            self.issues = []
        return self.issues

    def step_paths(self) -> list[str]:
        return [path for path, _, _ in _plan_edit.all_steps(self.plan)]

    def issues_at(self, step: str, field: str | None = None) -> list[PlanIssue]:
        """The issues of one step ('' = the settings), or of one field of it."""
        paths = self.step_paths()
        found = []
        for issue in self.issues:
            owner, rest = issue_step_and_field(issue, paths)
            if owner != step:
                continue
            if (
                field is None
                or rest == field
                or rest.startswith(field + ".")
                or (rest.startswith(field + "["))
            ):
                found.append(issue)
        return found

    # -- edits ------------------------------------------------------------------------------

    def value(self, step: str, keys: tuple[Key, ...]) -> Any:
        base = _plan_edit.parse_path(step) if step else []
        return _plan_edit.get_in(self.plan, [*base, *keys])

    def set_value(self, step: str, keys: tuple[Key, ...], value: Any) -> None:
        """Set one field of a step ('' = the plan's settings); None removes it."""
        plan = copy.deepcopy(self.plan)
        base = _plan_edit.parse_path(step) if step else []
        _plan_edit.set_in(plan, [*base, *keys], value)
        structural = keys and (
            keys[0] in ("name", "sub_steps")
            or (len(keys) == 1 and keys[0] in ("parallel", "choice", "otherwise"))
        )
        self._edited(plan, redraw=bool(structural))

    def _edited(self, plan: dict[str, Any], *, redraw: bool, select: str | None = None) -> None:
        updates: dict[str, Any] = {
            "plan": plan,
            "yaml_text": _plan_edit.plan_yaml(plan),
            "yaml_error": "",
            "dirty": True,
        }
        if redraw:
            updates["revision"] = self.revision + 1
        if select is not None:
            updates["selected"] = select
        self.param.update(**updates)
        self.validate()
        self._write_live()

    def _structure(self, edit: Any) -> None:
        plan = copy.deepcopy(self.plan)
        try:
            select = edit(plan)
        except (ValueError, IndexError, KeyError, TypeError) as error:
            self.error = f"cannot change the steps: {error}"
            return
        self._edited(plan, redraw=True, select=select or "")

    def add_step(self) -> None:
        """A new step after the selected one, among its siblings (a root step, a sub-step,
        a step of a parallel group, a choice branch or the auth flow); at the end of the
        root steps when nothing is selected."""
        after = self.selected or None
        self._structure(lambda plan: _plan_edit.add_step(plan, after))

    def add_control(self, kind: str) -> None:
        """A new parallel group (``parallel``) or choice (``choice``) after the selected step."""
        after = self.selected or None
        self._structure(lambda plan: _plan_edit.add_control(plan, after, kind))

    def add_child(self, list_path: str) -> None:
        """A new step at the end of a step list (a group's, a branch's, ``otherwise``,
        the auth flow's ``auth.steps``)."""
        self._structure(lambda plan: _plan_edit.add_child(plan, list_path))

    def add_branch(self, choice: str) -> None:
        self._structure(lambda plan: _plan_edit.add_branch(plan, choice))

    def delete_branch(self, choice: str, index: int) -> None:
        self._structure(lambda plan: _plan_edit.delete_branch(plan, choice, index))

    def move_branch(self, choice: str, index: int, by: int) -> None:
        self._structure(lambda plan: _plan_edit.move_branch(plan, choice, index, by))

    def add_item(self, step: str, keys: tuple[Key, ...], item: Any) -> None:
        """Append ``item`` to the list field at ``keys`` (a rate limit rule…)."""
        items = list(self.value(step, keys) or [])
        self.set_value(step, keys, [*items, copy.deepcopy(item)])
        self.revision += 1

    def delete_item(self, step: str, keys: tuple[Key, ...], index: int) -> None:
        items = list(self.value(step, keys) or [])
        del items[index]
        self.set_value(step, keys, items or None)
        self.revision += 1

    def keep_secret(self, name: str, value: str) -> None:
        """A secret typed into a password field: the value goes to the binding (the
        notebook's ``%flow secret`` store, or this session's memory) and to the masker;
        the plan holds only ``{env: NAME}``."""
        self.binding.keep_secret(name, value)
        self.masker.add(value, env_reference(name))

    def add_sub_step(self) -> None:
        """A new fanout sub-step under the selected step."""
        if not self.selected:
            self.error = "select the step that fans out first"
            return
        self._structure(lambda plan: _plan_edit.add_sub_step(plan, self.selected))

    def duplicate_step(self) -> None:
        if self.selected:
            self._structure(lambda plan: _plan_edit.duplicate_step(plan, self.selected))

    def delete_step(self) -> None:
        if self.selected:
            self._structure(lambda plan: _plan_edit.delete_step(plan, self.selected))

    def move_step(self, by: int) -> None:
        if self.selected:
            self._structure(lambda plan: _plan_edit.move_step(plan, self.selected, by))

    def import_steps(self, found: list[_io.ImportedStep]) -> None:
        """Add imported steps (from curl or HAR) after the last root step, with the config
        and auth they need; their secret values go to the binding's environment only."""
        notes: list[str] = []

        def add(plan: dict[str, Any]) -> str:
            first = ""
            config = plan.setdefault("config", {})
            for item in found:
                step = copy.deepcopy(item.step)
                name = str(step.get("name") or "")
                if not name or name in _plan_edit.step_names(plan):
                    step["name"] = _plan_edit.fresh_name(plan, name or "imported")
                plan.setdefault("steps", []).append(step)
                first = first or f"steps[{len(plan['steps']) - 1}]"
                for key, value in item.config.items():
                    if config.setdefault(key, copy.deepcopy(value)) != value:
                        notes.append(f"config.{key} kept as it was (the import had another)")
                if item.auth is not None:
                    if plan.get("auth") in (None, item.auth):
                        plan["auth"] = copy.deepcopy(item.auth)
                    else:
                        notes.append("the plan's auth kept (the import had another)")
                notes.extend(item.notes)
            return first

        for item in found:
            for name, value in item.secrets.items():
                self.binding.keep_secret(name, value)
        self._structure(add)
        secrets = sum(len(item.secrets) for item in found)
        kept = f"; {secrets} secret value(s) kept as {{env: NAME}}" if secrets else ""
        more = "; " + "; ".join(notes) if notes else ""
        self.message = f"imported {len(found)} step(s){kept}{more}"

    def _write_live(self) -> None:
        if not self.binding.live or self.issues:
            return
        try:
            self.binding.write(copy.deepcopy(self.plan))
        except Exception as error:
            logger.error("builder could not update %s", self.binding.label, exc_info=error)
            self.error = f"could not update {self.binding.label}: {error}"
        else:
            self.dirty = False

    # -- files and exports ------------------------------------------------------------------

    def open(self, path: str | Path) -> None:
        """Edit a plan file (JSON or YAML)."""
        binding = FileBinding(path)
        try:
            plan = binding.read()
        except PlanError as error:
            self.error = str(error)
            return
        if plan is None:
            self.error = f"plan file {str(path)!r} does not exist or holds no plan object"
            return
        binding.secrets = dict(getattr(self.binding, "secrets", {}))
        self.binding = binding
        self.replace(plan, dirty=False, write=False)
        self.param.update(error="", message=f"opened {path}")

    def save(self, path: str | Path | None = None) -> None:
        """Save to the plan file (``path``: save as). A plan with problems is saved as a draft."""
        if path is not None:
            current = getattr(self.binding, "path", None)
            same = current is not None and Path(path).resolve() == Path(current).resolve()
            binding = FileBinding(path, keep_file=same)
            binding.secrets = dict(getattr(self.binding, "secrets", {}))
            self.binding = binding
        try:
            self.binding.write(copy.deepcopy(self.plan))
        except (OSError, ValueError) as error:
            self.error = f"could not save: {error}"
            return
        draft = f" as a draft ({len(self.issues)} problems)" if self.issues else ""
        self.param.update(dirty=False, error="", message=f"saved {self.binding.label}{draft}")

    def export(self, fmt: str) -> str:
        """The plan as ``yaml``, ``json``, ``cells`` (``%%flow`` cells) or ``curl``."""
        if self.validate():
            raise ExportBlocked(
                f"the plan has {len(self.issues)} problem(s): fix them to export, or save a "
                "draft:\n" + "\n".join(str(issue) for issue in self.issues)
            )
        plan = copy.deepcopy(self.plan)
        if fmt == "yaml":
            return _plan_edit.plan_yaml(plan)
        if fmt == "json":
            return json.dumps(plan, indent=2) + "\n"
        if fmt == "cells":
            return "\n\n".join(_io.flow_cells(plan))
        if fmt == "curl":
            if not self.selected:
                raise ValueError("select the step to export as curl")
            return _io.step_curl(plan, _plan_edit.dotted_name(plan, self.selected))
        raise ValueError(f"unknown export format {fmt!r}: yaml, json, cells or curl")

    # -- trying the plan --------------------------------------------------------------------

    def try_plan(self) -> dict[str, Any]:
        """The plan a try runs: the flow up to the selected root step, or that step alone."""
        plan = copy.deepcopy(self.plan)
        steps = plan.get("steps") or []
        if self.selected:
            index = _plan_edit.root_index(self.selected)
            steps = [steps[index]] if self.try_scope == "this step only" else steps[: index + 1]
        plan["steps"] = steps
        return plan

    def try_it(self, *, full: bool = False) -> Any:
        """Run against the real API: capped (a try) or, with ``full``, the whole plan."""
        runner = self._start_try(full)
        if runner is None:
            return None
        from orchestra.engine import run_coroutine

        return self._finish_try(runner, full, lambda: run_coroutine(runner.run()))

    async def atry_it(self, *, full: bool = False, on_runner: Any = None) -> Any:
        """:meth:`try_it` on the running loop (a served page stays live while it runs);
        ``on_runner(runner)`` is called before the run starts (to follow its events)."""
        runner = self._start_try(full)
        if runner is None:
            return None
        if on_runner is not None:
            on_runner(runner)
        try:
            result = await runner.run()
        except Exception as error:
            return self._failed_try(error)
        return self._finish_try(runner, full, lambda: result)

    def _start_try(self, full: bool) -> Any:
        if self.running:
            return None
        if self.validate():
            self.error = "fix the problems shown before trying the plan"
            return None
        caps = None if full else _io.Caps(self.max_pages, self.max_fanout_items, self.max_records)
        plan = copy.deepcopy(self.plan) if full else self.try_plan()
        self.param.update(running=True, error="", message="running…")
        try:
            return _io.prepare(plan, caps, db=self.db, environ=dict(self.binding.environ()))
        except Exception as error:
            return self._failed_try(error)

    def _failed_try(self, error: BaseException) -> None:
        if not isinstance(error, OrchestraError):
            logger.error("builder try failed", exc_info=error)
        text = (
            str(error) if isinstance(error, OrchestraError) else f"{type(error).__name__}: {error}"
        )
        self.param.update(running=False, error=self.masker.text(text), message="")
        return None

    def _finish_try(self, runner: Any, full: bool, run: Any) -> Any:
        try:
            result = run()
        except Exception as error:
            return self._failed_try(error)
        masker = runner.masker
        partial = None if full else result.partial
        self._records = [(r.step_path, masker.value(r.data)) for r in result.records]
        status = str(getattr(result.status, "value", result.status))
        summary = (
            f"{status} · {result.requests:,} requests · {result.retries:,} retries · "
            f"{len(result.records):,} records · {result.duration_ms:,.0f} ms"
        )
        if result.error is not None:
            summary += f" · {masker.text(str(result.error))}"
        self.param.update(
            running=False,
            run_id=result.run_id,
            partial=f"partial: {partial}" if partial else "",
            try_summary=summary,
            message=f"{'run' if full else 'try'} {result.run_id} {status}",
        )
        self._show_step()
        return result

    def _on_selected(self, *events: param.parameterized.Event) -> None:
        self._show_step()

    def _on_focused(self, event: param.parameterized.Event) -> None:
        if (event.old in PARENT_SCOPE) != (event.new in PARENT_SCOPE):
            self._show_step()  # the tree shows the response the field reads

    def _show_step(self) -> None:
        """Records and last response of the selected step (its parent's if it has none)."""
        if self.run_id is None:
            return
        name = _plan_edit.dotted_name(self.plan, self.selected) if self.selected else ""
        rows = [data for path, data in self._records if not name or path == name]
        self.records = _frame(rows[:RECORDS_SHOWN])
        candidates = [name]
        while "." in candidates[-1]:
            candidates.append(candidates[-1].rsplit(".", 1)[0])
        if self.focused in PARENT_SCOPE and len(candidates) > 1:
            candidates = candidates[1:]  # iterate_over reads the parent's response
        for candidate in candidates:
            found = self._last_response(candidate) if candidate else None
            if found is not None:
                status, body = found
                self.param.update(
                    response=body, response_label=f"last response of {candidate} ({status})"
                )
                return
        self.param.update(response=None, response_label="")

    def _last_response(self, step_path: str) -> tuple[int, Any] | None:
        from orchestra.capture import CaptureStore

        if self.run_id is None:
            return None
        with CaptureStore(self.db).read() as reader:
            row = reader.last_response(self.run_id, step_path)
        if row is None:
            return None
        return int(row["status_code"]), row["body"]

    # -- point and click --------------------------------------------------------------------

    def path_for(self, tree_path: list[Any], field: str | None = None) -> str:
        """The JMESPath of a node of the response tree, for ``field`` (default: focused).

        Array positions become projections (``response.body.items[].id``); a
        field that reads the page body (``records``, ``*_path``) gets the path
        inside the body.
        """
        field = field if field is not None else self.focused
        parts: list[str] = [] if field.rsplit(".", 1)[-1] in BODY_RELATIVE else ["response", "body"]
        text = ".".join(parts)
        for part in tree_path:
            if isinstance(part, int):
                text += "[]"
            else:
                key = str(part)
                name = key if key.isidentifier() else json.dumps(key)
                text += f".{name}" if text else name
        return text or "@"

    def insert_path(self, tree_path: list[Any]) -> str | None:
        """Put the clicked path into the focused field; returns what was inserted."""
        if not self.focused:
            self.error = "click into a form field first, then on a field of the response"
            return None
        settings, keys = split_key(self.focused)
        step = "" if settings else self.selected
        expression = self.path_for(tree_path)
        if keys[-1] in TEMPLATE_FIELDS:
            current = self.value(step, keys) or ""
            expression = f"{current}{{{expression}}}"
        self.set_value(step, keys, expression)
        self.param.update(expression=expression, error="", revision=self.revision + 1)
        return expression

    def _on_expression(self, *events: param.parameterized.Event) -> None:
        self.expression_result = evaluate(self.expression, self.response, self.focused)
        found: list[str] = []
        if self.focused and completes(self.focused):
            found = _complete.complete(
                self.expression,
                plan=self.plan,
                response=self.response,
                body_relative=self.focused.rsplit(".", 1)[-1] in BODY_RELATIVE,
                template=self.focused.rsplit(".", 1)[-1] in TEMPLATE_FIELDS,
            )
        self.completions = found

    def apply_completion(self, text: str) -> None:
        """A completion was chosen: it becomes the focused field's value."""
        if not self.focused:
            return
        settings, keys = split_key(self.focused)
        self.set_value("" if settings else self.selected, keys, text)
        self.param.update(expression=text, revision=self.revision + 1)


def split_key(key: str) -> tuple[bool, tuple[Key, ...]]:
    """A form field's key (``@plan.auth.token``, ``choice[0].when``) as its parts."""
    if key.startswith("@plan."):
        return True, tuple(_plan_edit.parse_path(key[len("@plan.") :]))
    return False, tuple(_plan_edit.parse_path(key))


def evaluate(expression: str, body: Any, field: str = "") -> str:
    """The playground: ``expression`` on the last response (a template if it has ``{``).

    The text of a focused field that takes no expression (a header or param value, a
    config entry) is a template: plain text stays itself, its ``{…}`` parts are evaluated.
    """
    if not expression.strip():
        return ""
    if body is None:
        return "(no response yet: press Try it)"
    scope: Any = {"response": {"body": body}}
    if field.rsplit(".", 1)[-1] in BODY_RELATIVE:
        scope = body
    plain_field = bool(field) and not completes(field)
    try:
        if plain_field or ("{" in expression and not expression.lstrip().startswith(("{", "["))):
            value = compile_template(expression, path="playground").render(scope)
        else:
            value = compile_expression(expression, path="playground").search(scope)
    except OrchestraError as error:
        return f"error: {error}"
    text = json.dumps(value, indent=1, default=str)
    return text if len(text) < 4000 else text[:4000] + "…"


def _frame(rows: list[Any]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({"record": []})
    if all(isinstance(row, dict) for row in rows):
        frame = pd.json_normalize(rows, max_level=1)
    else:
        frame = pd.DataFrame({"record": rows})
    for column in frame.columns:  # Tabulator shows nested values as text
        if frame[column].map(lambda v: isinstance(v, dict | list)).any():
            frame[column] = frame[column].map(lambda v: json.dumps(v, default=str))
    return frame


def yaml_value(text: str) -> Any:
    """A form's YAML text as a value (``""`` is no value)."""
    return yaml.safe_load(text) if text.strip() else None
