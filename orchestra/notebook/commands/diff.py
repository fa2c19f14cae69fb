"""``%flow diff A B``: what changed between two captured runs, as a DataFrame and a view.

The comparison is :func:`orchestra.capture.diff_runs` (the same as
``orchestra diff``); :class:`RunDiffView` shows it: ``.steps`` is the per-step
DataFrame, ``.diff`` the whole :class:`~orchestra.capture.RunDiff`, and in
Jupyter it renders as tables of steps, records and shapes plus the plan diff.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import pandas as pd

from orchestra.capture import DiffInputError, RunDiff, RunNotFound, diff_runs
from orchestra.notebook._args import parser
from orchestra.notebook._errors import FlowError
from orchestra.notebook._secrets import masked
from orchestra.notebook.commands._command import Command
from orchestra.notebook.commands._context import CommandContext

_SIGNS = {"added": "+", "removed": "-", "changed": "~"}


@dataclass
class RunDiffView:
    """A run-to-run diff: ``.steps`` (DataFrame), ``.diff`` (the model), ``.differs``."""

    diff: RunDiff
    steps: pd.DataFrame

    @property
    def differs(self) -> bool:
        return self.diff.differs

    def __repr__(self) -> str:
        return self.diff.to_text().rstrip()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_html_(self) -> str:
        diff = self.diff
        verdict = "differ" if diff.differs else "are the same"
        parts = [
            f"<div><b>runs <code>{html.escape(diff.run_a)}</code> and "
            f"<code>{html.escape(diff.run_b)}</code> {verdict}</b></div>",
            f"<div>{html.escape(diff.plan_note)}</div>" if diff.plan_note else "",
            self.steps.to_html(index=False, na_rep="-"),
            self._records_html(),
            self._shapes_html(),
        ]
        for title, text in (("plan", diff.plan), ("config", diff.config)):
            if text:
                parts.append(f"<div><b>{title}</b></div><pre>{html.escape(text)}</pre>")
        return "".join(parts)

    def _records_html(self) -> str:
        records = self.diff.records
        rows = []
        for step, counts in records.counts.items():
            note = " (no such field: by position)" if step in records.by_position else ""
            numbers = "".join(f"<td>{counts.get(c, 0)}</td>"
                              for c in ("added", "removed", "changed", "same"))  # fmt: skip
            rows.append(f"<tr><td><code>{html.escape(step)}</code>{note}</td>{numbers}</tr>")
        head = "<tr><th>step</th><th>added</th><th>removed</th><th>changed</th><th>same</th></tr>"
        changes = "".join(
            f"<li>{_SIGNS[c.change]} <code>{html.escape(c.step_path)}</code> "
            f"{html.escape(c.key)} {html.escape(', '.join(c.fields))}</li>"
            for c in records.changes[:200]
        )
        return (
            f"<div><b>records by <code>{html.escape(records.key)}</code></b></div>"
            f"<table>{head}{''.join(rows)}</table><ul>{changes}</ul>"
        )

    def _shapes_html(self) -> str:
        items = []
        for shape in self.diff.shapes:
            step = f"<code>{html.escape(shape.step_path)}</code>"
            items += [
                f"<li>{step} + {html.escape(p)} ({t})</li>" for p, t in shape.appeared.items()
            ]
            items += [
                f"<li>{step} - {html.escape(p)} ({t})</li>" for p, t in shape.vanished.items()
            ]
            items += [f"<li>{step} ~ {html.escape(p)} ({x} → {y})</li>"
                      for p, (x, y) in shape.changed.items()]  # fmt: skip
        return f"<div><b>response shapes</b></div><ul>{''.join(items)}</ul>" if items else ""


def diff(ctx: CommandContext, words: list[str]) -> RunDiffView:
    args = parser(
        "diff",
        (("run_a",), {}),
        (("run_b",), {}),
        (("--key", "-k"), {"default": "id"}),
        (("--out",), {}),
    ).parse(words)
    try:
        found = diff_runs(ctx.store(), args.run_a, args.run_b, key=args.key)
    except (RunNotFound, FileNotFoundError, DiffInputError) as error:
        raise FlowError(str(error)) from None
    view = RunDiffView(found, masked(found.steps_frame(), ctx.flow.masker))
    ctx.bind(args.out, view)
    return view


DIFF = Command(
    "diff",
    diff,
    usage="diff RUN_A RUN_B [--key K] [--out VAR]",
    what="What changed from RUN_A to RUN_B (ids, prefixes or last): per-step status, "
    "requests, retries, records and latency; records added, removed and changed, paired by "
    "--key (default id; by position without it); response shapes; the plan diff. .steps is "
    "the per-step DataFrame.",
    example="%flow diff 20261122-0915 last --key id",
)
