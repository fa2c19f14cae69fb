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

`%%flow edit STEP` replaces the definition of an existing root step with the
body without running it (`%flow edit STEP` writes that cell for you; then
`%flow rerun STEP`).

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
        "Forget the current flow (steps, results, context, settings) and the breakpoints, "
        "and stop a debug session. Secrets are kept unless --secrets.",
        "%flow reset",
    ),
    "runs": (
        "runs [--limit N] [--all]",
        "Captured runs of this flow's plan key, newest first (--all: every plan).",
        "%flow runs --limit 5",
    ),
    "debug": (
        "debug [FILE] [--replay RUN] [--config K=V ...] [--step] [--out VAR]",
        "Run the current flow (or a plan file) under the debugger until the first breakpoint "
        "(--step: until the first step), then return with the run PAUSED: the kernel is idle, "
        "so other cells and the panel's buttons work. The result is the session: where it "
        "is, .scope (the paused scope: reads masked, assignments reach the run), .step() "
        ".next_page() .next_item() .cont() .stop(). --replay RUN re-executes a captured run "
        "from the capture, without the network, and pauses before the request where that run "
        "failed, with its scope restored. A debug run is captured with mode debug; every "
        "debug action is an event in the capture's events table. A debug run that fails "
        "does not fail the cell (look at .status). Only one session runs at a time.",
        "%flow debug --replay last",
    ),
    "break": (
        "break [STEP] [--when EXPR] [--clear]",
        "Set a breakpoint on a step (path or name; `breakpoint: true` in a plan works too), "
        "list them (no STEP), or remove one or all (--clear). --when stops only where the "
        "JMESPath EXPR is true: checked when each response arrives if it reads `response`, "
        "else before each request. Applies to a running session at once. STEP must be a step "
        "of the live session's plan, else of the current flow: an unknown name is rejected "
        "with the steps there are, closest first. A parallel group or a choice sends no "
        "request, so it takes no breakpoint: it is rejected, naming the steps inside it to "
        "break on instead (or use %flow debug --step).",
        "%flow break items --when 'response.status_code != `200`'",
    ),
    "step": (
        "step",
        "Run the paused run to the next step that starts outside the paused one (step over).",
        "%flow step",
    ),
    "next-page": (
        "next-page",
        "Run the paused run to the next page of the paused step (or of the step above it); "
        "when there is none, to the next step.",
        "%flow next-page",
    ),
    "next-item": (
        "next-item",
        "Run the paused run to the next fanout item (from a parent step: its first item); "
        "when there is none, to the next step.",
        "%flow next-item",
    ),
    "continue": (
        "continue",
        "Run the paused run to the next breakpoint, or to its end.",
        "%flow continue",
    ),
    "stop": (
        "stop",
        "End the debug run now as `stopped`; what ran so far is captured.",
        "%flow stop",
    ),
    "where": (
        "where",
        "Where the debug run is paused (step path, item, page, attempt, why) and its scope "
        "(config with secrets masked, context, item, response, prev, parent, steps).",
        "%flow where",
    ),
    "set": (
        "set PATH=VALUE ... [--unset PATH]",
        "Change the paused scope. context, config and steps are the run's: later requests "
        "see the change. item, parent, prev and response are the paused step's own copy. "
        "VALUE is JSON when it parses, else text; $name takes a Python variable.",
        "%flow set context.next_offset=6",
    ),
    "eval": (
        "eval EXPR",
        "Evaluate a JMESPath expression against the paused scope (without a pause: against "
        "the flow's config, context and steps) and return the value, masked.",
        "%flow eval 'response.body.items[0]'",
    ),
    "edit": (
        "edit STEP",
        "Put a root step's definition into a new cell below as `%%flow edit STEP` + YAML; "
        "running that cell replaces the step without running it (in a plan file's debug "
        "session: the session's copy of the plan).",
        "%flow edit items",
    ),
    "rerun": (
        "rerun STEP [--out VAR] [--quiet]",
        "Run one root step again, alone, against the steps and context it started with in "
        "the last debug session (else in the flow): the steps above it are not called again. "
        "A new run of mode debug.",
        "%flow rerun one",
    ),
    "help": ("help [COMMAND]", "This help, or one command's.", "%flow help export"),
}


def command_help(name: str) -> str:
    usage, what, example = COMMANDS[name]
    return f"%flow {usage}\n\n{what}\n\nExample:\n    {example}\n"


def line_help() -> str:
    lines = [
        "%flow COMMAND [ARGS]  (commands below; %flow help COMMAND for one)",
        "",
        "$expr as a word, or after KEY= or --option=, takes a Python value of the notebook",
        "($path, --replay=$rid, page_size=$n); $$ is a literal $. %flow sql binds $name as a",
        "query parameter instead, and %flow eval takes its JMESPath expression as written.",
        "",
    ]
    for usage, what, _ in COMMANDS.values():
        lines.append(f"  %flow {usage}")
        first = what.split(". ")[0].rstrip(".")
        lines.append(f"      {first}.")
    return "\n".join(lines)


SETTINGS = """\
Settings (%config FlowMagic lists them; e.g. %config FlowMagic.db = "run.duckdb"):
db, capture, progress, keep_records, raise_on_failure, body_max_items,
body_max_string, body_budget, body_open_depth, plan_key, debug_panel,
interrupt_grace_seconds.
"""


def all_commands_help() -> str:
    return "\n".join(command_help(name) for name in COMMANDS)


DOC = f"""Orchestra: build, run and inspect declarative API flows.

{CELL}
{line_help()}

{all_commands_help()}
{SETTINGS}"""
