"""Expressions that fail on their data at run time are step errors, never "internal error".

Load time checks syntax, function names and arities; only the data can show
that ``abs()`` was given a string. Every place where the engine evaluates an
expression turns that into an :class:`ExpressionError` naming the step, the
expression with its plan path and what it got: the step ends ``failed``
(``on_error`` honoured), the run's ``error_step`` is filled and the CLI exits
1 with its JUnit report written.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from orchestra import RunStatus
from orchestra.errors import ExpressionError

REPO = Path(__file__).resolve().parents[2]
GOT = "abs() expected a number, got a string 'x'"
BAD = "abs(response.body.word)"  # the answer's `word` is a string


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"word": "x", "items": [{"id": 1}], "token": "t-1"})


def plan_of(*steps: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"key": "expression-errors", "config": {"word": "x"}, "steps": list(steps), **top}


def step(**fields: Any) -> dict[str, Any]:
    return {"name": "s", "url": "http://api/x", **fields}


def captured(sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(os.environ["ORCHESTRA_DB"], read_only=True) as connection:
        return connection.sql(sql).fetchall()


# (case, plan, the failing step's path, the expression's plan path)
SITES = [
    ("url", plan_of(step(url="http://api/x/{abs(config.word)}")), "s", "steps[0].url"),
    ("params", plan_of(step(params={"n": "{abs(config.word)}"})), "s", "steps[0].params.n"),
    ("headers", plan_of(step(headers={"X-N": "n{abs(config.word)}"})), "s", "steps[0].headers"),
    ("body", plan_of(step(method="POST", body={"n": "{abs(config.word)}"})), "s", "steps[0].body"),
    ("while", plan_of(step(**{"while": f"{BAD} > `0`"})), "s", "steps[0].while"),
    ("break_when", plan_of(step(break_when=BAD)), "s", "steps[0].break_when"),
    ("abort_when", plan_of(step(abort_when=BAD)), "s", "steps[0].abort_when"),
    ("retry_when", plan_of(step(retry_when=BAD)), "s", "steps[0].retry_when"),
    ("expect", plan_of(step(expect={"that": [BAD]})), "s", "steps[0].expect.that[0]"),
    ("extract", plan_of(step(extract={"n": BAD})), "s", "steps[0].extract.n"),
    ("context_updates", plan_of(step(context_updates={"n": BAD})), "s", "context_updates.n"),
    ("secrets", plan_of(step(secrets=[BAD])), "s", "steps[0].secrets[0]"),
    (
        "iterate_over",
        plan_of(step(sub_steps=[{"name": "sub", "url": "http://api/y", "iterate_over": BAD}])),
        "s.sub",
        "sub_steps[0].iterate_over",
    ),
    (
        "choice when",
        plan_of({"name": "c", "choice": [{"when": "abs(config.word) > `0`", "steps": [step()]}]}),
        "c",
        "choice[0].when",
    ),
]


@pytest.mark.parametrize(("plan", "step_path", "where"), [s[1:] for s in SITES],
                         ids=[s[0] for s in SITES])  # fmt: skip
def test_a_type_error_fails_the_step_naming_step_expression_and_value(
    run_mock, plan, step_path, where
):
    result = run_mock(plan, handler)

    assert result.status is RunStatus.FAILED
    assert isinstance(result.error, ExpressionError), result.error
    assert result.error.step_path == step_path
    message = str(result.error)
    assert GOT in message
    assert where in message
    assert f"step {step_path!r}" in message
    assert captured("select status, error_step from runs") == [("failed", step_path)]
    row = "s" if step_path == "s.sub" else step_path  # iterate_over fails before its item steps
    assert captured(f"select status from steps where step_path = '{row}'") == [("failed",)]
    assert captured("select count(*) from steps where status = 'running'") == [(0,)]


@pytest.mark.parametrize("condition", ["response.body.word > `0`", "`0` < response.body.word"])
def test_ordering_a_string_with_a_number_is_a_step_error(run_mock, condition):
    result = run_mock(plan_of(step(break_when=condition)), handler)

    assert isinstance(result.error, ExpressionError), result.error
    assert "cannot compare a string with a number" in str(result.error) or (
        "cannot compare a number with a string" in str(result.error)
    )
    assert captured("select status, error_step from runs") == [("failed", "s")]


def test_on_error_continue_records_the_failure_and_runs_the_next_step(run_mock):
    plan = plan_of(step(on_error="continue", extract={"n": BAD}), step(name="after"))

    result = run_mock(plan, handler)

    assert result.status is RunStatus.FAILED  # a failed step still fails the run
    assert result.steps["s"].status == "failed"
    assert result.steps["after"].status == "ok"
    assert captured("select step_path, status from steps order by step_path") == [
        ("after", "ok"),
        ("s", "failed"),
    ]
    (error,) = captured("select error from steps where step_path = 's'")[0]
    assert GOT in error


def test_a_type_error_in_a_fanout_item_fails_that_item_only_with_continue(run_mock):
    sub = {
        "name": "sub",
        "url": "http://api/y/{item.id}",
        "iterate_over": "response.body.items",
        "extract": {"n": BAD},
        "on_error": "continue",
    }
    result = run_mock(plan_of(step(sub_steps=[sub])), handler)

    assert result.steps["s.sub"].statuses == {"failed": 1}
    assert captured("select status from steps where step_path = 's.sub'") == [("failed",)]


def test_a_type_error_in_a_compensation_is_recorded_and_the_run_ends(run_mock):
    undo = {"url": "http://api/undo/{abs(response.body.word)}", "method": "DELETE"}
    plan = plan_of(step(compensate=undo), step(name="boom", abort_when="`true`"))

    result = run_mock(plan, handler)

    assert result.status is not RunStatus.SUCCEEDED
    rows = captured("select status, error from steps where step_path = 's.compensate'")
    assert rows and rows[0][0] == "failed" and GOT in rows[0][1]


def test_a_type_error_in_an_auth_flow_fails_the_run_with_the_auth_step(run_mock):
    auth = {
        "type": "flow",
        "steps": [{"name": "login", "url": "http://api/login"}],
        "token_path": "abs(steps.login.body.word)",
    }
    result = run_mock(plan_of(step(), auth=auth), handler)

    assert result.status is RunStatus.FAILED
    assert GOT in str(result.error)
    assert "auth.token_path" in str(result.error)
    assert captured("select count(*) from steps where status = 'running'") == [(0,)]


def test_the_cli_exits_1_and_writes_junit_for_a_type_error(demo_api, tmp_path):
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "key: cli-expression-error\n"
        f"config: {{base_url: '{demo_api.url}'}}\n"
        "steps:\n"
        "  - name: items\n"
        "    url: '{config.base_url}/items'\n"
        "    extract: {n: 'abs(response.body.items[0].name)'}\n"
    )
    junit = tmp_path / "junit.xml"
    db = tmp_path / "run.duckdb"

    done = subprocess.run(
        [sys.executable, "-m", "orchestra", "run", str(plan), "--db", str(db), "--junit",
         str(junit)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    assert "internal error" not in done.stdout + done.stderr
    assert "abs() expected a number, got a string 'item-1'" in done.stdout
    failures = ET.parse(junit).getroot().iter("failure")
    assert any("abs() expected a number" in (f.get("message") or "") + (f.text or "")
               for f in failures)  # fmt: skip
    with duckdb.connect(str(db), read_only=True) as connection:
        assert connection.sql("select status, error_step from runs").fetchall() == [
            ("failed", "items")
        ]
