"""Fanout sub_steps: iterate_over, bounded concurrency, record/page emit, nesting."""

import asyncio

import httpx
import pytest

import orchestra
from orchestra import RunStatus


def list_and_detail(n_items: int):
    def handler(request):
        if request.url.path == "/list":
            return httpx.Response(200, json={"items": [{"id": i} for i in range(n_items)]})
        item_id = int(request.url.path.rsplit("/", 1)[1])
        if request.url.path.startswith("/detail/"):
            return httpx.Response(200, json={"id": item_id, "square": item_id * item_id})
        return httpx.Response(200, json={"tags": [f"t{item_id}"]})

    return handler


def fanout_plan(concurrency=5, mode="record", **sub):
    return {
        "key": "p",
        "steps": [
            {
                "name": "list",
                "url": "http://api/list",
                "emit": False,
                "sub_steps": [
                    {
                        "name": "detail",
                        "iterate_over": "response.body.items",
                        "url": "http://api/detail/{item.id}",
                        "concurrency": concurrency,
                        "fanout_emit_mode": mode,
                        **sub,
                    }
                ],
            }
        ],
    }


def test_record_mode_enriches_each_item(run_mock):
    result = run_mock(fanout_plan(), list_and_detail(12))
    assert result.ok, result.error
    records = sorted(result.records_of("list.detail"), key=lambda r: r["id"])
    assert len(records) == 12
    assert records[3] == {"id": 3, "detail": {"id": 3, "square": 9}}
    assert result.steps["list.detail"].executions == 12


def test_extract_shapes_the_enrichment(run_mock):
    plan = fanout_plan(extract={"sq": "response.body.square"})
    result = run_mock(plan, list_and_detail(3))
    assert sorted(result.records_of("list.detail"), key=lambda r: r["id"])[2] == {
        "id": 2,
        "detail": {"sq": 4},
    }


def test_page_mode_emits_one_ordered_list_per_parent_page(run_mock):
    result = run_mock(fanout_plan(mode="page"), list_and_detail(7))
    pages = result.records_of("list.detail")
    assert len(pages) == 1
    assert [r["id"] for r in pages[0]] == list(range(7))


def test_max_records_cuts_a_page_mode_fanout_and_stops_its_items(run_mock):
    requested: list[str] = []
    handler = list_and_detail(7)

    def counting(request):
        requested.append(request.url.path)
        return handler(request)

    result = run_mock(fanout_plan(concurrency=1, mode="page"), counting,
                      caps=orchestra.ReadCaps(max_records=3))  # fmt: skip
    assert result.ok, result.error
    pages = result.records_of("list.detail")
    assert len(pages) == 1
    assert [r["id"] for r in pages[0]] == [0, 1, 2]
    assert requested == ["/list", "/detail/0", "/detail/1", "/detail/2"]
    assert result.partial == "stopped at 3 records in step 'list.detail'"


def test_nested_sub_steps_see_parent_response(run_mock):
    plan = fanout_plan(
        concurrency=2,
        sub_steps=[
            {
                "name": "tags",
                "url": "http://api/tags/{parent.body.id}",
            }
        ],
    )
    result = run_mock(plan, list_and_detail(3))
    assert result.ok, result.error
    tags = result.records_of("list.detail.tags")
    assert sorted(t[0] for t in (r["tags"] for r in tags)) == ["t0", "t1", "t2"]


def test_iterate_over_a_non_list_is_a_clear_error(run_mock):
    plan = fanout_plan()
    plan["steps"][0]["sub_steps"][0]["iterate_over"] = "response.body"
    result = run_mock(plan, list_and_detail(2))
    assert result.status is RunStatus.FAILED
    assert "not a list" in str(result.error)
    assert "list.detail" in str(result.error)


class ConcurrencyProbe(httpx.AsyncBaseTransport):
    """Counts requests in flight; detail calls take a little while."""

    def __init__(self, items: int):
        self.items = items
        self.in_flight = 0
        self.peak = 0

    async def handle_async_request(self, request):
        if request.url.path == "/list":
            return httpx.Response(200, json={"items": [{"id": i} for i in range(self.items)]})
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0.002)
        self.in_flight -= 1
        return httpx.Response(200, json={"ok": True})


@pytest.mark.parametrize("concurrency", [1, 4, 16])
def test_requests_overlap_up_to_the_concurrency_and_no_further(concurrency):
    probe = ConcurrencyProbe(60)
    result = orchestra.run(fanout_plan(concurrency), transport=probe)
    assert result.ok
    assert probe.peak == concurrency


def test_large_fanout_keeps_tasks_bounded():
    """20,000 items at concurrency 8: the number of live tasks stays near 8."""
    tasks_seen = []

    class Transport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request):
            if request.url.path == "/list":
                return httpx.Response(200, json={"items": list(range(20_000))})
            if len(tasks_seen) < 500 or int(request.url.path.rsplit("/", 1)[1]) % 997 == 0:
                tasks_seen.append(len(asyncio.all_tasks()))
            return httpx.Response(200, json=1)

    plan = fanout_plan(8)
    plan["steps"][0]["sub_steps"][0]["url"] = "http://api/detail/{item}"
    result = orchestra.run(plan, transport=Transport(), keep_records=False)
    assert result.ok, result.error
    assert result.record_count == 20_000
    assert result.records == []
    assert max(tasks_seen) <= 8 + 3  # workers + the main task + slack


def test_a_failing_item_fails_the_run_and_cancels_siblings(run_mock):
    def handler(request):
        if request.url.path == "/list":
            return httpx.Response(200, json={"items": [{"id": i} for i in range(50)]})
        if request.url.path.endswith("/7"):
            return httpx.Response(500, json={})
        return httpx.Response(200, json={})

    plan = fanout_plan(concurrency=1, retry={"max_attempts": 1})
    result = run_mock(plan, handler)
    assert result.status is RunStatus.FAILED
    assert result.error.step_path == "list.detail"
    assert result.steps["list.detail"].executions == 8  # items 0..7, then it stopped


def test_ignored_items_are_skipped(run_mock):
    def handler(request):
        if request.url.path == "/list":
            return httpx.Response(200, json={"items": [{"id": i} for i in range(5)]})
        if request.url.path.endswith("/2"):
            return httpx.Response(404, json={})
        return httpx.Response(200, json={"x": 1})

    result = run_mock(fanout_plan(ignore_on=[404]), handler)
    assert result.ok
    assert len(result.records_of("list.detail")) == 4
    assert result.steps["list.detail"].statuses == {"ok": 4, "ignored": 1}
