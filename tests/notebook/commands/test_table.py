"""The one command table: routing, ``$name`` expansion, help, and errors (no kernel)."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from orchestra.notebook import FlowMagic
from orchestra.notebook.commands import COMMANDS, DOC, Command, run_line


def test_every_command_is_one_entry_with_a_function_and_its_help():
    assert list(COMMANDS)[:3] == ["run", "load", "show"] and list(COMMANDS)[-1] == "help"
    for name, command in COMMANDS.items():
        assert isinstance(command, Command) and command.name == name and callable(command)
        assert f"%flow {command.usage}" in DOC and command.example in DOC
    assert FlowMagic.flow.__doc__ == DOC


def test_help_reads_the_table(ctx):
    listed = run_line(ctx, "")
    for command in COMMANDS.values():
        assert f"  %flow {command.usage}\n" in listed
    assert run_line(ctx, "help") == DOC
    one = run_line(ctx, "help export")
    assert one.startswith("%flow export [FILE] [--format plan|har|curl]")
    assert "Example:\n    %flow export quickstart.json" in one


def test_a_command_added_to_the_table_is_routed_with_expanded_words(ctx, monkeypatch):
    seen: list[object] = []
    echo = Command("echo", lambda c, words: seen.append((c, words)), "echo", "Echo.", "%flow echo")
    monkeypatch.setitem(COMMANDS, "echo", echo)
    ctx.namespace["n"] = 7
    run_line(ctx, "echo $n 'two words' k=$n $$n")
    assert seen == [(ctx, ["7", "two words", "k=7", "$n"])]


def test_raw_commands_get_the_line_as_written(ctx, monkeypatch):
    seen: list[object] = []
    raw = Command("raw", lambda c, rest: seen.append(rest), "raw", "Raw.", "%flow raw", raw=True)
    monkeypatch.setitem(COMMANDS, "raw", raw)
    run_line(ctx, "raw SELECT $n, '{x}'")
    assert seen == ["SELECT $n, '{x}'"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("epxort", "unknown command 'epxort' for %flow; did you mean 'export'?"),
        ("export --fromat har", "unknown option '--fromat' for export; did you mean '--format'?"),
        ("export --format hra", "unknown format 'hra' for %flow export --format; "
                                "did you mean 'har'?"),
        ("runs --limt 3", "did you mean '--limit'?"),
        ("sql --oot x SELECT 1", "did you mean '--out'?"),
        ("help exprt", "did you mean 'export'?"),
        ("show extra", "unexpected argument 'extra'"),
        ("config k=$missing_name", "$missing_name: NameError"),
        ("show 'open", "cannot read the line"),
    ],
)  # fmt: skip
def test_wrong_commands_and_options_are_usage_errors(ctx, line, message):
    with pytest.raises(UsageError) as raised:
        run_line(ctx, line)
    assert message in str(raised.value)
