"""``paginate:`` presets and ``records:`` against the real demo API (issue 19 items 1-2).

Every preset walks the demo API's 1000 items (offset ``/items``, page number
``/pages``, cursor ``/cursor``, Link header ``/link``): the number of requests
the server saw, the pages the step reports and the records emitted are
counted, and the records are the items 1…1000 in order. The expanded form
``validate --explain`` prints runs exactly like the preset.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import pytest
import yaml
from click.testing import CliRunner

import orchestra
from orchestra.cli import main
from orchestra.demo import DemoAPI
from orchestra.events import PaginationDetected
from orchestra.plan import expand_plan_data

TOTAL = 1000

PRESETS = {
    "offset_records": (
        "/items",
        {"type": "offset", "limit": 100},
        {"records": "items"},
        11,  # ten full pages, then an empty one shows the end
    ),
    "offset_total": (
        "/items",
        {"type": "offset", "limit": 100, "total_path": "total"},
        {"records": "items"},
        10,  # the total says page ten is the last
    ),
    "page_number_size": (
        "/pages",
        {"type": "page_number", "size_param": "per_page", "size": 100},
        {"records": "items"},
        11,
    ),
    "page_number_total_pages": (
        "/pages",
        {
            "type": "page_number",
            "size_param": "per_page",
            "size": 100,
            "total_pages_path": "total_pages",
        },
        {"records": "items"},
        10,
    ),
    "cursor": (
        "/cursor",
        {"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"},
        {"records": "items", "params": {"limit": 100}},
        10,
    ),
    "link_header": ("/link", "link_header", {"records": "@", "params": {"per_page": 100}}, 10),
}


def plan_for(path: str, paginate: object, extra: dict, **more: object) -> dict:
    step = {"name": "items", "url": "{config.base_url}" + path, "paginate": paginate, **extra}
    return {"key": "paginate", "steps": [{**step, **more}]}


def requests_to(api: DemoAPI, path: str) -> int:
    return api.stats()["by_path"].get(path, 0)


@pytest.mark.parametrize("name", PRESETS)
def test_each_preset_walks_every_item_one_record_each(demo_api, name):
    path, paginate, extra, pages = PRESETS[name]
    result = orchestra.run(plan_for(path, paginate, extra), {"base_url": demo_api.url})
    assert result.ok, result.error
    assert result.steps["items"].pages == pages
    assert requests_to(demo_api, path) == pages
    assert [record.data["id"] for record in result.records] == list(range(1, TOTAL + 1))
    assert result.steps["items"].records == TOTAL


@pytest.mark.parametrize("name", PRESETS)
def test_the_expanded_plan_runs_exactly_like_the_preset(demo_api, name):
    path, paginate, extra, pages = PRESETS[name]
    expanded = expand_plan_data(plan_for(path, paginate, extra))
    assert "paginate" not in expanded["steps"][0]
    result = orchestra.run(expanded, {"base_url": demo_api.url})
    assert result.ok, result.error
    assert result.steps["items"].pages == pages
    assert len(result.records) == TOTAL


@pytest.mark.parametrize("name", PRESETS)
def test_max_pages_stops_every_preset(demo_api, name):
    path, paginate, extra, _ = PRESETS[name]
    preset = {"type": paginate} if isinstance(paginate, str) else paginate
    result = orchestra.run(
        plan_for(path, {**preset, "max_pages": 3}, extra), {"base_url": demo_api.url}
    )
    assert result.ok, result.error
    assert result.steps["items"].pages == 3
    assert requests_to(demo_api, path) == 3
    assert [record.data["id"] for record in result.records] == list(range(1, 301))


def test_the_steps_own_while_and_break_when_still_apply(demo_api):
    path, paginate, extra, _ = PRESETS["cursor"]
    stop_at_300 = orchestra.run(
        plan_for(path, paginate, extra, **{"while": "response.body.items[-1].id < `300`"}),
        {"base_url": demo_api.url},
    )
    assert stop_at_300.steps["items"].pages == 3
    demo_api.reset()
    break_at_page_5 = orchestra.run(
        plan_for(path, paginate, extra, break_when="response.body.items[0].id == `401`"),
        {"base_url": demo_api.url},
    )
    assert break_at_page_5.steps["items"].pages == 5
    assert len(break_at_page_5.records) == 500


def test_max_loops_still_limits_a_preset(demo_api):
    path, paginate, extra, _ = PRESETS["link_header"]
    plan = {**plan_for(path, paginate, extra), "limits": {"max_loops": 4}}
    result = orchestra.run(plan, {"base_url": demo_api.url})
    assert result.status is orchestra.RunStatus.FAILED
    assert "max_loops" in str(result.error)
    assert requests_to(demo_api, path) == 4


def test_pages_and_records_are_captured_as_ordinary_pages(demo_api, tmp_path):
    path, paginate, extra, _ = PRESETS["cursor"]
    capture = tmp_path / "runs.duckdb"
    result = orchestra.run(
        plan_for(path, paginate, {**extra, "params": {"limit": 250}}),
        {"base_url": demo_api.url},
        db=str(capture),
    )
    assert result.ok, result.error
    with orchestra.CaptureStore(capture).read() as reader:
        urls = list(reader.exchanges(result.run_id, step_path="items")["url"])
        records = reader.record_values(result.run_id, step_path="items")
    assert len(urls) == 4
    assert "cursor=" not in urls[0] and all("cursor=" in url for url in urls[1:])
    assert [record["id"] for record in records] == list(range(1, TOTAL + 1))


def test_records_of_a_parent_are_enriched_by_a_fanout_over_them(demo_api):
    plan = plan_for(
        "/cursor",
        {"type": "cursor", "cursor_path": "next_cursor", "max_pages": 2},
        {
            "records": "items",
            "params": {"limit": 3},
            "emit": False,
            "sub_steps": [
                {
                    "name": "detail",
                    "iterate_over": "records",
                    "url": "{config.base_url}/items/{item.id}",
                    "extract": {"name": "response.body.name"},
                }
            ],
        },
    )
    result = orchestra.run(plan, {"base_url": demo_api.url})
    assert result.ok, result.error
    enriched = [record.data for record in result.records]
    assert [record["id"] for record in enriched] == [1, 2, 3, 4, 5, 6]
    assert all(record["detail"]["name"] for record in enriched)
    assert requests_to(demo_api, "/cursor") == 2


def test_validate_explain_prints_the_expanded_plan(tmp_path, demo_api):
    plan_file = tmp_path / "plan.yaml"
    path, paginate, extra, pages = PRESETS["offset_total"]
    plan_file.write_text(yaml.safe_dump(plan_for(path, paginate, extra)))
    result = CliRunner().invoke(main, ["validate", "--explain", str(plan_file)])
    assert result.exit_code == 0, result.output
    head, _, text = result.output.partition("\n")
    assert head.startswith("ok  ")
    step = yaml.safe_load(text)["steps"][0]
    assert "paginate" not in step
    assert step["params"] == {"limit": 100, "offset": "{page_state.offset}"}
    assert step["page_state"] == {"offset": 0}
    assert step["page_state_updates"] == {"offset": "sum([page_state.offset, `100`])"}
    assert "response.body.total" in step["while"]
    # what it prints is a plan that runs
    explained = tmp_path / "explained.yaml"
    explained.write_text(text)
    run = orchestra.run(str(explained), {"base_url": demo_api.url})
    assert run.ok and run.steps["items"].pages == pages


def test_validate_without_explain_prints_only_ok(tmp_path):
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump(plan_for("/link", "link_header", {"records": "@"})))
    result = CliRunner().invoke(main, ["validate", str(plan_file)])
    assert result.exit_code == 0
    assert result.output.strip().splitlines() == [f"ok  {plan_file} (1 step)"]


# -- paginate: auto (the detector itself is orchestra.engine._detect) -----------------------


@dataclass(frozen=True)
class FakeDetection:
    paginate: dict | None
    records: str | None
    looks_paginated: tuple[str, ...] = ()
    explanation: str = "cursor in next_cursor"


def install_detector(monkeypatch, detection: FakeDetection) -> list[dict]:
    """A stand-in ``orchestra.engine._detect`` module; returns the calls it got."""
    calls: list[dict] = []
    module = types.ModuleType("orchestra.engine._detect")

    def detect_pagination(*, url, headers, body):
        calls.append({"url": url, "headers": headers, "body": body})
        return detection

    module.detect_pagination = detect_pagination  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "orchestra.engine._detect", module)
    return calls


def test_auto_continues_with_the_detected_spec_and_announces_it(demo_api, monkeypatch, tmp_path):
    detected = {"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"}
    calls = install_detector(monkeypatch, FakeDetection(detected, "items"))
    events: list[PaginationDetected] = []
    capture = tmp_path / "auto.duckdb"
    result = orchestra.run(
        plan_for("/cursor", "auto", {"params": {"limit": 100}}),
        {"base_url": demo_api.url},
        db=str(capture),
        subscribers=[lambda e: events.append(e) if isinstance(e, PaginationDetected) else None],
    )
    assert result.ok, result.error
    assert len(calls) == 1 and calls[0]["url"].endswith("/cursor?limit=100")
    assert result.steps["items"].pages == 10 and requests_to(demo_api, "/cursor") == 10
    assert [record.data["id"] for record in result.records] == list(range(1, TOTAL + 1))
    (event,) = events
    assert event.step_path == "items" and event.paginate == detected
    assert yaml.safe_load(event.yaml) == {"paginate": detected, "records": "items"}
    with orchestra.CaptureStore(capture).read() as reader:
        stored = reader.events(result.run_id)
    assert list(stored["type"]).count("pagination_detected") == 1


AUTO_SHAPES = {
    # path, params, the records path announced, the first record's id
    "/github/items": ({"per_page": 100}, "@", 1),
    "/graph/items": ({"$top": 100}, "value", 1),
    "/stripe/items": ({"limit": 100}, "data", "item_1"),
    "/slack/members": ({"limit": 100}, "members", None),
    "/hal/items": ({"size": 100}, "_embedded.items", 1),
    "/cursor": ({"limit": 100}, "items", 1),
}


@pytest.mark.parametrize("path", sorted(AUTO_SHAPES))
def test_auto_with_the_real_detector_reads_every_page_of_each_shape(demo_api, path):
    params, records_path, first_id = AUTO_SHAPES[path]
    events: list[PaginationDetected] = []
    result = orchestra.run(
        plan_for(path, "auto", {"params": params}),
        {"base_url": demo_api.url},
        subscribers=[lambda e: events.append(e) if isinstance(e, PaginationDetected) else None],
    )
    assert result.ok, result.error
    (event,) = events
    assert event.paginate is not None and event.records == records_path
    assert len(result.records) == TOTAL, event.explanation
    assert requests_to(demo_api, path) == result.steps["items"].pages >= TOTAL // 100
    if first_id is not None:
        assert result.records[0].data["id"] == first_id
    pasted = yaml.safe_load(event.yaml)
    again = orchestra.run(
        plan_for(path, pasted["paginate"], {"params": params, "records": pasted["records"]}),
        {"base_url": demo_api.url},
    )
    assert again.ok and len(again.records) == TOTAL


def test_auto_on_an_unknown_shape_reads_one_page_and_names_the_suspect_fields(demo_api):
    events: list[PaginationDetected] = []
    result = orchestra.run(
        plan_for("/search", "auto", {"params": {"size": 10}}),
        {"base_url": demo_api.url},
        subscribers=[lambda e: events.append(e) if isinstance(e, PaginationDetected) else None],
    )
    assert result.ok and result.steps["items"].pages == 1
    (event,) = events
    assert event.paginate is None and set(event.looks_paginated) >= {"total", "nxt"}


def test_an_invalid_detection_fails_the_step_with_a_fix(demo_api, monkeypatch):
    install_detector(monkeypatch, FakeDetection({"type": "cursor"}, None))
    result = orchestra.run(plan_for("/cursor", "auto", {}), {"base_url": demo_api.url})
    assert result.status is orchestra.RunStatus.FAILED
    message = str(result.error)
    assert "paginate: auto detected" in message and "cursor_path" in message
    assert "write paginate: and records: explicitly" in message


def test_a_paginated_sub_step_emits_its_own_records_per_item(demo_api):
    plan = plan_for(
        "/items",
        {"type": "offset", "limit": 2, "max_pages": 1, "total_path": "total"},
        {
            "records": "items",
            "emit": False,
            "sub_steps": [
                {
                    "name": "pages",
                    "iterate_over": "records",
                    "url": "{config.base_url}/cursor",
                    "params": {"limit": 5},
                    "paginate": {"type": "cursor", "cursor_path": "next_cursor", "max_pages": 2},
                    "records": "items",
                }
            ],
        },
    )
    result = orchestra.run(plan, {"base_url": demo_api.url})
    assert result.ok, result.error
    assert requests_to(demo_api, "/items") == 1 and requests_to(demo_api, "/cursor") == 4
    assert [record.step_path for record in result.records] == ["items.pages"] * 20
    # two parent records, each paging twice through five records (items run concurrently)
    assert sorted(record.data["id"] for record in result.records) == sorted([*range(1, 11)] * 2)
    assert result.steps["items.pages"].records == 20
