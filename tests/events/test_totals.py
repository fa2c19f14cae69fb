"""The per-step aggregate model: what each event adds, and every surface reading the same counts."""

from __future__ import annotations

import io
import itertools

import pytest

import orchestra
from orchestra.cli._progress import ProgressDisplay
from orchestra.cli._summary import StepClock
from orchestra.dashboard import LiveFeed
from orchestra.engine import RunResult, StepSummary
from orchestra.engine._result import ResultCollector
from orchestra.events import (
    STATUS_SEVERITY,
    BreakerRejected,
    Event,
    FanoutItemFinished,
    FanoutStarted,
    PageFinished,
    RateLimitWait,
    RecordEmitted,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
    RunFinished,
    RunStarted,
    RunTotals,
    StepFinished,
    StepStarted,
    StepTotals,
    TokenRefreshed,
    worst_status,
)
from orchestra.masking import Masker
from orchestra.notebook._monitor import RunMonitor

RUN = {"run_id": "r1"}
_ids = itertools.count()


def sent(path: str, url: str, at: float = 1.0) -> RequestSent:
    return RequestSent(
        **RUN,
        at=at,
        step_path=path,
        execution_id="e",
        exchange_id=next(_ids),
        method="GET",
        url=url,
        headers={},
        body=None,
        page=1,
        attempt=1,
    )


def received(path: str, code: int | None, *, cancelled: bool = False) -> ResponseReceived:
    return ResponseReceived(
        **RUN, at=1.0, step_path=path, execution_id="e", exchange_id=0, status_code=code,
        cancelled=cancelled,
    )  # fmt: skip


def started(path: str, at: float) -> StepStarted:
    return StepStarted(**RUN, at=at, step_path=path, execution_id=f"{path}:{at}")


def finished(path: str, status: str, at: float, **fields: object) -> StepFinished:
    return StepFinished(
        **RUN, at=at, step_path=path, execution_id=f"{path}:{at}", status=status,
        duration_ms=fields.pop("duration_ms", 10.0), **fields,  # type: ignore[arg-type]
    )  # fmt: skip


def fanout_run() -> list[Event]:
    """A paginated ``list`` (2 pages) fanning out to ``list.detail`` (3 items, one fails):
    a retry, a transport error, a cancelled request, a rate-limit wait and 3 records."""
    events: list[Event] = [
        RunStarted(**RUN, at=0.0, plan_key="p", plan={}, config={}, masker=Masker())
    ]
    events.append(started("list", 1.0))
    for page in (1, 2):
        events += [
            sent("list", f"http://h/list?page={page}"),
            received("list", 200),
            PageFinished(
                **RUN, at=1.0, step_path="list", execution_id="e", page=page, status_code=200
            ),
            FanoutStarted(
                **RUN,
                at=1.0,
                step_path="list.detail",
                execution_id="e",
                total_items=2 if page == 1 else 1,
            ),
        ]
    for index, (code, status) in enumerate([(200, "ok"), (500, "failed"), (200, "ok")]):
        at = 2.0 + index
        events += [started("list.detail", at), sent("list.detail", f"http://h/d/{index}")]
        if index == 0:
            events += [
                received("list.detail", None),  # a transport error, then a retry
                RetryScheduled(
                    **RUN,
                    at=at,
                    step_path="list.detail",
                    exchange_id=1,
                    attempt=2,
                    delay_seconds=0.1,
                    reason="connect",
                ),
                RateLimitWait(
                    **RUN, at=at, step_path="list.detail", delay_seconds=0.5, reason="window"
                ),
                sent("list.detail", f"http://h/d/{index}"),
            ]
        events.append(received("list.detail", code))
        error = "answered 500" if code == 500 else None
        events.append(finished("list.detail", status, at + 0.5, pages=1, error=error))
        events.append(FanoutItemFinished(**RUN, at=at, step_path="list.detail",
                                         item_index=index, status=status))  # fmt: skip
        if status == "ok":
            events.append(RecordEmitted(**RUN, at=at, step_path="list.detail", record={"i": index}))
    events += [
        sent("list", "http://h/list?page=3"),
        received("list", None, cancelled=True),  # in flight when cancelled: not an error
        BreakerRejected(
            **RUN,
            at=5.0,
            step_path="list",
            host="h:80",
            method="GET",
            url="http://h/list",
            state="open",
        ),
        TokenRefreshed(**RUN, at=5.0, auth_type="flow", reason="initial", expires_in=None),
        # the parent ran 3 pages (the third failed) and reports its sub-step's records
        finished("list", "failed", 6.0, pages=3, records=2, error="page 3 failed"),
        RunFinished(**RUN, at=7.0, status="failed", duration_ms=7000.0),
    ]
    return events


