"""The ``%flow`` commands: one table of plain functions, each taking a :class:`CommandContext`.

``COMMANDS`` maps each name to its :class:`Command` (function and help), in
the order ``%flow help`` lists them; ``FlowMagic`` only hands a line to
:func:`run_line` (or a cell to :func:`run_cell`), and ``%flow help``, the
magic's docstring read the same table. One module per
group of commands:

* :mod:`.run` — ``run``; :mod:`.cell` — the ``%%flow`` cell and whole-flow runs;
* :mod:`.flow` — ``load``, ``show``, ``graph``, ``reset``; :mod:`.builder` — ``builder``;
* :mod:`.export` — ``export``; :mod:`.importing` — ``import`` (and ``%%flow import``);
  :mod:`.sql` — ``sql``; :mod:`.runs` — ``runs``;
  :mod:`.diff` — ``diff``; :mod:`.dashboard` — ``dashboard``;
* :mod:`.settings` — ``config``, ``secret``;
* :mod:`.debug` — ``debug``, ``break``, the stepping commands, ``where``,
  ``set``, ``eval``; :mod:`.rerun` — ``edit`` (and ``%%flow edit``), ``rerun``;
* ``help`` is defined here, beside the table it reads.
"""

from __future__ import annotations

from typing import Any

from orchestra.notebook._args import command_name, expand, parser, split
from orchestra.notebook._cell import cell_text
from orchestra.notebook._export import ExportedText
from orchestra.notebook._help import command_help, doc, line_help
from orchestra.notebook.commands import (
    builder,
    dashboard,
    debug,
    diff,
    export,
    flow,
    importing,
    rerun,
    run,
    runs,
    settings,
    sql,
)
from orchestra.notebook.commands._command import Command
from orchestra.notebook.commands._context import (
    CommandContext,
    DebugState,
    FlowSettings,
    Settings,
)
from orchestra.notebook.commands.cell import cell

__all__ = [
    "COMMANDS",
    "DOC",
    "Command",
    "CommandContext",
    "DebugState",
    "FlowSettings",
    "Settings",
    "run_cell",
    "run_line",
]


def help_command(ctx: CommandContext, words: list[str]) -> ExportedText:
    args = parser("help", (("command",), {"nargs": "?"})).parse(words)
    if args.command is None:
        return ExportedText(DOC)
    return ExportedText(command_help(COMMANDS[command_name(args.command, list(COMMANDS))]))


HELP = Command(
    "help",
    help_command,
    usage="help [COMMAND]",
    what="This help, or one command's.",
    example="%flow help export",
)

COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        run.RUN,
        flow.LOAD,
        flow.SHOW,
        flow.GRAPH,
        builder.BUILDER,
        export.EXPORT,
        importing.IMPORT,
        sql.SQL,
        settings.CONFIG,
        settings.SECRET,
        flow.RESET,
        runs.RUNS,
        diff.DIFF,
        dashboard.DASHBOARD,
        debug.DEBUG,
        debug.BREAK,
        debug.STEP,
        debug.NEXT_PAGE,
        debug.NEXT_ITEM,
        debug.CONTINUE,
        debug.STOP,
        debug.WHERE,
        debug.SET,
        debug.EVAL,
        rerun.EDIT,
        rerun.RERUN,
        HELP,
    )
}

DOC = doc(COMMANDS.values())
"""``%flow?`` and ``%flow help``."""


def run_line(ctx: CommandContext, line: str) -> Any:
    """``%flow COMMAND …``: find the command (or name the closest one) and call it.

    Its words are split and ``$name``-expanded here, in one place, except for
    a raw command (``sql`` binds ``$name`` itself, ``eval`` is JMESPath).
    """
    text = line.strip()
    if not text:
        return ExportedText(line_help(COMMANDS.values()))
    word, _, rest = text.partition(" ")
    command = COMMANDS[command_name(word, list(COMMANDS))]
    if command.raw:
        return command(ctx, rest)
    return command(ctx, expand(split(rest), ctx.evaluate))


def run_cell(ctx: CommandContext, line: str, body: str) -> Any:
    """``%%flow [NAME] …`` with its body, or ``%%flow edit STEP``."""
    insert_next_exported(ctx, cell_text(line, body))
    words = expand(split(line), ctx.evaluate)
    if len(words) == 2 and words[0] == "edit":  # `%%flow edit STEP`: a step named edit
        return rerun.edit_cell(ctx, words[1], body)  # takes one word, so this is no step name
    if len(words) >= 2 and words[0] == "import" and words[1] in importing.KINDS:
        return importing.import_cell(ctx, words[1:], body)  # likewise
    return cell(ctx, words, line, body)


def insert_next_exported(ctx: CommandContext, text: str) -> None:
    """When the running cell is the next of ``%flow export cells``, insert the one after it."""
    pending = ctx.pending_cells
    if pending and text.strip() == pending[0].strip():
        pending.pop(0)
        if pending:
            ctx.set_next_input(pending[0])
