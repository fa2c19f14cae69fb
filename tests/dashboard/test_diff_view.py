"""The Compare-runs section in a real browser: two demo-API runs with a known change.

Over the capture of _runs_pair.py (runs A and B differ in their items, a tag
parameter, the plan and the config; run C fails), the section is opened after
B is picked in the run picker: it must pair B with A (the previous run of the
plan) and show exactly what :func:`orchestra.capture.diff_runs` reports — per
step deltas, record counts by ``id``, the changed records with their fields,
the shape change, the plan and config diffs. A key that is no field path is
refused with a message; picking the failed run C compares it with B. No
console error, no server traceback. In a thread with its own event loop and a
``diff_runs`` held on an event, a run switch is drawn while the comparison
reads, and a result whose pair was left is dropped.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from orchestra.capture import CaptureStore, RunDiff, diff_runs
from orchestra.dashboard import Dashboard, _diff_view
from orchestra.dashboard._diff_view import DiffView
from orchestra.demo import DemoAPI
from tests.dashboard._browser import ARTIFACTS, requires_chromium
from tests.dashboard._runs_pair import (
    SECRET,
    PairRuns,
    Served,
    assert_clean,
    make_runs,
    open_card,
    pick_run,
    serve,
    wait_until,
)


@pytest.fixture(scope="module")
def pair(demo_api_server: DemoAPI, tmp_path_factory: pytest.TempPathFactory) -> PairRuns:
    demo_api_server.reset()
    return make_runs(demo_api_server, tmp_path_factory.mktemp("pair"))


@pytest.fixture(scope="module")
def served(pair: PairRuns, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(pair.path, tmp_path_factory.mktemp("serve")) as served:
        yield served


def table(page: Any, css: str, fields: list[str]) -> list[tuple[str, ...]]:
    """The rows of a diff table as the browser shows them (cell texts of ``fields``)."""
    rows = page.locator(f".{css} .tabulator-row")
    return [
        tuple(
            (rows.nth(i).locator(f'[tabulator-field="{field}"]').text_content() or "").strip()
            for field in fields
        )
        for i in range(rows.count())
    ]


def chosen(page: Any, index: int) -> str:
    """The text of the run selected in the diff's run picker ``index`` (0: A, 1: B)."""
    select = page.locator(".orchestra-diff select").nth(index)
    return select.locator("option:checked").text_content() or ""


STEP_FIELDS = ["step", "status A", "status B", "requests A", "requests B", "retries A",
               "retries B", "records A", "records B"]  # fmt: skip


def expected_steps(diff: RunDiff) -> list[tuple[str, ...]]:
    return [
        tuple(
            str(value)
            for value in (
                step.step_path, step.status_a or "-", step.status_b or "-", step.requests_a,
                step.requests_b, step.retries_a, step.retries_b, step.records_a, step.records_b,
            )
        )
        for step in diff.steps
    ]  # fmt: skip


def wait_for_diff(page: Any, a: str, b: str, diff: RunDiff) -> None:
    from playwright.sync_api import expect

    verdict = page.locator(".orchestra-diff-verdict")
    expect(verdict).to_contain_text(f"{a} → {b}", timeout=30_000)
    wait_until(
        lambda: table(page, "orchestra-diff-steps", STEP_FIELDS) == expected_steps(diff),
        "the step deltas",
    )


def pre_text(page: Any, css: str) -> str:
    """The text of a diff pane (its ``<pre>`` lives in the pane's shadow root)."""
    return page.locator(f".{css} pre").text_content() or ""


