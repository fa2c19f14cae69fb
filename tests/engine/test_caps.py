"""Test-read caps (``orchestra.run(plan, caps=ReadCaps(...))``) against the real demo API.

Pages are counted by the server (``/_stats``), records by the run and the
capture, and the words of ``result.partial`` are those a user reads.
"""

from __future__ import annotations

import pytest

import orchestra
from orchestra import ReadCaps
from orchestra.capture import CaptureStore
from orchestra.demo import DemoAPI
from orchestra.events import StepCapped

ITEMS = 1000  # the demo API's default total_items


def cursor_plan(**sub_steps: dict) -> dict:
    items = {
        "name": "items",
        "url": "{config.base_url}/cursor",
        "params": {"limit": 10},
        "paginate": {"type": "cursor", "cursor_path": "next_cursor"},
        "records": "items",
    }
    if sub_steps:
        items["sub_steps"] = [{"name": name, **spec} for name, spec in sub_steps.items()]
    return {"key": "capped", "steps": [items]}


def served(api: DemoAPI, path: str) -> int:
    return int(api.stats()["by_path"].get(path, 0))


def test_max_pages_stops_a_paginated_step_and_says_so(demo_api: DemoAPI, tmp_path):
    db = str(tmp_path / "caps.duckdb")
    events: list[StepCapped] = []
    result = orchestra.run(
        cursor_plan(),
        {"base_url": demo_api.url},
        db=db,
        caps=ReadCaps(max_pages=5),
        subscribers=[lambda e: events.append(e) if isinstance(e, StepCapped) else None],
    )
    assert result.ok, result.error
    assert served(demo_api, "/cursor") == 5
    assert [r.data["id"] for r in result.records] == list(range(1, 51))
    assert result.steps["items"].pages == 5
    assert result.partial == "stopped at 5 pages in step 'items'"
    assert [(e.step_path, e.cap, e.count) for e in events] == [("items", "max_pages", 5)]
    store = CaptureStore(db)
    assert store.partial(result.run_id) == result.partial
    assert len(store.record_values(result.run_id)) == 50
    assert store.events(result.run_id)["type"].tolist() == ["step_capped"]


def test_caps_that_are_not_reached_leave_the_run_whole(demo_api: DemoAPI, tmp_path):
    db = str(tmp_path / "caps.duckdb")
    plan = cursor_plan()
    plan["steps"][0]["params"] = {"limit": 500}
    result = orchestra.run(plan, {"base_url": demo_api.url}, db=db, caps=ReadCaps(max_pages=5))
    assert result.ok, result.error
    assert served(demo_api, "/cursor") == 2
    assert len(result.records) == ITEMS
    assert result.partial is None
    assert CaptureStore(db).partial(result.run_id) is None


def test_max_records_cuts_the_page_and_stops_reading(demo_api: DemoAPI):
    result = orchestra.run(
        cursor_plan(), {"base_url": demo_api.url}, db=None, caps=ReadCaps(max_records=25)
    )
    assert result.ok, result.error
    assert served(demo_api, "/cursor") == 3  # the third page holds records 21-30
    assert [r.data["id"] for r in result.records] == list(range(1, 26))
    assert result.partial == "stopped at 25 records in step 'items'"


def test_max_fanout_items_runs_the_first_items_of_each_fanout(demo_api: DemoAPI):
    detail = {"iterate_over": "response.body.items", "url": "{config.base_url}/items/{item.id}"}
    result = orchestra.run(
        cursor_plan(detail=detail),
        {"base_url": demo_api.url},
        db=None,
        caps=ReadCaps(max_pages=2, max_fanout_items=3),
    )
    assert result.ok, result.error
    by_path = demo_api.stats()["by_path"]
    details = sorted(int(path.rsplit("/", 1)[1]) for path in by_path if path.startswith("/items/"))
    assert details == [1, 2, 3, 11, 12, 13]  # three items of each of the two pages
    assert [r["id"] for r in result.records_of("items.detail")] == [1, 2, 3, 11, 12, 13]
    assert result.partial == (
        "ran 3 of 10 fanout items in step 'items.detail'; stopped at 2 pages in step 'items'"
    )


