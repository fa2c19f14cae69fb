"""The Builder tab in Debian's Chromium: a paginated, fanned-out, bearer-authenticated flow
built against the demo API only through the UI, tried with caps, fixed after a live
validation message, exported, run headless with ``orchestra run`` — the same records."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestra.capture import CaptureStore
from tests.dashboard._browser import (
    ARTIFACTS,
    chromium,
    free_port,
    listening_server,
    requires_chromium,
)
from tests.dashboard.builder._page_steps import (
    assert_no_sideways_scroll,
    collect_console_errors,
    save_as,
)

pytestmark = [requires_chromium, pytest.mark.timeout(420)]

SHOTS = ARTIFACTS / "builder"


@contextlib.contextmanager
def orchestra_dashboard(db: Path, plan: Path, log: Path, env: dict[str, str]) -> Iterator[str]:
    """``orchestra dashboard --db DB --plan PLAN`` in a subprocess; yields its URL."""
    port = free_port()
    command = [sys.executable, "-m", "orchestra", "dashboard", "--db", str(db),
               "--port", str(port), "--plan", str(plan)]  # fmt: skip
    with listening_server(command, port, log, "orchestra dashboard", env):
        yield f"http://127.0.0.1:{port}/"


def field(page: Any, key: str) -> Any:
    """The form field whose key is ``key`` (``url``, ``paginate.limit``, ``@plan.config``)."""
    return page.locator(f'[class~="ob-f:{key}"]').first


def type_into(page: Any, key: str, text: str, *, tag: str = "input") -> None:
    box = field(page, key).locator(tag).first
    box.wait_for(timeout=30_000)
    box.fill(text)
    box.press("Tab")  # the value goes to the server on change


def open_card(page: Any, title: str) -> None:
    header = page.locator(".card-header", has_text=title).first
    header.wait_for(timeout=30_000)
    if header.get_attribute("aria-expanded") != "true":
        header.click()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def wait_text(page: Any, selector: str, text: str, timeout: float = 60_000) -> None:
    page.locator(selector, has_text=text).first.wait_for(timeout=timeout)


def records_by_step(db: Path, run_id: str) -> dict[str, list[str]]:
    frame = CaptureStore(db).records(run_id)
    found: dict[str, list[str]] = {}
    for path, data in zip(frame["step_path"], frame["data"], strict=True):
        found.setdefault(path, []).append(json.dumps(json.loads(data), sort_keys=True))
    return {path: sorted(values) for path, values in found.items()}


def newest_run(db: Path) -> dict[str, Any]:
    with CaptureStore(db).read() as reader:
        runs = reader.runs()
    return dict(runs.iloc[0])


def build_and_export(
    page: Any, api_url: str, token: str, db: Path, tmp_path: Path
) -> tuple[dict[str, Any], Path, Path]:
    """Everything a user does in the Builder tab; returns the full run, the file holding the
    Export box's text and the file saved with "Save as"."""
    page.get_by_text("Builder", exact=True).first.click()
    page.locator(".orchestra-builder").wait_for(timeout=60_000)

    # plan settings: the demo API's address and a bearer token from the environment
    tree = page.locator(".orchestra-builder-tree select")
    tree.select_option(label="⚙ Plan settings (auth, config, limits)")
    type_into(page, "@plan.config.base_url", api_url)
    open_card(page, "Auth")
    field(page, "@plan.auth.type").locator("select").select_option("bearer")
    type_into(page, "@plan.auth.token", "DEMO_TOKEN")
    wait_text(page, ".orchestra-builder-yaml", "DEMO_TOKEN")
    # served, ace loads its YAML mode from the Panel server: keys are highlighted tokens
    page.locator(".orchestra-builder-yaml .ace_meta.ace_tag").first.wait_for(
        state="attached", timeout=30_000
    )
    shot(page, "1-settings")

    # the list: /protected/items, offset pagination, records under items
    tree.select_option(index=1)
    type_into(page, "url", "{config.base_url}/protected/items")
    open_card(page, "Pagination")
    field(page, "paginate.type").locator("select").select_option("offset")
    type_into(page, "paginate.limit", "10")
    type_into(page, "paginate.max_pages", "3")
    open_card(page, "Records and extract")
    type_into(page, "records", "items")
    wait_text(page, ".orchestra-builder-problems", "the plan is valid")

    # try it with caps: Enter in a field runs it, the partial flag shows
    page.locator(".orchestra-cap-max_pages input").fill("2")
    page.locator(".orchestra-cap-max_pages input").press("Tab")
    field(page, "url").locator("input").press("Enter")
    wait_text(page, ".orchestra-partial", "partial: stopped at 2 pages")
    wait_text(page, ".orchestra-try-summary", "succeeded")
    shot(page, "2-tried")

    # the fanout: a sub-step whose iterate_over is built by clicking `id` in the response
    page.get_by_role("button", name="+ Sub-step").click()
    page.locator("h3", has_text="Step detail_1").wait_for(timeout=90_000)
    open_card(page, "Fanout")
    field(page, "iterate_over").locator("input").click()
    response = page.locator(".orchestra-builder-response")
    response.locator(".orchestra-json-node", has_text="items:").first.click()
    response.locator(".orchestra-json-node", has_text="[0]:").first.click()
    response.locator(".orchestra-json-leaf", has_text="id:").first.locator("span").first.click()
    page.wait_for_function("() => [...document.querySelectorAll('*')].length > 0", timeout=5_000)
    iterate = field(page, "iterate_over").locator("input")
    page.wait_for_timeout(500)
    deadline = time.monotonic() + 30
    while iterate.input_value() != "response.body.items[].id" and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        iterate = field(page, "iterate_over").locator("input")
    assert iterate.input_value() == "response.body.items[].id"
    wait_text(page, ".orchestra-playground-result", "11")  # ids of the last page
    shot(page, "3-clicked")

    # a deliberate typo, flagged live right under the url field, then fixed
    type_into(page, "url", "{config.base_url}/items/{item")
    issue = page.locator(".orchestra-field-issue", has_text="steps[0].sub_steps[0].url")
    issue.first.wait_for(timeout=30_000)
    assert issue.count() >= 1
    url_box = field(page, "url").locator("input").bounding_box()
    issue_box = issue.first.bounding_box()
    assert url_box and issue_box
    below = issue_box["y"] - (url_box["y"] + url_box["height"])
    assert 0 <= below < 40, f"the problem is {below:.0f} px from the url field"
    assert abs(issue_box["x"] - url_box["x"]) < 40, (issue_box, url_box)
    shot(page, "4-typo")

    # Export is refused while the problem is there, and says why next to the button
    export_button = page.get_by_role("button", name="Export", exact=True)
    export_button.click()
    refusal = page.locator(".orchestra-export-problem", has_text="Export refused")
    refusal.wait_for(timeout=30_000)
    reason = page.locator(".orchestra-export-problem pre").first.inner_text()
    assert "1 problem" in reason and "steps[0].sub_steps[0].url" in reason, reason
    button_box, refusal_box = export_button.bounding_box(), refusal.bounding_box()
    assert button_box and refusal_box
    gap = refusal_box["y"] - (button_box["y"] + button_box["height"])
    assert 0 <= gap < 60, f"the refusal is {gap:.0f} px below the Export button"
    assert page.locator(".orchestra-export-text textarea").input_value() == ""
    shot(page, "4b-export-refused")

    type_into(page, "url", "{config.base_url}/items/{item}")
    wait_text(page, ".orchestra-builder-problems", "the plan is valid")
    deadline = time.monotonic() + 30
    while (issue.count() or refusal.count()) and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert issue.count() == 0
    assert refusal.count() == 0  # the refusal was about the plan as it was

    # try again (the sub-step's response now), then the whole flow without caps
    field(page, "url").locator("input").press("Enter")
    wait_text(page, ".orchestra-try-summary", "records")
    wait_text(page, ".orchestra-partial", "partial:")
    page.get_by_role("button", name="Run whole flow (no caps)").click()
    finished = page.locator(".orchestra-builder-status").get_by_text(
        re.compile(r"run \S+ succeeded")
    )
    finished.wait_for(timeout=120_000)
    run_id = re.search(r"run (\S+) succeeded", finished.inner_text()).group(1)
    assert page.locator(".orchestra-partial").get_by_text("partial:").count() == 0  # no caps
    wait_text(page, ".orchestra-try-summary", "60 records")
    shot(page, "5-full-run")
    full_run = CaptureStore(db).run(run_id)
    assert full_run["status"] == "succeeded"

    # export (YAML) and save as a file
    page.locator("select").filter(has_text="%%flow cells").select_option(label="YAML")
    page.get_by_role("button", name="Export", exact=True).click()
    page.locator(".orchestra-export-text textarea").wait_for()
    deadline = time.monotonic() + 30
    while "paginate" not in page.locator(".orchestra-export-text textarea").input_value():
        assert time.monotonic() < deadline, "nothing exported"
        page.wait_for_timeout(200)
    exported = page.locator(".orchestra-export-text textarea").input_value()
    assert token not in exported and "DEMO_TOKEN" in exported
    assert page.locator(".orchestra-export-problem", has_text="Export refused").count() == 0
    exported_file = tmp_path / "exported-text.yaml"
    exported_file.write_text(exported, encoding="utf-8")
    target = tmp_path / "exported.yaml"
    save_as(page, target)
    assert_no_sideways_scroll(page)
    shot(page, "6-exported")
    return full_run, exported_file, target


