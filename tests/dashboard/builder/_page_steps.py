"""Steps the builder's browser tests share: console errors, "Save as", no sideways scroll."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def collect_console_errors(page: Any) -> list[str]:
    """A list that fills with the page's console errors and uncaught exceptions."""
    errors: list[str] = []
    page.on(
        "console",
        lambda m: errors.append(f"{m.text} {m.location}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def save_as(page: Any, target: Path, timeout: float = 30) -> None:
    """Type ``target`` into the plan path, press "Save as" and wait for the file."""
    path_box = page.locator(".orchestra-plan-path input")
    path_box.fill(str(target))
    path_box.press("Tab")
    page.get_by_role("button", name="Save as").click()
    deadline = time.monotonic() + timeout
    while not target.exists():
        assert time.monotonic() < deadline, f"not saved to {target}"
        time.sleep(0.2)


def assert_no_sideways_scroll(page: Any, width: int = 1366) -> None:
    """The page fits ``width`` pixels and does not hide what overflows."""
    assert "hidden" not in page.evaluate("getComputedStyle(document.documentElement).overflowX")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"the page scrolls sideways: {scroll_width} px"
