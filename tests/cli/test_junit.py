"""The JUnit XML report and the summary, built from hand-made run results."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from orchestra import load_plan
from orchestra.cli._junit import RUN_CASE, build_junit, write_junit
from orchestra.cli._summary import format_seconds, render_summary, step_rows
from orchestra.engine import Assertion, RunResult, StepSummary
from orchestra.errors import HTTPStatusError, LimitExceeded
from orchestra.masking import Masker
from orchestra.types import RunStatus

PLAN = load_plan(
    {
        "key": "unit",
        "steps": [
            {
                "name": "list",
                "url": "http://h/list",
                "sub_steps": [
                    {"name": "detail", "iterate_over": "response.body", "url": "http://h/d"}
                ],
            },
            {"name": "later", "url": "http://h/later"},
        ],
    }
)
SECRET = "tok-9d8e7f-secret"


def summary(path: str, status: str, executions: int = 1, error: str | None = None) -> StepSummary:
    return StepSummary(
        path,
        executions=executions,
        statuses={status: executions},
        pages=executions,
        errors=1 if error else 0,
        duration_ms=12.0,
        first_error=error,
    )


def roundtrip(tmp_path: Path, result: RunResult, masker: Masker) -> ET.Element:
    path = tmp_path / "junit.xml"
    write_junit(path, build_junit(result, step_rows(result, PLAN), masker))
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<?xml")
    return ET.fromstring(text.encode()).find("testsuite")  # type: ignore[return-value]


def test_an_error_from_a_sub_step_fails_it_and_its_parent(tmp_path: Path) -> None:
    message = f"GET http://h/d?k={SECRET} answered 500 \x00\x1b[31m"
    error = HTTPStatusError(message, status_code=500, step_path="list.detail")
    result = RunResult("run-1", "unit", status=RunStatus.FAILED, error=error, duration_ms=50)
    result.steps = {
        "list": summary("list", "failed", error=f"step 'list.detail': {message}"),
        "list.detail": summary("list.detail", "failed", 3, error=f"step 'list.detail': {message}"),
    }

    suite = roundtrip(tmp_path, result, Masker([SECRET]))

    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "2", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    for name in ("list", "list.detail"):
        failure = cases[name].find("failure")
        assert failure is not None
        assert failure.get("type") == "HTTPStatusError"
        assert "***" in (failure.get("message") or "")
    assert cases["later"].find("skipped") is not None
    assert SECRET not in ET.tostring(suite, encoding="unicode")


def test_an_error_outside_any_step_gets_a_run_test_case(tmp_path: Path) -> None:
    error = LimitExceeded("the run took longer than max_execution_seconds (1s)")
    result = RunResult("run-2", "unit", status=RunStatus.FAILED, error=error, duration_ms=1000)
    result.steps = {"list": summary("list", "ok"), "later": summary("later", "ok")}

    suite = roundtrip(tmp_path, result, Masker())

    names = [c.get("name") for c in suite.findall("testcase")]
    assert names == ["list", "list.detail", "later", RUN_CASE]
    run_case = suite.findall("testcase")[-1]
    failure = run_case.find("failure")
    assert failure is not None and failure.get("type") == "LimitExceeded"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")


def test_failures_of_continued_steps_and_assertions_count_per_test_case(tmp_path: Path) -> None:
    result = RunResult("run-3", "unit", status=RunStatus.FAILED, duration_ms=10)
    result.steps = {
        "list": summary("list", "failed", error="step 'list': boom"),
        "list.detail": summary("list.detail", "ok", 2),
        "later": summary("later", "failed", error="expectation failed"),
    }
    result.assertion_failures = [
        Assertion("later", "status", "status 500 is not one of [200]"),
        Assertion("later", "response.body.ok", "'response.body.ok' is not true"),
    ]

    suite = roundtrip(tmp_path, result, Masker())

    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "2", "0")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    list_failures = cases["list"].findall("failure")
    assert [f.get("type") for f in list_failures] == ["RunError"]
    later_failures = cases["later"].findall("failure")
    assert [f.get("type") for f in later_failures] == ["ExpectationFailed"] * 2
    assert cases["list.detail"].find("failure") is None


def test_summary_is_masked_and_lists_every_step(tmp_path: Path) -> None:
    error = HTTPStatusError(
        f"http://h/?q={SECRET} answered 502", status_code=502, step_path="later"
    )
    result = RunResult("run-4", "unit", status=RunStatus.FAILED, error=error, duration_ms=1500)
    result.requests = 4
    result.responses_by_status = {200: 3, 502: 1}
    result.steps = {
        "list": summary("list", "ok", error=None),
        "later": summary("later", "failed", error=f"boom {SECRET}"),
    }
    result.assertion_failures = [Assertion("list", "x", f"value {SECRET} is wrong")]

    text = render_summary(result, step_rows(result, PLAN), Masker([SECRET]))

    assert SECRET not in text
    assert "status:" in text and "failed" in text
    assert "200: 3, 502: 1" in text
    assert "error: HTTPStatusError in step later" in text
    assert "list: value *** is wrong" in text
    detail_line = next(line for line in text.splitlines() if line.startswith("list.detail"))
    assert detail_line.split()[1:3] == ["0", "skipped"]


def test_durations_read_well() -> None:
    assert [format_seconds(s) for s in (0.0424, 3.5, 119.6, 125)] == [
        "42 ms",
        "3.50 s",
        "2 min 0 s",
        "2 min 5 s",
    ]