@pytest.mark.timeout(300)
@requires_chromium
def test_two_runs_show_exactly_what_diff_runs_reports(served: Served, pair: PairRuns) -> None:
    from playwright.sync_api import expect

    page = served.page
    diff = diff_runs(CaptureStore(pair.path), pair.a, pair.b)
    pick_run(page, pair.b)
    open_card(page, "Compare runs")
    wait_for_diff(page, pair.a, pair.b, diff)
    assert chosen(page, 0).startswith(pair.a) and chosen(page, 1).startswith(pair.b)
    expect(page.locator(".orchestra-diff-verdict")).to_contain_text("differ")

    # the known change: items 1-3 became 2-4, tags went gold -> silver with a new v
    counts = table(page, "orchestra-diff-counts", ["step", "added", "removed", "changed", "same",
                                                   "paired by"])  # fmt: skip
    assert counts == [
        (step, *(str(c.get(k, 0)) for k in ("added", "removed", "changed", "same")),
         "position" if step in diff.records.by_position else "id")
        for step, c in diff.records.counts.items()
    ]  # fmt: skip
    assert ("page.tag", "1", "1", "2", "0", "id") in counts
    assert ("page.detail", "1", "1", "0", "2", "id") in counts
    changes = table(page, "orchestra-diff-changes", ["step", "key", "change", "fields"])
    assert changes == [
        (c.step_path, c.key, c.change, ", ".join(c.fields)) for c in diff.records.changes
    ]
    assert ("page.tag", "2", "changed", "tag.query.tier, tag.query.v") in changes
    values = table(page, "orchestra-diff-changes", ["step", "key", "values"])
    assert (
        "page.tag",
        "2",
        'tag.query.tier: "gold" → "silver"; tag.query.v: (absent) → "2"',
    ) in values
    added = dict(((s, k), v) for s, k, v in values)[("page.detail", "4")]
    assert added.startswith('{"id": 4, "name": "item-4"')
    shapes = table(page, "orchestra-diff-shapes", ["step", "field", "change", "type B"])
    assert shapes == [("page.tag", "tag.query.v", "appeared", "string")]
    assert [s.appeared for s in diff.shapes] == [{"tag.query.v": "string"}]
    plan = pre_text(page, "orchestra-diff-plan")
    assert diff.plan and all(line in plan for line in diff.plan.splitlines())
    assert '+            "v": "2"' in plan
    config = pre_text(page, "orchestra-diff-config")
    assert diff.config and all(line in config for line in diff.config.splitlines())
    assert '-  "offset": 0' in config and '+  "offset": 1' in config
    assert '"key": "${ORCH_DASHBOARD_EXPORT_KEY}"' in config  # masked, as captured
    assert SECRET not in config and SECRET not in plan

    # a key that is no field path is refused, naming the fix
    key = page.locator(".orchestra-diff input[type=text]").first
    key.fill("id; DROP")
    key.press("Enter")
    expect(page.locator(".orchestra-diff .alert")).to_contain_text("give a field name")
    key.fill("id")
    key.press("Enter")
    wait_for_diff(page, pair.a, pair.b, diff)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator(".orchestra-diff").screenshot(path=str(served.downloads / "diff.png"))
    page.locator(".orchestra-diff").screenshot(path=str(ARTIFACTS / "dashboard-diff.png"))
    assert_clean(served)


@pytest.mark.timeout(300)
@requires_chromium
def test_a_failed_run_compares_with_the_previous_run(served: Served, pair: PairRuns) -> None:
    page = served.page
    diff = diff_runs(CaptureStore(pair.path), pair.b, pair.failed)
    pick_run(page, pair.failed)
    if (
        page.locator(".orchestra-diff-steps").count() == 0
        or not page.locator(".orchestra-diff-steps").first.is_visible()
    ):
        open_card(page, "Compare runs")
    wait_for_diff(page, pair.b, pair.failed, diff)
    assert chosen(page, 0).startswith(pair.b) and chosen(page, 1).startswith(pair.failed)
    steps = table(page, "orchestra-diff-steps", STEP_FIELDS)
    assert ("broken", "-", "failed", "0", "2", "0", "1", "0", "0") in steps
    assert not diff.records.differs
    page.locator(".orchestra-diff").screenshot(path=str(served.downloads / "diff-failed.png"))
    assert_clean(served)


def in_thread(body: Callable[[], None]) -> None:
    """Run ``body`` in a thread of its own and raise what it raised.

    The module's browser (Playwright's sync API) leaves an event loop marked running in
    the main thread, and the comparison is read in a worker thread whenever a loop runs:
    a thread with no loop compares where it is asked, one with its own loop in a worker.
    """
    raised: list[BaseException] = []

    def run() -> None:
        try:
            body()
        except BaseException as error:
            raised.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if raised:
        raise raised[0]


def test_the_pair_follows_the_selected_run_and_its_previous_run(pair: PairRuns) -> None:
    in_thread(lambda: pair_follows(pair))  # no event loop: compared where asked


