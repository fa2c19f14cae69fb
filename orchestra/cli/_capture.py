"""Capture on the command line: ``orchestra runs``, ``orchestra export`` and the
capture/replay side of ``orchestra run`` (``--db``, ``--no-capture``, ``--replay``).

The commands read the capture file through :class:`orchestra.capture.CaptureStore`
(read-only, one short connection per query, so a run writing the file in
another process is never blocked for long) and never create a file that does
not exist.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import duckdb
import orjson

from orchestra._run import DB_ENV, default_db
from orchestra.capture import (
    JSONL_TABLES,
    MEMORY,
    CaptureLockTimeout,
    CaptureStore,
    ReplayMiss,
    RunNotFound,
    SchemaVersionError,
    TableNotFound,
    export_curl,
    export_har,
    export_jsonl,
    export_plan,
)
from orchestra.cli._summary import format_seconds
from orchestra.types import RunStatus

FORMATS = ("plan", "har", "curl", "jsonl", "parquet")
DB_HELP = f"Capture file (default: ${DB_ENV}, else orchestra.duckdb in the working directory)."


class CaptureInputError(click.ClickException):
    """A capture file or run that cannot be used: ``Error: …`` on stderr, exit code 2."""

    exit_code = 2


def db_path(db: str | None) -> str:
    """The capture file a command uses: ``--db``, else ``$ORCHESTRA_DB``, else the default."""
    return db or default_db()


def db_flag(db: str | None) -> str:
    """`` --db FILE`` to repeat in a suggested command, or nothing for the default file."""
    return f" --db {shlex.quote(db)}" if db else ""


def _missing(path: str) -> bool:
    return path != MEMORY and not Path(path).exists()


def open_existing(path: str, *, option: str = "--db") -> CaptureStore:
    """A store over a capture file that must already exist (never creates one)."""
    if path == MEMORY:
        raise CaptureInputError(f"{option}: ':memory:' holds nothing between commands")
    if _missing(path):
        raise CaptureInputError(
            f"{option}: {path} does not exist; `orchestra run PLAN --db {path}` captures into it"
        )
    return CaptureStore(path)


def capture_error(error: Exception, path: str) -> click.ClickException:
    if isinstance(error, RunNotFound | SchemaVersionError | FileNotFoundError | TableNotFound):
        return CaptureInputError(str(error))
    if isinstance(error, CaptureLockTimeout):
        return click.ClickException(str(error))
    return CaptureInputError(f"{path} is not a readable Orchestra capture file: {error}")


CAPTURE_ERRORS = (
    RunNotFound,
    TableNotFound,
    SchemaVersionError,
    FileNotFoundError,
    CaptureLockTimeout,
    duckdb.Error,
)


# -- orchestra run: --db / --no-capture / --replay --------------------------------------------


@dataclass(slots=True)
class CapturePlan:
    """What ``orchestra run`` does with the capture file, decided before the run."""

    path: str | None  # where this run is captured (None: --no-capture)
    given_db: str | None  # --db as the user typed it (to repeat it in hints)
    replay_store: CaptureStore | None = None
    replay_run: str | None = None  # full id of the replayed run

    def replayed_config(self) -> dict[str, Any]:
        """The (masked) config the replayed run used."""
        if self.replay_store is None or self.replay_run is None:
            return {}
        with self.replay_store.read() as reader:
            row = reader.run(self.replay_run)
        if row is None or not isinstance(row["config"], str):
            return {}
        value = orjson.loads(row["config"])
        return value if isinstance(value, dict) else {}


def prepare_capture(db: str | None, no_capture: bool, replay: str | None) -> CapturePlan:
    """Check the capture file and the run to replay before any request is sent."""
    path = db_path(db)
    plan = CapturePlan(path=None if no_capture else path, given_db=db)
    try:
        if replay is not None:
            store = open_existing(path, option="--replay")
            plan.replay_store = store
            plan.replay_run = store.resolve_run(replay)
        if plan.path is not None and plan.path != MEMORY:
            # Create the tables (or find the file unusable) now, not in the writer thread
            # after the first request: a bad --db fails the command before anything runs.
            try:
                Path(plan.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise CaptureInputError(f"--db {plan.path!r}: cannot create it: {error}") from None
            with CaptureStore(plan.path).database.connect(write=True):
                pass
    except click.ClickException:
        raise
    except CAPTURE_ERRORS as error:
        raise capture_error(error, path) from None
    return plan


def captured(path: str, run_id: str) -> bool:
    """Whether the run's row reached the capture file."""
    if path == MEMORY:
        return True
    try:
        with CaptureStore(path).read() as reader:
            return reader.run(run_id) is not None
    except Exception:
        return False


