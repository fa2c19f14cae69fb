"""``%flow runs``: the captured runs of this flow's plan key (or of every plan), newest first."""

from __future__ import annotations

from typing import Any

from orchestra.notebook._args import parser
from orchestra.notebook._errors import FlowError
from orchestra.notebook._secrets import masked
from orchestra.notebook.commands._command import Command
from orchestra.notebook.commands._context import CommandContext

RUN_COLUMNS = [
    "run_id", "plan_key", "mode", "status", "started_at", "duration_ms", "requests",
    "errors", "records", "error",
]  # fmt: skip


def runs(ctx: CommandContext, words: list[str]) -> Any:
    args = parser(
        "runs",
        (("--limit", "-n"), {"type": int, "default": 20}),
        (("--all",), {"action": "store_true"}),
    ).parse(words)
    store = ctx.store()
    try:
        frame = store.runs(plan_key=None if args.all else ctx.flow.key, limit=args.limit)
        if not frame.empty:  # a run error restating its step's error counts once (CLI, dashboard)
            run_ids = frame["run_id"].astype(str)
            with store.read() as reader:
                frame["errors"] = run_ids.map(reader.error_counts(run_ids.tolist()))
    except FileNotFoundError as error:
        raise FlowError(str(error)) from None
    return masked(frame[[c for c in RUN_COLUMNS if c in frame.columns]], ctx.flow.masker)


RUNS = Command(
    "runs",
    runs,
    usage="runs [--limit N] [--all]",
    what="Captured runs of this flow's plan key, newest first (--all: every plan).",
    example="%flow runs --limit 5",
)
