"""``%flow export``: the flow as a plan, its captured runs as HAR or curl (``_export``), or
``%flow export cells``: the ``%%flow`` cells that rebuild it.

A kernel can put only one cell below the running one (IPython's
``set_next_input``; Jupyter's messages have no way to insert several). So
``export cells`` inserts the first cell (the settings) and remembers the
rest: running an exported cell inserts the next one below it, in every
frontend that honours ``set_next_input`` — the flow is rebuilt by pressing
Shift+Enter down the cells. ``--whole`` inserts one cell holding the whole
plan instead, and ``export cells FILE.ipynb`` writes the cells as a new
notebook (with ``%load_ext orchestra`` first).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from orchestra.capture import RunNotFound
from orchestra.errors import PlanError
from orchestra.notebook import _export
from orchestra.notebook._args import parser
from orchestra.notebook._errors import FlowError, unknown
from orchestra.notebook._secrets import masked
from orchestra.notebook.commands._command import Command
from orchestra.notebook.commands._context import CommandContext
from orchestra.plan import plan_to_flow_cell, plan_to_flow_cells


def export(ctx: CommandContext, words: list[str]) -> Any:
    if words and words[0] == "cells":
        return export_cells(ctx, words[1:])
    args = parser(
        "export",
        (("file",), {"nargs": "?"}),
        (("--format", "-f"), {"default": None}),
        (("--run",), {}),
        (("--out",), {}),
    ).parse(words)
    fmt = args.format or format_from_name(args.file)
    if fmt not in _export.FORMATS:
        raise _unknown_format(fmt)
    try:
        content = _content(ctx, fmt, args.run)
    except (RunNotFound, FileNotFoundError, PlanError) as error:
        raise FlowError(str(error)) from None
    content = masked(content, ctx.flow.masker)
    ctx.bind(args.out, content)
    if args.file is None:
        return content
    target = Path(args.file)
    _export.write(content, target, fmt)
    return _export.ExportedText(f"exported {fmt} to {target}")


def _content(ctx: CommandContext, fmt: str, run: str | None) -> Any:
    if fmt == "plan":
        return ctx.store().plan(run) if run else _export.plan_of(ctx.flow)
    store = ctx.store()
    runs = _export.flow_runs(ctx.flow, store, run)
    if fmt == "har":
        return _export.har_of(store, runs)
    return _export.ExportedText(_export.curl_of(store, runs))


def export_cells(ctx: CommandContext, words: list[str]) -> Any:
    args = parser(
        "export cells",
        (("file",), {"nargs": "?"}),
        (("--whole",), {"action": "store_true"}),
        (("--out",), {}),
    ).parse(words)
    if not len(ctx.flow):
        raise FlowError("the flow has no steps yet: add one with a %%flow cell")
    plan = ctx.flow.plan()
    try:
        cells = [plan_to_flow_cell(plan)] if args.whole else plan_to_flow_cells(plan)
    except PlanError as error:
        raise FlowError(str(error)) from None
    ctx.bind(args.out, cells)
    if args.file is not None:
        if not args.file.lower().endswith(".ipynb"):
            raise UsageError(f"export cells: {args.file!r}: cells are written to a .ipynb file")
        target = Path(args.file)
        _export.write_notebook(["%load_ext orchestra", *cells], target)
        return _export.ExportedText(f"wrote {len(cells) + 1} cells to {target}")
    ctx.pending_cells[:] = [] if args.whole else cells  # the first is popped when it runs
    ctx.set_next_input(cells[0])
    if args.whole:
        return _export.ExportedText("inserted one cell below holding the whole flow")
    return _export.ExportedText(
        f"inserted the first of {len(cells)} cells below (the plan settings); running each "
        "exported cell inserts the next one below it"
    )


def format_from_name(file: str | None) -> str:
    if file and file.lower().endswith(".har"):
        return "har"
    if file and file.lower().endswith((".sh", ".curl")):
        return "curl"
    return "plan"


def _unknown_format(fmt: str) -> UsageError:
    return unknown("format", fmt, _export.FORMATS, "%flow export --format")


EXPORT = Command(
    "export",
    export,
    usage="export [FILE] [--format plan|har|curl] [--run RUN] | "
    "export cells [FILE.ipynb] [--whole] [--out VAR]",
    what="plan: the current flow as plan JSON (YAML when FILE ends in .yaml), secrets as "
    '{"env": NAME} references. har / curl: the captured exchanges of the runs behind '
    "the flow's steps (or of --run RUN), masked. Without FILE the export is the "
    "cell's result. cells: the %%flow cells that rebuild the flow (settings first), "
    "inserted below one at a time (running one inserts the next), as one cell with "
    "--whole, or written to a new notebook FILE.ipynb.",
    example="%flow export quickstart.json",
)
