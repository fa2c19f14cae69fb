"""``%flow run [FILE]``: the whole current flow from the top, or a plan file as it is."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from orchestra.errors import PlanError
from orchestra.notebook._args import assignments, parser
from orchestra.notebook._errors import FlowError
from orchestra.notebook.commands._command import Command
from orchestra.notebook.commands._context import CommandContext
from orchestra.notebook.commands.cell import run_flow
from orchestra.plan import ReadCaps, decode_plan, load_plan


def run(ctx: CommandContext, words: list[str]) -> Any:
    args = parser(
        "run",
        (("file",), {"nargs": "?"}),
        (("--config", "-c"), {"action": "append", "default": []}),
        (("--replay",), {}),
        (("--out",), {}),
        (("--quiet",), {"action": "store_true"}),
        (("--max-pages",), {"type": positive, "metavar": "N"}),
        (("--max-fanout-items",), {"type": positive, "metavar": "N"}),
        (("--max-records",), {"type": positive, "metavar": "N"}),
    ).parse(words)
    overrides = assignments(args.config)
    caps = ReadCaps.of(
        max_pages=args.max_pages,
        max_fanout_items=args.max_fanout_items,
        max_records=args.max_records,
    )
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


def positive(text: str) -> int:
    """A cap's value: a whole number of at least 1."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {number}")
    return number


RUN = Command(
    "run",
    run,
    usage="run [FILE] [--config K=V ...] [--replay RUN] [--out VAR] [--quiet] "
    "[--max-pages N] [--max-fanout-items N] [--max-records N]",
    what="Without FILE: run the whole current flow from the top (clears stale marks). "
    "With FILE: run that plan file as it is; the current flow is not touched. "
    "--replay answers every request from a captured run instead of the network. "
    "--max-pages/--max-fanout-items/--max-records make it a test read: steps stop at "
    "the caps, the output says 'partial: …' and no persistent context is saved.",
    example="%flow run plans/users.yaml --config base_url=$api.url",
)
