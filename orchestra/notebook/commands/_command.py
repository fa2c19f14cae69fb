"""``Command``: one ``%flow`` command — its function and its help — as the table holds it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from orchestra.notebook.commands._context import CommandContext


@dataclass(frozen=True)
class Command:
    """A ``%flow NAME …`` command.

    ``function(ctx, words)`` gets the line's words after the name, split like
    a shell and with ``$name`` already expanded; a ``raw`` command (``sql``,
    ``eval``) gets the rest of the line as written instead, since ``$name``
    and quotes mean something else there. ``usage``, ``what`` and ``example``
    are its ``%flow help`` entry.
    """

    name: str
    function: Callable[[CommandContext, Any], Any]
    usage: str
    what: str
    example: str
    raw: bool = False

    def __call__(self, ctx: CommandContext, arguments: Any) -> Any:
        return self.function(ctx, arguments)
