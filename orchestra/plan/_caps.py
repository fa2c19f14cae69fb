"""``ReadCaps``: the caps of a test read (max pages, fanout items and records per step).

A test read tries a flow against the real API without reading all of it, as
Airbyte's connector builder does: each step stops after ``max_pages`` pages
(per execution), a fanout runs at most ``max_fanout_items`` of its items, and
a step emits at most ``max_records`` records in the whole run. The engine
applies the caps between ordinary pages, so the debugger, capture and limits
see nothing unusual; when a cap cuts a step short it says so with a
``StepCapped`` event and the run's result is ``partial``. A run with caps never
saves persistent context: a test read must not move an incremental cursor.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

CAP_NAMES = ("max_pages", "max_fanout_items", "max_records")


@dataclass(frozen=True, slots=True)
class ReadCaps:
    """How much of each step a test read reads; ``None`` leaves that dimension uncapped."""

    max_pages: int | None = None
    max_fanout_items: int | None = None
    max_records: int | None = None

    def __post_init__(self) -> None:
        for cap in fields(self):
            value = getattr(self, cap.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"ReadCaps.{cap.name} must be a whole number of at least 1 or None, "
                    f"got {value!r}"
                )

    @classmethod
    def test_read(cls) -> ReadCaps:
        """The caps a builder starts from, as Airbyte's test read: 5 pages, 5 fanout
        items, 100 records per step."""
        return cls(max_pages=5, max_fanout_items=5, max_records=100)

    @classmethod
    def of(cls, **values: Any) -> ReadCaps | None:
        """Caps from keyword values that may all be None (then: no caps at all)."""
        given = {name: value for name, value in values.items() if value is not None}
        return cls(**given) if given else None

    @property
    def any(self) -> bool:
        """Whether at least one cap is set."""
        return any(getattr(self, name) is not None for name in CAP_NAMES)


def describe_cap(cap: str, step_path: str, count: int, total: int | None = None) -> str:
    """The words a result shows for one cap that cut a step short."""
    if cap == "max_pages":
        return f"stopped at {count} page{'' if count == 1 else 's'} in step {step_path!r}"
    if cap == "max_fanout_items":
        of = f" of {total}" if total is not None else ""
        return f"ran {count}{of} fanout items in step {step_path!r}"
    if cap == "max_records":
        return f"stopped at {count} record{'' if count == 1 else 's'} in step {step_path!r}"
    return f"{cap} {count} in step {step_path!r}"
