"""``%flow import curl|har`` and ``%%flow import curl``: an imported request joins the flow.

The request becomes a step (``orchestra.plan.step_from_curl`` /
``steps_from_har``) that is added to the current flow as if its cell had
been written by hand — validated, placed and run like a ``%%flow`` step cell
(``--no-run``: only placed). What the step needs from the plan goes into the
flow's settings: its ``auth`` (when the flow has none yet), its ``config``
values, and its secrets go to the flow's secrets (``%flow secret``), so the
step runs at once and no output shows them. A config key or secret name the
flow already uses for another value is numbered (``cookie_2``, ``API_TOKEN_2``).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml
from IPython.core.error import UsageError

from orchestra.errors import RequestImportError
from orchestra.notebook._args import expand, parser, split
from orchestra.notebook._cell import CellBody
from orchestra.notebook._errors import FlowError
from orchestra.notebook._flow import NotebookFlow
from orchestra.notebook.commands._command import Command
from orchestra.notebook.commands._context import CommandContext
from orchestra.notebook.commands.cell import run_step_cell, update_settings
from orchestra.plan import (
    Imported,
    name_from_url,
    renamed_config,
    renamed_env,
    step_from_curl,
    step_to_curl,
    steps_from_har,
)

KINDS = ("curl", "har")
_SHELL_NAME = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# `%flow import curl [--name N] [--no-run] [--out VAR] [--quiet] curl '…'`: the options
# of the import come first; the rest of the line is the curl command as copied.
_LEADING_OPTION = re.compile(r"\s*(--no-run|--quiet|--name[ =]\S+|--out[ =]\S+)(?=\s|$)")


def import_line(ctx: CommandContext, rest: str) -> Any:
    """``%flow import curl …`` / ``%flow import har FILE [--entry N] …`` (raw: quotes kept)."""
    kind, _, text = rest.strip().partition(" ")
    if kind == "curl":
        options, command = _leading_options(text)
        return import_curl(ctx, options, command)
    if kind == "har":
        return import_har(ctx, expand(split(text), ctx.evaluate))
    raise UsageError(f"import: expected curl or har, got {kind or 'nothing'!r} (see %flow help)")


def import_cell(ctx: CommandContext, words: list[str], body: str) -> Any:
    """``%%flow import curl [--name N] [--no-run] [--out VAR] [--quiet]`` with a curl body."""
    if not words or words[0] != "curl":
        raise UsageError("%%flow import takes a curl command as its body: %%flow import curl")
    return import_curl(ctx, words[1:], body)


def _leading_options(text: str) -> tuple[list[str], str]:
    options: list[str] = []
    while True:
        match = _LEADING_OPTION.match(text)
        if match is None:
            return options, text.strip()
        options.extend(split(match.group(1).replace("=", " ", 1)))
        text = text[match.end() :]


def _options(command: str, words: list[str], *extra: tuple[tuple[str, ...], dict[str, Any]]):
    return parser(
        command,
        (("--name",), {}),
        (("--no-run",), {"action": "store_true"}),
        (("--out",), {"metavar": "VAR"}),
        (("--quiet",), {"action": "store_true"}),
        *extra,
    ).parse(words)


def import_curl(ctx: CommandContext, words: list[str], command: str) -> Any:
    args = _options("import curl", words)
    if not command.strip():
        raise UsageError("import curl: paste the curl command after it (or in the cell body)")
    if not command.lstrip().startswith(("curl ", "curl\n", "curl.exe ")):
        command = "curl " + command
    try:
        imported = step_from_curl(command)
    except RequestImportError as error:
        raise FlowError(str(error)) from None
    return add_step(ctx, imported, name=args.name, no_run=args.no_run, out=args.out,
                    quiet=args.quiet, cell_options=words)  # fmt: skip


def _take_secrets_out_of_the_cell(
    ctx: CommandContext, step: dict[str, Any], auth: dict[str, Any] | None, options: list[str]
) -> str:
    """Rewrite the running cell with every secret as ``${NAME}``, so no saved notebook keeps it.

    The command is written again by :func:`orchestra.plan.step_to_curl` from the
    step as it joined the flow (secret names as the flow numbered them), which
    writes secrets as shell variables; importing it again reads those as the
    same ``{env: NAME}`` references (this kernel keeps their values as the
    flow's secrets; a new kernel needs ``%flow secret NAME`` or the environment).
    Returns the note that says so.
    """
    plan: dict[str, Any] = {"key": "imported", "config": dict(ctx.flow.config)}
    if auth is not None:
        plan["auth"] = auth
    plan["steps"] = [{**step, "name": "imported"}]
    curl = "\n".join(
        line for line in step_to_curl(plan, "imported").splitlines() if not line.startswith("#")
    )
    ctx.replace_input(" ".join(["%%flow import curl", *map(shlex.quote, options)]) + "\n" + curl)
    names = ", ".join("${" + name + "}" for name in dict.fromkeys(_SHELL_NAME.findall(curl)))
    return (
        f"this cell now reads its secrets as {names}; their values stay in this kernel only "
        "(in a new kernel: %flow secret NAME, or the environment)"
    )


def import_har(ctx: CommandContext, words: list[str]) -> Any:
    args = _options(
        "import har", words, (("file",), {}), (("--entry",), {"type": int, "metavar": "N"})
    )
    try:
        imports = steps_from_har(Path(args.file).read_bytes(), entry=args.entry)
    except OSError as error:
        raise FlowError(f"import har: cannot read {args.file!r}: {error}") from None
    except RequestImportError as error:
        raise FlowError(f"{args.file}: {error}") from None
    if args.name and len(imports) > 1:
        raise UsageError("import har: --name names one step; add --entry N")
    shown = None
    for imported in imports:
        shown = add_step(ctx, imported, name=args.name or imported.step.get("name"),
                         no_run=args.no_run, out=args.out, quiet=args.quiet)  # fmt: skip
    return shown


def add_step(
    ctx: CommandContext,
    imported: Imported,
    *,
    name: str | None,
    no_run: bool,
    out: str | None,
    quiet: bool,
    cell_options: list[str] | None = None,
) -> Any:
    """Put the imported step's needs into the flow, then place (and run) it as a cell would.

    ``cell_options``: the step came from a curl command typed in the running
    cell (with these options); a command holding secrets is rewritten without them.
    """
    flow = ctx.flow
    step, auth = _into_flow(ctx, imported)
    if cell_options is not None and imported.secrets:
        imported.notes.append(_take_secrets_out_of_the_cell(ctx, step, auth, cell_options))
    step.pop("name", None)
    name = name or _free_name(flow, name_from_url(str(step["url"])), ctx.cell_id())
    source = f"%%flow {name}\n" + yaml.safe_dump(step, sort_keys=False, allow_unicode=True)
    body = CellBody("step", step, source)
    view = run_step_cell(ctx, body, name=name, no_run=no_run, out=out, quiet=quiet)
    notes = getattr(view, "notes", None)
    if isinstance(notes, list):
        notes.extend(imported.notes)
    return view


def _into_flow(
    ctx: CommandContext, imported: Imported
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The flow's secrets, config and auth take what the step needs; the step and its auth,
    renamed to match where a name was taken."""
    flow = ctx.flow
    step, auth, config = dict(imported.step), imported.auth, dict(imported.config)
    for env, value in imported.secrets.items():
        target, number = env, 2
        while target in flow.secrets and flow.secrets[target] != value:
            target, number = f"{env}_{number}", number + 1
        if target != env:
            auth, config = renamed_env(auth, env, target), renamed_env(config, env, target)
        flow.keep_secret(target, value)
    settings: dict[str, Any] = {}
    merged = dict(flow.config)
    for key, value in config.items():
        target, number = key, 2
        while target in merged and merged[target] != value:
            target, number = f"{key}_{number}", number + 1
        if target != key:
            step = renamed_config(step, key, target)
        merged[target] = value
    if merged != flow.config:
        settings["config"] = merged
    if auth is not None and not flow.settings.get("auth"):
        settings["auth"] = auth
    elif auth is not None and flow.settings.get("auth") != auth:
        imported.notes.append(
            "the flow already has an auth, which this step uses; its own credentials "
            "(kept as secrets) were not used"
        )
    if settings:
        update_settings(ctx, settings)
    return step, auth


def _free_name(flow: NotebookFlow, base: str, cell_id: str | None) -> str:
    """``base``, numbered if another cell's step has it (this cell's own step is replaced)."""
    mine = flow.by_cell(cell_id)
    name, number = base, 2
    while flow.find(name) is not None and flow.find(name) is not mine:
        name, number = f"{base}_{number}", number + 1
    return name


IMPORT = Command(
    "import",
    import_line,
    usage="import curl [--name N] [--no-run] CURL… | import har FILE [--entry N] [--no-run]",
    what="Add the request of a curl command (as copied from the browser: Copy as cURL "
    "(bash)) or of a HAR file's entries (all API calls, or --entry N) to the flow as "
    "steps, and run them. Secrets in the request become {env: NAME} references and the "
    "flow's secrets; auth and config go to the flow's settings. %%flow import curl takes "
    "the command as the cell body.",
    example="%flow import curl curl 'https://api.example.com/users' -H 'Accept: */*'",
    raw=True,
)
