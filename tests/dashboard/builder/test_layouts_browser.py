"""The Builder tab's hand-made layouts in Debian's Chromium, against the demo API.

Only through the UI: a bearer token typed once into a password field (prompted
secret), a rate limit, a parallel group, a choice with a condition, a second
branch and ``otherwise``, and a step with a saga compensation. The YAML view
shows them, the page never holds the secret after it is typed (DOM, inputs,
Bokeh models, websocket messages from the server), the whole flow runs in the
builder, and the saved plan runs headless with ``orchestra run``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from orchestra.capture import CaptureStore
from orchestra.plan import load_plan, parse_text
from tests.dashboard._browser import chromium, requires_chromium
from tests.dashboard.builder._page_steps import (
    assert_no_sideways_scroll,
    collect_console_errors,
    save_as,
)
from tests.dashboard.builder.test_builder_browser import (
    field,
    newest_run,
    open_card,
    orchestra_dashboard,
    records_by_step,
    shot,
    type_into,
    wait_text,
)
from tests.faults.capture_checks import secret_forms

pytestmark = [requires_chromium, pytest.mark.timeout(480)]

PAGE_TEXT = """() => {
  // the page's markup, shadow roots included, and the value of every input
  const parts = [];
  const visit = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if ('value' in el && typeof el.value === 'string') { parts.push(el.value); }
      if (el.shadowRoot) { parts.push(el.shadowRoot.innerHTML); visit(el.shadowRoot); }
    }
  };
  parts.push(document.documentElement.outerHTML);
  visit(document);
  return parts.join('\\n');
}"""

BOKEH_TEXT = """() => {
  // every string property of every Bokeh model of the page's documents
  const parts = [];
  for (const doc of window.Bokeh.documents) {
    for (const model of doc._all_models.values()) {
      for (const value of Object.values(model.attributes)) {
        try { parts.push(typeof value === 'string' ? value : JSON.stringify(value)); }
        catch (e) { /* models refer to each other; their own strings are visited anyway */ }
      }
    }
  }
  return [String(window.Bokeh.documents.length), ...parts].join('\\n');
}"""


FOCUSED = """() => {
  let a = document.activeElement;
  while (a && a.shadowRoot && a.shadowRoot.activeElement) { a = a.shadowRoot.activeElement; }
  return a ? `${a.tagName}.${a.className}: ${a.textContent.trim()}` : '';
}"""


def leaks(text: str, secret: str) -> list[str]:
    return [name for name, form in secret_forms(secret).items() if form in text]


def step_button(page: Any, path: str) -> Any:
    return page.locator(f'[class~="ob-step:{path}"] button').first


def select_in_tree(page: Any, label: str) -> None:
    tree = page.locator(".orchestra-builder-tree select")
    options = tree.locator("option").all_inner_texts()
    (match,) = [o for o in options if o.replace("\u00a0", " ").strip() == label]
    tree.select_option(label=match)


def heading(page: Any, text: str) -> None:
    page.locator("h3", has_text=text).first.wait_for(timeout=30_000)


YAML_CODE = """() => {
  // the text of the YAML view's editor, as its Bokeh model holds it (Ace draws only the
  // lines in view)
  for (const doc of window.Bokeh.documents) {
    for (const model of doc._all_models.values()) {
      const attributes = model.attributes;
      if (attributes.language === 'yaml' && typeof attributes.code === 'string') {
        return attributes.code;
      }
    }
  }
  return '';
}"""


def yaml_view(page: Any) -> str:
    return str(page.evaluate(YAML_CODE))


def wait_yaml(page: Any, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in yaml_view(page):
        assert time.monotonic() < deadline, f"{text!r} not in the YAML view"
        page.wait_for_timeout(200)


def build(page: Any, api_url: str, token: str, frames: list[str], saved: Path) -> str:
    """Everything a user does; returns the run id of the builder's full run."""
    page.get_by_text("Builder", exact=True).first.click()
    page.locator(".orchestra-builder").wait_for(timeout=60_000)

    # settings: base URL, a bearer token typed once, a rate limit
    select_in_tree(page, "⚙ Plan settings (auth, config, limits)")
    type_into(page, "@plan.config.base_url", api_url)  # the base_url row's value
    open_card(page, "Auth")
    field(page, "@plan.auth.type").locator("select").select_option("bearer")
    page.locator(".orchestra-secret-mode").get_by_text("type it (prompt)").click()
    type_into(page, "@plan.auth.token", "DEMO_BEARER")
    password = page.locator('[class~="ob-secret:@plan.auth.token"] input').first
    password.wait_for(timeout=30_000)
    assert password.get_attribute("type") == "password"
    seen_before = len(frames)
    password.fill(token)
    password.press("Enter")
    wait_text(page, ".orchestra-builder-status", "secret DEMO_BEARER kept in memory")
    wait_yaml(page, "env: DEMO_BEARER")
    assert password.input_value() == ""
    page.wait_for_timeout(1000)  # whatever the server would echo has arrived
    assert not leaks(page.evaluate(PAGE_TEXT), token), "the page holds the secret"
    models = page.evaluate(BOKEH_TEXT)
    assert int(models.split("\n", 1)[0]) >= 1 and len(models) > 10_000
    assert not leaks(models, token), "a Bokeh model holds the secret"
    assert len(frames) > seen_before
    shot(page, "layouts-1-secret")

    open_card(page, "Rate limits")
    page.locator('[class~="ob-add-rate"] button').first.click()
    page.locator(".card-header", has_text="Rule 1").first.wait_for(timeout=30_000)
    requests = field(page, "@plan.rate_limits[0].requests").locator("input")
    for key, label in (("requests", "Requests per window"), ("window_secs", "Window (seconds)")):
        shown = field(page, f"@plan.rate_limits[0].{key}").locator("label").first.inner_text()
        assert label in shown, shown
    requests.fill("20")
    requests.press("Tab")
    wait_yaml(page, "requests: 20")
    shot(page, "layouts-2-rate-limits")

    # the list every later step reads
    select_in_tree(page, "step_1 GET")
    type_into(page, "url", "{config.base_url}/protected/items")
    open_card(page, "Records and extract")
    type_into(page, "records", "items")

    # a parallel group of two steps, each edited from the group's step list
    page.get_by_role("button", name="+ Parallel").click()
    heading(page, "Step group_1")
    for index, item in ((0, 1), (1, 2)):
        select_in_tree(page, "⇉ group_1")
        heading(page, "Step group_1")
        step_button(page, f"steps[1].parallel[{index}]").click()
        heading(page, f"Step step_{index + 2}")
        type_into(page, "url", f"{{config.base_url}}/items/{item}")
    shot(page, "layouts-3-parallel")

    # a choice: branch 1 creates an order (undone by its compensation if a later step
    # fails), branch 2 and otherwise read an item
    select_in_tree(page, "⇉ group_1")
    page.get_by_role("button", name="+ Choice").click()
    heading(page, "Step choice_1")
    # completion: typing in the condition offers the plan's step names
    box = field(page, "choice[0].when").locator("input")
    box.click()
    box.fill("steps.st")
    page.locator(".orchestra-completion button", has_text="steps.step_1").first.click()
    deadline = time.monotonic() + 30
    while field(page, "choice[0].when").locator("input").input_value() != "steps.step_1":
        assert time.monotonic() < deadline, "the completion did not land in the field"
        page.wait_for_timeout(200)
    shot(page, "layouts-5a-completion")
    type_into(page, "choice[0].when", "steps.step_1.body.total > `0`")
    when = field(page, "choice[0].when").locator("input")
    when.focus()
    reached = []
    for _ in range(3):  # tab order: from the condition on to the branch's steps
        page.keyboard.press("Tab")
        reached.append(page.evaluate(FOCUSED))
        if "step_4" in reached[-1]:
            break
    assert "step_4" in reached[-1], reached
    step_button(page, "steps[2].choice[0].steps[0]").click()
    heading(page, "Step step_4")
    field(page, "method").locator("select").select_option("POST")
    type_into(page, "url", "{config.base_url}/orders")
    type_into(page, "body", "sku: builder-demo", tag="textarea")
    open_card(page, "Compensation (saga)")
    field(page, "compensate").locator("input").check()
    type_into(page, "compensate.url", "{config.base_url}/orders/{response.body.id}")
    wait_yaml(page, "compensate:")
    shot(page, "layouts-4-compensation")

    select_in_tree(page, "◇ choice_1")
    heading(page, "Step choice_1")
    page.get_by_role("button", name="+ Branch").click()
    heading(page, "Step step_5")
    type_into(page, "url", "{config.base_url}/items/3")
    select_in_tree(page, "◇ choice_1")
    heading(page, "Step choice_1")
    page.locator('[class~="ob-add:steps[2].otherwise"] button').first.click()
    heading(page, "Step step_6")
    type_into(page, "url", "{config.base_url}/items/4")
    select_in_tree(page, "◇ choice_1")
    heading(page, "Step choice_1")
    wait_text(page, ".orchestra-builder-problems", "the plan is valid")
    shot(page, "layouts-5-choice")

    text = yaml_view(page)
    for expected in (
        "parallel:",
        "choice:",
        "when: steps.step_1.body.total > `0`",
        "otherwise:",
        "compensate:",
        "url: '{config.base_url}/orders/{response.body.id}'",
        "rate_limits:",
        "env: DEMO_BEARER",
    ):
        assert expected in text, expected

    # the whole flow runs in the builder
    page.get_by_role("button", name="Run whole flow (no caps)").click()
    finished = page.locator(".orchestra-builder-status").get_by_text(
        re.compile(r"run \S+ succeeded")
    )
    finished.wait_for(timeout=120_000)
    run_id = re.search(r"run (\S+) succeeded", finished.inner_text()).group(1)

    save_as(page, saved)
    assert_no_sideways_scroll(page)
    shot(page, "layouts-6-ran")
    return run_id