def test_each_event_adds_to_its_step_and_to_the_run() -> None:
    totals = RunTotals()
    for event in fanout_run():
        totals.apply(event)

    assert (totals.requests, totals.retries, totals.record_count) == (7, 1, 2)
    assert totals.responses_by_status == {200: 4, 500: 1}
    assert totals.transport_errors == 1  # the cancelled request is not one
    assert (totals.rate_limit_waits, totals.rate_limit_wait_seconds) == (1, 0.5)
    assert (totals.breaker_rejections, totals.token_fetches) == (1, 1)
    assert list(totals.steps) == ["list", "list.detail"]

    parent = totals.steps["list"]
    assert (parent.executions, parent.status, parent.statuses) == (1, "failed", {"failed": 1})
    assert (parent.requests, parent.codes, parent.transport_errors) == (3, {200: 2}, 0)
    assert (parent.method, parent.first_url) == ("GET", "http://h/list?page=1")
    assert parent.last_url == "http://h/list?page=3"
    assert (parent.errors, parent.first_error) == (1, "page 3 failed")
    assert (parent.first_started_at, parent.last_finished_at) == (1.0, 6.0)

    detail = totals.steps["list.detail"]
    assert (detail.executions, detail.statuses) == (3, {"ok": 2, "failed": 1})
    assert detail.status == "failed"
    assert (detail.requests, detail.retries, detail.codes) == (4, 1, {200: 2, 500: 1})
    assert (detail.transport_errors, detail.rate_limit_waits) == (1, 1)
    assert (detail.items_total, detail.items_done, detail.items_not_ok) == (3, 3, 1)
    assert (detail.errors, detail.first_error, detail.duration_ms) == (1, "answered 500", 30.0)
    assert (detail.first_started_at, detail.last_finished_at) == (2.0, 4.5)


def test_records_and_pages_are_counted_two_named_ways() -> None:
    totals = RunTotals()
    for event in fanout_run():
        totals.apply(event)
    parent, detail = totals.steps["list"], totals.steps["list.detail"]
    # records emitted under the path (run result, CLI, notebook) ...
    assert (parent.records, detail.records) == (0, 2)
    # ... and what executions reported when they finished (capture's steps table, dashboard)
    assert (parent.records_including_substeps, detail.records_including_substeps) == (2, 0)
    # pages the executions ran (a failed page included) and pages that completed
    assert (parent.pages, parent.pages_finished) == (3, 2)
    assert (detail.pages, detail.pages_finished) == (3, 0)


@pytest.mark.parametrize("worse, better", list(itertools.combinations(STATUS_SEVERITY, 2)))
def test_the_worst_status_wins(worse: str, better: str) -> None:
    assert worst_status({better: 5, worse: 1}) == worse
    assert StepTotals("s", statuses={better: 5, worse: 1}).status == worse


def test_severity_order_and_statuses_before_any_end() -> None:
    assert STATUS_SEVERITY == (
        "failed", "aborted", "interrupted", "cancelled", "ignored", "ok", "skipped"
    )  # fmt: skip
    assert worst_status({}) is None
    assert worst_status({"failed": 0, "ok": 1}) == "ok"  # a zero count is not a status
    assert StepTotals("s").status == "pending"
    assert StepTotals("s", requests=1).status == "running"
    assert StepSummary is StepTotals  # the engine's name for the same model


def test_running_executions_and_the_end_of_the_run() -> None:
    totals = RunTotals()
    totals.apply(started("a", 1.0))
    totals.apply(started("a", 2.0))
    totals.apply(finished("a", "ok", 3.0))
    assert totals.steps["a"].running == 1
    totals.apply(finished("a", "ok", 4.0))
    totals.apply(finished("a", "ok", 5.0))  # more ends than starts never goes below zero
    assert totals.steps["a"].running == 0
    totals.apply(started("a", 6.0))
    totals.apply(RunFinished(**RUN, at=7.0, status="interrupted", duration_ms=1.0))
    assert totals.steps["a"].running == 0  # nothing executes once the run is over


