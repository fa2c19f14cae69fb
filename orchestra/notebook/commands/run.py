"""``%flow run [FILE]``: the whole current flow from the top, or a plan file as it is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from orchestra.errors import PlanError
from orchestra.notebook._args import CAP_OPTIONS, CAP_USAGE, assignments, caps_of, parser
from orchestra.notebook._errors import FlowError
from orchestra.notebook.commands._command import Command
from orchestra.notebook.commands._context import CommandContext
from orchestra.notebook.commands.cell import run_flow
from orchestra.plan import decode_plan, load_plan


def run(ctx: CommandContext, words: list[str]) -> Any:
    args = parser(
        "run",
        (("file",), {"nargs": "?"}),
        (("--config", "-c"), {"action": "append", "default": []}),
        (("--replay",), {}),
        (("--out",), {}),
        (("--quiet",), {"action": "store_true"}),
        *CAP_OPTIONS,
    ).parse(words)
    overrides = assignments(args.config)
    caps = caps_of(args)
    if args.file is None:
        if overrides or args.replay:
            raise UsageError("run: --config and --replay go with a FILE (use %flow config)")
        return run_flow(ctx, out=args.out, quiet=args.quiet, caps=caps)
    file = Path(args.file)
    try:
        compiled = load_plan(file)
    except PlanError as error:
        raise FlowError(str(error)) from None
    source = decode_plan(file.read_bytes(), source=str(file))
    _, view = ctx.run_plan(
        compiled,
        title=f"plan {file.name}",
        sources={node.name: source for node in compiled.steps},
        config=overrides,
        replay=args.replay,
        caps=caps,
    )
    return ctx.finish(view, out=args.out, quiet=args.quiet)


RUN = Command(
    "run",
    run,
    usage=f"run [FILE] [--config K=V ...] [--replay RUN] [--out VAR] [--quiet] {CAP_USAGE}",
    what="Without FILE: run the whole current flow from the top (clears stale marks). "
    "With FILE: run that plan file as it is; the current flow is not touched. "
    "--replay answers every request from a captured run instead of the network. "
    "--max-pages/--max-fanout-items/--max-records make it a test read: steps stop at "
    "the caps, the output says 'partial: …' and no persistent context is saved.",
    example="%flow run plans/users.yaml --config base_url=$api.url",
)