def pair_follows(pair: PairRuns) -> None:
    store = CaptureStore(pair.path)
    dashboard = Dashboard(db=pair.path, run=pair.a, live=False)
    view = dashboard.diff_view
    assert view.previous_run(pair.failed) == pair.b and view.previous_run(pair.a) is None
    assert len(view.card) == 0  # closed: nothing built, nothing read
    view.card.collapsed = False
    assert view.diff is None and "no earlier run of plan" in view._problem.object

    dashboard.state.select_run(pair.b)
    assert view.diff is not None and not view._problem.visible
    assert view.diff.to_json() == diff_runs(store, pair.a, pair.b).to_json()

    view.select(pair.failed, pair.a, key="name")
    assert view.diff.to_json() == diff_runs(store, pair.failed, pair.a, key="name").to_json()
    view.card.collapsed = True
    dashboard.state.select_run(pair.failed)  # closed: the comparison stays as it was
    assert (view.diff.run_a, view.diff.run_b) == (pair.failed, pair.a)


def test_a_run_switch_does_not_wait_for_the_comparison(
    pair: PairRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    """diff_runs runs in a worker thread: a run switch is drawn while it still reads, and a
    comparison that finishes after its pair was left is dropped."""
    real = _diff_view.diff_runs
    gates: dict[tuple[str, str], threading.Event] = {}
    started: list[tuple[str, str]] = []
    on_loop: list[tuple[str, str]] = []
    finished: list[tuple[str, str]] = []

    def slow_diff(store: CaptureStore, run_a: str, run_b: str, *, key: str) -> RunDiff:
        pair_ = (run_a, run_b)
        if threading.current_thread() is loop_thread[0]:
            on_loop.append(pair_)  # the event loop's thread: every click would wait
            raise AssertionError("diff_runs ran on the event loop")
        gate = gates.setdefault(pair_, threading.Event())
        started.append(pair_)
        assert gate.wait(60), "never released"
        return real(store, run_a, run_b, key=key)

    original_finish = DiffView._finish

    def finish(self: DiffView, wanted: Any, diff: RunDiff | None, error: Any) -> None:
        original_finish(self, wanted, diff, error)
        finished.append((wanted.run_a, wanted.run_b))

    monkeypatch.setattr(_diff_view, "diff_runs", slow_diff)
    monkeypatch.setattr(DiffView, "_finish", finish)

    async def until(check: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 60
        while not check():
            assert time.monotonic() < deadline, f"{what} did not happen in 60 s"
            await asyncio.sleep(0.02)

    loop_thread: list[threading.Thread] = []

    async def scenario() -> None:
        loop_thread.append(threading.current_thread())
        a, b, failed = pair.a, pair.b, pair.failed
        dashboard = Dashboard(db=pair.path, run=b, live=False)
        view, state = dashboard.diff_view, dashboard.state
        view.card.collapsed = False  # B with A, the previous run: read in a worker thread
        assert on_loop == []
        await until(lambda: (a, b) in started, "the comparison of A and B to start")
        assert "Comparing" in view._verdict.object and view.diff is None

        state.select_run(failed)  # drawn at once, while A-B still reads
        assert on_loop == [] and finished == [] and not gates[(a, b)].is_set()
        assert state.run is not None and state.run["run_id"] == failed
        assert failed in dashboard._summary.object
        assert state.steps is not None and "broken" in set(state.steps["step_path"])
        assert f"<code>{b}</code> with <code>{failed}</code>" in view._verdict.object

        await until(lambda: (b, failed) in started, "the comparison of B and C to start")
        gates[(b, failed)].set()
        await until(lambda: (b, failed) in finished, "the comparison of B and C to end")
        assert view.diff is not None and (view.diff.run_a, view.diff.run_b) == (b, failed)
        gates[(a, b)].set()  # the comparison of the pair left behind ends last: dropped
        await until(lambda: (a, b) in finished, "the comparison of A and B to end")
        assert view.diff is not None and (view.diff.run_a, view.diff.run_b) == (b, failed)
        assert view.diff.to_json() == real(CaptureStore(pair.path), b, failed).to_json()
        assert view._verdict.object == _diff_view.verdict_html(view.diff)
        assert not view._problem.visible

        # the same pair again (closed and opened, the run picked again): not compared again
        view.card.collapsed = True
        view.card.collapsed = False
        state.select_run(failed)
        assert "Comparing" not in view._verdict.object  # a new comparison would say so
        await asyncio.sleep(0.2)
        assert started == [(a, b), (b, failed)] and on_loop == []

    in_thread(lambda: asyncio.run(scenario()))
