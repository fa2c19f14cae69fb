"""Applying a test read's :class:`~orchestra.plan.ReadCaps` while a run goes.

One :class:`Capping` per run (``RunContext.capping``, None without caps)
counts each step path's records and tells the step loop when to stop: after
``max_pages`` pages of an execution, once ``max_records`` records of a step
path are out, and which of a fanout's items run (the first
``max_fanout_items``). Each cap that cuts a step short is announced once per
step path with a :class:`~orchestra.events.StepCapped` event.
"""

from __future__ import annotations

import time
from typing import Any

from orchestra.events import EventBus, StepCapped
from orchestra.plan import ReadCaps, describe_cap


class Capping:
    """The caps of one run and what they have counted so far."""

    __slots__ = ("bus", "caps", "records", "reported", "run_id")

    def __init__(self, caps: ReadCaps, bus: EventBus, run_id: str) -> None:
        self.caps = caps
        self.bus = bus
        self.run_id = run_id
        self.records: dict[str, int] = {}  # step path -> records emitted so far
        self.reported: set[tuple[str, str]] = set()

    def report(self, step_path: str, cap: str, count: int, total: int | None = None) -> None:
        """Announce that ``cap`` cut ``step_path`` short (once per step path and cap)."""
        if (step_path, cap) in self.reported:
            return
        self.reported.add((step_path, cap))
        self.bus.emit(
            StepCapped(
                run_id=self.run_id,
                at=time.time(),
                step_path=step_path,
                cap=cap,
                count=count,
                total=total,
                message=describe_cap(cap, step_path, count, total),
            )
        )

    def admit(self, step_path: str, records: list[Any]) -> list[Any]:
        """The records of ``step_path`` that fit under ``max_records`` (counted as emitted)."""
        limit = self.caps.max_records
        if limit is None:
            return records
        done = self.records.get(step_path, 0)
        room = max(0, limit - done)
        if len(records) > room:
            records = records[:room]
            self.report(step_path, "max_records", limit)
        self.records[step_path] = done + len(records)
        return records

    def records_full(self, step_path: str) -> bool:
        """Whether ``step_path`` has emitted ``max_records`` already."""
        limit = self.caps.max_records
        return limit is not None and self.records.get(step_path, 0) >= limit

    def stop_paging(self, step_path: str, page: int) -> bool:
        """Before reading page ``page + 1`` of a step that has one: whether a cap says stop."""
        if self.records_full(step_path):  # the records ran out first: that is the reason
            self.report(step_path, "max_records", self.caps.max_records or 0)
            return True
        limit = self.caps.max_pages
        if limit is not None and page >= limit:
            self.report(step_path, "max_pages", limit)
            return True
        return False

    def fanout_items(self, step_path: str, items: list[Any]) -> list[Any]:
        """The items of a fanout that run: the first ``max_fanout_items``."""
        limit = self.caps.max_fanout_items
        if limit is None or len(items) <= limit:
            return items
        self.report(step_path, "max_fanout_items", limit, total=len(items))
        return items[:limit]