def test_a_handler_table_counts_first_then_runs_its_own_part() -> None:
    totals = RunTotals()
    seen: list[tuple[int, int]] = []
    table = totals.handlers(
        {RecordEmitted: lambda e: seen.append((totals.record_count, totals.requests))},
        counted=(RecordEmitted,),
    )
    assert set(table) == {RecordEmitted}
    table[RecordEmitted](RecordEmitted(**RUN, at=1.0, step_path="a", record=1))
    assert seen == [(1, 0)]  # the model had already counted the record
    assert RunTotals().handlers().keys() == RunTotals.event_types


def surfaces(events: list[Event]) -> tuple[RunResult, RunMonitor, ProgressDisplay, StepClock]:
    result = RunResult("r1", "p")
    collector = ResultCollector(result, keep_records=True)
    monitor = RunMonitor()
    display = ProgressDisplay(enabled=True, file=io.StringIO(), mininterval=0)
    clock = StepClock()
    for event in events:
        if type(event) in collector.event_types:  # as the bus routes
            collector(event)
        monitor(event)
        display(event)
        if type(event) in clock.event_types:
            clock(event)
    return result, monitor, display, clock


def test_every_surface_reads_the_same_counts() -> None:
    events = fanout_run()
    result, monitor, display, clock = surfaces(events[:-1])  # before RunFinished closes bars
    snapshot = monitor.snapshot()
    for path in ("list", "list.detail"):
        step, shown = result.steps[path], snapshot.paths[path]
        assert (shown.requests, shown.retries, shown.records, shown.executions) == (
            step.requests, step.retries, step.records, step.executions
        )  # fmt: skip
        assert (shown.status, shown.statuses, shown.first_error) == (
            step.status, step.statuses, step.first_error
        )  # fmt: skip
    assert display.page_bars["list"].n == snapshot.paths["list"].pages_finished == 2
    bar = display.fanout_bars["list.detail"]
    detail = snapshot.paths["list.detail"]
    assert (bar.n, bar.total) == (detail.items_done, detail.items_total) == (3, 3)
    assert display.failed_items == {"list.detail": detail.items_not_ok} == {"list.detail": 1}
    assert clock.seconds("list") == 5.0 and clock.seconds("list.detail") == 2.5
    assert clock.seconds("never") is None
    assert [r.data for r in result.records] == [{"i": 0}, {"i": 2}]


def test_a_real_fanout_counts_the_same_on_every_surface(demo_api) -> None:
    """A paginated list fanning out over real sockets; one item answers 500 and is tolerated."""
    plan = {
        "key": "totals",
        "steps": [
            {
                "name": "list",
                "url": "{config.base_url}/items",
                "params": {"limit": 3, "offset": "{context.next_offset || `0`}"},
                "context_updates": {"next_offset": "response.body.next_offset"},
                "while": "response.body.next_offset != null && context.next_offset < `6`",
                "emit": False,
                "sub_steps": [
                    {
                        "name": "detail",
                        "iterate_over": "response.body.items",
                        "url": "{config.base_url}/status/{item.id == `4` && '500' || '200'}",
                        "on_error": "continue",
                        "concurrency": 3,
                    }
                ],
            }
        ],
    }
    monitor = RunMonitor()
    display = ProgressDisplay(enabled=True, file=io.StringIO(), mininterval=0)
    clock, feed = StepClock(), LiveFeed()
    result = orchestra.run(
        plan, {"base_url": demo_api.url}, subscribers=[monitor, display, clock, feed]
    )
    detail, shown = result.steps["list.detail"], monitor.snapshot().paths["list.detail"]
    assert detail.executions == 6 and detail.statuses == {"ok": 5, "failed": 1}, result.error
    assert result.steps["list"].executions == 1
    assert detail.retries >= 1 and detail.requests == 6 + detail.retries  # the 500 was retried
    assert (shown.requests, shown.retries) == (detail.requests, detail.retries)
    assert (shown.records, shown.statuses) == (detail.records, detail.statuses)
    assert detail.records == 5
    assert (shown.items_total, shown.items_done, shown.items_not_ok) == (6, 6, 1)
    assert shown.codes == {200: 5, 500: 1 + detail.retries}
    assert monitor.snapshot().paths["list"].pages_finished == result.steps["list"].pages == 2
    assert display.failed_items == {"list.detail": 1}
    assert feed.totals[result.run_id].steps["list.detail"].statuses == detail.statuses
    assert feed.running(result.run_id) == set()
    assert clock.seconds("list") is not None and clock.seconds("list") > 0
