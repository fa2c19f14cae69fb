"""The ``%%flow`` cell: plan settings, whole plans, and steps joining the current flow.

:class:`CellCommands` is a mixin of :class:`~orchestra.notebook._magic.FlowMagic`.
A step cell is validated first (against the names of the steps before it,
so ``steps.<name>`` references are checked), then placed in the flow and
run against the ``steps`` and ``context`` that existed before it; the
steps after it that had run become ``stale``. ``%flow run`` (``run_flow``)
runs the whole flow from the top and records every step again. ``%%flow edit
STEP`` replaces a step's definition without running it (``_debug_commands``).
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from orchestra.capture import CaptureStore
from orchestra.errors import PlanError
from orchestra.notebook._args import Parser, expand, split
from orchestra.notebook._cell import CellBody, CellSyntaxError, cell_text, read_body
from orchestra.notebook._errors import FlowError, Span, locate, underline_text
from orchestra.notebook._flow import NotebookFlow
from orchestra.notebook._views import FlowView
from orchestra.plan import load_plan

if TYPE_CHECKING:
    from orchestra.notebook._display import FlowRun
    from orchestra.notebook._execute import Execution
    from orchestra.notebook._magic import FlowMagic


def _cell_parser() -> Parser:
    parser = Parser("%%flow")
    parser.add_argument("name", nargs="?")
    parser.add_argument("--no-run", action="store_true")
    parser.add_argument("--out", metavar="VAR")
    parser.add_argument("--quiet", action="store_true")
    return parser


def plan_error(error: PlanError, source: str | None, *, step_cell: bool) -> FlowError:
    """A plan error of a cell, with paths relative to the cell and the bad text underlined."""
    text = str(error)
    if step_cell:
        text = re.sub(r"steps\[0\]\.?", "", text).replace("Invalid plan", "Invalid step")
    if isinstance(error, CellSyntaxError):
        span: Span | None = Span(error.line, error.column, 1)
    else:
        span = locate(source, error)
    if span is not None and source:
        text += "\n" + underline_text(source, span)
    return FlowError(text)


class CellCommands:
    """``%%flow`` cell handling, mixed into ``FlowMagic``."""

    def cell_command(self: FlowMagic, line: str, cell: str) -> Any:
        words = expand(split(line), self.evaluate)
        if len(words) == 2 and words[0] == "edit":  # `%%flow edit STEP`: a step named edit
            return self.edit_cell(words[1], cell)  # takes one word, so this is no step name
        args = _cell_parser().parse(words)
        try:
            body = read_body(cell, line=line)
        except PlanError as error:
            raise plan_error(error, cell_text(line, cell), step_cell=False) from None
        if body.kind == "settings":
            if args.name:
                raise UsageError("plan settings take no NAME (it names a step)")
            self.update_settings(body.data)
            view = FlowView.of(self.current)
            self.bind(args.out, view)
            return view
        if body.kind == "plan":
            if args.name:
                raise UsageError("a whole plan takes no NAME: set `key:` in the body")
            return self.run_whole_plan(body, no_run=args.no_run, out=args.out, quiet=args.quiet)
        return self.run_step_cell(
            body, name=args.name, no_run=args.no_run, out=args.out, quiet=args.quiet
        )

    def update_settings(self: FlowMagic, data: dict[str, Any]) -> None:
        trial = {**self.current.settings, **data}
        if "config" in data and isinstance(data["config"], dict):
            trial["config"] = {**self.current.config, **data["config"]}
        probe = {"key": self.current.key, **trial, "steps": [{"url": "http://x"}]}
        try:
            load_plan(probe)
        except PlanError as error:
            raise FlowError(str(error)) from None
        self.current.settings = trial

    def run_whole_plan(
        self: FlowMagic, body: CellBody, *, no_run: bool, out: str | None, quiet: bool
    ) -> Any:
        try:
            load_plan(body.data)
        except PlanError as error:
            raise plan_error(error, body.source, step_cell=False) from None
        self.current.replace_all(body.data, source=body.source)
        if no_run:
            view = FlowView.of(self.current)
            self.bind(out, view)
            return view
        return self.run_flow(out=out, quiet=quiet)

    def run_flow(self: FlowMagic, *, out: str | None = None, quiet: bool = False) -> Any:
        """Run the whole current flow from the top and record every step's result."""
        flow = self.current
        if not len(flow):
            raise FlowError("the flow has no steps yet: add one with a %%flow cell")
        try:
            compiled = load_plan(flow.plan())
        except PlanError as error:
            raise FlowError(str(error)) from None
        sources = {step.name: step.source for step in flow if step.source}
        execution, view = self.run_plan(compiled, title=f"flow {flow.key}", sources=sources)
        self.record_flow_run(execution, view)
        return self.finish(view, out=out, quiet=quiet)

    def record_flow_run(self: FlowMagic, execution: Execution, view: FlowRun) -> None:
        """Record a whole-flow run (``%flow run``, a debug run) into every step it ran."""
        flow = self.current
        paths = {path: stats.status for path, stats in view.snapshot.paths.items()}
        befores = execution.root_contexts
        context: dict[str, Any] = {}
        for index, step in enumerate(flow.steps):
            if step.name not in paths:
                step.forget()
                continue
            before = befores.get(step.name, context)
            later = [s.name for s in flow.steps[index + 1 :]]
            after = next((befores[n] for n in later if n in befores), execution.context_after)
            owned = {k: v for k, v in execution.published.items() if _belongs(k, step.name, flow)}
            flow.record(
                step,
                status=paths[step.name],
                run_id=view.run_id,
                published=owned,
                context_before=before,
                context_after=after,
                paths={p: s for p, s in paths.items() if p.split(".")[0] == step.name},
                mark_later=False,
            )
            context = after

    def run_step_cell(
        self: FlowMagic,
        body: CellBody,
        *,
        name: str | None,
        no_run: bool,
        out: str | None,
        quiet: bool,
    ) -> Any:
        flow = self.current
        spec = dict(body.data)
        cell_id = self.cell_id()
        written = spec.get("name")
        if name and written and name != written:
            raise UsageError(f"the cell line names the step {name!r}, the body {written!r}")
        if not (name or written):
            earlier = flow.by_cell(cell_id)
            name = earlier.name if earlier else _fresh_name(flow)
        spec = {"name": name or written, **{k: v for k, v in spec.items() if k != "name"}}
        existing = flow.find(spec["name"]) or flow.by_cell(cell_id)
        upstream_steps = flow.steps[: flow.steps.index(existing)] if existing else flow.steps
        known = {s.name for s in upstream_steps}
        for earlier in upstream_steps:
            known.update(earlier.published)
        try:
            compiled = load_plan(flow.plan([spec]), known_steps=known)
        except PlanError as error:
            raise plan_error(error, body.source, step_cell=True) from None
        step = flow.place(spec, cell_id=cell_id, source=body.source)
        if no_run:
            flow.record(step, status="pending", run_id="", published={},
                        context_before={}, context_after=None)  # fmt: skip
            step.run_id = None  # edited, not run: later steps that ran are stale
            view = FlowView.of(flow)
            self.bind(out, view)
            return view
        steps, context = flow.upstream(step)
        execution, view = self.run_plan(
            compiled,
            title=f"step {step.name}",
            sources={step.name: body.source},
            steps=steps,
            context=context,
        )
        paths = {path: stats.status for path, stats in view.snapshot.paths.items()}
        status = view.status if view.status == "interrupted" else paths.get(step.name, view.status)
        stale = flow.record(
            step,
            status=status,
            run_id=view.run_id,
            published=execution.published,
            context_before=execution.context_before,
            context_after=execution.context_after,
            paths=paths,
        )
        view.stale = stale
        unrun = [s.name for s in upstream_steps if not s.has_run or s.status == "stale"]
        if unrun:
            view.notes.append(f"earlier steps not run or stale: {', '.join(unrun)}")
        return self.finish(view, out=out, quiet=quiet)


