"""What ``paginate: auto`` chose, as people read it: the CLI summary and the notebook output.

The engine announces each detection with a :class:`PaginationDetected` event
(the capture stores it). :class:`DetectedPagination` is an event subscriber
that keeps each step path's distinct choices — a fanout sub-step detects once
per item, and a hundred identical choices are announced once, with how many
executions made them. :meth:`DetectedPagination.lines` renders them as text
(the explanation, then the ``paginate:``/``records:`` YAML to paste) and
:meth:`DetectedPagination.warnings` names each step whose response looked
paginated but matched no rule, so that one page is never read in silence.
Both surfaces use this module, so they say the same words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestra.events._types import Event, PaginationDetected
from orchestra.masking import Masker


@dataclass(slots=True)
class Detected:
    """One distinct choice of ``paginate: auto`` for a step path."""

    event: PaginationDetected
    executions: int = 1

    @property
    def unmatched(self) -> bool:
        """The response looked paginated, but no rule matched: only one page was read."""
        return self.event.paginate is None and bool(self.event.looks_paginated)

    def warning(self) -> str:
        fields = ", ".join(self.event.looks_paginated)
        return (
            f"step {self.event.step_path}: the response looks paginated (fields: {fields}) "
            "but no rule matched; only one page was read — write paginate: explicitly"
        )


def _key(event: PaginationDetected) -> tuple[Any, ...]:
    return (event.step_path, repr(event.paginate), event.records, event.looks_paginated)


class DetectedPagination:
    """Event subscriber: each step path's distinct ``paginate: auto`` choices, in order."""

    event_types = frozenset({PaginationDetected})

    def __init__(self) -> None:
        self.found: dict[tuple[Any, ...], Detected] = {}

    def __call__(self, event: Event) -> None:
        if not isinstance(event, PaginationDetected):
            return
        known = self.found.get(_key(event))
        if known is None:
            self.found[_key(event)] = Detected(event)
        else:
            known.executions += 1

    def __bool__(self) -> bool:
        return bool(self.found)

    def copy(self) -> DetectedPagination:
        """An independent copy (the notebook reads one while the run goes on)."""
        other = DetectedPagination()
        other.found = {key: Detected(d.event, d.executions) for key, d in self.found.items()}
        return other

    def warnings(self, masker: Masker, *, step_path: str | None = None) -> list[str]:
        """One masked warning per step whose response looked paginated but matched no rule
        (``step_path``: only that step's)."""
        return [
            masker.text(d.warning())
            for d in self.found.values()
            if d.unmatched and step_path in (None, d.event.step_path)
        ]

    def steps(self) -> list[str]:
        """The step paths that made a choice, in order."""
        return list(dict.fromkeys(d.event.step_path for d in self.found.values()))

    def lines(
        self, masker: Masker, *, warnings: bool = True, step_path: str | None = None
    ) -> list[str]:
        """Per choice: ``step <path>: <explanation>``, its warning (unless ``warnings`` is
        false: the caller shows them apart), then the YAML to paste, indented.
        ``step_path``: only that step's choices."""
        out: list[str] = []
        for detected in self.found.values():
            event = detected.event
            if step_path is not None and event.step_path != step_path:
                continue
            times = f" ({detected.executions} executions)" if detected.executions > 1 else ""
            out.append(masker.text(f"step {event.step_path}{times}: {event.explanation}"))
            if warnings and detected.unmatched:
                out.append("  warning: " + masker.text(detected.warning()))
            if event.yaml:
                out.append("  paste into the step instead of paginate: auto:")
                out += ["    " + masker.text(line) for line in event.yaml.rstrip().splitlines()]
        return out
