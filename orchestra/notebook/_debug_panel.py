"""The debug panel: ipywidgets buttons and a view of where a paused run is.

``%flow debug`` shows one panel per session. Its buttons do what the
``%flow`` commands do (step, next page, next item, continue, stop); a click
arrives as a comm message on the kernel's main thread, exactly like a cell,
so the handler resumes the run and waits until it settles again, then
redraws. Commands typed in cells redraw the same panel.
"""

from __future__ import annotations

import html
from functools import partial
from typing import TYPE_CHECKING, Any

from orchestra.notebook._display import badge

if TYPE_CHECKING:
    from orchestra.notebook._debug_session import DebugSession

BUTTONS = (
    ("step", "Step", "step-forward", "run to the next step (%flow step)"),
    ("next-page", "Next page", "forward", "run to the next page (%flow next-page)"),
    ("next-item", "Next item", "list", "run to the next fanout item (%flow next-item)"),
    ("continue", "Continue", "play", "run to the next breakpoint (%flow continue)"),
    ("stop", "Stop", "stop", "end the run as stopped (%flow stop)"),
)


class DebugPanel:
    """Buttons, the pause location (step path, item, page, attempt) and the scope."""

    def __init__(self, session: DebugSession) -> None:
        import ipywidgets as widgets

        self.session = session
        self.buttons: dict[str, Any] = {}
        for name, label, icon, tooltip in BUTTONS:
            button = widgets.Button(description=label, icon=icon, tooltip=tooltip)
            button.on_click(partial(self._clicked, name))
            self.buttons[name] = button
        self.location = widgets.HTML()
        self.message = widgets.HTML()
        self.scope = widgets.HTML()
        self.widget = widgets.VBox(
            [widgets.HBox(list(self.buttons.values())), self.location, self.message, self.scope]
        )
        self.update()

    def _clicked(self, name: str, _button: Any) -> None:
        """A button click (a comm message): run the command, report errors in the panel."""
        try:
            if name == "stop":
                self.session.stop()
            else:
                self.session.command(name, progress="off")
            self.message.value = ""
        except (Exception, KeyboardInterrupt) as error:  # a comm handler must not raise
            self.message.value = (
                f'<span style="color:#d62728">{html.escape(type(error).__name__)}: '
                f"{html.escape(str(error))}</span>"
            )
        self.update()

    def update(self) -> None:
        """Redraw from the session's state."""
        session = self.session
        state = session.status if session.finished else session.state
        where = ""
        if session.paused:
            info = session.where
            cells = [
                ("step", info["step_path"]),
                ("item", "—" if info["item_index"] is None else info["item_index"]),
                ("page", "—" if info["page"] is None else info["page"]),
                ("attempt", info["attempt"] or "—"),
                ("at", info["at"]),
                ("why", info["reason"]),
                ("requests", session.requests),
            ]
            where = "".join(
                f"<td style='padding:0 8px'><b>{label}</b> <code>{html.escape(str(value))}"
                "</code></td>"
                for label, value in cells
            )
            where = f"<table><tr>{where}</tr></table>"
        self.location.value = f"<div>{badge(state)} {html.escape(session.location())}</div>{where}"
        self.scope.value = session.scope_html() if session.paused else ""
        for button in self.buttons.values():
            button.disabled = not session.paused
