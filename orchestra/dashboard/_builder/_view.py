"""``FlowBuilder``: the visual flow builder, one Panel component over a :class:`BuilderState`.

Left, the step tree (plan settings, steps, fanout sub-steps nested) with add,
sub-step, duplicate, delete and move. Middle, the selected step's forms,
grouped as a person thinks of a request (request, pagination, records, fanout,
retry, expectations, then every other field of the schema). Right, "Try it":
the caps, the run buttons, the partial flag, the last response as a tree
whose fields are clicked into the focused form field, and the expression
playground, with the try's flow graph under the Try it button (its colours
change as the try runs). Below: the try's steps, records and exchanges (the
dashboard's own views over the capture the try wrote), then the files and
exports and the YAML view (edited both ways).
"""

from __future__ import annotations

import asyncio
import html
import logging
from functools import partial
from pathlib import Path
from typing import Any, cast

import orjson
import panel as pn
import param
from panel.custom import JSComponent
from panel.viewable import Viewer

from orchestra.dashboard._ace_offline import with_ace_modules
from orchestra.dashboard._builder import _cells_below, _io, _layouts
from orchestra.dashboard._builder._forms import FormBuilder, field_key
from orchestra.dashboard._builder._plan_edit import all_steps, get_in, parse_path
from orchestra.dashboard._builder._schema import fields_of, step_model
from orchestra.dashboard._builder._state import (
    BuilderState,
    ExportBlocked,
    FileBinding,
    PlanBinding,
    completes,
    split_key,
)
from orchestra.dashboard._json_tree import JsonTree
from orchestra.dashboard._kernel_loop import handle_on_loop
from orchestra.dashboard._offline import keep_stylesheets_inline
from orchestra.errors import OrchestraError

logger = logging.getLogger("orchestra.dashboard")

TEMPLATES_DIR = Path(__file__).resolve().parents[3] / "templates"

STEP_SECTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("Request", ("name", "method", "url", "params", "headers", "body", "form")),
    ("Fanout", ("iterate_over", "concurrency", "fanout_emit_mode")),
    (
        "Pagination",
        ("paginate", "while", "break_when", "next_url", "page_state", "page_state_updates"),
    ),
    ("Records and extract", ("records", "extract", "context_updates", "emit", "incremental")),
    (
        "Retry and timing",
        ("retry", "retry_when", "abort_on", "ignore_on", "timeout_seconds", "delay_seconds"),
    ),
    ("Expectations", ("expect",)),
    ("Compensation (saga)", ("compensate",)),
]
SETTINGS_SECTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("Plan", ("key", "name", "description", "version", "integration", "config")),
    ("Auth", ("auth",)),
    ("Rate limits", ("rate_limits",)),
    ("Limits", ("limits", "circuit_breaker")),
]
POLL_SECONDS = 0.3  # how often the views read the capture while a try runs
HIDDEN = ("sub_steps", "step", "steps")  # edited through the step tree

_FOCUS_ESM = """
export function render({ model, el }) {
  const fieldIn = (nodes) => {
    for (const node of nodes) {
      if (!node || !node.classList) { continue; }
      for (const name of node.classList) {
        if (name.startsWith('ob-f:')) { return name.slice(5); }
      }
    }
    return null;
  };
  const activePath = () => {  // the focused element and its shadow hosts, innermost first
    const path = [];
    let active = document.activeElement;
    while (active) {
      path.push(active);
      active = active.shadowRoot ? active.shadowRoot.activeElement : null;
    }
    const found = [];
    for (const host of path.reverse()) {
      for (let node = host; node; node = node.parentNode || node.host) { found.push(node); }
    }
    return found;
  };
  const seen = (nodes) => {
    const field = fieldIn(nodes);
    if (field && field !== model.focused) { model.focused = field; }
  };
  // focus moves by click or by keyboard; headless browsers do not always send focusin
  document.addEventListener('focusin', (e) => seen(e.composedPath()), true);
  document.addEventListener('pointerdown', (e) => seen(e.composedPath()), true);
  document.addEventListener('keyup', (e) => { if (e.key === 'Tab') { seen(activePath()); } }, true);
  el.style.display = 'none';
}
"""


class FocusTracker(JSComponent):
    """Tells the server which builder field the browser's focus is in."""

    focused = param.String(default="", doc="Key of the focused field (ob-f:<key>).")

    _esm = _FOCUS_ESM


