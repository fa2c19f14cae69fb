"""``%flow export``: the flow as a plan, or its captured runs as HAR or curl (``_export``)."""

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


def export(ctx: CommandContext, words: list[str]) -> Any:
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
    usage="export [FILE] [--format plan|har|curl] [--run RUN]",
    what="plan: the current flow as plan JSON (YAML when FILE ends in .yaml), secrets as "
    '{"env": NAME} references. har / curl: the captured exchanges of the runs behind '
    "the flow's steps (or of --run RUN), masked. Without FILE the export is the "
    "cell's result.",
    example="%flow export quickstart.json",
)
