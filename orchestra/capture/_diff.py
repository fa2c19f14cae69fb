"""Run-to-run diff: what changed between two captured runs of a plan.

:func:`diff_runs` compares two runs of one capture file and returns a
:class:`RunDiff`: per-step deltas (status, requests, retries, records, p50/p95
latency), records added, removed and changed (paired per step by a key field,
``id`` by default; records without it pair by position, and the diff says so),
the response shape of each step's records as DuckDB infers it
(``json_group_structure``) with fields that appeared, vanished or changed JSON
kind (:mod:`orchestra.capture._shapes`: integer and number are one kind, a
field seen only as null matches any kind), and unified diffs of the plan and
config when they changed, with a note when the runs are of different plans. The
pairing and the shape inference run inside DuckDB
(:class:`~orchestra.capture.CaptureReader`), so only the differing records reach
Python, at most ``limit`` of them.

Latency always differs between two runs, so it is reported but never makes
``differs`` true; everything else does. ``orchestra diff`` and ``%flow diff``
render this one model.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
import pandas as pd

from orchestra.capture._read import CaptureReader
from orchestra.capture._shapes import shape_changes
from orchestra.capture._store import CaptureStore

DEFAULT_KEY = "id"
CHANGE_LIMIT = 1000  # changed/added/removed records listed at most (all are counted)
_KEY_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


class DiffInputError(ValueError):
    """A key that is not a field name or dotted path."""


@dataclass
class StepDelta:
    """One step path in both runs (``None`` on the side where it did not run)."""

    step_path: str
    status_a: str | None
    status_b: str | None
    requests_a: int
    requests_b: int
    retries_a: int
    retries_b: int
    records_a: int
    records_b: int
    p50_ms_a: float | None = None
    p50_ms_b: float | None = None
    p95_ms_a: float | None = None
    p95_ms_b: float | None = None

    @property
    def changed(self) -> bool:
        """Status, requests, retries or records differ (latency never counts)."""
        return (self.status_a, self.requests_a, self.retries_a, self.records_a) != (
            self.status_b,
            self.requests_b,
            self.retries_b,
            self.records_b,
        )


@dataclass
class RecordChange:
    """A record added, removed or changed; ``fields`` are the dotted paths that differ."""

    step_path: str
    key: str
    change: str  # added | removed | changed
    by_position: bool
    fields: list[str] = field(default_factory=list)
    before: Any = None
    after: Any = None


@dataclass
class RecordDiff:
    """Records paired per step by ``key``: counts per step and the first changes."""

    key: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # step -> change -> n
    by_position: list[str] = field(default_factory=list)  # steps with keyless records
    changes: list[RecordChange] = field(default_factory=list)
    truncated: bool = False

    def total(self, change: str) -> int:
        return sum(counts.get(change, 0) for counts in self.counts.values())

    @property
    def differs(self) -> bool:
        return any(self.total(change) for change in ("added", "removed", "changed"))


@dataclass
class ShapeDiff:
    """One step's record structure: fields that appeared, vanished or changed JSON kind."""

    step_path: str
    appeared: dict[str, str] = field(default_factory=dict)  # path -> kind (string, …)
    vanished: dict[str, str] = field(default_factory=dict)
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (a, b)