def capture_lines(plan: CapturePlan, run_id: str) -> list[str]:
    """The capture part of the run summary: where the run went and how to query it."""
    lines = [""]
    if plan.replay_run is not None and plan.replay_store is not None:
        lines.append(f"replayed from: run {plan.replay_run} in {plan.replay_store.path}")
    if plan.path is None:
        lines.append("capture: off (--no-capture)")
        return lines
    if plan.path == MEMORY:
        lines.append("capture: :memory: (kept only while the command runs)")
        return lines
    flag = db_flag(plan.given_db)
    lines += [
        f"capture: {Path(plan.path).resolve()} (run {run_id})",
        f"  list:   orchestra runs{flag}",
        f"  export: orchestra export {run_id} --format har{flag} --output run.har",
        "          (or --format plan | curl | jsonl)",
    ]
    return lines


def replay_miss_hint(plan: CapturePlan, error: BaseException | None) -> str | None:
    """A hint when a replayed run asked for a request the capture does not hold."""
    if plan.replay_run is None or not isinstance(error, ReplayMiss):
        return None
    return (
        f"replay: the plan made a request that run {plan.replay_run} did not make (its URL, "
        "method, body or config changed, or it asked more times); capture a new run "
        "without --replay, then replay that one"
    )


# -- orchestra runs ------------------------------------------------------------------------------


def _started(value: Any) -> str:
    if value is None or value != value:  # None or NaT
        return "-"
    return str(value)[:19]


def _count(value: Any) -> str:
    if value is None or value != value:
        return "-"
    return str(int(value))


def _duration(row: dict[str, Any]) -> str:
    value = row.get("duration_ms")
    if value is None or value != value:
        return "running" if row.get("status") == RunStatus.RUNNING else "-"
    return format_seconds(float(value) / 1000)


def _table(headers: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ).rstrip()
        for cells in [headers, *rows]
    ]


@click.command("runs", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", type=click.Path(dir_okay=False), default=None, help=DB_HELP)
@click.option("--plan", "plan_key", metavar="KEY", help="Only runs of the plan with this key.")
@click.option(
    "--status",
    type=click.Choice([str(status) for status in RunStatus]),
    help="Only runs that ended (or are) in this status.",
)
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Show at most this many runs (the newest).",
)
def runs_command(db: str | None, plan_key: str | None, status: str | None, limit: int) -> None:
    """List the captured runs, newest first.

    Columns: run id, plan key, status, mode (run or replay), start time (UTC),
    duration, requests, errors and records. A run id (or a unique prefix of
    it, or `last`) is what `orchestra export` and `orchestra run --replay` take.
    A capture file that does not exist yet, or holds no runs, is not an error.

    \b
    Examples:
      orchestra runs
      orchestra runs --db ci/capture.duckdb --status failed
      orchestra runs --plan demo-quickstart --limit 5
    """
    path = db_path(db)
    if path == MEMORY:
        raise CaptureInputError("--db: ':memory:' holds nothing between commands")
    if _missing(path):
        click.echo(f"no runs yet: {path} does not exist (`orchestra run PLAN` captures into it)")
        return
    store = CaptureStore(path)
    try:
        with store.read() as reader:
            frame = reader.runs(plan_key=plan_key, status=status, limit=limit)
            total = reader.run_count()
            # a run-level error restating its step's error counts once, as in the dashboard
            errors = reader.error_counts(frame["run_id"].astype(str).tolist())
    except FileNotFoundError:
        click.echo(f"no runs yet: {store.path} holds no Orchestra capture")
        return
    except CAPTURE_ERRORS as error:
        raise capture_error(error, store.path) from None
    if frame.empty:
        if total == 0:
            click.echo(f"no runs yet in {store.path}")
        else:
            filters = " ".join(
                f"{flag} {value}"
                for flag, value in (("--plan", plan_key), ("--status", status))
                if value
            )
            click.echo(f"no runs match {filters} in {store.path} ({total} runs in all)")
        return
    rows = [
        [
            str(row["run_id"]),
            str(row["plan_key"]),
            str(row["status"]),
            str(row["mode"] or "run"),
            _started(row["started_at"]),
            _duration(row),
            _count(row["requests"]),
            _count(errors[str(row["run_id"])]),
            _count(row["records"]),
        ]
        for row in frame.to_dict("records")
    ]
    headers = ["run id", "plan", "status", "mode", "started (UTC)", "duration", "requests",
               "errors", "records"]  # fmt: skip
    for line in _table(headers, rows, right={5, 6, 7, 8}):
        click.echo(line)
    if len(rows) < total and not (plan_key or status):
        click.echo(f"({len(rows)} of {total} runs in {store.path}; --limit shows more)")