def test_max_records_of_a_fanout_stops_its_items(demo_api: DemoAPI):
    detail = {
        "iterate_over": "response.body.items",
        "url": "{config.base_url}/items/{item.id}",
        "concurrency": 1,
    }
    result = orchestra.run(
        cursor_plan(detail=detail),
        {"base_url": demo_api.url},
        db=None,
        caps=ReadCaps(max_pages=1, max_records=4),
    )
    assert result.ok, result.error
    assert [r["id"] for r in result.records_of("items.detail")] == [1, 2, 3, 4]
    assert sum(1 for path in demo_api.stats()["by_path"] if path.startswith("/items/")) == 4
    assert "stopped at 4 records in step 'items.detail'" in (result.partial or "")


def test_max_records_cuts_a_page_mode_fanout_across_parent_pages(demo_api: DemoAPI):
    detail = {
        "iterate_over": "response.body.items",
        "url": "{config.base_url}/items/{item.id}",
        "concurrency": 1,
        "fanout_emit_mode": "page",
    }
    plan = cursor_plan(detail=detail)
    plan["steps"][0]["emit"] = False  # only the fanout's records count
    result = orchestra.run(
        plan, {"base_url": demo_api.url}, db=None, caps=ReadCaps(max_pages=3, max_records=13)
    )
    assert result.ok, result.error
    pages = result.records_of("items.detail")
    assert [[r["id"] for r in page] for page in pages] == [list(range(1, 11)), [11, 12, 13]]
    assert served(demo_api, "/cursor") == 3  # the third parent page ran no item: no empty page
    assert sum(1 for path in demo_api.stats()["by_path"] if path.startswith("/items/")) == 13
    assert result.partial == (
        "stopped at 13 records in step 'items.detail'; stopped at 3 pages in step 'items'"
    )


def test_a_test_read_saves_no_persistent_context(demo_api: DemoAPI, tmp_path):
    db = str(tmp_path / "sync.duckdb")
    plan = {
        "key": "ticket-sync",
        "steps": [
            {
                "name": "tickets",
                "url": "{config.base_url}/tickets",
                "paginate": {"type": "offset", "limit": 10},
                "records": "data",
                "incremental": {"cursor_path": "updated_at", "param": "updated_since",
                                "initial_value": "2024-01-01T00:00:00Z"},
            }
        ],
    }  # fmt: skip
    config = {"base_url": demo_api.url}
    # a capped run, then one whose caps are never reached: both are test reads, and
    # neither may move the cursor
    test_read = orchestra.run(plan, config, db=db, caps=ReadCaps(max_pages=2))
    assert test_read.ok and test_read.partial == "stopped at 2 pages in step 'tickets'"
    whole = orchestra.run(plan, config, db=db, caps=ReadCaps(max_pages=1000))
    assert whole.ok and whole.partial is None and len(whole.records) == 100
    real = orchestra.run(plan, config, db=db)
    assert real.ok and len(real.records) == 100  # the cursor had not moved: every ticket


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "5"])
def test_caps_must_be_whole_numbers_of_at_least_one(bad):
    with pytest.raises(ValueError, match="max_pages must be a whole number"):
        ReadCaps(max_pages=bad)


def test_the_builder_defaults_read_little(demo_api: DemoAPI):
    detail = {"iterate_over": "response.body.items", "url": "{config.base_url}/items/{item.id}"}
    result = orchestra.run(
        cursor_plan(detail=detail), {"base_url": demo_api.url}, db=None, caps=ReadCaps.test_read()
    )
    assert ReadCaps.test_read() == ReadCaps(max_pages=5, max_fanout_items=5, max_records=100)
    assert result.ok and served(demo_api, "/cursor") == 5
    assert len(result.records_of("items")) == 50 and len(result.records_of("items.detail")) == 25


def test_no_caps_given_means_none():
    assert ReadCaps.of(max_pages=None, max_records=None) is None
    assert ReadCaps.of(max_pages=3) == ReadCaps(max_pages=3)


def test_a_fanout_over_records_follows_only_the_records_max_records_kept(demo_api: DemoAPI):
    detail = {
        "iterate_over": "records",
        "url": "{config.base_url}/items/{item.id}",
        "emit": False,  # its own records are not capped: only the parent's cut counts
        "concurrency": 1,
    }
    result = orchestra.run(
        cursor_plan(detail=detail), {"base_url": demo_api.url}, db=None,
        caps=ReadCaps(max_records=4),
    )  # fmt: skip
    assert result.ok, result.error
    assert [r.data["id"] for r in result.records] == [1, 2, 3, 4]
    details = sorted(p for p in demo_api.stats()["by_path"] if p.startswith("/items/"))
    assert details == ["/items/1", "/items/2", "/items/3", "/items/4"]
