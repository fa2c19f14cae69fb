"""Browser helpers for the builder's key/value rows (params, headers, config…)."""

from __future__ import annotations

import time
from typing import Any

ACTIVE_CLASSES = """() => {
  // the CSS classes of the focused element and of every shadow host around it
  const found = [];
  let el = document.activeElement;
  while (el) {
    found.push(...el.classList);
    if (!el.shadowRoot || !el.shadowRoot.activeElement) { break; }
    el = el.shadowRoot.activeElement;
  }
  return found;
}"""


def active_classes(page: Any) -> list[str]:
    return [str(c) for c in page.evaluate(ACTIVE_CLASSES)]


def names(page: Any, key: str) -> Any:
    """The name inputs of a mapping field's rows (the last is the empty one)."""
    return page.locator(f'[class~="ob-kv-name:{key}"] input')


def wait_rows(page: Any, key: str, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while names(page, key).count() < count:
        assert time.monotonic() < deadline, f"{key}: no row {count}"
        page.wait_for_timeout(100)


def type_row(page: Any, key: str, name: str, value: str) -> None:
    """With the focus in the empty last row's name: type a name, Tab, a value, Tab.

    Typing the name makes the next empty row; the keys alone go on to it."""
    rows = names(page, key).count()
    page.keyboard.type(name)
    wait_rows(page, key, rows + 1)
    page.keyboard.press("Tab")
    assert "orchestra-kv-value" in active_classes(page), active_classes(page)
    page.keyboard.type(value)
    page.keyboard.press("Tab")  # the value goes to the server on change


def fill_row(page: Any, key: str, name: str, value: str) -> None:
    """Focus the empty last row of a mapping field and type one entry into it."""
    names(page, key).last.wait_for(timeout=30_000)
    names(page, key).last.focus()
    type_row(page, key, name, value)
