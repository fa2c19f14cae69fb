"""The flow's settings from a line: ``%flow config`` and ``%flow secret``."""

from __future__ import annotations

import json
from typing import Any

from IPython.core.error import StdinNotImplementedError, UsageError

from orchestra.notebook._args import assignments, parser
from orchestra.notebook._errors import FlowError
from orchestra.notebook._export import ExportedText
from orchestra.notebook._secrets import masked
from orchestra.notebook.commands._command import Command
from orchestra.notebook.commands._context import CommandContext

MIN_SECRET_LENGTH = 4


def config(ctx: CommandContext, words: list[str]) -> ConfigView:
    args = parser(
        "config", (("pairs",), {"nargs": "*"}), (("--unset",), {"action": "append"})
    ).parse(words)
    values = ctx.flow.config
    for key in args.unset or []:
        target = values
        *parents, last = key.split(".")
        for part in parents:
            target = target.get(part, {})
        if last not in target:
            raise UsageError(f"config: {key!r} is not set")
        del target[last]
    merge(values, assignments(args.pairs))
    return ConfigView(masked(values, ctx.flow.masker))


def secret(ctx: CommandContext, words: list[str]) -> ExportedText:
    args = parser("secret", (("name",), {}), (("--config",), {"dest": "key"})).parse(words)
    name = args.name
    if not name.isidentifier():
        raise UsageError(f"secret: {name!r} is not a valid name (letters, digits, '_')")
    try:
        value = ctx.ask_secret(f"{name}: ")
    except StdinNotImplementedError:
        raise FlowError(
            f"secret: this frontend cannot prompt; set the environment variable {name} "
            f"before starting the kernel and use {{env: {name}}}"
        ) from None
    if len(value) < MIN_SECRET_LENGTH:
        raise FlowError(
            f"secret: the value is shorter than {MIN_SECRET_LENGTH} characters; it could "
            "not be masked safely, so it was not kept"
        )
    ctx.flow.keep_secret(name, value)
    ctx.flow.config[args.key or name] = {"env": name}
    return ExportedText(
        f"secret {name} kept in memory; runs read it as {{env: {name}}} and "
        f"{{config.{args.key or name}}}"
    )


class ConfigView(dict[str, Any]):
    """A masked copy of the flow's config; secrets appear as their ``{"env": NAME}``
    references (and a value known to be secret as ``${NAME}`` or ``***``)."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text("config: " + json.dumps(dict(self), indent=2, default=str))


def merge(target: dict[str, Any], updates: dict[str, Any]) -> None:
    """Dotted assignments into the config: nested objects merge, anything else replaces."""
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict) and value:
            merge(target[key], value)
        else:
            target[key] = value


CONFIG = Command(
    "config",
    config,
    usage="config [K=V ...] [--unset K]",
    what="Show or set the flow's config. V is JSON when it parses, else text; $name takes "
    "a Python variable; a dotted K nests. Config is part of the exported plan.",
    example="%flow config base_url=$api.url page_size=25",
)
SECRET = Command(
    "secret",
    secret,
    usage="secret NAME [--config KEY]",
    what="Ask for a secret with a hidden prompt. Runs read it as {env: NAME}, and config "
    "KEY (default NAME) is set to {env: NAME}, so templates use {config.KEY}. The "
    "value is kept in memory only: outputs, history, the capture and exports hold "
    "${NAME} or ***.",
    example="%flow secret API_TOKEN --config token",
)
