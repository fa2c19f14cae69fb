"""Key/value rows and field help in Debian's Chromium at 1366x768, with the keyboard only.

From the URL field, Tab goes into the params rows; typing a name grows the next
empty row, so params and headers are filled with the keys alone. A literal
``Authorization`` is refused and never reaches the page's YAML; a template
(``Bearer {config.token}``) and ``{env: NAME}`` are kept. The YAML view shows
the entries, Enter in a value tries the step against the demo API's ``/echo``,
and the echoed request carries them. Field help is text under the field,
visible without hovering.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestra.capture import CaptureStore
from tests.dashboard._browser import chromium, requires_chromium
from tests.dashboard.builder._kv_rows import active_classes, names, type_row
from tests.dashboard.builder._page_steps import assert_no_sideways_scroll, collect_console_errors
from tests.dashboard.builder.test_builder_browser import (
    field,
    newest_run,
    orchestra_dashboard,
    shot,
    wait_text,
)
from tests.dashboard.builder.test_layouts_browser import wait_yaml, yaml_view

pytestmark = [requires_chromium, pytest.mark.timeout(420)]

API_KEY = "kv-browser-key-93c1"  # in the server's environment only
LITERAL = "literal-secret-5d2e"


def plan_text(api_url: str) -> str:
    return yaml.safe_dump(
        {
            "key": "kv-browser",
            "config": {"base_url": api_url, "page_size": 7, "token": {"env": "KV_API_KEY"}},
            "steps": [{"name": "echo", "url": "{config.base_url}/echo"}],
        },
        sort_keys=False,
    )


def tab_until(page: Any, css: str, most: int = 12) -> None:
    """Press Tab until the focus is in an element with class ``css``."""
    for _ in range(most):
        if css in active_classes(page):
            return
        page.keyboard.press("Tab")
    assert css in active_classes(page), active_classes(page)


def fill(page: Any) -> None:
    page.get_by_text("Builder", exact=True).first.click()
    page.locator(".orchestra-builder").wait_for(timeout=60_000)
    url = field(page, "url").locator("input")
    url.wait_for(timeout=60_000)
    url.focus()  # from here on, only keys
    page.keyboard.press("Tab")
    assert "ob-kv-name:params" in active_classes(page), active_classes(page)
    type_row(page, "params", "limit", "{config.page_size}")
    assert "ob-kv-delete:params" in active_classes(page)
    page.keyboard.press("Tab")  # the new empty row
    assert "ob-kv-name:params" in active_classes(page), active_classes(page)
    type_row(page, "params", "sort", "-id")
    page.keyboard.press("Tab")  # past the empty row, "+ Row", "Edit as YAML" …
    tab_until(page, "ob-kv-name:headers")
    type_row(page, "headers", "Accept", "application/json")
    page.keyboard.press("Tab")
    type_row(page, "headers", "Authorization", f"Bearer {LITERAL}")
    page.get_by_text("a secret is not stored in the plan").first.wait_for(timeout=30_000)
    shot(page, "kv-1-refused")
    page.keyboard.press("Shift+Tab")  # back into the emptied value
    assert "orchestra-kv-value" in active_classes(page)
    page.keyboard.type("Bearer {config.token}")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    type_row(page, "headers", "X-Api-Key", "{env: KV_API_KEY}")
    page.keyboard.press("Tab")
    type_row(page, "headers", "X-Trace", "builder-kv")
    wait_yaml(page, "X-Trace: builder-kv")


def check_yaml(page: Any) -> None:
    step = yaml.safe_load(yaml_view(page))["steps"][0]
    assert step["params"] == {"limit": "{config.page_size}", "sort": "-id"}
    assert step["headers"] == {
        "Accept": "application/json",
        "Authorization": "Bearer {config.token}",
        "X-Api-Key": {"env": "KV_API_KEY"},
        "X-Trace": "builder-kv",
    }
    assert LITERAL not in yaml_view(page)


def try_with_enter(page: Any, db: Path) -> dict[str, Any]:
    page.keyboard.press("Shift+Tab")  # back to the X-Trace value
    assert "ob-f:headers.X-Trace" in active_classes(page), active_classes(page)
    page.keyboard.press("Enter")
    wait_text(page, ".orchestra-try-summary", "succeeded")
    shot(page, "kv-2-tried")
    run = newest_run(db)
    with CaptureStore(db).read() as reader:
        found = reader.last_response(str(run["run_id"]), "echo")
    assert found is not None
    return dict(found)


def test_params_and_headers_as_rows_with_the_keyboard(demo_api: Any, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "KV_API_KEY": API_KEY}
    db, plan_file, log = (tmp_path / "kv.duckdb", tmp_path / "kv.yaml", tmp_path / "server.log")
    plan_file.write_text(plan_text(demo_api.url))
    with orchestra_dashboard(db, plan_file, log, env) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        console = collect_console_errors(page)
        page.goto(url, timeout=60_000)
        try:
            fill(page)
            check_yaml(page)
            page_html = page.content()
            response = try_with_enter(page, db)
            # help is text under the field, on screen without a hover
            for key, text in (("method", "HTTP method (default GET)."), ("params", "Query")):
                line = page.locator(f'[class~="ob-help:{key}"]').get_by_text(text).first
                line.scroll_into_view_if_needed()
                assert line.is_visible(), key  # on the page, not in a hover tooltip
            assert_no_sideways_scroll(page)
            names(page, "params").first.scroll_into_view_if_needed()
            shot(page, "kv-3-rows-and-help")
        except Exception:
            shot(page, "kv-failure")
            raise
        server_log = log.read_text()
    assert "Traceback" not in server_log, server_log
    assert not console, console
    assert LITERAL not in server_log and LITERAL not in page_html
    body = response["body"]
    if isinstance(body, str):
        body = yaml.safe_load(body)
    assert int(response["status_code"]) == 200
    assert body["query"] == {"limit": "7", "sort": "-id"}
    assert body["headers"]["accept"] == "application/json"
    assert body["headers"]["x-trace"] == "builder-kv"
    # the key was sent (the capture masks it), and never stored as typed
    assert API_KEY not in str(body)
    assert "KV_API_KEY" in body["headers"]["authorization"], body["headers"]
    assert "KV_API_KEY" in body["headers"]["x-api-key"], body["headers"]
