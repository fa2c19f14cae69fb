"""The end-of-run summary of ``orchestra run``: totals, a table of steps, the error.

Everything shown passes through the run's :class:`~orchestra.masking.Masker`,
so a secret can not reach the terminal or a CI log through a message or a URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestra.engine import RunResult
from orchestra.errors import RunError
from orchestra.events import DetectedPagination, RunTotals, StepFinished, StepStarted
from orchestra.masking import Masker
from orchestra.plan import CompiledPlan
from orchestra.types import RunStatus

NOT_RUN = "skipped"


@dataclass(slots=True, kw_only=True)
class StepClock(RunTotals):
    """Event subscriber: wall time of each step path, first start to last finish.

    Summing execution durations would count concurrent fanout items many times
    over; the span is what a reader of a CI report expects. It hears only step
    starts and ends (the run result does not take ``StepStarted``).
    """

    event_types = frozenset({StepStarted, StepFinished})

    def seconds(self, path: str) -> float | None:
        step = self.steps.get(path)
        if step is None or step.first_started_at is None or step.last_finished_at is None:
            return None
        return max(0.0, step.last_finished_at - step.first_started_at)


@dataclass(slots=True)
class StepRow:
    """One step path as reported: totals over its executions, or never run."""

    path: str
    executions: int
    status: str
    pages: int
    records: int
    errors: int
    seconds: float
    first_error: str | None
    statuses: dict[str, int] = field(default_factory=dict)


def step_rows(
    result: RunResult, plan: CompiledPlan, clock: StepClock | None = None
) -> list[StepRow]:
    """Every step of the plan in plan order (steps that never ran included)."""
    paths = [step.path for step in plan.walk()]
    paths += [path for path in result.steps if path not in paths]
    rows = []
    for path in paths:
        summary = result.steps.get(path)
        if summary is None or summary.executions == 0:
            rows.append(StepRow(path, 0, NOT_RUN, 0, 0, 0, 0.0, None))
            continue
        seconds = clock.seconds(path) if clock is not None else None
        rows.append(
            StepRow(
                path=path,
                executions=summary.executions,
                status=summary.status,
                pages=summary.pages,
                records=summary.records,
                errors=summary.errors,
                seconds=summary.duration_ms / 1000 if seconds is None else seconds,
                first_error=summary.first_error,
                statuses=dict(summary.statuses),
            )
        )
    return rows


def run_status(result: RunResult, *, interrupted: bool = False) -> RunStatus:
    """The status to report; an interrupt before the run even started still counts."""
    if interrupted and result.status in (RunStatus.RUNNING, RunStatus.SUCCEEDED):
        return RunStatus.INTERRUPTED
    if result.status is RunStatus.SUCCEEDED and result.assertion_failures:
        return RunStatus.FAILED
    return result.status


def format_seconds(seconds: float) -> str:
    """``0.042`` → ``42 ms``, ``3.5`` → ``3.50 s``, ``125`` → ``2 min 5 s``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def error_parts(error: BaseException | None, masker: Masker) -> tuple[str, str | None, str]:
    """(type name, step path, masked message) of a run's error."""
    if error is None:
        return "", None, ""
    if isinstance(error, RunError):
        message = error.message + (f" (fix: {error.fix})" if error.fix else "")
        return type(error).__name__, error.step_path, masker.text(message)
    return type(error).__name__, getattr(error, "step_path", None), masker.text(str(error))


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    return [line(headers), *(line(row) for row in rows)]


def render_summary(
    result: RunResult,
    rows: list[StepRow],
    masker: Masker,
    *,
    interrupted: bool = False,
    cause: str = "Ctrl-C",
    detected: DetectedPagination | None = None,
) -> str:
    """The summary as text (masked); ``cause`` names what interrupted the run and
    ``detected`` what ``paginate: auto`` chose (with the YAML to paste)."""
    status = run_status(result, interrupted=interrupted)
    responses = ", ".join(
        f"{code}: {count}" for code, count in sorted(result.responses_by_status.items())
    )
    facts: list[tuple[str, Any]] = [
        ("status", str(status)),
        ("run id", result.run_id),
        ("plan", masker.text(result.plan_key)),
        ("duration", format_seconds(result.duration_ms / 1000)),
        ("requests", result.requests),
        ("responses", responses or "none"),
    ]
    if result.transport_errors:
        facts.append(("transport errors", result.transport_errors))
    facts += [
        ("retries", result.retries),
        (
            "rate-limit waits",
            f"{result.rate_limit_waits} ({format_seconds(result.rate_limit_wait_seconds)})"
            if result.rate_limit_waits
            else "0",
        ),
        ("records", result.record_count),
    ]
    if result.partial:
        facts.append(("partial", masker.text(result.partial)))
    width = max(len(label) for label, _ in facts) + 1
    lines = [f"{label + ':':<{width}} {value}" for label, value in facts]

    if rows:
        lines.append("")
        table = [
            [
                masker.text(row.path),
                str(row.executions),
                row.status,
                str(row.pages),
                str(row.records),
                str(row.errors),
                format_seconds(row.seconds) if row.executions else "-",
            ]
            for row in rows
        ]
        headers = ["step", "executions", "status", "pages", "records", "errors", "time"]
        lines += _table(headers, table, right={1, 3, 4, 5, 6})

    if detected:
        lines += ["", "paginate: auto detected:"]
        lines += ["  " + line for line in detected.lines(masker)]

    error_type, error_step, message = error_parts(result.error, masker)
    if error_type:
        lines += ["", f"error: {error_type}" + (f" in step {error_step}" if error_step else "")]
        lines.append(f"  {message}")
    elif status is RunStatus.INTERRUPTED:
        lines += ["", f"interrupted: the run was cancelled ({cause}); totals above are partial"]

    step_errors = [row for row in rows if row.first_error and row.errors and row.path != error_step]
    if step_errors:
        lines += ["", "step errors:"]
        lines += [
            f"  {masker.text(row.path)}: {masker.text(row.first_error or '')}"
            for row in step_errors
        ]

    if result.assertion_failures:
        lines += ["", f"failed assertions ({len(result.assertion_failures)}):"]
        for failure in result.assertion_failures:
            lines.append(f"  {masker.text(failure.step_path)}: {masker.text(failure.message)}")
    return "\n".join(lines)


def one_line(result: RunResult, masker: Masker, *, interrupted: bool = False) -> str:
    """A one-line outcome for ``--quiet`` runs that did not succeed."""
    status = run_status(result, interrupted=interrupted)
    error_type, error_step, message = error_parts(result.error, masker)
    text = f"run {result.run_id} {status}"
    if error_type:
        text += f": {error_type}" + (f" in step {error_step}" if error_step else "")
        text += f": {message}"
    if result.assertion_failures:
        text += f" ({len(result.assertion_failures)} failed assertion(s))"
    if result.partial:
        text += f" (partial: {masker.text(result.partial)})"
    return text