def test_build_try_fix_export_and_run_a_flow_in_the_browser(demo_api: Any, tmp_path: Path) -> None:
    token = httpx.post(
        f"{demo_api.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("demo-client", "demo-secret"),
    ).json()["access_token"]
    env = {**os.environ, "DEMO_TOKEN": token, "PYTHONUNBUFFERED": "1"}
    db, plan_file, log = (
        tmp_path / "builder.duckdb",
        tmp_path / "flow.yaml",
        tmp_path / "server.log",
    )
    with orchestra_dashboard(db, plan_file, log, env) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        console = collect_console_errors(page)
        page.on("requestfailed", lambda r: console.append(f"request failed: {r.url}"))
        page.goto(url, timeout=60_000)
        try:
            full_run, exported_file, target = build_and_export(
                page, demo_api.url, token, db, tmp_path
            )
        except Exception:
            with contextlib.suppress(Exception):  # a slow screenshot must not hide the failure
                shot(page, "failure")
            raise
        server_log = log.read_text()
    assert "Traceback" not in server_log, server_log
    assert not console, console
    assert token not in server_log

    # the Export box's text runs headless and reads the same records as the builder's full
    # run; so does the file "Save as" wrote
    built = records_by_step(db, str(full_run["run_id"]))
    assert set(built) == {"step_1", "step_1.detail_1"}
    assert len(built["step_1"]) == 30 and len(built["step_1.detail_1"]) == 30
    for plan in (exported_file, target):
        headless = tmp_path / f"headless-{plan.stem}.duckdb"
        done = subprocess.run(
            [sys.executable, "-m", "orchestra", "run", str(plan), "--db", str(headless)],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        ran = records_by_step(headless, str(newest_run(headless)["run_id"]))
        assert ran == built, plan
