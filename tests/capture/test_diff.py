"""Run-to-run diff over a real capture: two demo-API runs of one plan with known changes.

Run A lists items 1-3, run B items 2-4 (config ``offset``), and B's ``tag``
sub-step sends ``tier=silver`` instead of ``gold`` plus a new ``v`` parameter
(a plan change). So, by ``id``: ``page.detail`` gains 4 and loses 1;
``page.tag`` gains 4, loses 1 and changes 2 and 3 in ``tag.query.tier`` and
``tag.query.v``; the page record has no ``id`` and is compared by position;
``page.tag``'s shape gains ``tag.query.v``. The CLI and JSON tests read the
same capture. A second capture holds records whose shapes change by value but
not by JSON kind (and one real int -> string change), a plan under another key,
and a pair whose retries differ.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

import orchestra
from orchestra.capture import CaptureStore, DiffInputError, RunNotFound, diff_runs
from orchestra.cli import main
from orchestra.demo import DemoAPI


def items_plan(base_url: str, *, offset: int, tier: str, extra: bool) -> dict[str, Any]:
    params = {"id": "{item.id}", "tier": tier, **({"v": "2"} if extra else {})}
    return {
        "key": "diff",
        "config": {"base_url": base_url, "offset": offset},
        "steps": [
            {
                "name": "page",
                "url": "{config.base_url}/items",
                "params": {"limit": 3, "offset": "{config.offset}"},
                "sub_steps": [
                    {"name": "detail", "iterate_over": "response.body.items",
                     "url": "{config.base_url}/items/{item.id}"},
                    {"name": "tag", "iterate_over": "response.body.items",
                     "url": "{config.base_url}/echo", "params": params},
                ],
            }
        ],
    }  # fmt: skip


@dataclass
class Runs:
    store: CaptureStore
    a: str
    b: str
    a_again: str  # the plan of A run once more: nothing but latency differs


@pytest.fixture(scope="module")
def runs(demo_api_server: DemoAPI, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    path = tmp_path_factory.mktemp("diff") / "capture.duckdb"
    url = demo_api_server.url
    plan_a = items_plan(url, offset=0, tier="gold", extra=False)
    a = orchestra.run(plan_a, db=path).run_id
    b = orchestra.run(items_plan(url, offset=1, tier="silver", extra=True), db=path).run_id
    again = orchestra.run(plan_a, db=path).run_id
    return Runs(CaptureStore(path), a, b, again)


def test_steps_report_requests_and_records_per_step(runs: Runs) -> None:
    diff = diff_runs(runs.store, runs.a, runs.b)
    assert [(s.step_path, s.status_a, s.status_b, s.requests_a, s.requests_b, s.records_a,
             s.records_b, s.retries_b) for s in diff.steps] == [
        ("page", "ok", "ok", 1, 1, 1, 1, 0),
        ("page.detail", "ok", "ok", 3, 3, 3, 3, 0),
        ("page.tag", "ok", "ok", 3, 3, 3, 3, 0),
    ]  # fmt: skip
    latency_a, latency_b = sql_latency(runs.store, runs.a), sql_latency(runs.store, runs.b)
    assert [(s.p50_ms_a, s.p95_ms_a) for s in diff.steps] == [latency_a[s.step_path]
                                                              for s in diff.steps]  # fmt: skip
    assert [(s.p50_ms_b, s.p95_ms_b) for s in diff.steps] == [latency_b[s.step_path]
                                                              for s in diff.steps]  # fmt: skip
    assert all(p50 is not None and p95 >= p50 for p50, p95 in latency_a.values())
    assert not any(step.changed for step in diff.steps)
    frame = diff.steps_frame()
    assert frame.step_path.tolist() == ["page", "page.detail", "page.tag"]
    assert frame.requests_b.tolist() == [1, 3, 3]


def sql_latency(store: CaptureStore, run_id: str) -> dict[str, tuple[float, float]]:
    """p50/p95 per step by plain SQL on the file, rounded to 3 places as the diff rounds."""
    with duckdb.connect(str(store.path), read_only=True) as con:
        rows = con.execute(
            "SELECT step_path, quantile_cont(elapsed_ms, 0.5), quantile_cont(elapsed_ms, 0.95) "
            "FROM exchanges WHERE run_id = ? AND elapsed_ms IS NOT NULL GROUP BY step_path",
            [run_id],
        ).fetchall()
    return {path: (round(p50, 3), round(p95, 3)) for path, p50, p95 in rows}


def test_records_are_paired_by_id_with_changed_fields(runs: Runs) -> None:
    records = diff_runs(runs.store, runs.a, runs.b).records
    assert records.counts == {
        "page": {"changed": 1},
        "page.detail": {"added": 1, "removed": 1, "same": 2},
        "page.tag": {"added": 1, "removed": 1, "changed": 2},
    }
    assert records.by_position == ["page"]
    assert sorted((c.step_path, c.key, c.change, c.by_position, tuple(c.fields))
                  for c in records.changes) == [
        ("page", "#1", "changed", True, ("items", "offset", "next_offset")),
        ("page.detail", "1", "removed", False, ()),
        ("page.detail", "4", "added", False, ()),
        ("page.tag", "1", "removed", False, ()),
        ("page.tag", "2", "changed", False, ("tag.query.tier", "tag.query.v")),
        ("page.tag", "3", "changed", False, ("tag.query.tier", "tag.query.v")),
        ("page.tag", "4", "added", False, ()),
    ]  # fmt: skip
    changed = next(c for c in records.changes if c.step_path == "page.tag" and c.key == "2")
    assert changed.before["tag"]["query"]["tier"] == "gold"
    assert changed.after["tag"]["query"]["tier"] == "silver"
    assert not records.truncated


def test_a_dotted_key_pairs_by_a_nested_field_and_keyless_steps_by_position(runs: Runs) -> None:
    records = diff_runs(runs.store, runs.a, runs.b, key="tag.query.id").records
    assert records.counts["page.tag"] == {"added": 1, "removed": 1, "changed": 2}
    assert records.by_position == ["page", "page.detail"]
    assert records.counts["page.detail"] == {"changed": 3}  # #1..#3: items 1-3 vs 2-4


def test_response_shape_changes_come_from_duckdb_structure_inference(runs: Runs) -> None:
    shapes = diff_runs(runs.store, runs.a, runs.b).shapes
    assert [(s.step_path, s.appeared, s.vanished, s.changed) for s in shapes] == [
        ("page.tag", {"tag.query.v": "string"}, {}, {})
    ]
    reverse = diff_runs(runs.store, runs.b, runs.a).shapes
    assert [(s.step_path, s.appeared, s.vanished) for s in reverse] == [
        ("page.tag", {}, {"tag.query.v": "string"})
    ]


def test_plan_and_config_diffs(runs: Runs) -> None:
    diff = diff_runs(runs.store, runs.a, runs.b)
    assert diff.plan is not None and diff.config is not None
    changed = [line for line in diff.plan.splitlines()
               if line[:1] in "+-" and line[:3] not in ("+++", "---")]  # fmt: skip
    assert [line[0] + line[1:].strip() for line in changed] == [
        '-"offset": 0', '+"offset": 1', '-"tier": "gold"', '+"tier": "silver",', '+"v": "2"',
    ]  # fmt: skip
    assert diff.differs


def test_two_runs_of_one_plan_are_the_same_and_prefixes_and_last_resolve(runs: Runs) -> None:
    diff = diff_runs(runs.store, runs.a[:-2], "last")
    assert (diff.run_a, diff.run_b) == (runs.a, runs.a_again)
    assert not diff.differs
    assert diff.plan is None and diff.config is None and diff.shapes == []
    assert diff.records.total("same") == 7
    assert "are the same" in diff.to_text()


def test_bad_input_names_the_problem(runs: Runs) -> None:
    with pytest.raises(RunNotFound, match="no run 'nope'"):
        diff_runs(runs.store, "nope", runs.b)
    with pytest.raises(DiffInputError, match="dotted path"):
        diff_runs(runs.store, runs.a, runs.b, key="id; DROP")


# -- orchestra diff --------------------------------------------------------------------------


def cli(runs: Runs, *args: str) -> Any:
    return CliRunner().invoke(main, ["diff", *args, "--db", runs.store.path])


def test_cli_text_exits_1_when_runs_differ(runs: Runs) -> None:
    result = cli(runs, runs.a, runs.b)
    assert result.exit_code == 1, result.output
    assert f"runs {runs.a} and {runs.b} differ" in result.stdout
    assert "~ page.tag 2 (tag.query.tier, tag.query.v)" in result.stdout
    assert "page: 0 added, 0 removed, 1 changed, 0 same — no such field, compared by position" \
        in result.stdout  # fmt: skip
    assert "page.tag: + tag.query.v (string)" in result.stdout
    assert '+            "tier": "silver",' in result.stdout


def test_cli_json_and_exit_0_when_the_same(runs: Runs) -> None:
    result = cli(runs, runs.a, runs.a_again, "--format", "json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["differs"] is False
    assert [step["step_path"] for step in body["steps"]] == ["page", "page.detail", "page.tag"]
    different = json.loads(cli(runs, runs.a, runs.b, "-f", "json", "--key", "id").stdout)
    assert different["differs"] is True
    assert different["records"]["counts"]["page.tag"] == {"added": 1, "removed": 1, "changed": 2}
    assert different["shapes"] == [
        {"step_path": "page.tag", "appeared": {"tag.query.v": "string"}, "vanished": {},
         "changed": {}}
    ]  # fmt: skip


def test_cli_bad_input_exits_2(runs: Runs, tmp_path: Path) -> None:
    unknown = cli(runs, "nope", "last")
    assert unknown.exit_code == 2
    assert "no run 'nope'" in unknown.stderr
    bad_key = cli(runs, runs.a, runs.b, "--key", "a b")
    assert bad_key.exit_code == 2 and "--key 'a b'" in bad_key.stderr
    missing = CliRunner().invoke(main, ["diff", "a", "b", "--db", str(tmp_path / "no.duckdb")])
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


# -- shapes by JSON kind, plans under other keys, retries ----------------------------------

BEFORE = {"n": 1, "s": 1, "maybe": None, "xs": [], "f": 1, "tags": [None]}
AFTER = {"n": -1, "s": "one", "maybe": "x", "xs": [{"id": 1}], "f": 1.5, "tags": ["a"]}


def echo_plan(base_url: str, payload: list[dict[str, Any]], key: str = "shapes") -> dict:
    """POST ``payload`` to the demo API's echo; each element comes back as one record."""
    return {
        "key": key,
        "config": {"base_url": base_url, "payload": payload},
        "steps": [{"name": "thing", "method": "POST", "url": "{config.base_url}/echo",
                   "body": "{config.payload}", "records": "body"}],
    }  # fmt: skip