@dataclass
class RunDiff:
    """Everything that differs between run ``run_a`` (before) and ``run_b`` (after)."""

    run_a: str
    run_b: str
    plan_key_a: str | None
    plan_key_b: str | None
    steps: list[StepDelta]
    records: RecordDiff
    shapes: list[ShapeDiff]
    plan: str | None  # unified diff of the plans' JSON, None when equal
    config: str | None  # unified diff of the (masked) configs, None when equal

    @property
    def same_plan(self) -> bool:
        """Both runs are of one plan (key); a diff across plans says so in every form."""
        return self.plan_key_a == self.plan_key_b

    @property
    def plan_note(self) -> str | None:
        """One line when the runs are of different plans, else ``None``."""
        if self.same_plan:
            return None
        return (
            f"note: different plans: run {self.run_a} is of plan {self.plan_key_a!r}, "
            f"run {self.run_b} of plan {self.plan_key_b!r}"
        )

    @property
    def differs(self) -> bool:
        return bool(
            any(step.changed for step in self.steps)
            or self.records.differs
            or self.shapes
            or self.plan
            or self.config
        )

    def steps_frame(self) -> pd.DataFrame:
        """The per-step deltas as a DataFrame, one row per step path."""
        rows = [{**asdict(step), "changed": step.changed} for step in self.steps]
        return pd.DataFrame(rows, columns=[*STEP_COLUMNS, "changed"])

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (``orchestra diff --format json``)."""
        return {
            "run_a": self.run_a,
            "run_b": self.run_b,
            "differs": self.differs,
            "plan_key_a": self.plan_key_a,
            "plan_key_b": self.plan_key_b,
            "same_plan": self.same_plan,
            "steps": [{**asdict(step), "changed": step.changed} for step in self.steps],
            "records": {
                "key": self.records.key,
                "by_position": self.records.by_position,
                "counts": self.records.counts,
                "changes": [asdict(change) for change in self.records.changes],
                "truncated": self.records.truncated,
            },
            "shapes": [
                {**asdict(shape), "changed": {p: list(t) for p, t in shape.changed.items()}}
                for shape in self.shapes
            ],
            "plan": self.plan,
            "config": self.config,
        }

    def to_text(self) -> str:
        """A report for a terminal or a CI log."""
        return "\n".join(_text_lines(self)) + "\n"


STEP_COLUMNS = [
    "step_path", "status_a", "status_b", "requests_a", "requests_b", "retries_a",
    "retries_b", "records_a", "records_b", "p50_ms_a", "p50_ms_b", "p95_ms_a", "p95_ms_b",
]  # fmt: skip


def diff_runs(
    store: CaptureStore, run_a: str, run_b: str, *, key: str = DEFAULT_KEY,
    limit: int = CHANGE_LIMIT,
) -> RunDiff:  # fmt: skip
    """Compare two runs (ids, unique prefixes or ``last``) of a capture file, in one read.

    Raises :class:`~orchestra.capture.RunNotFound` for a run the file does not
    hold and :class:`DiffInputError` for a ``key`` that is not a dotted field path.
    """
    if not _KEY_PATTERN.fullmatch(key):
        raise DiffInputError(
            f"--key {key!r}: give a field name or a dotted path such as id or query.id"
        )
    with store.read() as reader:
        return _diff(reader, run_a, run_b, key, limit)


def _diff(reader: CaptureReader, run_a: str, run_b: str, key: str, limit: int) -> RunDiff:
    a, b = reader.resolve_run(run_a), reader.resolve_run(run_b)
    row_a, row_b = reader.run(a) or {}, reader.run(b) or {}
    records = _record_diff(reader, a, b, key, limit)
    return RunDiff(
        run_a=a,
        run_b=b,
        plan_key_a=row_a.get("plan_key"),
        plan_key_b=row_b.get("plan_key"),
        steps=_step_deltas(reader, a, b, records),
        records=records,
        shapes=_shape_diffs(reader.record_shapes(a), reader.record_shapes(b)),
        plan=_unified(reader.plan(a), reader.plan(b), "plan", a, b),
        config=_unified(_json(row_a.get("config")), _json(row_b.get("config")), "config", a, b),
    )


# -- steps -----------------------------------------------------------------------------------


def _status(row: dict[str, Any]) -> str:
    for column, status in (("failed", "failed"), ("cancelled", "cancelled"), ("running",
                           "running"), ("ok", "ok"), ("skipped", "skipped")):  # fmt: skip
        if row.get(column):
            return status
    return "-"


def _step_rows(reader: CaptureReader, run_id: str) -> dict[str, dict[str, Any]]:
    rows = {row["step_path"]: row for row in reader.step_statistics(run_id).to_dict("records")}
    for row in reader.step_latency(run_id).to_dict("records"):
        rows.setdefault(row["step_path"], {}).update(p50_ms=row["p50_ms"], p95_ms=row["p95_ms"])
    return rows


def _number(value: Any) -> float | None:
    return None if value is None or value != value else round(float(value), 3)


def _step_deltas(reader: CaptureReader, a: str, b: str, records: RecordDiff) -> list[StepDelta]:
    """Per step path; records are counted where they were emitted (the records table)."""
    rows_a, rows_b = _step_rows(reader, a), _step_rows(reader, b)
    paths = list(rows_a) + [path for path in rows_b if path not in rows_a]
    deltas = []
    for path in paths:
        one, two = rows_a.get(path), rows_b.get(path)
        counts = records.counts.get(path, {})
        kept = counts.get("same", 0) + counts.get("changed", 0)
        deltas.append(
            StepDelta(
                step_path=path,
                status_a=_status(one) if one else None,
                status_b=_status(two) if two else None,
                requests_a=int((one or {}).get("requests") or 0),
                requests_b=int((two or {}).get("requests") or 0),
                retries_a=int((one or {}).get("retries") or 0),
                retries_b=int((two or {}).get("retries") or 0),
                records_a=kept + counts.get("removed", 0),
                records_b=kept + counts.get("added", 0),
                p50_ms_a=_number((one or {}).get("p50_ms")),
                p50_ms_b=_number((two or {}).get("p50_ms")),
                p95_ms_a=_number((one or {}).get("p95_ms")),
                p95_ms_b=_number((two or {}).get("p95_ms")),
            )
        )
    return deltas


# -- records ---------------------------------------------------------------------------------


def _record_diff(reader: CaptureReader, a: str, b: str, key: str, limit: int) -> RecordDiff:
    diff = RecordDiff(key=key)
    for row in reader.record_change_counts(a, b, key):
        diff.counts.setdefault(row["step_path"], {})[row["change"]] = int(row["n"])
        if row["by_position"] and row["step_path"] not in diff.by_position:
            diff.by_position.append(row["step_path"])
    for row in reader.record_changes(a, b, key, limit=limit):
        before = _json(row["before"])
        after = _json(row["after"])
        diff.changes.append(
            RecordChange(
                step_path=row["step_path"],
                key=row["key"],
                change=row["change"],
                by_position=bool(row["by_position"]),
                fields=changed_fields(before, after) if row["change"] == "changed" else [],
                before=before,
                after=after,
            )
        )
    listed = diff.total("added") + diff.total("removed") + diff.total("changed")
    diff.truncated = listed > len(diff.changes)
    return diff


def changed_fields(before: Any, after: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two JSON values differ (objects are compared field by field)."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[str] = []
        for name in [*before, *(n for n in after if n not in before)]:
            path = f"{prefix}.{name}" if prefix else str(name)
            if name not in before or name not in after:
                found.append(path)
            else:
                found += changed_fields(before[name], after[name], path)
        return found
    return [] if before == after else [prefix or "(value)"]


# -- shapes ----------------------------------------------------------------------------------


def _shape_diffs(shapes_a: dict[str, Any], shapes_b: dict[str, Any]) -> list[ShapeDiff]:
    diffs = []
    for path in [*shapes_a, *(p for p in shapes_b if p not in shapes_a)]:
        if path not in shapes_a or path not in shapes_b:
            continue  # a step without records on one side: the step deltas say so
        found = shape_changes(shapes_a[path], shapes_b[path])
        if found.appeared or found.vanished or found.changed:
            diffs.append(ShapeDiff(path, found.appeared, found.vanished, found.changed))
    return diffs


# -- plan and config -------------------------------------------------------------------------


def _json(text: Any) -> Any:
    return orjson.loads(text) if isinstance(text, str) else text


def _unified(before: Any, after: Any, what: str, a: str, b: str) -> str | None:
    if before == after:
        return None
    old, new = (json.dumps(v, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
                for v in (before, after))  # fmt: skip
    diff = difflib.unified_diff(old, new, f"{what} of {a}", f"{what} of {b}", lineterm="")
    return "\n".join(diff)


# -- text ------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _pair(a: Any, b: Any) -> str:
    return str(a) if a == b else f"{a} -> {b}"


def _text_lines(diff: RunDiff) -> list[str]:
    verdict = "differ" if diff.differs else "are the same"
    lines = [f"runs {diff.run_a} and {diff.run_b} {verdict}"]
    if diff.plan_note:
        lines.append(diff.plan_note)
    lines += ["", "steps:"]
    for step in diff.steps:
        mark = "*" if step.changed else " "
        lines.append(
            f" {mark} {step.step_path}: status {_pair(step.status_a, step.status_b)}, "
            f"requests {_pair(step.requests_a, step.requests_b)}, "
            f"retries {_pair(step.retries_a, step.retries_b)}, "
            f"records {_pair(step.records_a, step.records_b)}, "
            f"p50 {_ms(step.p50_ms_a)} -> {_ms(step.p50_ms_b)} ms, "
            f"p95 {_ms(step.p95_ms_a)} -> {_ms(step.p95_ms_b)} ms"
        )
    lines += _record_lines(diff.records)
    if diff.shapes:
        lines += ["", "response shapes:"]
        for shape in diff.shapes:
            lines += [f"  {shape.step_path}: + {p} ({t})" for p, t in shape.appeared.items()]
            lines += [f"  {shape.step_path}: - {p} ({t})" for p, t in shape.vanished.items()]
            lines += [f"  {shape.step_path}: ~ {p} ({x} -> {y})"
                      for p, (x, y) in shape.changed.items()]  # fmt: skip
    for title, text in (("plan", diff.plan), ("config", diff.config)):
        if text:
            lines += ["", f"{title}:", text]
    return lines


def _record_lines(records: RecordDiff) -> list[str]:
    lines = ["", f"records (by {records.key}):"]
    for step, counts in records.counts.items():
        summary = ", ".join(f"{counts.get(c, 0)} {c}" for c in ("added", "removed", "changed",
                                                                 "same"))  # fmt: skip
        where = " — no such field, compared by position" if step in records.by_position else ""
        lines.append(f"  {step}: {summary}{where}")
    for change in records.changes:
        sign = {"added": "+", "removed": "-", "changed": "~"}[change.change]
        fields = f" ({', '.join(change.fields)})" if change.fields else ""
        lines.append(f"  {sign} {change.step_path} {change.key}{fields}")
    if records.truncated:
        listed = sum(records.total(c) for c in ("added", "removed", "changed"))
        lines.append(f"  (the first {len(records.changes)} of {listed} changes)")
    return lines
