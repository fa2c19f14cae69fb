"""A capture of three demo-API runs of one plan, and that capture served to a real browser.

Run A lists items 1-3 and tags them ``tier=gold``; run B lists items 2-4, tags
them ``silver`` and sends a new ``v`` parameter (a plan and config change);
run C is B's plan plus a step answering 500, so it fails. Every request of the
``tag`` step carries an ``X-Api-Key`` header from ``{"env": …}``: its value must
never reach the page or a download. Used by test_exports.py and test_diff_view.py.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orchestra
from orchestra.demo import DemoAPI
from tests.dashboard._browser import chromium, click_row, serve_dashboard, wait_for_graph

SECRET_ENV = "ORCH_DASHBOARD_EXPORT_KEY"
SECRET = "d4shb0ard-s3cret-9f1e7a"


def pair_plan(base_url: str, *, offset: int, tier: str, extra: bool, broken: bool) -> dict:
    params = {"id": "{item.id}", "tier": tier, **({"v": "2"} if extra else {})}
    steps: list[dict[str, Any]] = [
        {
            "name": "page",
            "url": "{config.base_url}/items",
            "params": {"limit": 3, "offset": "{config.offset}"},
            "sub_steps": [
                {"name": "detail", "iterate_over": "response.body.items",
                 "url": "{config.base_url}/items/{item.id}"},
                {"name": "tag", "iterate_over": "response.body.items",
                 "url": "{config.base_url}/echo", "params": params,
                 "headers": {"X-Api-Key": "{config.key}"}},
            ],
        }
    ]  # fmt: skip
    if broken:
        steps.append(
            {
                "name": "broken",
                "url": "{config.base_url}/status/500",
                "retry": {"max_attempts": 2, "base_seconds": 0.05},
            }
        )
    return {
        "key": "dashboard-pair",
        "config": {"base_url": base_url, "offset": offset, "key": {"env": SECRET_ENV}},
        "steps": steps,
    }


@dataclass
class PairRuns:
    path: Path
    a: str
    b: str
    failed: str


@dataclass
class Served:
    page: Any
    log: Path
    errors: list[str] = field(default_factory=list)
    downloads: Path = Path()


def make_runs(demo: DemoAPI, folder: Path) -> PairRuns:
    path = folder / "capture.duckdb"
    environ = {**os.environ, SECRET_ENV: SECRET}
    ids = []
    for offset, tier, extra, broken in ((0, "gold", False, False), (1, "silver", True, False),
                                        (1, "silver", True, True)):  # fmt: skip
        plan = pair_plan(demo.url, offset=offset, tier=tier, extra=extra, broken=broken)
        result = orchestra.run(plan, db=path, environ=environ)
        assert result.status == ("failed" if broken else "succeeded"), result.error
        ids.append(result.run_id)
    return PairRuns(path, *ids)


@contextlib.contextmanager
def serve(path: Path, folder: Path) -> Iterator[Served]:
    """``orchestra dashboard`` over ``path``, a Chromium page on it (downloads to ``folder``)."""
    log = folder / "dashboard-server.log"
    with serve_dashboard(path, log) as url, chromium() as browser:
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000}, accept_downloads=True
        )
        page = context.new_page()
        served = Served(page, log, downloads=folder)
        page.on("pageerror", lambda error: served.errors.append(f"page error: {error}"))

        def on_console(message: Any) -> None:
            if message.type == "error":
                served.errors.append(f"console: {message.text}")

        page.on("console", on_console)
        page.goto(url, timeout=120_000)  # the first page of a busy machine: no timing asserted
        wait_for_graph(page)
        yield served
        context.close()


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {timeout} s")
        time.sleep(0.2)


def pick_run(page: Any, run_id: str) -> None:
    """Select a run in the run picker, as a user does, and wait for the header to show it."""
    from playwright.sync_api import expect

    summary = page.locator(".orchestra-run-summary")
    click_row(  # a click that lands while the run list takes new rows is dropped: again
        page,
        page.locator(".orchestra-runs .tabulator-row", has_text=run_id),
        "orchestra-runs",
        lambda ms: expect(summary).to_contain_text(run_id, timeout=ms),
        last_wait_ms=30_000,
    )


def open_card(page: Any, title: str) -> None:
    """Expand a collapsed section of the page by its title."""
    header = page.locator(".card-header", has_text=title).first
    header.scroll_into_view_if_needed()
    header.click()


def assert_clean(served: Served) -> None:
    """No console or page error in the browser, no traceback or error in the server log."""
    assert served.errors == []
    log = served.log.read_text()
    assert "Traceback" not in log and "ERROR" not in log, log[-4000:]