def status_plan(base_url: str, code: int) -> dict:
    return {
        "key": "retries",
        "config": {"base_url": base_url, "code": code},
        "steps": [{"name": "call", "url": "{config.base_url}/status/{config.code}",
                   "retry": {"max_attempts": 3, "base_seconds": 0.01}}],
    }  # fmt: skip


@dataclass
class MoreRuns:
    store: CaptureStore
    before: str  # BEFORE, plan "shapes"
    after: str  # AFTER, plan "shapes"
    other_plan: str  # BEFORE, plan "shapes-v2"
    calm: str  # GET /status/200: no retry
    retried: str  # GET /status/500 with 3 attempts: 2 retries, the run fails


@pytest.fixture(scope="module")
def more(demo_api_server: DemoAPI, tmp_path_factory: pytest.TempPathFactory) -> MoreRuns:
    path = tmp_path_factory.mktemp("diff-more") / "capture.duckdb"
    url = demo_api_server.url
    ids = [
        orchestra.run(plan, db=path).run_id
        for plan in (
            echo_plan(url, [BEFORE]),
            echo_plan(url, [AFTER]),
            echo_plan(url, [BEFORE], key="shapes-v2"),
            status_plan(url, 200),
            status_plan(url, 500),
        )
    ]
    return MoreRuns(CaptureStore(path), *ids)


