"""Compare two runs: per-step deltas, records by key, response shapes, plan and config.

Everything shown comes from :func:`orchestra.capture.diff_runs` (the model
``orchestra diff`` and ``%flow diff`` render), nothing is recomputed here. By
default run B is the selected run and run A the previous run of the same
plan; both can be picked, and the key records are paired by (``id`` unless
changed). The section's tables are built when it is first opened and the
comparison is read only while it is open, so a closed section costs nothing
on page load or when runs are switched.

``diff_runs`` reads both runs whole (about 2 s for a 100,000-exchange run), so
wherever an event loop runs (the served page, a kernel) it runs in a worker
thread: a run switch is drawn at once, the section says "Comparing …" meanwhile,
and a result is shown only if its pair is still the one asked for (a click on
another run in between drops it). Without a loop (a script) it runs where it is
asked. A pair already shown or being compared is not compared again.
"""

from __future__ import annotations

import asyncio
import html
import json
from typing import Any, NamedTuple, cast

import pandas as pd
import panel as pn
import param
from bokeh.models.widgets.tables import NumberFormatter
from panel.viewable import Viewer

from orchestra.capture import DEFAULT_KEY, RecordChange, RunDiff, diff_runs
from orchestra.dashboard._state import DashboardState

NO_RUN = ""
NO_RUN_LABEL = "(pick a run)"
STEP_DTYPES = {
    "step": "str",
    "status A": "str",
    "status B": "str",
    "requests A": "int64",
    "requests B": "int64",
    "retries A": "int64",
    "retries B": "int64",
    "records A": "int64",
    "records B": "int64",
    "p50 A (ms)": "float64",
    "p50 B (ms)": "float64",
    "p95 A (ms)": "float64",
    "p95 B (ms)": "float64",
    "changed": "str",
}
COUNT_DTYPES = {
    "step": "str",
    "added": "int64",
    "removed": "int64",
    "changed": "int64",
    "same": "int64",
    "paired by": "str",
}
CHANGE_DTYPES = {"step": "str", "key": "str", "change": "str", "fields": "str", "values": "str"}
VALUE_CHARS = 200  # a record or value shown in the change list at most
ABSENT = "(absent)"
SHAPE_DTYPES = {"step": "str", "field": "str", "change": "str", "type A": "str", "type B": "str"}
TABLE_DTYPES = (STEP_DTYPES, COUNT_DTYPES, CHANGE_DTYPES, SHAPE_DTYPES)


def _typed(rows: list[dict[str, Any]], dtypes: dict[str, str]) -> pd.DataFrame:
    """Rows as a frame with fixed columns and types (Tabulator keeps its configuration)."""
    frame = pd.DataFrame(rows, columns=list(dtypes))
    return frame.astype(dtypes) if len(frame) else frame.astype(dtypes, errors="ignore")


def step_frame(diff: RunDiff) -> pd.DataFrame:
    """The per-step deltas, one row per step path (``-`` where a step did not run)."""
    rows = [
        {
            "step": step.step_path,
            "status A": step.status_a or "-",
            "status B": step.status_b or "-",
            "requests A": step.requests_a,
            "requests B": step.requests_b,
            "retries A": step.retries_a,
            "retries B": step.retries_b,
            "records A": step.records_a,
            "records B": step.records_b,
            "p50 A (ms)": step.p50_ms_a,
            "p50 B (ms)": step.p50_ms_b,
            "p95 A (ms)": step.p95_ms_a,
            "p95 B (ms)": step.p95_ms_b,
            "changed": "yes" if step.changed else "",
        }
        for step in diff.steps
    ]
    return _typed(rows, STEP_DTYPES)


def count_frame(diff: RunDiff) -> pd.DataFrame:
    """Records added, removed, changed and the same, per step."""
    records = diff.records
    rows = [
        {
            "step": step,
            **{change: counts.get(change, 0) for change in ("added", "removed", "changed", "same")},
            "paired by": "position" if step in records.by_position else records.key,
        }
        for step, counts in records.counts.items()
    ]
    return _typed(rows, COUNT_DTYPES)


