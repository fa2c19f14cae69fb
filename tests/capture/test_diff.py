"""Run-to-run diff over a real capture: two demo-API runs of one plan with known changes.

Run A lists items 1-3, run B items 2-4 (config ``offset``), and B's ``tag``
sub-step sends ``tier=silver`` instead of ``gold`` plus a new ``v`` parameter
(a plan change). So, by ``id``: ``page.detail`` gains 4 and loses 1;
``page.tag`` gains 4, loses 1 and changes 2 and 3 in ``tag.query.tier`` and
``tag.query.v``; the page record has no ``id`` and is compared by position;
``page.tag``'s shape gains ``tag.query.v``. The CLI and JSON tests read the
same capture.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    assert all(s.p50_ms_a is not None and s.p95_ms_b is not None for s in diff.steps)
    assert not any(step.changed for step in diff.steps)
    frame = diff.steps_frame()
    assert frame.step_path.tolist() == ["page", "page.detail", "page.tag"]
    assert frame.requests_b.tolist() == [1, 3, 3]


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
        ("page.tag", {"tag.query.v": "VARCHAR"}, {}, {})
    ]
    reverse = diff_runs(runs.store, runs.b, runs.a).shapes
    assert [(s.step_path, s.appeared, s.vanished) for s in reverse] == [
        ("page.tag", {}, {"tag.query.v": "VARCHAR"})
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
    assert "page.tag: + tag.query.v (VARCHAR)" in result.stdout
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
        {"step_path": "page.tag", "appeared": {"tag.query.v": "VARCHAR"}, "vanished": {},
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
