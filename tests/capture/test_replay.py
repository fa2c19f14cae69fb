"""Replay: run a plan against the exchanges captured in an earlier run, offline.

A demo API of this module's own is started, captured against (offset
pagination with a fanout, a retried flaky endpoint) and stopped, so every
replay below provably runs without the network.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

import orchestra
from orchestra.capture import CaptureStore
from orchestra.capture._replay import ReplayMiss
from orchestra.cli import main
from orchestra.demo import start_demo_api


def replay_plan(base_url: str) -> dict[str, Any]:
    return {
        "key": "replay-demo",
        "config": {"base_url": base_url, "page_size": 3},
        "steps": [
            {
                "name": "items",
                "url": "{config.base_url}/items",
                "params": {"limit": "{config.page_size}", "offset": "{context.next_offset || `0`}"},
                "context_updates": {"next_offset": "response.body.next_offset"},
                "while": "response.body.next_offset != null && response.body.offset < `6`",
                "retry": {"base_seconds": 0.01},
                "sub_steps": [
                    {
                        "name": "detail",
                        "iterate_over": "response.body.items",
                        "url": "{config.base_url}/items/{item.id}",
                        "concurrency": 3,
                        "retry": {"base_seconds": 0.01},
                        "extract": {"description": "response.body.detail.description"},
                    }
                ],
            },
            {
                "name": "flaky",
                "url": "{config.base_url}/flaky/replay",
                "params": {"fail": 2},
                "retry": {"max_attempts": 3, "base_seconds": 0.01},
            },
        ],
    }


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> tuple[Path, str, dict[str, Any], list[Any]]:
    """(db, run id, plan, records) of a run captured against a demo API now stopped."""
    db = tmp_path_factory.mktemp("replay") / "capture.duckdb"
    server = start_demo_api()
    try:
        plan = replay_plan(server.url)
        result = orchestra.run(plan, db=db)
    finally:
        server.stop()
    assert result.status == "succeeded", result.error
    assert result.retries == 2  # flaky answered 500 twice: three exchanges captured
    with pytest.raises(httpx.TransportError):  # the network is really gone
        httpx.get(plan["config"]["base_url"] + "/items", timeout=2)
    return db, result.run_id, plan, result.records


def test_replay_produces_the_same_records_offline(capture) -> None:
    db, run_id, plan, records = capture

    result = orchestra.run(plan, db=db, replay=run_id)

    assert result.status == "succeeded", result.error
    assert result.records == records
    assert len(records) == 3 * 3 + 3 + 1  # 3 pages of items with 3 details each, flaky
    assert result.retries == 2  # the captured 500s are answered again, in order
    store = CaptureStore(db)
    assert store.record_values(result.run_id) == store.record_values(run_id)
    runs = store.runs().set_index("run_id")
    assert runs.loc[result.run_id, "mode"] == "replay"
    assert runs.loc[run_id, "mode"] == "run"


def test_replay_accepts_a_prefix_of_the_run_id(capture) -> None:
    db, run_id, plan, records = capture
    result = orchestra.run(plan, db=db, replay=run_id[:-2])
    assert result.records == records


def test_a_changed_plan_fails_naming_the_request_the_capture_lacks(capture) -> None:
    db, run_id, plan, _ = capture
    changed = copy.deepcopy(plan)
    changed["steps"][0]["sub_steps"][0]["url"] = "{config.base_url}/items/{item.id}?fields=all"

    result = orchestra.run(changed, db=db, replay=run_id)

    assert result.status == "failed"
    message = str(result.error)
    base_url = plan["config"]["base_url"]
    assert re.search(
        rf"holds no answer for GET {re.escape(base_url)}/items/\d\?fields=all", message
    )
    assert f"run {run_id}" in message
    assert isinstance(result.error, ReplayMiss)
    assert "attempts" not in message  # a miss is final: never retried


def post_plan(base_url: str, name: str) -> dict[str, Any]:
    return {
        "key": "replay-bodies",
        "config": {"base_url": base_url},
        "steps": [
            {"name": "create", "method": "POST", "url": "{config.base_url}/echo",
             "body": {"name": name}},
            {"name": "login", "method": "POST", "url": "{config.base_url}/echo/form",
             "form": {"user": "demo", "scope": "read write"}},
        ],
    }  # fmt: skip


def test_requests_are_matched_by_their_body(tmp_path: Path) -> None:
    db = tmp_path / "bodies.duckdb"
    server = start_demo_api()
    url = server.url
    try:
        result = orchestra.run(post_plan(url, "first"), db=db)
    finally:
        server.stop()
    assert result.status == "succeeded", result.error

    same = orchestra.run(post_plan(url, "first"), db=db, replay=result.run_id)
    other = orchestra.run(post_plan(url, "second"), db=db, replay=result.run_id)

    assert same.status == "succeeded", same.error
    assert same.records == result.records
    assert other.status == "failed"
    assert f"POST {url}/echo with body" in str(other.error)
    assert "second" in str(other.error)


def test_replay_of_a_run_mixing_gets_and_bodies(capture, tmp_path: Path) -> None:
    db = tmp_path / "mixed.duckdb"
    server = start_demo_api()
    try:
        plan = replay_plan(server.url)
        plan["steps"] += post_plan(server.url, "mixed")["steps"]
        result = orchestra.run(plan, db=db)
    finally:
        server.stop()
    assert result.status == "succeeded", result.error

    replayed = orchestra.run(plan, db=db, replay=result.run_id)

    assert replayed.status == "succeeded", replayed.error
    assert replayed.records == result.records


# --- the command line --------------------------------------------------------------------------


def _write(tmp_path: Path, plan: dict[str, Any]) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    return path


def test_cli_replay_runs_offline_and_captures_the_replayed_run(capture, tmp_path: Path) -> None:
    db, run_id, plan, records = capture
    plan_file = _write(tmp_path, plan)

    result = CliRunner().invoke(
        main, ["run", str(plan_file), "--replay", run_id, "--db", str(db), "--no-progress"]
    )

    assert result.exit_code == 0, result.output
    assert f"replayed from: run {run_id} in {db}" in result.stdout
    store = CaptureStore(db)
    newest = store.runs(limit=1).iloc[0]
    assert newest["mode"] == "replay" and newest["status"] == "succeeded"
    assert store.record_values(newest["run_id"]) == [record.data for record in records]
    assert f"(run {newest['run_id']})" in result.stdout


def test_cli_replay_miss_exits_1_naming_the_request(capture, tmp_path: Path) -> None:
    db, run_id, plan, _ = capture
    changed = copy.deepcopy(plan)
    changed["steps"][1]["url"] = "{config.base_url}/flaky/other"
    plan_file = _write(tmp_path, changed)

    result = CliRunner().invoke(
        main, ["run", str(plan_file), "--replay", run_id, "--db", str(db), "--no-progress"]
    )

    assert result.exit_code == 1, result.output
    base_url = plan["config"]["base_url"]
    assert f"holds no answer for GET {base_url}/flaky/other?fail=2" in result.stdout
    assert f"replay: the plan made a request that run {run_id} did not make" in result.stdout


def test_cli_replay_without_capture_records_nothing(capture, tmp_path: Path) -> None:
    db, run_id, plan, _ = capture
    before = len(CaptureStore(db).runs())

    result = CliRunner().invoke(
        main,
        ["run", str(_write(tmp_path, plan)), "--replay", run_id, "--db", str(db),
         "--no-capture", "--no-progress"],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "capture: off (--no-capture)" in result.stdout
    assert len(CaptureStore(db).runs()) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replay", "nope"], "no run 'nope'"),
        (["--replay", "last", "--db", "{tmp}/missing.duckdb"], "missing.duckdb does not exist"),
    ],
)
def test_cli_replay_of_something_not_captured_exits_2(
    capture, tmp_path: Path, args: list[str], message: str
) -> None:
    db, _, plan, _ = capture
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    if "--db" not in args:
        args += ["--db", str(db)]

    result = CliRunner().invoke(main, ["run", str(_write(tmp_path, plan)), *args])

    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "missing.duckdb").exists()