def _at(value: Any, path: str) -> Any:
    """The value at a dotted path of :func:`~orchestra.capture.changed_fields`, or ABSENT."""
    if path == "(value)":
        return value
    for name in path.split("."):
        if not isinstance(value, dict) or name not in value:
            return ABSENT
        value = value[name]
    return value


def _short(value: Any) -> str:
    text = value if value is ABSENT else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def change_values(change: RecordChange) -> str:
    """``field: before → after`` for a changed record; the record itself when added or removed."""
    if change.change == "changed":
        return "; ".join(
            f"{path}: {_short(_at(change.before, path))} → {_short(_at(change.after, path))}"
            for path in change.fields
        )
    return _short(change.after if change.change == "added" else change.before)


def change_frame(diff: RunDiff) -> pd.DataFrame:
    """The records added, removed or changed (the first ``CHANGE_LIMIT``) with changed fields."""
    rows = [
        {
            "step": change.step_path,
            "key": change.key,
            "change": change.change,
            "fields": ", ".join(change.fields),
            "values": change_values(change),
        }
        for change in diff.records.changes
    ]
    return _typed(rows, CHANGE_DTYPES)


def shape_frame(diff: RunDiff) -> pd.DataFrame:
    """Fields of the records' structure that appeared, vanished or changed type, per step."""
    rows: list[dict[str, Any]] = []
    for shape in diff.shapes:
        rows += [
            {
                "step": shape.step_path,
                "field": path,
                "change": "appeared",
                "type A": "",
                "type B": kind,
            }
            for path, kind in shape.appeared.items()
        ]
        rows += [
            {
                "step": shape.step_path,
                "field": path,
                "change": "vanished",
                "type A": kind,
                "type B": "",
            }
            for path, kind in shape.vanished.items()
        ]
        rows += [
            {
                "step": shape.step_path,
                "field": path,
                "change": "changed type",
                "type A": one,
                "type B": two,
            }
            for path, (one, two) in shape.changed.items()
        ]
    return _typed(rows, SHAPE_DTYPES)  # fmt: skip


def unified_html(text: str | None, what: str) -> str:
    """A unified diff as coloured HTML lines, or a line saying there is no change."""
    if not text:
        return f"<span style='color:#5f6b7a'>No {what} change.</span>"
    colors = {"+": "#137333", "-": "#c5221f", "@": "#1a73e8"}
    lines = []
    for line in text.splitlines():
        color = colors.get(line[:1], "inherit")
        lines.append(f"<span style='color:{color}'>{html.escape(line)}</span>")
    return (
        "<pre style='font-size:12px;max-height:360px;overflow:auto;margin:0'>"
        + "\n".join(lines)
        + "</pre>"
    )


def verdict_html(diff: RunDiff) -> str:
    """One line: the two runs, whether they differ, and the totals of record changes."""
    records = diff.records
    counts = ", ".join(
        f"<span class='orchestra-diff-{change}'>{records.total(change)}</span> {change}"
        for change in ("added", "removed", "changed")
    )
    verdict = "differ" if diff.differs else "are the same"
    truncated = (
        f" (the first {len(records.changes)} listed)" if records.truncated else ""
    )  # fmt: skip
    return (
        f"<code>{html.escape(diff.run_a)}</code> → <code>{html.escape(diff.run_b)}</code> "
        f"<b>{verdict}</b> · records by <code>{html.escape(records.key)}</code>: "
        f"{counts}{truncated} · {len(diff.shapes)} step(s) with shape changes"
    )


class Pair(NamedTuple):
    """What one comparison is of: the runs, the key, and each run's row as last listed.

    A run's status and request count are part of it, so a run that went on
    writing since it was last compared is compared again.
    """

    run_a: str
    run_b: str
    key: str
    progress_a: tuple[Any, ...]
    progress_b: tuple[Any, ...]


def _table(frame: pd.DataFrame, css: str) -> pn.widgets.Tabulator:
    milliseconds = NumberFormatter(format="0,0.0", nan_format="-")
    return pn.widgets.Tabulator(
        frame,
        formatters={column: milliseconds for column in frame.columns if "(ms)" in column},
        disabled=True,
        show_index=False,
        sizing_mode="stretch_width",
        max_height=320,
        layout="fit_data_stretch",
        css_classes=[css],
    )


