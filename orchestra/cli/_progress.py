"""Live subscribers of ``orchestra run``: terminal progress bars and the records file.

:class:`ProgressDisplay` draws tqdm bars from the engine's events: one bar per
step path that paginates (pages done, no total) and one per fanout step path
(items done out of the items seen so far: every ``FanoutStarted`` adds its
``total_items``). The display is an event subscriber called on the
engine's loop, so each call does a dictionary lookup and, at most, one tqdm
update (tqdm throttles redraws with ``mininterval``).

:class:`RecordsWriter` streams every emitted record, masked, to a JSON Lines
file as it arrives, so a run of any size holds no records in memory.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TextIO

import orjson
from tqdm import tqdm

from orchestra._json import convert, to_json
from orchestra.events import (
    Event,
    FanoutItemFinished,
    FanoutStarted,
    PageFinished,
    RecordEmitted,
    RunFinished,
    RunStarted,
    RunTotals,
)
from orchestra.masking import Masker


class ProgressDisplay:
    """Event subscriber drawing progress bars; does nothing when ``enabled`` is false.

    It counts pages and fanout items with the run's
    :class:`~orchestra.events.RunTotals` (``totals``) and moves each bar to
    the model's count.
    """

    def __init__(
        self, *, enabled: bool, file: TextIO | None = None, mininterval: float = 0.1
    ) -> None:
        self.enabled = enabled
        self.file = file if file is not None else sys.stderr
        self.mininterval = mininterval
        self.masker = Masker()
        self.totals = RunTotals()
        self.page_bars: dict[str, tqdm] = {}
        self.fanout_bars: dict[str, tqdm] = {}
        self._handlers = self.totals.handlers(
            {
                PageFinished: self._on_page,
                FanoutStarted: self._on_fanout_started,
                FanoutItemFinished: self._on_fanout_item,
                RunStarted: self._on_run_started,
                RunFinished: self._on_run_finished,
            },
            counted=(PageFinished, FanoutStarted, FanoutItemFinished),
        )

    def __call__(self, event: Event) -> None:
        if not self.enabled:
            return
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    @property
    def failed_items(self) -> dict[str, int]:
        """Fanout items that did not end ``ok``, per step path."""
        return {path: s.items_not_ok for path, s in self.totals.steps.items() if s.items_not_ok}

    def _bar(self, path: str, unit: str, total: int | None) -> tqdm:
        return tqdm(
            desc=self.masker.text(path),
            unit=unit,
            total=total,
            file=self.file,
            mininterval=self.mininterval,
            dynamic_ncols=True,
            leave=True,
        )

    def _on_run_started(self, event: RunStarted) -> None:
        self.masker = event.masker

    def _on_page(self, event: PageFinished) -> None:
        path = event.step_path
        if path in self.fanout_bars:
            return  # a paginated fanout step: its items bar says more than a page count
        bar = self.page_bars.get(path)
        if bar is None:
            bar = self.page_bars[path] = self._bar(path, "page", None)
        bar.update(self.totals.steps[path].pages_finished - bar.n)

    def _on_fanout_started(self, event: FanoutStarted) -> None:
        path = event.step_path
        items = self.totals.steps[path].items_total  # every FanoutStarted adds its items
        bar = self.fanout_bars.get(path)
        if bar is None:
            self.fanout_bars[path] = self._bar(path, "item", items)
            return
        bar.total = items
        bar.refresh()

    def _on_fanout_item(self, event: FanoutItemFinished) -> None:
        bar = self.fanout_bars.get(event.step_path)
        if bar is None:
            return
        stats = self.totals.steps[event.step_path]
        if event.status != "ok":
            bar.set_postfix_str(f"{stats.items_not_ok} not ok", refresh=False)
        bar.update(stats.items_done - bar.n)

    def _on_run_finished(self, event: RunFinished) -> None:
        self.close()

    def close(self) -> None:
        """Close every bar (safe to call more than once, e.g. after an interrupt)."""
        bars = [*self.page_bars.values(), *self.fanout_bars.values()]
        self.page_bars.clear()
        self.fanout_bars.clear()
        for bar in bars:
            bar.close()


class RecordsWriter:
    """Event subscriber writing each ``RecordEmitted`` as one masked JSON line.

    A line: ``{"run_id", "plan_key", "step_path", "page", "item_index",
    "emitted_at", "data"}``. A write error stops the writing and is kept in
    ``error`` (the event bus would only log it) so the command can report it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] | None = self.path.open("wb")
        self.masker = Masker()
        self.plan_key = ""
        self.written = 0
        self.error: OSError | None = None

    def _fallback(self, value: Any) -> Any:
        converted = convert(value)  # set -> list, bytes -> text, anything else -> str
        return self.masker.text(converted) if isinstance(converted, str) else converted

    def _encode(self, line: dict[str, Any]) -> bytes:
        """One line, by the JSON rule capture uses (``orchestra._json``: an integer
        beyond 64 bits is a string...), objects JSON has no type for masked as text."""
        return to_json(line, default=self._fallback, option=orjson.OPT_APPEND_NEWLINE)

    def __call__(self, event: Event) -> None:
        if isinstance(event, RecordEmitted):
            if self._file is None:
                return
            line = {
                "run_id": event.run_id,
                "plan_key": self.plan_key,
                "step_path": event.step_path,
                "page": event.page,
                "item_index": event.item_index,
                "emitted_at": datetime.fromtimestamp(event.at, UTC).isoformat(),
                "data": self.masker.value(event.record),
            }
            try:
                self._file.write(self._encode(line))
            except OSError as error:
                self.error = error
                self.close()
                return
            self.written += 1
        elif isinstance(event, RunStarted):
            self.masker = event.masker
            self.plan_key = self.masker.text(event.plan_key)

    def close(self) -> None:
        """Flush and close the file (safe to call more than once)."""
        file, self._file = self._file, None
        if file is None:
            return
        try:
            file.close()
        except OSError as error:
            self.error = self.error or error
