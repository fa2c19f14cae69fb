"""Argument parsing for ``%flow`` commands and the ``%%flow`` line.

Each command has a small argparse parser that raises IPython's
``UsageError`` instead of exiting, never guesses abbreviations, and answers
an unknown option with the closest valid one. ``$name`` in a value takes a
Python variable from the notebook (IPython's own variable syntax); IPython's
``{…}`` expansion is off for ``%flow``, since braces are Orchestra templates.
"""

from __future__ import annotations

import argparse
import json
import shlex
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from IPython.core.error import UsageError

from orchestra.notebook._errors import unknown


class Parser(argparse.ArgumentParser):
    """An argparse parser for one ``%flow`` command."""

    def __init__(self, command: str, **kwargs: Any) -> None:
        super().__init__(prog=command, add_help=False, allow_abbrev=False, **kwargs)
        self.command = command

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.command}: {message} (see %flow help)")

    def options(self) -> list[str]:
        return [o for action in self._actions for o in action.option_strings]

    def parse(self, words: Sequence[str]) -> argparse.Namespace:
        namespace, extra = self.parse_known_args(list(words))
        for word in extra:
            if word.startswith("-"):
                raise unknown("option", word.split("=")[0], self.options(), self.command)
            raise UsageError(f"{self.command}: unexpected argument {word!r} (see %flow help)")
        return namespace


def split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as error:
        raise UsageError(f"cannot read the line: {error} (check the quotes)") from None


def value(text: str, evaluate: Callable[[str], Any]) -> Any:
    """A config value: ``$expr`` (a Python value), else JSON when it parses, else the text."""
    if text.startswith("$") and len(text) > 1:
        return evaluate(text[1:])
    try:
        return json.loads(text)
    except ValueError:
        return text


def path(text: str, evaluate: Callable[[str], Any]) -> str:
    """A file argument: ``$expr`` takes a Python variable (``$plan_path``)."""
    if text.startswith("$") and len(text) > 1:
        return str(evaluate(text[1:]))
    return text


def assignments(words: Sequence[str], evaluate: Callable[[str], Any]) -> dict[str, Any]:
    """``a=1 b.c=x`` → ``{"a": 1, "b": {"c": "x"}}`` (dotted keys nest)."""
    result: dict[str, Any] = {}
    for word in words:
        key, sep, text = word.partition("=")
        if not sep or not key:
            raise UsageError(f"config: expected KEY=VALUE, got {word!r}")
        target = result
        *parents, last = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value(text, evaluate)
    return result


def command_name(word: str, commands: Sequence[str]) -> str:
    if word in commands:
        return word
    raise unknown("command", word, commands, "%flow")
