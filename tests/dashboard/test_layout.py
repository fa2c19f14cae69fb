"""The flow graph's structure, layered layout and status inference (no capture needed)."""

from __future__ import annotations

from typing import Any

from orchestra.dashboard._layout import (
    LAYER_GAP,
    build,
    overlaps,
    with_statuses,
)
from orchestra.dashboard._waterfall import worker_lanes

URL = "http://api.test"


def http(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "url": f"{URL}/{name}", **fields}


def thirty_step_plan() -> dict[str, Any]:
    """30 nodes: a chain with long names, fanouts, a wide parallel group and a choice."""
    steps: list[dict[str, Any]] = [
        http(
            "list_customer_accounts_for_region",
            sub_steps=[
                {
                    "name": "account_details",
                    "iterate_over": "response.body",
                    "url": f"{URL}/a/{{item}}",
                },
                {
                    "name": "account_invoices_history",
                    "iterate_over": "response.body",
                    "url": f"{URL}/i/{{item}}",
                },
            ],
        ),
        {"name": "enrich", "parallel": [http(f"enrich_with_source_{i}") for i in range(5)]},
        {
            "name": "route_by_tier",
            "choice": [
                {"when": "`true`", "steps": [http("gold_tier_offers"), http("gold_tier_upsell")]},
                {"when": "`false`", "steps": [http("silver_tier_offers")]},
            ],
            "otherwise": [http("bronze_default")],
        },
    ]
    steps += [http(f"sync_step_number_{i:02d}_to_warehouse") for i in range(16)]
    return {"key": "thirty", "steps": steps}


def test_a_thirty_step_plan_is_layered_without_overlapping_labels():
    graph = build(thirty_step_plan(), [])
    assert len(graph.nodes) == 30
    assert overlaps(graph) == []
    for edge in graph.edges:  # every edge points down, one or more layers
        assert graph.nodes[edge.target].layer > graph.nodes[edge.source].layer
    fanouts = [graph.nodes[p] for p in graph.children("list_customer_accounts_for_region")]
    assert {n.kind for n in fanouts} == {"fanout"}
    assert len({n.layer for n in fanouts}) == 1  # side by side in one layer
    enrich = [graph.nodes[p] for p in graph.children("enrich")]
    assert len({n.layer for n in enrich}) == 1 and len(enrich) == 5
    assert graph.nodes["route_by_tier.gold_tier_upsell"].layer == (
        graph.nodes["route_by_tier.gold_tier_offers"].layer + 1
    )
    # the chain after the choice waits for every branch, then runs straight down
    after = graph.nodes["sync_step_number_00_to_warehouse"]
    assert set(graph.predecessors(after.path)) == {
        "route_by_tier.gold_tier_upsell",
        "route_by_tier.silver_tier_offers",
        "route_by_tier.bronze_default",
    }
    chain = [graph.nodes[f"sync_step_number_{i:02d}_to_warehouse"] for i in range(16)]
    assert len({round(n.x) for n in chain}) == 1
    assert graph.height == max(n.layer for n in graph.nodes.values()) * LAYER_GAP + 62
    assert graph.width < 1800  # five side by side, not thirty
    assert all(0 <= n.x <= graph.width and 0 <= n.y <= graph.height for n in graph.nodes.values())


def test_overlap_detection_catches_labels_on_top_of_each_other():
    graph = build(thirty_step_plan(), [])
    a, b = graph.nodes["enrich.enrich_with_source_0"], graph.nodes["enrich.enrich_with_source_1"]
    b.x = a.x + 40  # inside a's label
    assert ("enrich.enrich_with_source_0", "enrich.enrich_with_source_1") in overlaps(graph)


def test_captured_paths_the_plan_does_not_name_get_nodes():
    plan = {"key": "k", "steps": [http("create"), http("charge")]}
    graph = build(plan, ["auth", "create", "create.compensate", "charge", "mystery"])
    assert list(graph.nodes)[:2] == ["create", "charge"]
    assert graph.nodes["auth"].kind == "auth"
    assert "create" in [e.target for e in graph.edges if e.source == "auth"]
    assert graph.nodes["create.compensate"].kind == "compensation"
    assert graph.nodes["create.compensate"].layer == graph.nodes["create"].layer
    assert graph.predecessors("mystery") == ["charge"]
    assert overlaps(graph) == []


def test_a_plan_that_does_not_load_falls_back_to_the_captured_paths():
    graph = build({"key": "old", "steps": [{"unknown_field": 1}]}, ["a", "a.b", "c"])
    assert list(graph.nodes) == ["a", "a.b", "c"]
    assert graph.nodes["a.b"].kind == "fanout"


def stats(**rows: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {path.replace("__", "."): row for path, row in rows.items()}


def test_statuses_while_a_run_executes():
    plan = {
        "key": "k",
        "steps": [
            http(
                "first",
                sub_steps=[{"name": "each", "iterate_over": "response.body", "url": f"{URL}/e"}],
            ),
            {"name": "both", "parallel": [http("left"), http("right")]},
            http("last"),
        ],
    }
    graph = build(plan, [])
    # first still paging (an unfinished execution), its fanout has started
    now = with_statuses(
        graph,
        stats(first={"running": 1, "requests": 2}, first__each={"ok": 3, "requests": 3}),
        run_running=True,
    )
    assert now.nodes["first"].status == "running"
    assert now.nodes["first.each"].status == "running"  # more pages, more items may come
    assert now.nodes["both"].status == "pending"
    # first done: the group is next (its requests may be in flight, nothing captured yet)
    now = with_statuses(
        graph,
        stats(first={"ok": 1, "requests": 2}, first__each={"ok": 3, "requests": 3}),
        run_running=True,
    )
    assert [now.nodes[p].status for p in ("both", "both.left", "both.right", "last")] == [
        "running",
        "running",
        "running",
        "pending",
    ]
    # the event feed of an in-process run knows better than the file
    now = with_statuses(graph, {}, run_running=True, live_running={"first"})
    assert now.nodes["first"].status == "running"
    # after the run: a failed item fails the step; what never ran is skipped, not pending
    done = with_statuses(
        graph,
        stats(
            first={"ok": 1, "requests": 1},
            first__each={"ok": 2, "failed": 1, "requests": 3},
            both__left={"cancelled": 1},
            both={"failed": 1},
        ),
        run_running=False,
    )
    assert done.nodes["first.each"].status == "failed"
    assert done.nodes["both.left"].status == "cancelled"
    assert done.nodes["last"].status == "skipped"
    assert graph.nodes["first"].status == "pending"  # the placed layout itself is untouched


def test_a_fanout_whose_parent_finished_without_items_counts_as_skipped():
    plan = {
        "key": "k",
        "steps": [
            http(
                "first",
                sub_steps=[{"name": "each", "iterate_over": "response.body", "url": f"{URL}/e"}],
            ),
            http("second"),
        ],
    }
    now = with_statuses(build(plan, []), stats(first={"ok": 1, "requests": 1}), run_running=True)
    assert now.nodes["first.each"].status == "skipped"
    assert now.nodes["second"].status == "running"


def test_worker_lanes_pack_overlapping_requests():
    starts = [0.0, 1.0, 2.0, 10.0, 11.0, 30.0]
    ends = [5.0, 6.0, 12.0, 20.0, 12.0, 31.0]
    lanes = worker_lanes(starts, ends).tolist()
    assert lanes == [0, 1, 2, 0, 1, 0]
    assert worker_lanes(starts, ends, limit=2).tolist() == [0, 1, 1, 0, 1, 0]