class FlowBuilder(Viewer):
    """Build a flow with forms, try it against the real API, export it.

    >>> FlowBuilder("templates/quickstart.yaml")            # a plan file
    >>> FlowBuilder(state=BuilderState(binding=...))         # a notebook flow
    """

    state = cast(
        "param.ClassSelector[BuilderState]",
        param.ClassSelector(class_=BuilderState, doc="The edited plan and the last try."),
    )

    def __init__(
        self,
        plan: str | Path | dict[str, Any] | None = None,
        *,
        state: BuilderState | None = None,
        binding: PlanBinding | None = None,
        db: str | Path | None = None,
        **params: Any,
    ):
        if state is None:
            if isinstance(plan, str | Path):
                state = BuilderState(binding=FileBinding(plan), db=db)
            else:
                state = BuilderState(plan, binding=binding, db=db)
        super().__init__(state=state, **params)
        self._dashboard: Any = None
        self._tasks: set[asyncio.Task[None]] = set()  # inline tries running on the loop
        self._yaml_sent: list[str] = []  # texts the server put in the YAML editor
        self._expanded: dict[str, bool] = {}  # form section -> open, kept across redraws
        self.forms = FormBuilder(state, on_enter=self.start_try)
        _layouts.install(self.forms, self._select)
        self.focus = FocusTracker()
        self.focus.param.watch(lambda e: self._focus(e.new), "focused")
        self._build_widgets()
        state.param.watch(self._draw_tree, ["revision"])
        state.param.watch(self._draw_forms, ["revision", "selected"])
        state.param.watch(lambda e: self.forms.refresh_errors(), ["issues"])
        state.param.watch(
            self._draw_status, ["message", "error", "issues", "dirty", "running", "flow_changed"]
        )
        state.param.watch(self._draw_try, ["partial", "try_summary", "records", "run_id"])
        state.param.watch(self._draw_response, ["response", "response_label"])
        state.param.watch(self._draw_yaml, ["yaml_text", "yaml_error"])
        state.param.watch(self._draw_playground, ["expression", "expression_result", "focused"])
        state.param.watch(self._draw_completions, ["completions"])
        state.param.watch(self._forget_export_refusal, ["plan"])
        self._draw_tree()
        self._draw_forms()
        self._draw_status()
        self._draw_try()
        self._draw_response()
        self._draw_yaml()
        self._draw_playground()

    # -- widgets ----------------------------------------------------------------------------

    def _build_widgets(self) -> None:
        state = self.state
        button = {"margin": (4, 3), "sizing_mode": "stretch_width"}
        self.tree = pn.widgets.Select(
            label="Steps",
            options={},
            size=10,
            sizing_mode="stretch_width",
            css_classes=["orchestra-builder-tree"],
        )
        self.tree.param.watch(self._on_tree, "value")
        self.add = pn.widgets.Button(label="+ Step", **button)
        self.add_sub = pn.widgets.Button(label="+ Sub-step", **button)
        self.duplicate = pn.widgets.Button(label="Duplicate", **button)
        self.delete = pn.widgets.Button(label="Delete", color="danger", **button)
        self.up = pn.widgets.Button(label="↑ Up", **button)
        self.down = pn.widgets.Button(label="↓ Down", **button)
        self.add_parallel = pn.widgets.Button(
            label="+ Parallel", description="A group of steps run at the same time", **button
        )
        self.add_choice = pn.widgets.Button(
            label="+ Choice", description="Branches: the first whose condition holds", **button
        )
        self.add_parallel.on_click(lambda e: state.add_control("parallel"))
        self.add_choice.on_click(lambda e: state.add_control("choice"))
        self.add.on_click(lambda e: state.add_step())
        self.add_sub.on_click(lambda e: state.add_sub_step())
        self.duplicate.on_click(lambda e: state.duplicate_step())
        self.delete.on_click(lambda e: state.delete_step())
        self.up.on_click(lambda e: state.move_step(-1))
        self.down.on_click(lambda e: state.move_step(+1))
        self.form_area = pn.Column(sizing_mode="stretch_width", css_classes=["orchestra-forms"])
        self.status = pn.pane.HTML(
            "", sizing_mode="stretch_width", css_classes=["orchestra-builder-status"]
        )
        self.problems = pn.pane.HTML(
            "", sizing_mode="stretch_width", css_classes=["orchestra-builder-problems"]
        )

        caps = {"sizing_mode": "stretch_width", "start": 1}
        self.caps = [
            pn.widgets.IntInput.from_param(
                state.param[name], label=label, css_classes=[f"orchestra-cap-{name}"], **caps
            )
            for name, label in (
                ("max_pages", "Max pages per step"),
                ("max_fanout_items", "Max fanout items"),
                ("max_records", "Max records"),
            )
        ]
        self.scope = pn.widgets.RadioButtonGroup.from_param(state.param.try_scope, label="")
        self.try_button = pn.widgets.Button(
            label="▶ Try it (Enter)",
            color="primary",
            sizing_mode="stretch_width",
            css_classes=["orchestra-try"],
        )
        self.full_button = pn.widgets.Button(
            label="Run whole flow (no caps)", sizing_mode="stretch_width"
        )
        self.try_button.on_click(lambda e: self.start_try())
        self.full_button.on_click(lambda e: self.start_try(full=True))
        self.partial = pn.pane.HTML(
            "", css_classes=["orchestra-partial"], sizing_mode="stretch_width"
        )
        self.summary = pn.pane.HTML(
            "", css_classes=["orchestra-try-summary"], sizing_mode="stretch_width"
        )
        self.response_title = pn.pane.HTML("", sizing_mode="stretch_width")
        self.response_tree = JsonTree(
            {},
            pickable=True,
            sizing_mode="stretch_width",
            css_classes=["orchestra-builder-response"],
        )
        self.response_tree.param.watch(self._on_pick, "picked")
        self.playground = pn.widgets.TextInput(
            label="Expression playground",
            sizing_mode="stretch_width",
            description="Evaluates the focused field's expression on the last response as you "
            "type.",
            css_classes=["orchestra-playground"],
        )
        self.playground.param.watch(lambda e: setattr(state, "expression", e.new), "value_input")
        self.playground_result = pn.pane.HTML(
            "", sizing_mode="stretch_width", css_classes=["orchestra-playground-result"]
        )
        self.completions = pn.Column(
            sizing_mode="stretch_width", margin=0, css_classes=["orchestra-completions"]
        )
        self.records_table = pn.widgets.Tabulator(
            None,
            disabled=True,
            show_index=False,
            pagination="local",
            page_size=20,
            sizing_mode="stretch_width",
            css_classes=["orchestra-builder-records"],
        )

        self.yaml = pn.widgets.CodeEditor(
            value=state.yaml_text,
            language="yaml",
            sizing_mode="stretch_width",
            height=360,
            css_classes=["orchestra-builder-yaml"],
        )
        self.yaml.param.watch(self._on_yaml, "value")
        self.yaml_problem = pn.pane.HTML("", sizing_mode="stretch_width")

        self.path = pn.widgets.TextInput(
            label="Plan file",
            value=self._file_name(),
            sizing_mode="stretch_width",
            css_classes=["orchestra-plan-path"],
        )
        self.open_button = pn.widgets.Button(label="Open", width=80)
        self.save_button = pn.widgets.Button(label="Save", width=80)
        self.save_as_button = pn.widgets.Button(label="Save as", width=90)
        self.template = pn.widgets.Select(
            label="Start from", options=self._templates(), sizing_mode="stretch_width"
        )
        self.start_button = pn.widgets.Button(label="Start", width=80)
        self.open_button.on_click(lambda e: state.open(self.path.value or ""))
        self.save_button.on_click(lambda e: state.save())
        self.save_as_button.on_click(lambda e: state.save(self.path.value))
        self.start_button.on_click(lambda e: self._start(self.template.value))
        self.export_format = pn.widgets.Select(
            label="Export as",
            options={
                "YAML": "yaml",
                "JSON": "json",
                "%%flow cells": "cells",
                "curl (selected step)": "curl",
            },
            sizing_mode="stretch_width",
        )
        self.export_button = pn.widgets.Button(label="Export", width=90)
        self.export_button.on_click(lambda e: self._export())
        self.export_problem = pn.pane.HTML(
            "",
            visible=False,
            sizing_mode="stretch_width",
            margin=(0, 10),
            css_classes=["orchestra-export-problem"],
        )
        self.output_mark = _cells_below.new_mark()  # finds the builder's cell in the notebook
        self.insert_cells_button = pn.widgets.Button(
            label="Insert as %%flow cells below",
            width=220,
            visible=_cells_below.inserter(state.binding) is not None,
            css_classes=["orchestra-insert-cells"],
        )
        self.insert_cells_button.on_click(lambda e: self._insert_cells_below())
        self.export_text = pn.widgets.TextAreaInput(
            label="Exported",
            value="",
            rows=8,
            sizing_mode="stretch_width",
            css_classes=["orchestra-export-text"],
        )
        self.import_text = pn.widgets.TextAreaInput(
            label="Import curl or HAR",
            placeholder="curl 'https://…' -H 'Accept: …'",
            rows=4,
            sizing_mode="stretch_width",
        )
        self.import_button = pn.widgets.Button(label="Import as step", width=130)
        self.import_button.on_click(lambda e: self._import())
        self.refresh_button = pn.widgets.Button(
            label="Reload from flow",
            width=150,
            description="Show the notebook's flow as it is now (an unsaved draft is dropped)",
            css_classes=["orchestra-reload-flow"],
        )
        self.refresh_button.on_click(lambda e: state.refresh(force=True))
        self.flow_changed = pn.pane.HTML(
            "", visible=False, sizing_mode="stretch_width", css_classes=["orchestra-flow-changed"]
        )
        self.results = pn.Column(
            sizing_mode="stretch_width", css_classes=["orchestra-builder-results"]
        )
        # the try's flow graph, in the Try column under the button: its colours change as
        # the try runs, where the person who pressed Try it is looking
        self.live = pn.Column(
            sizing_mode="stretch_width", visible=False, css_classes=["orchestra-builder-live"]
        )

    def _file_name(self) -> str:
        path = getattr(self.state.binding, "path", None)
        return str(path) if path else ""

    @staticmethod
    def _templates() -> dict[str, str]:
        found = {"empty plan": ""}
        if TEMPLATES_DIR.is_dir():
            for path in sorted(TEMPLATES_DIR.glob("*.y*ml")) + sorted(TEMPLATES_DIR.glob("*.json")):
                found[path.name] = str(path)
        return found

    # -- actions ----------------------------------------------------------------------------

    def start_try(self, full: bool = False) -> None:
        """What a click on Try it (or Enter in a field) does: a try the views follow live.

        On a served page it goes on the server's loop (under the document's lock). In a
        notebook, where the clicks are handled on the kernel's loop, it goes on that loop
        as a task: the click returns at once and the views change as the run goes,
        pushed over the output's comm. Anywhere else it runs to its end here.
        """
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            pn.state.execute(partial(self._try_live, full))
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.try_it(full=full)
            return
        if self.state.running:
            return
        task = loop.create_task(self._try_inline(full))
        self._tasks.add(task)  # kept until done: the loop holds tasks weakly
        task.add_done_callback(self._tasks.discard)

    async def _try_inline(self, full: bool) -> None:
        """A try on the kernel's loop, the dashboard views polling the capture as it goes."""
        dashboard = self._views_for_a_try()
        if dashboard is None:
            return
        run = asyncio.ensure_future(
            self.state.atry_it(full=full, on_runner=lambda r: dashboard.attach(r.bus))
        )
        try:
            while not run.done():
                await asyncio.wait({run}, timeout=POLL_SECONDS)
                await dashboard.poll()
        finally:
            dashboard.follow_latest = False
        result = run.result()
        if result is not None:
            self._show_run(result.run_id)

    def try_it(self, *, full: bool = False) -> Any:
        """Run the flow up to the selected step with the caps (``full``: everything, no caps).

        On a served page the run goes on the server's loop and the flow graph, steps
        (retries included) and pages follow it live; elsewhere it runs to its end here.
        """
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            pn.state.execute(partial(self._try_live, full))
            return None
        result = self.state.try_it(full=full)
        if result is not None:
            self._show_run(result.run_id)
        return result

    async def _try_live(self, full: bool) -> None:
        dashboard = self._views_for_a_try()
        if dashboard is None:
            return
        callback = pn.state.add_periodic_callback(dashboard.poll, period=300)
        try:
            result = await self.state.atry_it(
                full=full, on_runner=lambda r: dashboard.attach(r.bus)
            )
        finally:
            callback.stop()
            dashboard.follow_latest = False
        if result is not None:  # Bokeh models change under the document's lock only
            pn.state.execute(partial(self._show_run, result.run_id), schedule=True)

    def _views_for_a_try(self) -> Any:
        """The result views, shown and following the try's run once it is written.

        Returns their :class:`DashboardState`, or ``None`` (the error shown) when the
        capture cannot be read."""
        try:
            self._results_views()
        except Exception as error:
            self.state.error = f"could not read the capture {self.state.db}: {error}"
            return None
        dashboard = self._dashboard
        dashboard.follow_latest = True
        self._show_results(True)
        return dashboard

    def _results_views(self) -> None:
        """The dashboard's own views over the capture the tries write, built once with the
        page (Panel resolves their stylesheets only when a page is rendered)."""
        from orchestra.dashboard._graph import FlowGraph
        from orchestra.dashboard._inspector import ExchangeInspector
        from orchestra.dashboard._state import DashboardState
        from orchestra.dashboard._steps import StepTable

        if self._dashboard is not None:
            return
        dashboard = DashboardState(self.state.db, follow_latest=False)
        dashboard.batch = pn.io.hold  # one consistent update per read, as in the dashboard
        dashboard.run_id = self.state.run_id
        self._dashboard = dashboard
        self.live[:] = [
            pn.Card(
                # narrower than the 400 px Try column: a wider graph scrolls inside its card
                FlowGraph(state=dashboard, model_name="builder-flow-graph", max_width=360),
                title="Flow graph",
                collapsible=True,
                sizing_mode="stretch_width",
            )
        ]
        self.results[:] = [
            pn.Card(
                StepTable(state=dashboard),
                title="Steps (retries, pages, timings)",
                sizing_mode="stretch_width",
            ),
            pn.pane.HTML("<h4 style='margin:4px 0'>Records of the selected step</h4>"),
            self.records_table,
            pn.Card(
                ExchangeInspector(state=dashboard),
                title="Pages: requests and responses",
                sizing_mode="stretch_width",
            ),
        ]
        self._show_results(self.state.run_id is not None)

    def _show_results(self, shown: bool) -> None:
        self.results.visible = shown
        self.live.visible = shown

    def _show_run(self, run_id: str) -> None:
        try:
            self._results_views()
            self._dashboard.reload_runs()
            self._dashboard.select_run(run_id)
            self._show_results(True)
        except Exception as error:  # the try ran; only its views failed
            logger.error("builder could not show run %s", run_id, exc_info=error)
            self.state.error = f"could not show run {run_id}: {error}"

    def _start(self, template: str) -> None:
        if template:
            self.state.open(template)
            self.state.binding = FileBinding()  # saved as a new file, not over the template
            self.path.value = ""
        else:
            from orchestra.dashboard._builder._state import EMPTY_PLAN

            self.state.replace(EMPTY_PLAN)

    def _export(self) -> None:
        """Export into the box; a refusal (the plan has problems) is said under the button,
        where the person who clicked it is looking, not only in the status line above."""
        try:
            self.export_text.value = self.state.export(self.export_format.value)
        except ExportBlocked as error:
            self.export_text.value = ""
            self._export_refused(str(error))
            self.state.param.update(error="", message="export refused: the plan has problems")
        except (OrchestraError, ValueError) as error:
            self._export_refused(str(error))
            self.state.error = str(error)
        else:
            self.export_problem.param.update(object="", visible=False)
            self.state.param.update(error="", message="exported")

    def _forget_export_refusal(self, *events: param.parameterized.Event) -> None:
        """The plan changed: a refusal shown for the plan as it was no longer holds."""
        if self.export_problem.visible:
            self.export_problem.param.update(object="", visible=False)

    def _export_refused(self, reason: str) -> None:
        self.export_problem.param.update(
            object="<div role='alert' style='color:#d93025;font-size:12px'><b>Export refused</b>"
            f"<pre style='white-space:pre-wrap;margin:2px 0'>{html.escape(reason)}</pre></div>",
            visible=True,
        )

    def _insert_cells_below(self) -> None:
        """Export as ``%%flow`` cells into the box and ask the notebook to insert them below
        the builder's cell (JupyterLab with Orchestra's extension; elsewhere the box stays)."""
        self.export_format.value = "cells"
        self._export()
        if self.state.error or not self.export_text.value:
            return
        insert = _cells_below.inserter(self.state.binding)
        cells = _io.flow_cells(self.state.plan)
        if insert is None or not insert(self.output_mark, cells, self._cells_inserted):
            self.state.message = "exported: inserting cells needs the builder inline in a notebook"
            return
        self.state.message = f"exported {len(cells)} cells; asking the notebook to insert them…"

    def _cells_inserted(self, message: str) -> None:
        self.state.message = message

    def _import(self) -> None:
        text = (self.import_text.value or "").strip()
        if not text:
            return
        try:
            found = _io.import_request(text)
        except OrchestraError as error:
            self.state.error = f"could not import: {error}"
            return
        self.state.import_steps(found)
        self.import_text.value = ""

    def _select(self, path: str) -> None:
        self.state.selected = path

    def _focus(self, key: str) -> None:
        """A field got focus: the playground takes its text (empty when it holds no text,
        never the text of the field focused before)."""
        self.state.focused = key
        settings, keys = split_key(key)
        step = "" if settings else self.state.selected
        value = self.state.value(step, keys)
        self.state.expression = value if isinstance(value, str) else ""

    def _on_pick(self, event: param.parameterized.Event) -> None:
        if not event.new:
            return
        path, _ = orjson.loads(event.new)
        self.state.insert_path(list(path))

    def _on_tree(self, event: param.parameterized.Event) -> None:
        if event.new is not None and event.new != self.state.selected:
            self.state.selected = event.new

    def _on_yaml(self, event: param.parameterized.Event) -> None:
        # the browser echoes texts the server put in the editor, possibly after newer edits:
        # only a text the server never sent is the user's
        if event.new != self.state.yaml_text and event.new not in self._yaml_sent:
            self.state.set_yaml(event.new)

    # -- drawing ----------------------------------------------------------------------------

    def _draw_tree(self, *events: param.parameterized.Event) -> None:
        options = {"⚙ Plan settings (auth, config, limits)": ""}
        for path, depth, step in all_steps(self.state.plan):
            kind = step_model(step, nested=".sub_steps[" in path)
            mark = {"ParallelStep": "⇉ ", "ChoiceStep": "◇ "}.get(kind, "")
            if path.startswith("auth."):
                mark = "🔑 auth: " if depth == 1 else mark
            elif ".choice[" in path and path.endswith(".steps[0]"):
                mark = f"if branch {int(parse_path(path)[-3]) + 1}: "
            elif path.endswith(".otherwise[0]"):
                mark = "otherwise: "
            indent = "\u00a0\u00a0\u00a0" * depth + ("└ " if depth else "")
            method = step.get("method", "GET") if kind in ("HttpStep", "SubStep") else ""
            label = f"{indent}{mark}{step.get('name') or path} {method}".rstrip()
            options[label] = path
        self.tree.param.update(options=options, value=self.state.selected)

    def _draw_forms(self, *events: param.parameterized.Event) -> None:
        state = self.state
        self.forms.slots.clear()
        kept = state.focused

        self.tree.value = state.selected
        if not state.selected:
            sections = SETTINGS_SECTIONS
            specs = {spec.key: spec for spec in fields_of("Plan", skip=HIDDEN)}
            step = ""
            title = "Plan settings"
        else:
            step = state.selected
            data = get_in(state.plan, parse_path(step)) or {}
            parts = parse_path(step)
            nested = len(parts) > 1 and parts[-2] == "sub_steps"
            model = step_model(data, nested=nested)
            specs = {spec.key: spec for spec in fields_of(model, skip=HIDDEN)}
            sections = STEP_SECTIONS if model in ("HttpStep", "SubStep") else []
            title = f"Step {data.get('name') or step}"
        cards: list[Any] = [pn.pane.HTML(f"<h3 style='margin:4px 0'>{html.escape(title)}</h3>")]
        shown: set[str] = set()
        for name, keys in sections:
            present = [specs[key] for key in keys if key in specs]
            if not present:
                continue
            shown.update(spec.key for spec in present)
            set_here = any(state.value(step, (spec.key,)) is not None for spec in present)
            opened = self._expanded.get(name, set_here or name in ("Request", "Plan"))
            cards.append(self._section(name, self.forms.fields(step, present), opened))
        rest = [spec for key, spec in specs.items() if key not in shown]
        if rest:
            name = "More fields" if sections else "Fields"
            opened = self._expanded.get(name, not sections)
            cards.append(self._section(name, self.forms.fields(step, rest), opened))
        self.form_area[:] = cards
        self.forms.refresh_errors()
        drawn = {field_key(slot.step, slot.keys) for slot in self.forms.slots}
        if kept and kept not in drawn:
            state.focused = ""  # that field is not on the page any more
            self.focus.focused = ""

    def _section(self, name: str, fields: list[Any], opened: bool) -> pn.Card:
        card = pn.Card(
            *fields,
            title=name,
            collapsed=not opened,
            sizing_mode="stretch_width",
            css_classes=[f"orchestra-section-{name.split()[0].lower()}"],
        )
        card.param.watch(lambda e: self._expanded.__setitem__(name, not e.new), "collapsed")
        return card

    def _draw_status(self, *events: param.parameterized.Event) -> None:
        state = self.state
        parts = [f"<b>{html.escape(state.binding.label)}</b>"]
        if state.dirty:
            parts.append("<span style='color:#b06000'>unsaved changes</span>")
        if state.running:
            parts.append("<span style='color:#2f80ed'>running…</span>")
        if state.message:
            parts.append(html.escape(state.message))
        text = " · ".join(parts)
        if state.error:
            text += (
                "<div class='orchestra-builder-error' role='alert' style='color:#d93025'>"
                f"<pre style='white-space:pre-wrap;margin:0'>{html.escape(state.error)}</pre></div>"
            )
        self.status.object = text
        # "Reload from flow" is for a notebook's flow; a plan file is opened again instead
        self.refresh_button.visible = getattr(state.binding, "watch", None) is not None
        self.flow_changed.param.update(
            object=(
                "<div role='alert' style='background:#fff4e5;color:#b06000;padding:4px 8px'>"
                f"⚠ {html.escape(state.flow_changed)}</div>"
            ),
            visible=bool(state.flow_changed),
        )
        count = len(state.issues)
        if count:
            items = "".join(f"<li>{html.escape(str(issue))}</li>" for issue in state.issues[:20])
            self.problems.object = (
                f"<div style='color:#d93025'><b>{count} problem{'s' if count > 1 else ''}</b> "
                "(draft: save works, export and try wait for a fix)"
                "<ul style='white-space:pre-wrap;font-family:monospace;font-size:12px'>"
                f"{items}</ul></div>"
            )
        else:
            self.problems.object = "<span style='color:#27a567'>✓ the plan is valid</span>"

    def _draw_try(self, *events: param.parameterized.Event) -> None:
        state = self.state
        self.partial.object = (
            f"<span style='background:#fff4e5;color:#b06000;padding:3px 8px;border-radius:4px;"
            f"font-weight:600'>⚠ {html.escape(state.partial)}</span>"
            if state.partial
            else ""
        )
        self.summary.object = html.escape(state.try_summary)
        if state.records is not None:
            self.records_table.value = state.records

    def _draw_response(self, *events: param.parameterized.Event) -> None:
        state = self.state
        if state.response is None:
            self.response_title.object = (
                "<i>No response yet: press Try it. Then click a field of the response to put "
                "its path in the focused form field.</i>"
            )
            self.response_tree.replace_value({})
            return
        self.response_title.object = (
            f"<b>{html.escape(state.response_label)}</b> — response.body; click a field to use "
            "its path"
        )
        self.response_tree.replace_value(state.response)

    def _draw_yaml(self, *events: param.parameterized.Event) -> None:
        if self.yaml.value != self.state.yaml_text and not self.state.yaml_error:
            self._yaml_sent = [*self._yaml_sent[-20:], self.state.yaml_text]
            self.yaml.value = self.state.yaml_text
        self.yaml_problem.object = (
            "<pre style='color:#d93025;white-space:pre-wrap'>"
            f"{html.escape(self.state.yaml_error)}</pre>"
            if self.state.yaml_error
            else ""
        )

    def _draw_playground(self, *events: param.parameterized.Event) -> None:
        state = self.state
        if self.playground.value != state.expression:
            self.playground.value = state.expression
        target = html.escape(state.focused or "no field focused")
        if state.focused and not completes(state.focused):
            target += " (not an expression field: its text is a template, {…} parts evaluated)"
        self.playground_result.object = (
            f"<div style='font-size:12px;color:#5f6b7a'>field: {target}</div>"
            f"<pre style='max-height:200px;overflow:auto;white-space:pre-wrap'>"
            f"{html.escape(state.expression_result)}</pre>"
        )

    def _draw_completions(self, *events: param.parameterized.Event) -> None:
        found = self.state.completions
        if not found:
            self.completions[:] = []
            return
        buttons = []
        for text in found:
            button = pn.widgets.Button(
                label=text,
                color="light",
                sizing_mode="stretch_width",
                margin=(1, 4),
                css_classes=["orchestra-completion"],
                description="Use this as the field's value",
            )
            button.on_click(partial(self._complete, text))
            buttons.append(button)
        field = html.escape(self.state.focused)
        self.completions[:] = [
            pn.pane.HTML(
                f"<div style='font-size:12px;color:#5f6b7a'>Complete <b>{field}</b>:</div>",
                margin=(0, 10),
            ),
            *buttons,
        ]

    def _complete(self, text: str, event: Any) -> None:
        self.state.apply_completion(text)

    # -- layout -----------------------------------------------------------------------------

    def __panel__(self) -> pn.viewable.Viewable:
        self.state.refresh()
        try:
            self._results_views()
        except Exception as error:
            logger.error("builder could not read %s", self.state.db, exc_info=error)
            self.state.error = f"could not read the capture {self.state.db}: {error}"
        left = pn.Column(
            self.tree,
            pn.Row(self.add, self.add_sub, sizing_mode="stretch_width"),
            pn.Row(self.duplicate, self.delete, sizing_mode="stretch_width"),
            pn.Row(self.up, self.down, sizing_mode="stretch_width"),
            pn.Row(self.add_parallel, self.add_choice, sizing_mode="stretch_width"),
            width=250,
        )
        right = pn.Column(
            pn.pane.HTML("<b>Try it</b> against the real API"),
            *self.caps,
            self.scope,
            self.try_button,
            self.full_button,
            self.partial,
            self.summary,
            self.live,
            self.completions,
            self.response_title,
            self.response_tree,
            self.playground,
            self.playground_result,
            width=400,
            css_classes=["orchestra-builder-try"],
        )
        files = pn.Card(
            pn.Row(
                self.path,
                self.open_button,
                self.save_button,
                self.save_as_button,
                sizing_mode="stretch_width",
            ),
            pn.Row(self.template, self.start_button, sizing_mode="stretch_width"),
            pn.Row(
                self.export_format,
                self.export_button,
                self.insert_cells_button,
                sizing_mode="stretch_width",
            ),
            self.export_problem,
            self.export_text,
            pn.Row(self.import_text, self.import_button, sizing_mode="stretch_width"),
            title="File, import and export",
            collapsed=False,
            sizing_mode="stretch_width",
        )
        return pn.Column(
            self.focus,
            self.status,
            pn.Row(self.refresh_button, self.flow_changed, sizing_mode="stretch_width"),
            self.problems,
            pn.Row(left, self.form_area, right, sizing_mode="stretch_width"),
            self.results,  # above the files and the YAML: the try's steps and records
            files,
            pn.Card(
                self.yaml,
                self.yaml_problem,
                title="YAML (edit here or in the forms)",
                sizing_mode="stretch_width",
            ),
            sizing_mode="stretch_width",
            css_classes=["orchestra-builder"],
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        # As the inline dashboard: Panel's JavaScript and stylesheets travel with the output
        # (a notebook must work with no internet), and the output carries the builder's mark.
        if not pn.extension._loaded:
            pn.extension("tabulator", "codeeditor", inline=True)
        view = self._create_view()
        if pn.config.inline:
            keep_stylesheets_inline(view)
        bundle = view._repr_mimebundle_(include, exclude)
        if pn.config.inline:  # the YAML editor's mode and theme, which ace cannot fetch inline
            bundle = with_ace_modules(bundle, self.yaml.language, self.yaml.theme)
        # clicks may arrive on a kernel subshell's thread: handle them on the kernel's loop,
        # where a try runs as a task and the views follow it (see _kernel_loop)
        handle_on_loop(view)
        return _cells_below.marked(bundle, self.output_mark)