def last_response(db: str, run_id: str, step_path: str) -> dict[str, Any] | None:
    """The last captured response of a step (masked, as the capture holds it)."""
    try:
        with CaptureStore(db).read() as reader:
            row = reader.last_response(run_id, step_path)
    except Exception:  # the summary must not fail because the capture is busy or gone
        return None
    if row is None:
        return None
    body: Any = row["response_body"]
    if row.get("response_body_encoding") != "base64" and isinstance(body, str):
        with contextlib.suppress(ValueError):  # not JSON: shown as text
            body = json.loads(body)
    return {"status_code": int(row["status_code"]), "body": body}


def _fresh_name(flow: NotebookFlow) -> str:
    taken = set(flow.names())
    number = len(flow) + 1
    while f"step_{number}" in taken:
        number += 1
    return f"step_{number}"


def _belongs(published: str, root: str, flow: NotebookFlow) -> bool:
    """Whether ``steps.<published>`` was set by the root step ``root`` (itself or a child)."""
    if published == root:
        return True
    return published not in flow.names() and published in _child_names(flow, root)


def _child_names(flow: NotebookFlow, root: str) -> set[str]:
    step = flow.find(root)
    names: set[str] = set()

    def walk(spec: Any) -> None:
        if isinstance(spec, dict):
            if isinstance(spec.get("name"), str):
                names.add(spec["name"])
            for key in ("parallel", "otherwise", "steps", "choice"):
                for child in spec.get(key) or []:
                    walk(child)

    if step is not None:
        walk(step.spec)
    return names