class DiffView(Viewer):
    """Two run pickers and a key field; the differences between the runs below them."""

    # typed as never None (param infers "| None" from the missing default)
    state = cast(
        "param.ClassSelector[DashboardState]",
        param.ClassSelector(class_=DashboardState, doc="The dashboard state it reads runs of."),
    )

    def __init__(self, **params: Any):
        super().__init__(**params)
        self.diff: RunDiff | None = None
        self._run_a = pn.widgets.Select(label="Run A (before)", width=420)
        self._run_b = pn.widgets.Select(label="Run B (after)", width=420)
        self._key = pn.widgets.TextInput(label="Key field", value=DEFAULT_KEY, width=180)
        self._problem = pn.pane.Alert(
            "", alert_type="warning", visible=False, sizing_mode="stretch_width"
        )
        # the tables and panes are made when the section is first opened (_body): a closed one
        # costs a page load nothing (four Tabulators made and never shown were ~50 ms of it)
        self.card = pn.Card(
            title="Compare runs",
            collapsed=True,
            collapsible=True,
            sizing_mode="stretch_width",
            css_classes=["orchestra-diff"],
        )
        self._pairing = False
        self._wanted: Pair | None = None  # the pair shown, or being compared
        self._list_runs()
        self._pick_defaults()
        self.card.param.watch(self._compare, "collapsed")
        for widget in (self._run_a, self._run_b, self._key):
            widget.param.watch(self._compare, "value")
        self.state.param.watch(self._on_runs, ["runs"])
        self.state.param.watch(self._on_run, ["run_id"])

    def _body(self) -> pn.viewable.Viewable:
        self._verdict = pn.pane.HTML(
            "", sizing_mode="stretch_width", css_classes=["orchestra-diff-verdict"]
        )
        self._steps = _table(_typed([], STEP_DTYPES), "orchestra-diff-steps")
        self._counts = _table(_typed([], COUNT_DTYPES), "orchestra-diff-counts")
        self._changes = _table(_typed([], CHANGE_DTYPES), "orchestra-diff-changes")
        self._shapes = _table(_typed([], SHAPE_DTYPES), "orchestra-diff-shapes")
        self._plan = pn.pane.HTML(
            "", sizing_mode="stretch_width", css_classes=["orchestra-diff-plan"]
        )
        self._config = pn.pane.HTML(
            "", sizing_mode="stretch_width", css_classes=["orchestra-diff-config"]
        )

        def titled(text: str, view: Any) -> pn.Column:
            return pn.Column(
                pn.pane.HTML(f"<b>{text}</b>", margin=(8, 5, 0, 5)),
                view,
                sizing_mode="stretch_width",
            )

        return pn.Column(
            pn.Row(self._run_a, self._run_b, self._key),
            self._problem,
            self._verdict,
            titled("Steps", self._steps),
            titled("Records", self._counts),
            titled("Records added, removed and changed", self._changes),
            titled("Response shapes", self._shapes),
            titled("Plan", self._plan),
            titled("Config", self._config),
            sizing_mode="stretch_width",
        )

    # -- which runs ----------------------------------------------------------------------------

    def _list_runs(self) -> None:
        runs = self.state.runs
        options = {NO_RUN_LABEL: NO_RUN}
        if runs is not None:
            for run_id, plan, status in zip(runs["run_id"], runs["plan_key"], runs["status"],
                                            strict=True):  # fmt: skip
                options[f"{run_id} · {plan} · {status}"] = str(run_id)
        for select in (self._run_a, self._run_b):
            if select.options != options:
                value = select.value
                select.options = options
                select.value = value if value in options.values() else NO_RUN

    def previous_run(self, run_id: str | None) -> str | None:
        """The run of the same plan that started before ``run_id``, or None."""
        runs = self.state.runs
        if run_id is None or runs is None or run_id not in set(runs["run_id"]):
            return None
        position = list(runs["run_id"]).index(run_id)
        plan = runs["plan_key"].iloc[position]
        older = runs.iloc[position + 1 :]
        same = older[older["plan_key"] == plan]
        return str(same["run_id"].iloc[0]) if len(same) else None

    def _pick_defaults(self) -> None:
        run_id = self.state.run_id
        self._pairing = True
        try:
            self._run_b.value = run_id if run_id in self._run_b.options.values() else NO_RUN
            self._run_a.value = self.previous_run(run_id) or NO_RUN
        finally:
            self._pairing = False

    def _on_runs(self, *events: param.parameterized.Event) -> None:
        self._pairing = True
        try:
            self._list_runs()
        finally:
            self._pairing = False

    def _on_run(self, *events: param.parameterized.Event) -> None:
        self._pick_defaults()
        self._compare()

    def select(self, run_a: str, run_b: str, key: str = DEFAULT_KEY) -> None:
        """Compare ``run_a`` (before) with ``run_b`` (after), records paired by ``key``."""
        self._pairing = True
        try:
            self._run_a.value, self._run_b.value, self._key.value = run_a, run_b, key
        finally:
            self._pairing = False
        self._compare()

    # -- the comparison ------------------------------------------------------------------------

    def _compare(self, *events: param.parameterized.Event) -> None:
        if self._pairing or self.card.collapsed:
            return
        if not len(self.card):
            self.card.append(self._body())
        run_a, run_b, key = self._run_a.value, self._run_b.value, (self._key.value or "").strip()
        if not run_a or not run_b:
            self._wanted = None
            plan = (self.state.run or {}).get("plan_key")
            self._show(None, f"Pick two runs to compare (no earlier run of plan {plan!r}).")
            return
        wanted = Pair(run_a, run_b, key or DEFAULT_KEY, self._progress(run_a),
                      self._progress(run_b))  # fmt: skip
        if wanted == self._wanted:
            return  # shown already, or being compared
        self._wanted = wanted
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a script, a test): compare right here
            self._finish(wanted, *self._diff(wanted))
            return
        with self.state.batch():
            self._show(None, "")
            self._verdict.object = (
                f"Comparing <code>{html.escape(run_a)}</code> with "
                f"<code>{html.escape(run_b)}</code>…"
            )

        async def compare() -> None:  # on the loop; the reading in a worker thread
            self._finish(wanted, *await asyncio.to_thread(self._diff, wanted))

        pn.state.execute(compare)

    def _progress(self, run_id: str) -> tuple[Any, ...]:
        """The run's status and requests as the run list last read them (() if not listed)."""
        runs = self.state.runs
        if runs is None or "run_id" not in runs:
            return ()
        row = runs[runs["run_id"] == run_id]
        if not len(row):
            return ()
        return tuple(str(row[column].iloc[0]) for column in ("status", "requests") if column in row)

    def _diff(self, pair: Pair) -> tuple[RunDiff | None, Exception | None]:
        """(any thread) The comparison of ``pair``, or the error that stopped it."""
        try:
            return diff_runs(self.state.store, pair.run_a, pair.run_b, key=pair.key), None
        except Exception as error:
            return None, error

    def _finish(self, pair: Pair, diff: RunDiff | None, error: Exception | None) -> None:
        """Show the comparison of ``pair``, unless another pair was asked for meanwhile."""
        if pair != self._wanted:
            return
        with self.state.batch():
            if isinstance(error, ValueError):  # DiffInputError: a key that is no field path
                self._show(None, f"Key field: {error}")
            elif error is not None:
                self.state.report("compare the runs", error)
                self._show(None, f"Could not compare the runs: {type(error).__name__}: {error}")
            else:
                self._show(diff, "")

    def _show(self, diff: RunDiff | None, problem: str) -> None:
        self.diff = diff
        self._problem.object = html.escape(problem)
        self._problem.visible = bool(problem)
        if diff is None:
            self._verdict.object = ""
            tables = [self._steps, self._counts, self._changes, self._shapes]
            for table, dtypes in zip(tables, TABLE_DTYPES, strict=True):
                table.value = _typed([], dtypes)
            self._plan.object = self._config.object = ""
            return
        self._verdict.object = verdict_html(diff)
        self._steps.value = step_frame(diff)
        self._counts.value = count_frame(diff)
        self._changes.value = change_frame(diff)
        self._shapes.value = shape_frame(diff)
        self._plan.object = unified_html(diff.plan, "plan")
        self._config.object = unified_html(diff.config, "config")

    def __panel__(self) -> pn.viewable.Viewable:
        return self.card
