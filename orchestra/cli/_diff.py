"""``orchestra diff RUN_A RUN_B``: what changed between two captured runs, for people and CI.

The comparison is :func:`orchestra.capture.diff_runs`; this command only
reads the options, prints the text or JSON report and sets the exit code:
0 the runs are the same, 1 they differ, 2 bad input (no such file or run, a
bad ``--key``).
"""

from __future__ import annotations

import json

import click

from orchestra.capture import DiffInputError, diff_runs
from orchestra.cli._capture import (
    CAPTURE_ERRORS,
    DB_HELP,
    CaptureInputError,
    capture_error,
    db_path,
    open_existing,
)

EXIT_SAME = 0
EXIT_DIFFERENT = 1


@click.command("diff", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@click.option("--db", type=click.Path(dir_okay=False), default=None, help=DB_HELP)
@click.option(
    "--key",
    "-k",
    default="id",
    show_default=True,
    help="The record field that pairs records of the two runs (a dotted path such as "
    "query.id); records without it are compared by position.",
)
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="text: a report to read; json: the whole diff as one JSON object.",
)
def diff_command(run_a: str, run_b: str, db: str | None, key: str, fmt: str) -> None:
    """Compare two captured runs: RUN_A (before) and RUN_B (after).

    Per step: status, requests, retries, records and p50/p95 latency. Records
    added, removed and changed (with the fields that changed), paired by --key.
    Response shapes: the fields of each step's records that appeared, vanished
    or changed JSON kind (integer and number are one kind; a field seen only as
    null matches any kind). The plan and config, as unified diffs, when they
    changed. Runs of two different plans are compared too, with a note saying so.
    A run is an id, a unique prefix of one, or `last` (see `orchestra runs`).

    Exit codes: 0 the runs are the same (latency aside); 1 they differ; 2 bad
    input (no capture file, no such run, a bad --key).

    \b
    Examples:
      orchestra diff 20261122-0915 last
      orchestra diff 20261122-0915 last --key order_id --format json > diff.json
      orchestra diff a1b2 c3d4 --db ci/capture.duckdb
    """
    store = open_existing(db_path(db))
    try:
        diff = diff_runs(store, run_a, run_b, key=key)
    except DiffInputError as error:
        raise CaptureInputError(str(error)) from None
    except CAPTURE_ERRORS as error:
        raise capture_error(error, store.path) from None
    if fmt == "json":
        click.echo(json.dumps(diff.to_json(), indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(diff.to_text(), nl=False)
    click.get_current_context().exit(EXIT_DIFFERENT if diff.differs else EXIT_SAME)