def test_parallel_choice_compensation_and_a_prompted_secret_in_the_browser(
    demo_api: Any, tmp_path: Path
) -> None:
    token = httpx.post(
        f"{demo_api.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("demo-client", "demo-secret"),
    ).json()["access_token"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DEMO_BEARER", None)  # the builder knows the value only because it was typed
    db, plan_file, log = (tmp_path / "b.duckdb", tmp_path / "flow.yaml", tmp_path / "server.log")
    saved = tmp_path / "saved.yaml"
    frames: list[str] = []
    with orchestra_dashboard(db, plan_file, log, env) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        console = collect_console_errors(page)
        page.on(
            "websocket",
            lambda ws: ws.on(
                "framereceived",
                lambda payload: frames.append(
                    payload if isinstance(payload, str) else payload.decode("utf-8", "replace")
                ),
            ),
        )
        page.goto(url, timeout=60_000)
        try:
            run_id = build(page, demo_api.url, token, frames, saved)
        except Exception:
            shot(page, "layouts-failure")
            raise
        server_log = log.read_text()
    assert "Traceback" not in server_log, server_log
    assert not console, console
    assert frames and not leaks("\n".join(frames), token), "the server sent the secret back"
    assert not leaks(server_log + saved.read_text(), token)

    # the saved plan is the one built, and it runs headless with the token from the env
    plan = parse_text(saved.read_text(), source=str(saved))
    load_plan(plan)
    assert plan["auth"] == {"type": "bearer", "token": {"env": "DEMO_BEARER"}}
    kinds = [sorted(step) for step in plan["steps"]]
    assert kinds[1] == ["name", "on_error", "parallel"]
    assert kinds[2] == ["choice", "name", "otherwise"]
    assert plan["steps"][2]["choice"][0]["steps"][0]["compensate"]["method"] == "DELETE"
    built = records_by_step(db, run_id)
    headless = tmp_path / "headless.duckdb"
    done = subprocess.run(
        [sys.executable, "-m", "orchestra", "run", str(saved), "--db", str(headless)],
        env={**env, "DEMO_BEARER": token}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    ran = newest_run(headless)
    assert ran["status"] == "succeeded"
    with CaptureStore(headless).read() as reader:
        steps = reader.steps(str(ran["run_id"]))
    statuses = {path.rsplit(".", 1)[-1]: status for path, status in zip(
        steps["step_path"], steps["status"], strict=True)}  # fmt: skip
    assert statuses["step_4"] == "ok", statuses  # branch 1 ran, branch 2 and otherwise not
    assert statuses["step_5"] == statuses["step_6"] == "skipped", statuses
    assert statuses["step_2"] == statuses["step_3"] == "ok", statuses
    ran_records = records_by_step(headless, str(ran["run_id"]))
    assert ran_records["step_1"] == built["step_1"] and built["step_1"]
    for path in ("group_1.step_2", "group_1.step_3"):  # the parallel group's steps
        assert ran_records[path] == built[path] and len(built[path]) == 1
    # each run created one order through branch 1; both succeeded, so no compensation
    # deleted them
    orders = httpx.get(f"{demo_api.url}/orders").json()["orders"]
    assert [order.get("sku") for order in orders] == ["builder-demo", "builder-demo"], orders
