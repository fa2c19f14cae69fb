"""JUnit XML for ``orchestra run --junit FILE``: one test suite per run, one test case per step.

Layout (what Jenkins, GitLab and GitHub test reporters read)::

    <testsuites name=PLAN tests failures errors skipped time>
      <testsuite name=PLAN tests failures errors skipped time timestamp>
        <properties> run_id, status, partial (a test read) </properties>
        <testcase classname=PLAN name=STEP_PATH time>
          <failure type=ExpectationFailed message=…/>   one per failed ``expect`` assertion
          <failure type=HTTPStatusError message=…/>     a step that failed otherwise
          <error type=Interrupted message=…/>           a step cut short by Ctrl-C
          <skipped message=…/>                          never ran, or every response ignored
          <system-out>                                  what ``paginate: auto`` chose, with
                                                        the YAML to paste
          <system-err>                                  its "looks paginated" warning

A test read (``--max-pages`` …) that a cap cut short adds ``<property name="partial">``
with the words of the summary's ``partial:`` line, so a report never passes a partial
run off as a whole one.

``failures``, ``errors`` and ``skipped`` count test cases, as the JUnit schema
defines them. Messages are masked and stripped of characters XML cannot hold.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from orchestra.cli._summary import NOT_RUN, StepRow, error_parts, run_status
from orchestra.engine import RunResult
from orchestra.events import DetectedPagination
from orchestra.masking import Masker
from orchestra.types import RunStatus

RUN_CASE = "(run)"  # the test case of an error that belongs to no step
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str, masker: Masker) -> str:
    return _NOT_XML.sub("\ufffd", masker.text(text))


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _is_within(path: str, error_step: str | None) -> bool:
    """True when ``error_step`` is ``path`` or one of its sub-steps (errors travel up)."""
    return error_step is not None and (error_step == path or error_step.startswith(path + "."))


def _all_passed_over(row: StepRow) -> bool:
    """Every execution was ignored (``ignore_on``) or skipped (a debugger hook)."""
    passed_over = row.statuses.get("ignored", 0) + row.statuses.get("skipped", 0)
    return row.executions > 0 and passed_over == row.executions


def build_junit(
    result: RunResult,
    rows: list[StepRow],
    masker: Masker,
    *,
    interrupted: bool = False,
    cause: str = "Ctrl-C",
    detected: DetectedPagination | None = None,
) -> ET.ElementTree:
    """The JUnit XML tree of a finished (or interrupted) run (``cause``: what interrupted it;
    ``detected``: what ``paginate: auto`` chose, shown in each step's output)."""
    plan_key = _clean(result.plan_key, masker)
    status = run_status(result, interrupted=interrupted)
    error_type, error_step, error_message = error_parts(result.error, masker)
    known_paths = {row.path for row in rows}

    suite = ET.Element("testsuite", name=plan_key)
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="run_id", value=result.run_id)
    ET.SubElement(properties, "property", name="status", value=str(status))
    if result.partial:  # a test read: the steps passed on part of the data
        ET.SubElement(properties, "property", name="partial", value=_clean(result.partial, masker))

    counts = {"failure": 0, "error": 0, "skipped": 0}

    def add_case(name: str, seconds: float) -> ET.Element:
        return ET.SubElement(
            suite, "testcase", classname=plan_key, name=_clean(name, masker), time=_seconds(seconds)
        )

    def add_outcome(case: ET.Element, tag: str, kind: str | None, message: str) -> None:
        attributes = {"message": message}
        if kind is not None:
            attributes["type"] = kind
        element = ET.SubElement(case, tag, attributes)
        if tag != "skipped":
            element.text = message

    for row in rows:
        case = add_case(row.path, row.seconds)
        assertions = [a for a in result.assertion_failures if a.step_path == row.path]
        for failure in assertions:
            add_outcome(case, "failure", "ExpectationFailed", _clean(failure.message, masker))
        if not assertions and row.status in ("failed", "aborted"):
            if error_type and _is_within(row.path, error_step):
                kind, message = error_type, error_message
            else:
                kind, message = "RunError", row.first_error or f"step {row.status}"
            add_outcome(case, "failure", kind, _clean(message, masker))
        if assertions or row.status in ("failed", "aborted"):
            counts["failure"] += 1
        elif row.status == "interrupted":
            add_outcome(case, "error", "Interrupted", f"the run was interrupted ({cause})")
            counts["error"] += 1
        elif row.status == NOT_RUN or _all_passed_over(row):
            reason = "not run" if row.status == NOT_RUN else "skipped or response ignored"
            add_outcome(case, "skipped", None, reason)
            counts["skipped"] += 1
        if detected:
            announce(case, detected, row.path, masker)

    if error_type and error_step not in known_paths:
        case = add_case(RUN_CASE, result.duration_ms / 1000)
        add_outcome(case, "failure", error_type, _clean(error_message, masker))
        counts["failure"] += 1
    elif status is RunStatus.INTERRUPTED and not any(r.status == "interrupted" for r in rows):
        case = add_case(RUN_CASE, result.duration_ms / 1000)
        add_outcome(case, "error", "Interrupted", f"the run was interrupted ({cause})")
        counts["error"] += 1

    totals = {
        "tests": str(len(suite.findall("testcase"))),
        "failures": str(counts["failure"]),
        "errors": str(counts["error"]),
        "skipped": str(counts["skipped"]),
        "time": _seconds(result.duration_ms / 1000),
    }
    suite.attrib.update(totals)
    if result.started_at:
        started = datetime.fromtimestamp(result.started_at, UTC)
        suite.set("timestamp", started.strftime("%Y-%m-%dT%H:%M:%S"))
    root = ET.Element("testsuites", name=plan_key)
    root.attrib.update(totals)
    root.append(suite)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    return tree


def announce(case: ET.Element, detected: DetectedPagination, path: str, masker: Masker) -> None:
    """A step's ``paginate: auto`` choice as its test case's output (the same lines as the
    CLI summary), and its "looks paginated" warning as its error output."""
    lines = detected.lines(masker, warnings=False, step_path=path)
    if lines:
        ET.SubElement(case, "system-out").text = _clean(
            "paginate: auto detected:\n" + "\n".join(lines) + "\n", masker
        )
    warnings = detected.warnings(masker, step_path=path)
    if warnings:
        text = "".join(f"Warning: {warning}\n" for warning in warnings)
        ET.SubElement(case, "system-err").text = _clean(text, masker)


def write_junit(path: str | Path, tree: ET.ElementTree) -> None:
    """Write the report (UTF-8 with an XML declaration), creating parent directories."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
