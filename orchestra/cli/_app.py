"""The ``orchestra`` command line: ``run``, ``runs``, ``export``, ``diff``, ``import``,
``validate``, ``schema``, ``demo-api``.

Commands only parse their arguments and call the library: plans load with
:func:`orchestra.load_plan`, runners are built by
:func:`orchestra._run.build_runner` (the engine plus capture into DuckDB and
replay, wired as for ``orchestra.run``), and what a run shows (progress,
summary, JUnit XML, records file) comes from event subscribers and renderers
in this package. ``runs`` and ``export`` live in :mod:`orchestra.cli._capture`,
``diff`` in :mod:`orchestra.cli._diff`, ``import`` in :mod:`orchestra.cli._import`.

Exit codes of ``orchestra run``: 0 succeeded; 1 failed, aborted or an
``expect`` failed; 2 invalid plan or bad input/config; 128 + the signal's number
when SIGINT (130), SIGTERM (143) or SIGHUP (129) interrupted the run — each is
handled like Ctrl-C (:mod:`orchestra.cli._signals`).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pydantic
import yaml

from orchestra._run import build_runner
from orchestra._version import __version__
from orchestra.capture import ReplayTransport
from orchestra.cli._capture import (
    DB_HELP,
    CaptureInputError,
    CapturePlan,
    capture_lines,
    captured,
    db_path,
    export_command,
    prepare_capture,
    replay_miss_hint,
    runs_command,
)
from orchestra.cli._diff import diff_command
from orchestra.cli._import import import_command
from orchestra.cli._junit import build_junit, write_junit
from orchestra.cli._overrides import apply_to_defaults, build_overrides
from orchestra.cli._progress import ProgressDisplay, RecordsWriter
from orchestra.cli._signals import StopSignals, describe, exit_code
from orchestra.cli._summary import StepClock, one_line, render_summary, run_status, step_rows
from orchestra.engine import Runner
from orchestra.errors import ConfigError, PlanError, RunError
from orchestra.events import DetectedPagination, Subscriber
from orchestra.plan import (
    CompiledPlan,
    ReadCaps,
    expand_plan_data,
    load_plan,
    plan_json_schema,
)
from orchestra.types import RunStatus

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_INTERRUPTED = 130  # Ctrl-C with no signal seen (KeyboardInterrupt off the main thread)

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class InvalidInput(click.ClickException):
    """Bad plan, config or option value: ``Error: …`` on stderr and exit code 2."""

    exit_code = EXIT_INVALID


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(
    __version__, "--version", prog_name="orchestra", message="%(prog)s %(version)s"
)
def main() -> None:
    """Run, validate and inspect Orchestra plans (declarative API flows).

    \b
    Examples:
      orchestra demo-api --port 8765 &
      orchestra validate plans/*.json
      orchestra run plan.json --config base_url=http://127.0.0.1:8765 --junit junit.xml
      orchestra runs
      orchestra export last --format har --output run.har
      orchestra diff RUN_A last
      orchestra import curl "curl 'https://api.example.com/users' -H 'Accept: */*'"
      orchestra run plan.json --replay last
      orchestra schema --output plan.schema.json
    """


def _parse_auth(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise click.BadParameter(f"not valid JSON ({error})", param_hint="--auth") from None
    if not isinstance(value, dict) or "type" not in value:
        raise click.BadParameter(
            'expected a JSON object such as {"type": "bearer", "token": {"env": "API_TOKEN"}}',
            param_hint="--auth",
        )
    return value


def _auth_problem(error: pydantic.ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"])
        problems.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(problems)


def _load(plan: Path) -> CompiledPlan:
    try:
        return load_plan(plan)
    except PlanError as error:
        raise InvalidInput(str(error)) from None


def _exit(code: int) -> None:
    click.get_current_context().exit(code)


def _exit_code(status: RunStatus, assertion_failures: int, signum: int | None = None) -> int:
    if status is RunStatus.INTERRUPTED:
        return EXIT_INTERRUPTED if signum is None else exit_code(signum)
    if status is RunStatus.SUCCEEDED and not assertion_failures:
        return EXIT_OK
    return EXIT_FAILED


@main.command("run", context_settings=CONTEXT_SETTINGS)
@click.argument("plan", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--config",
    "-c",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a config value (repeatable). VALUE is JSON when it parses (10, true, "
    '{"env": "NAME"}), else a string; a dotted KEY (page.size=2) sets a nested value.',
)
@click.option(
    "--config-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON or YAML object of config values, applied before --config flags "
    "and after ORCHESTRA_CONFIG_<KEY> environment variables.",
)
@click.option(
    "--auth",
    "auth_json",
    metavar="JSON",
    help='Auth to use instead of the plan\'s, e.g. \'{"type": "bearer", "token": '
    '{"env": "API_TOKEN"}}\' (bearer, basic or api_key).',
)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a JUnit XML report: one test case per step, failed expectations as failures.",
)
@click.option(
    "--records",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Stream every emitted record, masked, to this JSON Lines file.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bars on stderr (default: only when stderr is a terminal).",
)
@click.option(
    "--quiet", "-q", is_flag=True, help="No progress and no summary; errors and warnings only."
)
@click.option(
    "--with-demo-api",
    is_flag=True,
    help="Start Orchestra's demo API in this process for the run and point "
    "config.base_url at it (for trying plans from templates/). With --replay no server "
    "starts: config.base_url is the one the replayed run used.",
)
@click.option(
    "--keep-records/--no-keep-records",
    default=False,
    show_default=True,
    help="Hold emitted records in memory during the run (the CLI only counts them; "
    "use --records to save them).",
)
@click.option(
    "--db",
    type=click.Path(dir_okay=False),
    default=None,
    help="Capture the run into this DuckDB file (default: $ORCHESTRA_DB, else "
    "orchestra.duckdb in the working directory; ':memory:' keeps nothing).",
)
@click.option("--no-capture", is_flag=True, help="Do not capture this run.")
@click.option(
    "--replay",
    metavar="RUN_ID",
    help="Answer every request from the exchanges captured in RUN_ID (an id, a unique "
    "prefix or 'last') in --db instead of the network; a request that run did not make "
    "fails the run.",
)
@click.option(
    "--max-pages",
    type=click.IntRange(min=1),
    metavar="N",
    help="Test read: stop each step after N pages (per execution). A capped run is "
    "marked partial and saves no persistent context.",
)
@click.option(
    "--max-fanout-items",
    type=click.IntRange(min=1),
    metavar="N",
    help="Test read: run only the first N items of each fanout.",
)
@click.option(
    "--max-records",
    type=click.IntRange(min=1),
    metavar="N",
    help="Test read: stop each step after it emitted N records.",
)
def run_command(
    plan: Path,
    assignments: tuple[str, ...],
    config_file: Path | None,
    auth_json: str | None,
    junit: Path | None,
    records: Path | None,
    progress: bool | None,
    quiet: bool,
    with_demo_api: bool,
    keep_records: bool,
    db: str | None,
    no_capture: bool,
    replay: str | None,
    max_pages: int | None,
    max_fanout_items: int | None,
    max_records: int | None,
) -> None:
    """Run PLAN (a JSON or YAML plan file) once and report how it went.

    Every run is captured into a DuckDB file (--db; `orchestra runs` lists the
    runs, `orchestra export` turns one into a plan, HAR, curl or JSON Lines).
    --replay RUN_ID runs the plan offline against the exchanges captured in
    that run (matched by method, URL and body, in order).

    --max-pages, --max-fanout-items and --max-records make the run a test read:
    steps stop at the caps, the summary says where ("partial: stopped at 5
    pages in step 'users'"), the exit code is that of the run, and no
    persistent context (incremental cursors) is saved.

    Config comes from, lowest first: the plan's `config`, ORCHESTRA_CONFIG_<KEY>
    environment variables (`__` nests: ORCHESTRA_CONFIG_PAGE__SIZE), --config-file,
    then --config flags. A value {"env": "NAME"} is read from the environment at
    run time and masked everywhere as a secret.

    Exit codes: 0 succeeded; 1 the run failed or aborted, or an `expect`
    assertion failed; 2 invalid plan or bad input; 130 interrupted by Ctrl-C
    (SIGINT), 143 by SIGTERM, 129 by SIGHUP. Each of these signals is handled
    like Ctrl-C: the run is marked interrupted, requests in flight are
    recorded, the capture is flushed and the JUnit and records files are
    written; a second signal during that shutdown is ignored.

    \b
    Examples:
      orchestra run plan.json --config base_url=http://127.0.0.1:8765
      orchestra run templates/quickstart.yaml --with-demo-api
      orchestra run plan.json -c page.size=50 -c 'api_key={"env": "API_KEY"}'
      orchestra run plan.json --auth '{"type": "bearer", "token": {"env": "TOKEN"}}'
      orchestra run plan.json --junit reports/junit.xml --records out/records.jsonl
      orchestra run plan.json --db ci/capture.duckdb
      orchestra run plan.json --replay last --db ci/capture.duckdb
      orchestra run templates/quickstart.yaml --with-demo-api --replay last
      orchestra run templates/quickstart.yaml --with-demo-api --max-pages 2
    """
    compiled = _load(plan)
    try:
        overrides = build_overrides(
            assignments=assignments, config_file=config_file, environ=os.environ
        )
    except ConfigError as error:
        raise InvalidInput(str(error)) from None
    capture = prepare_capture(db, no_capture, replay)
    caps = ReadCaps.of(
        max_pages=max_pages, max_fanout_items=max_fanout_items, max_records=max_records
    )
    demo_api = None
    if with_demo_api and capture.replay_run is not None:
        # Offline: no server; the base_url the replayed run used (captured URLs hold it).
        base_url = capture.replayed_config().get("base_url")
        if not isinstance(base_url, str):
            raise InvalidInput(f"--with-demo-api --replay: run {capture.replay_run} has no "
                               "config.base_url to replay against")  # fmt: skip
        overrides = {**overrides, "base_url": base_url}
    elif with_demo_api:
        from orchestra.demo import start_demo_api

        demo_api = start_demo_api()
        overrides = {**overrides, "base_url": demo_api.url}
    try:
        _run_and_report(
            compiled,
            overrides,
            auth_json,
            junit,
            records,
            progress,
            quiet,
            keep_records,
            capture,
            caps,
        )
    finally:
        if demo_api is not None:
            demo_api.stop()


def _run_and_report(
    compiled: CompiledPlan,
    overrides: dict[str, Any],
    auth_json: str | None,
    junit: Path | None,
    records: Path | None,
    progress: bool | None,
    quiet: bool,
    keep_records: bool,
    capture: CapturePlan,
    caps: ReadCaps | None = None,
) -> None:
    config = apply_to_defaults(compiled.model.config, overrides)
    auth = _parse_auth(auth_json)
    show_progress = sys.stderr.isatty() if progress is None else progress
    display = ProgressDisplay(enabled=show_progress and not quiet)
    clock = StepClock()
    detected = DetectedPagination()
    try:
        runner = _build_runner(
            compiled,
            config,
            auth,
            [display, clock, detected],
            keep_records=keep_records,
            capture=capture,
            caps=caps,
        )
    except pydantic.ValidationError as error:
        raise click.BadParameter(_auth_problem(error), param_hint="--auth") from None
    except PlanError as error:  # an --auth override that does not validate
        raise click.BadParameter(str(error), param_hint="--auth") from None
    writer: RecordsWriter | None = None
    if records is not None:
        try:
            writer = RecordsWriter(records)
        except OSError as error:
            raise InvalidInput(f"--records {str(records)!r}: cannot write it: {error}") from None
        runner.bus.subscribe(writer)

    with StopSignals() as signals:  # until the reports are written
        code = _run_and_write_reports(
            compiled,
            runner,
            (display, clock, detected),
            writer,
            signals,
            junit,
            records,
            quiet,
            capture,
        )
    _exit(code)


def _run_and_write_reports(
    compiled: CompiledPlan,
    runner: Runner,
    listeners: tuple[ProgressDisplay, StepClock, DetectedPagination],
    writer: RecordsWriter | None,
    signals: StopSignals,
    junit: Path | None,
    records: Path | None,
    quiet: bool,
    capture: CapturePlan,
) -> int:
    """Run, then print the summary and write the reports; the command's exit code."""
    display, clock, detected = listeners
    try:
        interrupted = _execute(runner, signals)
    finally:
        display.close()
        if writer is not None:
            writer.close()

    result, masker = runner.result, runner.masker
    interrupted = interrupted or result.status is RunStatus.INTERRUPTED
    signum = signals.received if interrupted else None
    cause = describe(signum)
    status = run_status(result, interrupted=interrupted)
    rows = step_rows(result, compiled, clock)
    problems = []
    if junit is not None:
        try:
            tree = build_junit(
                result, rows, masker, interrupted=interrupted, cause=cause, detected=detected
            )
            write_junit(junit, tree)
        except OSError as error:
            problems.append(f"--junit {str(junit)!r}: cannot write it: {error}")
    if writer is not None and writer.error is not None:
        problems.append(f"--records {str(records)!r}: writing failed: {writer.error}")
    if capture.path is not None and not captured(capture.path, result.run_id):
        problems.append(f"--db {capture.path!r}: the run was not captured (the log above says why)")
    hint = replay_miss_hint(capture, result.error)
    for warning in detected.warnings(masker):
        click.echo(f"Warning: {warning}", err=True)
    if not quiet:
        summary = render_summary(
            result, rows, masker, interrupted=interrupted, cause=cause, detected=detected
        )
        click.echo(summary)
        if hint:
            click.echo(masker.text(hint))
        click.echo("\n".join(capture_lines(capture, result.run_id)))
    elif status is not RunStatus.SUCCEEDED:
        click.echo(one_line(result, masker, interrupted=interrupted), err=True)
        if hint:
            click.echo(masker.text(hint), err=True)
    for problem in problems:
        click.echo(f"Error: {problem}", err=True)
    code = _exit_code(status, len(result.assertion_failures), signum)
    return code or (EXIT_FAILED if problems else EXIT_OK)


def _build_runner(
    compiled: CompiledPlan,
    config: dict[str, Any],
    auth: dict[str, Any] | None,
    subscribers: list[Subscriber],
    *,
    keep_records: bool,
    capture: CapturePlan,
    caps: ReadCaps | None = None,
) -> Runner:
    """The run's runner, captured and replayed exactly as ``orchestra.run`` does it."""
    options: dict[str, Any] = {"auth": auth, "subscribers": subscribers,
                               "keep_records": keep_records, "caps": caps}  # fmt: skip
    replay = capture.replay_run
    if replay is not None and capture.path is None:  # --replay --no-capture: read, not write
        assert capture.replay_store is not None
        options["transport"] = ReplayTransport.from_store(capture.replay_store, replay)
        options["mode"] = "replay"
        replay = None
    runner, _ = build_runner(compiled, config, db=capture.path, replay=replay, **options)
    return runner


def _execute(runner: Runner, signals: StopSignals) -> bool:
    """Run to the end on a fresh event loop; True when a stop signal cancelled the run."""
    try:
        asyncio.run(signals.run(runner.run()))
    except (KeyboardInterrupt, asyncio.CancelledError):
        return True
    except (ConfigError, PlanError) as error:  # config or --auth unusable, before any request
        raise InvalidInput(runner.masker.text(str(error))) from None
    except RunError as error:  # failed before the run started (e.g. while resolving auth)
        raise click.ClickException(runner.masker.text(str(error))) from None
    except Exception as error:  # an engine bug: report it without leaking secrets
        raise click.ClickException(
            f"internal error ({type(error).__name__}): {runner.masker.text(str(error))}"
        ) from None
    return False


main.add_command(runs_command)
main.add_command(export_command)
main.add_command(diff_command)
main.add_command(import_command)


@main.command(context_settings=CONTEXT_SETTINGS)
@click.argument("plans", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--explain",
    is_flag=True,
    help="Also print each valid plan as YAML with every paginate preset expanded into "
    "the fields it stands for (page_state, page_state_updates, next_url, while).",
)
def validate(plans: tuple[Path, ...], explain: bool) -> None:
    """Check that each PLAN loads: fields, types, expressions and templates.

    Prints `ok  PATH (N steps)` for a valid plan and the problems (each with
    its plan path and a fix) for an invalid one. Exit code 0 when every plan
    is valid, 2 otherwise. Nothing is sent over the network.

    \b
    Examples:
      orchestra validate plan.json
      orchestra validate plans/*.json plans/*.yaml
      orchestra validate --explain plan.yaml
    """
    invalid = 0
    for path in plans:
        try:
            compiled = load_plan(path)
        except PlanError as error:
            invalid += 1
            click.echo(str(error), err=True)
            continue
        count = sum(1 for _ in compiled.walk())
        click.echo(f"ok  {path} ({count} step{'' if count == 1 else 's'})")
        if explain:
            click.echo(explained_plan(compiled))
    if invalid and len(plans) > 1:
        click.echo(f"{invalid} of {len(plans)} plans are invalid", err=True)
    _exit(EXIT_INVALID if invalid else EXIT_OK)


def explained_plan(compiled: CompiledPlan) -> str:
    """The plan as YAML with its ``paginate`` presets expanded (``validate --explain``)."""
    expanded = expand_plan_data(compiled.to_dict())
    return yaml.safe_dump(expanded, sort_keys=False, allow_unicode=True, width=100)


@main.command(context_settings=CONTEXT_SETTINGS)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the schema to this file instead of stdout.",
)
def schema(output: Path | None) -> None:
    """Print the JSON Schema of plan files (for editor validation and completion).

    \b
    Examples:
      orchestra schema > plan.schema.json
      orchestra schema --output .vscode/orchestra-plan.schema.json
    """
    text = json.dumps(plan_json_schema(), indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        raise InvalidInput(f"--output {str(output)!r}: cannot write it: {error}") from None
    click.echo(f"wrote {output}", err=True)


@main.command("demo-api", context_settings=CONTEXT_SETTINGS)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--total-items",
    type=click.IntRange(min=0),
    default=None,
    help="Items behind the paginated endpoints (default: the demo's own, 1000).",
)
def demo_api(host: str, port: int, total_items: int | None) -> None:
    """Serve the local demo API in the foreground until Ctrl-C.

    It paginates (offset, page, cursor, Link), fans out to detail endpoints,
    issues expiring OAuth2 tokens, rate-limits with 429 and fails on demand,
    so plans can be tried without a real API.

    \b
    Examples:
      orchestra demo-api
      orchestra demo-api --port 9000 --total-items 50
      orchestra run plan.json --config base_url=http://127.0.0.1:8765
    """
    from orchestra.demo import serve_forever  # aiohttp is only needed here

    settings: dict[str, Any] = {}
    if total_items is not None:
        settings["total_items"] = total_items
    try:
        serve_forever(host=host, port=port, **settings)
    except OSError as error:
        raise click.ClickException(f"cannot serve on {host}:{port}: {error}") from None