def test_shapes_compare_json_kinds_so_only_int_to_string_is_a_change(more: MoreRuns) -> None:
    """1 -> -1 (UBIGINT -> BIGINT), 1 -> 1.5, null -> string, [] -> [objects] and
    [null] -> [string] are one JSON kind each; ``s`` going from 1 to "one" is a change."""
    with more.store.read() as reader:  # what DuckDB infers: every field's type differs
        raw_a, raw_b = reader.record_shapes(more.before), reader.record_shapes(more.after)
    assert raw_a["thing"] == {"n": "UBIGINT", "s": "UBIGINT", "maybe": "NULL", "xs": ["NULL"],
                              "f": "UBIGINT", "tags": ["NULL"]}  # fmt: skip
    assert raw_b["thing"] == {"n": "BIGINT", "s": "VARCHAR", "maybe": "VARCHAR", "f": "DOUBLE",
                              "xs": [{"id": "UBIGINT"}], "tags": ["VARCHAR"]}  # fmt: skip
    diff = diff_runs(more.store, more.before, more.after)
    assert [(s.step_path, s.appeared, s.vanished, s.changed) for s in diff.shapes] == [
        ("thing", {}, {}, {"s": ("integer", "string")})
    ]
    reverse = diff_runs(more.store, more.after, more.before)
    assert [(s.appeared, s.vanished, s.changed) for s in reverse.shapes] == [
        ({}, {}, {"s": ("string", "integer")})
    ]
    assert "thing: ~ s (integer -> string)" in diff.to_text()


