"""The documentation of ``%%flow`` and ``%flow``: ``%flow?``, ``%flow help [COMMAND]``."""

from __future__ import annotations

CELL = """\
%%flow [NAME] [--no-run] [--out VAR] [--quiet]
<one step, a whole plan, or plan settings, in YAML or JSON>

A step (it has `url`, or `parallel` / `choice`) joins the kernel's current
flow and runs at once. It sees `steps.<name>` of the steps before it and the
flow's `context` as it was before it. NAME names the step (or write `name:`
in the body). Running a cell again - or any cell defining a step of the same
name - replaces that step in place: it runs against the state before it, and
the steps after it that had run are marked *stale* (kept, not re-run; run
their cells again, or `%flow run` to run the whole flow).

A whole plan (it has `steps:` or `step:`) becomes the current flow and runs.
Plan settings alone (`key`, `config`, `auth`, `rate_limits`, `limits` ...)
update the current flow without running anything.

`{...}` in the body is an Orchestra template, never expanded by IPython.

  --no-run    add or replace the step without running it
  --out VAR   also bind the result to the variable VAR (it is `_` as well)
  --quiet     a one-line summary instead of the full output

Example:

    %%flow items
    url: "{config.base_url}/items"
    params: {limit: 10, offset: "{context.next_offset || `0`}"}
    context_updates: {next_offset: response.body.next_offset}
    while: response.body.next_offset != null && response.body.offset < `20`
    sub_steps:
      - name: detail
        iterate_over: response.body.items
        url: "{config.base_url}/items/{item.id}"
"""

COMMANDS: dict[str, tuple[str, str, str]] = {
    # name: (usage, what it does, example)
    "run": (
        "run [FILE] [--config K=V ...] [--replay RUN] [--out VAR] [--quiet]",
        "Without FILE: run the whole current flow from the top (clears stale marks). "
        "With FILE: run that plan file as it is; the current flow is not touched. "
        "--replay answers every request from a captured run instead of the network.",
        "%flow run plans/users.yaml --config base_url=$api.url",
    ),
    "load": (
        "load FILE",
        "Make a plan file (JSON or YAML) the current flow; nothing runs.",
        "%flow load templates/quickstart.yaml",
    ),
    "show": (
        "show [--format yaml|json]",
        "The current flow as plan YAML (or JSON), with each step's status.",
        "%flow show",
    ),
    "graph": (
        "graph",
        "A picture of the flow: steps, sub-steps (fanout), parallel and choice children, "
        "coloured by status, with an arrow for each steps.<name> a step reads.",
        "%flow graph",
    ),
    "export": (
        "export [FILE] [--format plan|har|curl] [--run RUN]",
        "plan: the current flow as plan JSON (YAML when FILE ends in .yaml), secrets as "
        '{"env": NAME} references. har / curl: the captured exchanges of the runs behind '
        "the flow's steps (or of --run RUN), masked. Without FILE the export is the "
        "cell's result.",
        "%flow export quickstart.json",
    ),
    "sql": (
        "sql [--out VAR] QUERY",
        "Any SQL over the capture, returned as a pandas DataFrame. Tables: runs, plans, "
        "steps, exchanges, records, errors (see the README). The rest of the line is the "
        "query; $name (DuckDB's named parameter) takes the notebook variable name.",
        "%flow sql SELECT status_code, count(*) AS n FROM exchanges WHERE run_id = $run_id "
        "GROUP BY 1",
    ),
    "config": (
        "config [K=V ...] [--unset K]",
        "Show or set the flow's config. V is JSON when it parses, else text; $name takes "
        "a Python variable; a dotted K nests. Config is part of the exported plan.",
        "%flow config base_url=$api.url page_size=25",
    ),
    "secret": (
        "secret NAME [--config KEY]",
        "Ask for a secret with a hidden prompt. Runs read it as {env: NAME}, and config "
        "KEY (default NAME) is set to {env: NAME}, so templates use {config.KEY}. The "
        "value is kept in memory only: outputs, history, the capture and exports hold "
        "${NAME} or ***.",
        "%flow secret API_TOKEN --config token",
    ),
    "reset": (
        "reset [--secrets]",
        "Forget the current flow (steps, results, context, settings). Secrets are kept "
        "unless --secrets.",
        "%flow reset",
    ),
    "runs": (
        "runs [--limit N] [--all]",
        "Captured runs of this flow's plan key, newest first (--all: every plan).",
        "%flow runs --limit 5",
    ),
    "help": ("help [COMMAND]", "This help, or one command's.", "%flow help export"),
}


def command_help(name: str) -> str:
    usage, what, example = COMMANDS[name]
    return f"%flow {usage}\n\n{what}\n\nExample:\n    {example}\n"


def line_help() -> str:
    lines = ["%flow COMMAND [ARGS]  (commands below; %flow help COMMAND for one)", ""]
    for usage, what, _ in COMMANDS.values():
        lines.append(f"  %flow {usage}")
        first = what.split(". ")[0].rstrip(".")
        lines.append(f"      {first}.")
    return "\n".join(lines)


SETTINGS = """\
Settings (%config FlowMagic lists them; e.g. %config FlowMagic.db = "run.duckdb"):
db, capture, progress, keep_records, raise_on_failure, body_max_items,
body_max_string, body_budget, body_open_depth, plan_key, interrupt_grace_seconds.
"""


def all_commands_help() -> str:
    return "\n".join(command_help(name) for name in COMMANDS)


DOC = f"""Orchestra: build, run and inspect declarative API flows.

{CELL}
{line_help()}

{all_commands_help()}
{SETTINGS}"""