# -- orchestra export ----------------------------------------------------------------------------


def _write_output(output: Path, text: str, *, private: bool) -> None:
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        if private:  # revealed secrets: readable by the owner only
            descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise CaptureInputError(f"--output {str(output)!r}: cannot write it: {error}") from None


def _export_parquet(store: CaptureStore, run: str, step: str, output: Path | None) -> None:
    if output is None:
        raise CaptureInputError("--format parquet writes a file: give --output FILE")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        run_id, rows = store.export_table(step, output, run)
    except CAPTURE_ERRORS as error:
        raise capture_error(error, store.path) from None
    except OSError as error:
        raise CaptureInputError(f"--output {str(output)!r}: cannot write it: {error}") from None
    click.echo(f"wrote {rows} records of step {step} (run {run_id}) to {output}", err=True)


def _render(store: CaptureStore, run_id: str, fmt: str, table: str, reveal: bool) -> str:
    if fmt == "plan":
        return json.dumps(export_plan(store, run_id), indent=2, ensure_ascii=False) + "\n"
    if fmt == "har":
        return json.dumps(export_har(store, run_id), indent=2, ensure_ascii=False) + "\n"
    if fmt == "curl":
        return export_curl(store, run_id, reveal_secrets=reveal)
    return "".join(line + "\n" for line in export_jsonl(store, run_id, table=table))


@click.command("export", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run", default="last", metavar="[RUN]")
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(FORMATS),
    required=True,
    help="plan: the plan JSON that ran (secrets as {env: NAME}); har: HAR 1.2 for browser "
    "dev tools; curl: one curl command per exchange; jsonl: one JSON object per line; "
    "parquet: one step's records as typed columns (needs --step and --output).",
)
@click.option("--db", type=click.Path(dir_okay=False), default=None, help=DB_HELP)
@click.option(
    "--output",
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of stdout.",
)
@click.option(
    "--table",
    type=click.Choice(JSONL_TABLES),
    default=None,
    help="With --format jsonl: which rows (default: records).",
)
@click.option(
    "--step",
    default=None,
    metavar="STEP",
    help="With --format parquet: the step path whose records to write (e.g. users, items.detail).",
)
@click.option(
    "--reveal-secrets",
    is_flag=True,
    help="With --format curl: put the values of ${NAME} secrets back from this "
    "environment (tokens masked as *** cannot be revealed).",
)
def export_command(
    run: str,
    fmt: str,
    db: str | None,
    output: Path | None,
    table: str | None,
    step: str | None,
    reveal_secrets: bool,
) -> None:
    """Export a captured RUN: its plan, HAR, curl commands, JSON Lines or a step as Parquet.

    RUN is a run id, a unique prefix of one, or `last` (the default): see
    `orchestra runs`. Secrets stay masked as they were captured: values read
    from {"env": NAME} appear as ${NAME}, other secrets as ***. The curl export
    leaves ${NAME} for your shell to expand; --reveal-secrets writes the values
    from the current environment instead.

    \b
    Examples:
      orchestra export last --format har --output run.har
      orchestra export 20261122-0915 --format plan > plan.json
      orchestra export last --format curl | less
      orchestra export last --format jsonl --table exchanges --db ci/capture.duckdb
      orchestra export --format parquet --step users --output users.parquet

    With --format parquet and RUN `last`, the run is the latest that ran the step
    (the one the capture file's view data.STEP shows).
    """
    if reveal_secrets and fmt != "curl":
        raise CaptureInputError("--reveal-secrets applies to --format curl only")
    if table is not None and fmt != "jsonl":
        raise CaptureInputError("--table applies to --format jsonl only")
    if (step is not None) != (fmt == "parquet"):
        raise CaptureInputError(
            "--format parquet needs --step STEP" if step is None
            else "--step applies to --format parquet only"
        )  # fmt: skip
    path = db_path(db)
    store = open_existing(path)
    if step is not None:
        _export_parquet(store, run, step, output)
        return
    try:
        run_id = store.resolve_run(run)
        text = _render(store, run_id, fmt, table or "records", reveal_secrets)
    except CAPTURE_ERRORS as error:
        raise capture_error(error, store.path) from None
    if reveal_secrets:
        click.echo("warning: secrets from the environment are revealed in this export", err=True)
    if output is None:
        click.echo(text, nl=False)
        return
    _write_output(output, text, private=reveal_secrets)
    click.echo(f"wrote {fmt} of run {run_id} to {output}", err=True)
