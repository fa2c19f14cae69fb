"""Progress bars for a running cell, drawn from a :class:`RunMonitor` on the kernel's thread.

:class:`ProgressDriver` is called between the waits of
:meth:`KernelLoop.run` (every 0.1 s). It shows nothing for runs shorter than
``delay`` seconds (most single-request cells), then draws one row per step
path that paginates or fans out: ipywidgets bars in Jupyter, a text line
updated in place elsewhere. :meth:`ProgressDriver.close` always runs — after
success, failure or an interrupt — and removes the bars, since the cell's
summary that follows carries the final counts.
"""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Any, Protocol, TextIO

from orchestra.events import StepTotals
from orchestra.notebook._monitor import RunMonitor, RunSnapshot

PROGRESS_MODES = ("auto", "widgets", "text", "off")


def describe(stats: StepTotals) -> str:
    """One line for a step path: ``items.detail  40/100 items (2 not ok) · 41 requests``."""
    parts = []
    if stats.items_total:
        part = f"{stats.items_done}/{stats.items_total} items"
        if stats.items_not_ok:
            part += f" ({stats.items_not_ok} not ok)"
        parts.append(part)
    if not stats.items_total:
        pages = stats.pages_finished
        parts.append(f"{pages} page{'' if pages == 1 else 's'}")
    parts.append(f"{stats.requests} request{'' if stats.requests == 1 else 's'}")
    if stats.retries:
        parts.append(f"{stats.retries} retr{'y' if stats.retries == 1 else 'ies'}")
    return " · ".join(parts)


class ProgressView(Protocol):
    def draw(self, snapshot: RunSnapshot, masker: Any) -> None: ...

    def close(self) -> None: ...


class WidgetView:
    """One ipywidgets row per path: a label and, for fanouts, a bar."""

    def __init__(self) -> None:
        import ipywidgets
        from IPython.display import display

        self._widgets = ipywidgets
        self.box = ipywidgets.VBox([])
        self.rows: dict[str, tuple[Any, Any]] = {}
        self.handle = display(self.box, display_id=True)

    def draw(self, snapshot: RunSnapshot, masker: Any) -> None:
        widgets = self._widgets
        for path, stats in snapshot.paths.items():
            if path not in self.rows:
                label = widgets.HTML(layout=widgets.Layout(width="auto"))
                bar = widgets.IntProgress(min=0, max=1, value=0, bar_style="info")
                bar.layout.visibility = "hidden"
                self.rows[path] = (label, bar)
                self.box.children = [*self.box.children, widgets.HBox([bar, label])]
            label, bar = self.rows[path]
            if stats.items_total:
                bar.layout.visibility = "visible"
                bar.max = max(stats.items_total, 1)
                bar.value = stats.items_done
                bar.bar_style = "warning" if stats.items_not_ok else "info"
            label.value = f"<code>{masker.text(path)}</code> {describe(stats)}"

    def close(self) -> None:
        for label, bar in self.rows.values():
            label.close()
            bar.close()
        for row in self.box.children:
            row.close()
        self.box.close()
        if self.handle is not None:
            self.handle.update({"text/plain": ""}, raw=True)


class DisplayView:
    """Text lines in one display output, updated in place (Jupyter without ipywidgets)."""

    def __init__(self) -> None:
        from IPython.display import display

        self.handle = display({"text/plain": "running…"}, raw=True, display_id=True)

    def draw(self, snapshot: RunSnapshot, masker: Any) -> None:
        lines = [f"{masker.text(p)}: {describe(s)}" for p, s in snapshot.paths.items()]
        if self.handle is not None:
            self.handle.update({"text/plain": "\n".join(lines)}, raw=True)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.update({"text/plain": ""}, raw=True)


class StreamView:
    """A single line rewritten with ``\\r`` (terminal IPython)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.width = 0

    def draw(self, snapshot: RunSnapshot, masker: Any) -> None:
        line = " | ".join(f"{masker.text(p)}: {describe(s)}" for p, s in snapshot.paths.items())
        self.width = max(self.width, len(line))
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()

    def close(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def make_view(mode: str) -> ProgressView | None:
    """The view for a ``FlowMagic.progress`` mode (``auto`` picks by environment)."""
    if mode == "off":
        return None
    if mode in ("auto", "widgets") and _in_kernel():
        try:
            return WidgetView()
        except ImportError:
            if mode == "widgets":
                raise
    if _in_kernel():
        return DisplayView()
    return StreamView()


class ProgressDriver:
    """Draws a monitor's progress from the kernel's thread; call :meth:`tick` repeatedly."""

    def __init__(self, monitor: RunMonitor, mode: str = "auto", *, delay: float = 0.3) -> None:
        self.monitor = monitor
        self.mode = mode
        self.delay = delay
        self.started = time.monotonic()
        self.view: ProgressView | None = None
        self._drawn_version = -1
        self._failed = False

    def tick(self) -> None:
        if self.mode == "off" or self._failed:
            return
        if time.monotonic() - self.started < self.delay:
            return
        if self.monitor.version == self._drawn_version:
            return
        snapshot = self.monitor.snapshot()
        shown = {p: s for p, s in snapshot.paths.items() if s.items_total or s.pages_finished > 1}
        if not shown:
            return
        try:
            if self.view is None:
                self.view = make_view(self.mode)
                if self.view is None:
                    self._failed = True
                    return
            self._drawn_version = self.monitor.version
            snapshot.paths = shown
            self.view.draw(snapshot, self.monitor.masker)
        except Exception:  # progress must never break a run
            self._failed = True

    def close(self) -> None:
        view, self.view = self.view, None
        if view is not None:
            with contextlib.suppress(Exception):  # closing must not hide the run's outcome
                view.close()