@main.command("dashboard", context_settings=CONTEXT_SETTINGS)
@click.option("--db", default=None, help=DB_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option(
    "--port",
    default=5006,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to serve on.",
)
@click.option("--run", "run_id", default=None, help="Run id or prefix to open (default: newest).")
@click.option("--show", is_flag=True, help="Open the dashboard in a browser tab.")
@click.option(
    "--plan",
    "plan_file",
    default=None,
    help="Plan file the Builder tab opens (default: an empty plan; a new file is created on save).",
)
@click.option(
    "--prefix",
    default="",
    help="URL prefix to serve under (behind a proxy, e.g. /orchestra-dashboard).",
)
@click.option(
    "--allow-websocket-origin",
    "origins",
    multiple=True,
    help="Host[:port] the page may be loaded from (repeatable; '*': any), behind a proxy.",
)
@click.option(
    "--unix-socket",
    default=None,
    metavar="PATH",
    help="Serve on this Unix socket instead of a TCP port (behind a proxy; not on Windows).",
)
@click.option(
    "--db-from-url",
    is_flag=True,
    help="Let each browser tab name its capture file and run in the URL (?db=FILE&run=ID).",
)
@click.option(
    "--interval",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0.05, 3600),
    help="Seconds between two looks at the capture file for new data.",
)
def dashboard(
    db: str | None,
    host: str,
    port: int,
    run_id: str | None,
    show: bool,
    prefix: str,
    origins: tuple[str, ...],
    unix_socket: str | None,
    db_from_url: bool,
    plan_file: str | None,
    interval: float,
) -> None:
    """Serve the run dashboard of a capture file until Ctrl-C.

    Flow graph coloured by status, steps, every exchange's request and
    response (copy as curl), a waterfall of timings and the metrics — live
    while a run writes the file, from this or any other process. The file may
    not exist yet: the dashboard waits for the first run. The Builder tab
    builds a plan with forms, tries it against the API with caps and saves
    or exports it.

    \b
    Examples:
      orchestra dashboard
      orchestra dashboard --db ci/capture.duckdb --port 5007 --show
      orchestra dashboard --plan my-flow.yaml
    """
    path = db_path(db)
    if path == ":memory:":
        raise CaptureInputError("--db: ':memory:' holds nothing another process can read")
    from orchestra.dashboard import serve  # Panel and Bokeh load only here

    where = f"unix:{unix_socket}:" if unix_socket else f"http://{host}:{port}"
    where += f"{prefix.rstrip('/')}/"
    click.echo(f"Orchestra dashboard of {path} at {where} (Ctrl-C stops)", err=True)
    options: dict[str, Any] = {"url_args": db_from_url, "interval": interval}
    if prefix:
        options["prefix"] = prefix
    if origins:
        options["websocket_origin"] = list(origins)
    if unix_socket:
        options["unix_socket"] = unix_socket
    try:
        serve(path, port, show, address=host, run=run_id, plan=plan_file, **options)
    except OSError as error:
        place = unix_socket or f"{host}:{port}"
        raise click.ClickException(f"cannot serve on {place}: {error}") from None


@main.command(
    "lab",
    context_settings={**CONTEXT_SETTINGS, "ignore_unknown_options": True},
)
@click.argument("jupyter_args", nargs=-1, type=click.UNPROCESSED)
def lab(jupyter_args: tuple[str, ...]) -> None:
    """Open JupyterLab on the quickstart notebook; other options go to Jupyter.

    Run from the Orchestra checkout it opens notebooks/quickstart.ipynb;
    elsewhere it copies the quickstart to ./orchestra-quickstart.ipynb (once)
    and opens that. A file or directory among the options opens that instead. `%%flow` cells read as
    YAML with problems underlined as you type, and the launcher's "Orchestra
    dashboard" card opens the dashboard in a tab.

    \b
    Examples:
      orchestra lab
      orchestra lab --port 8899 --no-browser
      orchestra lab my-flows.ipynb
    """
    from orchestra.cli._lab import lab_command  # subprocess and paths only

    command, note = lab_command(list(jupyter_args), Path.cwd())
    if note:
        click.echo(note, err=True)
    if os.name == "posix":  # Jupyter in this process: signals (Ctrl-C, SIGTERM) reach it as is
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(command[0], command)
    raise SystemExit(subprocess.call(command))
