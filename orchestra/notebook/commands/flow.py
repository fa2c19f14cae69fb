"""The current flow as a whole: ``%flow load``, ``show``, ``graph`` and ``reset``."""

from __future__ import annotations

from pathlib import Path

from orchestra.errors import PlanError
from orchestra.notebook._args import parser
from orchestra.notebook._errors import FlowError
from orchestra.notebook._export import ExportedText
from orchestra.notebook._views import FlowGraph, FlowView
from orchestra.notebook.commands._command import Command
from orchestra.notebook.commands._context import CommandContext
from orchestra.plan import decode_plan, load_plan, parse_text


def load(ctx: CommandContext, words: list[str]) -> FlowView:
    args = parser("load", (("file",), {})).parse(words)
    file = Path(args.file)
    try:
        load_plan(file)  # validate before the current flow is replaced
    except PlanError as error:
        raise FlowError(str(error)) from None
    source = decode_plan(file.read_bytes(), source=str(file))
    ctx.flow.replace_all(parse_text(source, source=str(file)), source=source)
    return FlowView.of(ctx.flow)


def show(ctx: CommandContext, words: list[str]) -> FlowView:
    args = parser(
        "show",
        (("--format",), {"choices": ["yaml", "json"], "default": "yaml"}),
        (("--expanded",), {"action": "store_true"}),
    ).parse(words)
    return FlowView.of(ctx.flow, args.format, expanded=args.expanded)


def graph(ctx: CommandContext, words: list[str]) -> FlowGraph:
    parser("graph").parse(words)
    return FlowGraph(ctx.flow)


def reset(ctx: CommandContext, words: list[str]) -> ExportedText:
    args = parser("reset", (("--secrets",), {"action": "store_true"})).parse(words)
    ctx.debug.end()
    ctx.debug.breakpoints.clear()
    ctx.flow.reset(secrets=args.secrets)
    kept = "" if args.secrets or not ctx.flow.secrets else " (secrets kept)"
    return ExportedText(f"the flow is empty{kept}")


LOAD = Command(
    "load",
    load,
    usage="load FILE",
    what="Make a plan file (JSON or YAML) the current flow; nothing runs.",
    example="%flow load templates/quickstart.yaml",
)
SHOW = Command(
    "show",
    show,
    usage="show [--format yaml|json] [--expanded]",
    what="The current flow as plan YAML (or JSON), with each step's status; --expanded "
    "replaces each paginate preset by the fields it stands for (page_state, next_url, while).",
    example="%flow show --expanded",
)
GRAPH = Command(
    "graph",
    graph,
    usage="graph",
    what="A picture of the flow: steps, sub-steps (fanout), parallel and choice children, "
    "coloured by status, with an arrow for each steps.<name> a step reads.",
    example="%flow graph",
)
RESET = Command(
    "reset",
    reset,
    usage="reset [--secrets]",
    what="Forget the current flow (steps, results, context, settings) and the breakpoints, "
    "and stop a debug session. Secrets are kept unless --secrets.",
    example="%flow reset",
)
