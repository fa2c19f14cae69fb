"""The documentation of ``%%flow`` and ``%flow``: ``%flow?``, ``%flow help [COMMAND]``.

The cell magic's text and the settings are here; each line command's entry
(usage, what it does, an example) is written next to its function in
:mod:`orchestra.notebook.commands`, and these functions lay the table out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

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


class Documented(Protocol):
    """A command's help entry (:class:`orchestra.notebook.commands.Command` is one)."""

    @property
    def usage(self) -> str: ...

    @property
    def what(self) -> str: ...

    @property
    def example(self) -> str: ...


def command_help(command: Documented) -> str:
    return f"%flow {command.usage}\n\n{command.what}\n\nExample:\n    {command.example}\n"


def line_help(commands: Iterable[Documented]) -> str:
    lines = [
        "%flow COMMAND [ARGS]  (commands below; %flow help COMMAND for one)",
        "",
        "$expr as a word, or after KEY= or --option=, takes a Python value of the notebook",
        "($path, --replay=$rid, page_size=$n); $$ is a literal $. %flow sql binds $name as a",
        "query parameter instead, and %flow eval takes its JMESPath expression as written.",
        "",
    ]
    for command in commands:
        lines.append(f"  %flow {command.usage}")
        first = command.what.split(". ")[0].rstrip(".")
        lines.append(f"      {first}.")
    return "\n".join(lines)


SETTINGS = """\
Settings (%config FlowMagic lists them; e.g. %config FlowMagic.db = "run.duckdb"):
db, capture, progress, keep_records, raise_on_failure, body_max_items,
body_max_string, body_budget, body_open_depth, plan_key, debug_panel,
interrupt_grace_seconds.
"""


def doc(commands: Iterable[Documented]) -> str:
    """``%flow?``: the cell magic, the line commands in brief, each one in full, the settings."""
    listed = list(commands)
    every = "\n".join(command_help(command) for command in listed)
    return f"""Orchestra: build, run and inspect declarative API flows.

{CELL}
{line_help(listed)}

{every}
{SETTINGS}"""