def test_a_diff_across_plans_says_so_in_text_and_json(more: MoreRuns) -> None:
    across = diff_runs(more.store, more.before, more.other_plan)
    note = (f"note: different plans: run {more.before} is of plan 'shapes', "
            f"run {more.other_plan} of plan 'shapes-v2'")  # fmt: skip
    assert (across.plan_key_a, across.plan_key_b, across.same_plan) == (
        "shapes", "shapes-v2", False
    )  # fmt: skip
    assert across.to_text().splitlines()[1] == note
    assert across.shapes == [] and across.records.total("changed") == 0
    same = diff_runs(more.store, more.before, more.after)
    assert same.same_plan and same.plan_note is None and "different plans" not in same.to_text()
    text = CliRunner().invoke(main, ["diff", more.before, more.other_plan, "--db",
                                     more.store.path])  # fmt: skip
    assert note in text.stdout
    args = ["diff", more.before, more.other_plan, "-f", "json", "--db", more.store.path]
    body = json.loads(CliRunner().invoke(main, args).stdout)
    assert (body["plan_key_a"], body["plan_key_b"], body["same_plan"]) == (
        "shapes", "shapes-v2", False
    )  # fmt: skip


def test_retries_per_step_are_counted_on_both_sides(more: MoreRuns) -> None:
    with duckdb.connect(more.store.path, read_only=True) as con:
        retries = dict(con.execute(
            "SELECT run_id, count(*) FILTER (WHERE attempt > 1) FROM exchanges "
            "WHERE step_path = 'call' GROUP BY run_id"
        ).fetchall())  # fmt: skip
    assert (retries[more.calm], retries[more.retried]) == (0, 2)
    (step,) = diff_runs(more.store, more.calm, more.retried).steps
    assert (step.step_path, step.status_a, step.status_b) == ("call", "ok", "failed")
    assert (step.requests_a, step.requests_b, step.retries_a, step.retries_b) == (1, 3, 0, 2)
    assert step.changed
    (back,) = diff_runs(more.store, more.retried, more.calm).steps
    assert (back.retries_a, back.retries_b) == (2, 0)
    assert "retries 2 -> 0" in diff_runs(more.store, more.retried, more.calm).to_text()
