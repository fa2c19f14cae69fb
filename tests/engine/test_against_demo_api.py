"""The engine against the real demo API over real sockets (the ``demo_api`` fixture)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import orchestra
from orchestra import RunStatus
from orchestra.events import RequestSent, ResponseReceived

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def run(plan, api, **options):
    config = {"base_url": api.url, **options.pop("config", {})}
    return orchestra.run(plan, config, **options)


def ids(records):
    return [
        item["id"]
        for record in records
        for item in (record.get("items", record) if isinstance(record, dict) else record)
    ]


@pytest.fixture
def small_api(demo_api):
    return demo_api


def test_offset_pagination_walks_every_item(demo_api):
    plan = {
        "key": "offset",
        "step": {
            "url": "{config.base_url}/items",
            "params": {"limit": 100, "offset": "{context.next_offset || `0`}"},
            "context_updates": {"next_offset": "response.body.next_offset"},
            "while": "response.body.next_offset != null",
        },
    }
    result = run(plan, demo_api)
    assert result.ok, result.error
    assert ids(result.records_of("main")) == list(range(1, 1001))
    assert result.steps["main"].pages == 10


def test_page_number_pagination(demo_api):
    plan = {
        "key": "pages",
        "step": {
            "url": "{config.base_url}/pages",
            "params": {"per_page": 250, "page": "{sum([context.page || `0`, `1`])}"},
            "context_updates": {"page": "response.body.page"},
            "while": "response.body.page < response.body.total_pages",
        },
    }
    result = run(plan, demo_api)
    assert result.ok, result.error
    assert ids(result.records_of("main")) == list(range(1, 1001))


def test_cursor_pagination(demo_api):
    plan = {
        "key": "cursor",
        "step": {
            "url": "{config.base_url}/cursor",
            "params": {"limit": 300, "cursor": "{prev.body.next_cursor}"},
            "while": "response.body.next_cursor != null",
        },
    }
    result = run(plan, demo_api)
    assert result.ok, result.error
    assert ids(result.records_of("main")) == list(range(1, 1001))
    assert result.steps["main"].pages == 4


def test_link_header_pagination(demo_api):
    plan = {
        "key": "link",
        "step": {
            "url": "{prev.links.next || join('', [config.base_url, '/link?per_page=200'])}",
            "while": "response.links.next != null",
        },
    }
    result = run(plan, demo_api)
    assert result.ok, result.error
    assert ids(result.records_of("main")) == list(range(1, 1001))


def test_fanout_requests_really_overlap(demo_api):
    in_flight, peak = 0, 0

    def watch(event):
        nonlocal in_flight, peak
        if isinstance(event, RequestSent) and event.step_path == "list.slow":
            in_flight += 1
            peak = max(peak, in_flight)
        elif isinstance(event, ResponseReceived) and event.step_path == "list.slow":
            in_flight -= 1

    plan = {
        "key": "fanout",
        "steps": [
            {
                "name": "list",
                "url": "{config.base_url}/items?limit=20",
                "sub_steps": [
                    {
                        "name": "slow",
                        "iterate_over": "response.body.items",
                        "url": "{config.base_url}/slow?delay=0.2&id={item.id}",
                        "concurrency": 10,
                    }
                ],
            }
        ],
    }
    started = time.perf_counter()
    result = run(plan, demo_api, subscribers=[watch])
    elapsed = time.perf_counter() - started
    assert result.ok, result.error
    assert peak == 10
    assert elapsed < 20 * 0.2 / 2  # sequential would take 4 s
    assert len(result.records_of("list.slow")) == 20


def test_seed_examples_run_against_the_demo_api(demo_api):
    token = {"type": "bearer", "token": "demo-static-token"}
    basic = run(TEMPLATES / "seed-002-basic.json", demo_api, auth=token)
    assert basic.ok, basic.error
    contacts = [c for page in basic.records_of("main") for c in page["contacts"]]
    assert len(contacts) == 250
    assert basic.steps["main"].pages == 3

    fanout = run(TEMPLATES / "seed-002-fanout.json", demo_api, auth=token)
    assert fanout.ok, fanout.error
    details = fanout.records_of("main.sub_1")
    assert len(details) == 50  # the list endpoint's default page
    assert all(d["sub_1"]["id"] == d["id"] for d in details)


def test_flaky_endpoint_is_retried_until_it_answers(demo_api):
    plan = {
        "key": "flaky",
        "step": {
            "url": "{config.base_url}/flaky/k1?fail=2",
            "retry": {"max_attempts": 3, "base_seconds": 0.01},
        },
    }
    result = run(plan, demo_api)
    assert result.ok, result.error
    assert result.records[0].data == {"ok": True, "attempts": 3}
    assert result.retries == 2
    assert result.responses_by_status == {503: 2, 200: 1}


def test_retries_exhausted(demo_api):
    plan = {
        "key": "flaky",
        "step": {
            "url": "{config.base_url}/flaky/k2?fail=5&status=502",
            "retry": {"max_attempts": 2, "base_seconds": 0.01},
        },
    }
    result = run(plan, demo_api)
    assert result.status is RunStatus.FAILED
    assert result.error.status_code == 502


def test_abort_on_and_ignore_on(demo_api):
    abort = {"key": "a", "step": {"url": "{config.base_url}/status/403", "abort_on": [401, 403]}}
    assert run(abort, demo_api).status is RunStatus.ABORTED
    ignore = {
        "key": "i",
        "steps": [
            {"name": "gone", "url": "{config.base_url}/status/404", "ignore_on": [404]},
            {"name": "next", "url": "{config.base_url}/health"},
        ],
    }
    result = run(ignore, demo_api)
    assert result.ok
    assert result.records_of("next") == [{"ok": True}]


def test_retry_after_is_honoured_for_real(demo_api):
    plan = {
        "key": "ra",
        "step": {"url": "{config.base_url}/retry-after?key=t1&seconds=1"},
    }
    result = run(plan, demo_api)
    assert result.ok, result.error
    body = result.records[0].data
    assert body["honoured"] is True
    assert body["waited"] >= 1


def test_rate_limit_window_is_respected(demo_api):
    # the demo API allows 5 requests per second per key; the plan asks for 5 per 1.1 s
    plan = {
        "key": "rl",
        "rate_limits": [{"requests": 5, "window_secs": 1.1}],
        "steps": [
            {
                "name": "list",
                "url": "{config.base_url}/items?limit=12",
                "emit": False,
                "sub_steps": [
                    {
                        "name": "limited",
                        "iterate_over": "response.body.items",
                        "url": "{config.base_url}/ratelimited?key=window",
                        "concurrency": 12,
                        "retry": {"max_attempts": 1},
                    }
                ],
            }
        ],
    }
    started = time.perf_counter()
    result = run(plan, demo_api)
    elapsed = time.perf_counter() - started
    assert result.ok, result.error
    assert 429 not in result.responses_by_status
    assert result.rate_limit_waits >= 2
    assert elapsed >= 2.2  # 13 requests at 5 per 1.1 s need two full windows


def test_header_driven_wait_on_429(demo_api):
    # 8 sequential requests against a 5-per-second endpoint: the 6th gets a 429 with
    # Retry-After; the engine waits and carries on without failing.
    plan = {
        "key": "rl2",
        "steps": [
            {
                "name": "list",
                "url": "{config.base_url}/items?limit=8",
                "emit": False,
                "sub_steps": [
                    {
                        "name": "limited",
                        "iterate_over": "response.body.items",
                        "url": "{config.base_url}/ratelimited?key=headers",
                        "concurrency": 1,
                    }
                ],
            }
        ],
    }
    result = run(plan, demo_api)
    assert result.ok, result.error
    assert len(result.records_of("list.limited")) == 8
    assert result.responses_by_status.get(429, 0) <= 1


def test_timeout_against_a_slow_endpoint(demo_api):
    plan = {
        "key": "slow",
        "step": {
            "url": "{config.base_url}/slow?delay=2",
            "timeout_seconds": 0.2,
            "retry": {"max_attempts": 2, "base_seconds": 0.01},
        },
    }
    started = time.perf_counter()
    result = run(plan, demo_api)
    assert result.status is RunStatus.FAILED
    assert "timed out after 0.2s" in str(result.error)
    assert time.perf_counter() - started < 1.5


def test_response_size_limit(demo_api):
    plan = {
        "key": "large",
        "limits": {"max_response_bytes": 100_000},
        "step": {"url": "{config.base_url}/large?kb=500"},
    }
    result = run(plan, demo_api)
    assert result.status is RunStatus.FAILED
    assert "max_response_bytes" in str(result.error)


def test_execution_time_limit(demo_api):
    plan = {
        "key": "time",
        "limits": {"max_execution_seconds": 0.3},
        "step": {"url": "{config.base_url}/slow?delay=3", "timeout_seconds": 10},
    }
    result = run(plan, demo_api)
    assert result.status is RunStatus.FAILED
    assert "max_execution_seconds" in str(result.error)


def test_max_loops_limit(demo_api):
    plan = {
        "key": "loops",
        "limits": {"max_loops": 3},
        "step": {"url": "{config.base_url}/items?limit=1", "while": "`true`"},
    }
    result = run(plan, demo_api)
    assert result.status is RunStatus.FAILED
    assert "max_loops" in str(result.error)
    assert result.requests == 3


def test_formats_from_the_demo_api(demo_api):
    plan = {
        "key": "formats",
        "steps": [
            {"name": "xml", "url": "{config.base_url}/xml"},
            {"name": "csv", "url": "{config.base_url}/csv"},
            {"name": "text", "url": "{config.base_url}/text"},
            {"name": "binary", "url": "{config.base_url}/binary"},
        ],
    }
    result = run(plan, demo_api)
    assert result.ok, result.error
    assert isinstance(result.records_of("xml")[0], dict)
    csv_rows = result.records_of("csv")[0]
    assert csv_rows[0].keys() == {"id", "name", "category", "price"}
    assert len(csv_rows) == 10
    assert isinstance(result.records_of("text")[0], str)
    import base64

    assert len(base64.b64decode(result.records_of("binary")[0])) == 256


def test_api_key_and_basic_auth(demo_api):
    key_plan = {
        "key": "k",
        "auth": {"type": "api_key", "name": "X-API-Key", "value": "demo-api-key"},
        "step": {"url": "{config.base_url}/protected/apikey"},
    }
    assert run(key_plan, demo_api).ok
    basic_plan = {
        "key": "b",
        "auth": {"type": "basic", "username": "demo", "password": {"env": "DEMO_PW"}},
        "step": {"url": "{config.base_url}/protected/basic"},
    }
    result = run(basic_plan, demo_api, environ={"DEMO_PW": "demo-password"})
    assert result.ok, result.error
