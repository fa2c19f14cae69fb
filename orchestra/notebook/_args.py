"""Argument parsing for ``%flow`` commands and the ``%%flow`` line.

Each command has a small argparse parser that raises IPython's
``UsageError`` instead of exiting, never guesses abbreviations, and answers
an unknown option with the closest valid one. ``$name`` takes a Python value
from the notebook (IPython's own variable syntax), expanded in one place,
:func:`expand`, before any command parses its words; IPython's own expansion
is off for ``%flow`` since ``{…}`` is an Orchestra template.
"""

from __future__ import annotations

import argparse
import json
import shlex
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from IPython.core.error import UsageError

from orchestra.notebook._errors import unknown
from orchestra.plan import CAP_NAMES, ReadCaps


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


def parser(command: str, *options: tuple[tuple[str, ...], dict[str, Any]]) -> Parser:
    """A command's parser from ``((flags…), {argparse keywords})`` pairs."""
    built = Parser(command)
    for flags, kwargs in options:
        built.add_argument(*flags, **kwargs)
    return built


def positive(text: str) -> int:
    """A cap's value: a whole number of at least 1."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {number}")
    return number


CAP_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = tuple(
    ((f"--{name.replace('_', '-')}",), {"type": positive, "metavar": "N"}) for name in CAP_NAMES
)
"""The test-read caps ``run`` and ``debug`` take: ``--max-pages N`` and so on."""
CAP_USAGE = "[--max-pages N] [--max-fanout-items N] [--max-records N]"


def caps_of(args: argparse.Namespace) -> ReadCaps | None:
    """The caps a command's ``--max-…`` options give (None: none given, read everything)."""
    return ReadCaps.of(
        max_pages=args.max_pages,
        max_fanout_items=args.max_fanout_items,
        max_records=args.max_records,
    )


def split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as error:
        raise UsageError(f"cannot read the line: {error} (check the quotes)") from None


class Expanded(str):
    """A word whose ``$expr`` was replaced: the text argparse sees, plus the Python value."""

    value: Any

    @classmethod
    def of(cls, text: str, value: Any) -> Expanded:
        word = cls(text)
        word.value = value
        return word


def expand(words: Sequence[str], evaluate: Callable[[str], Any]) -> list[str]:
    """The one place ``$name`` is expanded in a ``%flow`` line, before it is parsed.

    A word ``$expr`` becomes the Python value's text; in ``KEY=$expr`` and
    ``--option=$expr`` only the part after ``=`` is replaced. The value itself
    is kept on the word (:class:`Expanded`), so ``config`` and ``set`` store
    the Python value, not its text. ``$$`` at those places is a literal ``$``.
    """
    return [_expand_word(word, evaluate) for word in words]


def _expand_word(word: str, evaluate: Callable[[str], Any]) -> str:
    head, sep, tail = word.partition("=")
    prefix, text = (head + sep, tail) if sep and head and not word.startswith("$") else ("", word)
    if text.startswith("$$"):
        return prefix + text[1:]
    if not text.startswith("$") or len(text) < 2:
        return word
    found = evaluate(text[1:])
    return Expanded.of(prefix + str(found), found)


def value(text: str) -> Any:
    """A config value: JSON when it parses, else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def assignment(word: str, command: str) -> tuple[str, Any]:
    """``KEY=VALUE`` → ``(KEY, value)``; a ``KEY=$expr`` keeps the Python value."""
    key, sep, text = word.partition("=")
    if not sep or not key:
        raise UsageError(f"{command}: expected KEY=VALUE, got {word!r}")
    return key, word.value if isinstance(word, Expanded) else value(text)


def assignments(words: Sequence[str]) -> dict[str, Any]:
    """``a=1 b.c=x`` → ``{"a": 1, "b": {"c": "x"}}`` (dotted keys nest)."""
    result: dict[str, Any] = {}
    for word in words:
        key, found = assignment(word, "config")
        target = result
        *parents, last = key.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = found
    return result


def command_name(word: str, commands: Sequence[str]) -> str:
    if word in commands:
        return word
    raise unknown("command", word, commands, "%flow")
