"""``orchestra run`` capture options (``--db``, ``--no-capture``), ``orchestra runs``
and ``orchestra export``, against the real demo API.

``tests/conftest.py`` points ``ORCHESTRA_DB`` at a per-test temporary file, so
nothing here writes ``orchestra.duckdb`` into the repository; explicit
``--db`` files live in ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner, Result

from orchestra.capture import CaptureStore
from orchestra.cli import main

KEY_ENV = "ORCH_CLI_EXPORT_KEY"
KEY = "cli-export-key-1b2c3d"


def items_plan(base_url: str, key: str = "cli-capture") -> dict[str, Any]:
    """Two pages of two items, a detail per item, and an echo carrying an env secret."""
    return {
        "key": key,
        "config": {"base_url": base_url, "key": {"env": KEY_ENV}},
        "steps": [
            {
                "name": "items",
                "url": "{config.base_url}/items",
                "params": {"limit": 2, "offset": "{context.next_offset || `0`}"},
                "context_updates": {"next_offset": "response.body.next_offset"},
                "while": "response.body.next_offset != null && response.body.offset < `2`",
                "sub_steps": [
                    {
                        "name": "detail",
                        "iterate_over": "response.body.items",
                        "url": "{config.base_url}/items/{item.id}",
                    }
                ],
            },
            {"name": "echo", "url": "{config.base_url}/echo", "headers": {"X-Key": "{config.key}"}},
        ],
    }


def failing_plan(base_url: str) -> dict[str, Any]:
    return {
        "key": "cli-failing",
        "config": {"base_url": base_url},
        "steps": [{"name": "boom", "url": "{config.base_url}/status/500",
                   "retry": {"max_attempts": 1}}],
    }  # fmt: skip


def write_plan(directory: Path, plan: dict[str, Any]) -> Path:
    path = directory / f"{plan['key']}.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    return path


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={KEY_ENV: KEY})


def run_plan(tmp_path: Path, plan: dict[str, Any], *args: str) -> Result:
    return invoke("run", str(write_plan(tmp_path, plan)), "--no-progress", *args)


def run_id_of(result: Result) -> str:
    return result.stdout.split("run id:")[1].split()[0]


# --- orchestra run: where the capture goes --------------------------------------------------


def test_run_captures_into_orchestra_db_by_default(demo_api, tmp_path: Path) -> None:
    db = Path(os.environ["ORCHESTRA_DB"])  # set per test by tests/conftest.py
    assert not db.exists()

    result = run_plan(tmp_path, items_plan(demo_api.url))

    assert result.exit_code == 0, result.output
    run_id = run_id_of(result)
    assert f"capture: {db} (run {run_id})" in result.stdout
    assert f"export: orchestra export {run_id} --format har --output run.har" in result.stdout
    assert "list:   orchestra runs\n" in result.stdout
    store = CaptureStore(db)
    assert list(store.runs().run_id) == [run_id]
    assert len(store.exchanges(run_id)) == 2 + 4 + 1


def test_the_default_file_is_orchestra_duckdb_in_the_working_directory(
    demo_api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORCHESTRA_DB")
    monkeypatch.chdir(tmp_path)

    result = run_plan(tmp_path, items_plan(demo_api.url))

    assert result.exit_code == 0, result.output
    assert (tmp_path / "orchestra.duckdb").exists()
    assert f"capture: {tmp_path / 'orchestra.duckdb'}" in result.stdout


def test_db_option_names_the_file_and_is_repeated_in_the_hints(demo_api, tmp_path: Path) -> None:
    db = tmp_path / "sub dir" / "ci.duckdb"
    db.parent.mkdir()

    result = run_plan(tmp_path, items_plan(demo_api.url), "--db", str(db))

    assert result.exit_code == 0, result.output
    assert db.exists()
    assert not Path(os.environ["ORCHESTRA_DB"]).exists()
    assert f"orchestra runs --db '{db}'" in result.stdout
    assert f"--format har --db '{db}' --output run.har" in result.stdout


def test_db_option_creates_missing_directories(demo_api, tmp_path: Path) -> None:
    db = tmp_path / "ci" / "captures" / "run.duckdb"
    result = run_plan(tmp_path, items_plan(demo_api.url), "--db", str(db))
    assert result.exit_code == 0, result.output
    assert len(CaptureStore(db).runs()) == 1


def test_no_capture_writes_no_file(demo_api, tmp_path: Path) -> None:
    result = run_plan(tmp_path, items_plan(demo_api.url), "--no-capture")

    assert result.exit_code == 0, result.output
    assert "capture: off (--no-capture)" in result.stdout
    assert not Path(os.environ["ORCHESTRA_DB"]).exists()
    assert list(tmp_path.glob("*.duckdb")) == []


def test_memory_db_captures_nothing_to_disk(demo_api, tmp_path: Path) -> None:
    result = run_plan(tmp_path, items_plan(demo_api.url), "--db", ":memory:")

    assert result.exit_code == 0, result.output
    assert "capture: :memory:" in result.stdout
    assert not Path(os.environ["ORCHESTRA_DB"]).exists()


def test_quiet_run_prints_no_capture_lines(demo_api, tmp_path: Path) -> None:
    result = run_plan(tmp_path, items_plan(demo_api.url), "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert Path(os.environ["ORCHESTRA_DB"]).exists()


def test_an_unusable_db_file_exits_2_before_any_request(demo_api, tmp_path: Path) -> None:
    not_duckdb = tmp_path / "notes.duckdb"
    not_duckdb.write_text("not a database\n" * 100, encoding="utf-8")

    result = run_plan(tmp_path, items_plan(demo_api.url), "--db", str(not_duckdb))

    assert result.exit_code == 2, result.output
    assert "not a readable Orchestra capture file" in result.stderr
    assert demo_api.stats()["requests_total"] == 0


def test_a_file_from_a_newer_orchestra_exits_2_saying_what_to_do(demo_api, tmp_path: Path) -> None:
    newer = tmp_path / "newer.duckdb"
    with duckdb.connect(str(newer)) as connection:
        connection.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        connection.execute("INSERT INTO meta VALUES ('schema_version', '999')")

    result = run_plan(tmp_path, items_plan(demo_api.url), "--db", str(newer))

    assert result.exit_code == 2, result.output
    assert "newer Orchestra" in result.stderr
    assert demo_api.stats()["requests_total"] == 0


# --- orchestra runs --------------------------------------------------------------------------


def test_runs_on_a_missing_file_says_no_runs_yet_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "missing.duckdb"

    result = invoke("runs", "--db", str(db))

    assert result.exit_code == 0, result.output
    assert (
        result.stdout
        == f"no runs yet: {db} does not exist (`orchestra run PLAN` captures into it)\n"
    )
    assert not db.exists()


def test_runs_on_an_empty_capture_says_no_runs_yet(tmp_path: Path) -> None:
    db = tmp_path / "empty.duckdb"
    with CaptureStore(db).database.connect(write=True):
        pass  # the tables exist, no run does

    result = invoke("runs", "--db", str(db))

    assert result.exit_code == 0, result.output
    assert result.stdout == f"no runs yet in {db}\n"


def test_runs_uses_orchestra_db_without_db_option(demo_api, tmp_path: Path) -> None:
    run = run_plan(tmp_path, items_plan(demo_api.url))
    result = invoke("runs")
    assert result.exit_code == 0, result.output
    assert run_id_of(run) in result.stdout


@pytest.fixture
def three_runs(demo_api, tmp_path: Path) -> tuple[Path, list[str]]:
    """A capture with three runs (oldest first): ok, failing, ok of another plan."""
    db = tmp_path / "runs.duckdb"
    ids = []
    for plan in (items_plan(demo_api.url), failing_plan(demo_api.url),
                 items_plan(demo_api.url, key="cli-other")):  # fmt: skip
        result = run_plan(tmp_path, plan, "--db", str(db))
        assert result.exit_code in (0, 1), result.output
        ids.append(run_id_of(result))
    return db, ids


def _table(stdout: str) -> list[list[str]]:
    return [line.split() for line in stdout.splitlines()]


def test_runs_lists_newest_first_with_totals(three_runs) -> None:
    db, ids = three_runs

    result = invoke("runs", "--db", str(db))

    assert result.exit_code == 0, result.output
    header, *rows = _table(result.stdout)
    assert " ".join(header) == (
        "run id plan status mode started (UTC) duration requests errors records"
    )
    assert [row[0] for row in rows] == ids[::-1]
    newest = rows[0]
    assert newest[1:4] == ["cli-other", "succeeded", "run"]
    assert newest[-3:] == ["7", "0", "7"]  # requests, errors, records
    failing = rows[1]
    assert failing[1:3] == ["cli-failing", "failed"]
    # one failed exchange: its step error and the run error restating it count once,
    # as the dashboard counts them
    assert failing[-2] == "1"
    with CaptureStore(db).read() as reader:
        assert reader.error_counts(ids) == {ids[0]: 0, ids[1]: 1, ids[2]: 0}
    assert newest[-4] in ("ms", "s")  # the duration's unit, e.g. "42 ms"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--plan", "cli-capture"], [0]),
        (["--status", "failed"], [1]),
        (["--plan", "cli-other", "--status", "succeeded"], [2]),
        (["--limit", "2"], [2, 1]),
    ],
)
def test_runs_filters(three_runs, args: list[str], expected: list[int]) -> None:
    db, ids = three_runs

    result = invoke("runs", "--db", str(db), *args)

    assert result.exit_code == 0, result.output
    listed = [row[0] for row in _table(result.stdout)[1:] if row[0] in ids]
    assert listed == [ids[i] for i in expected]
    if "--limit" in args:
        assert "(2 of 3 runs in" in result.stdout


def test_runs_says_when_nothing_matches(three_runs) -> None:
    db, _ = three_runs
    result = invoke("runs", "--db", str(db), "--plan", "nope", "--status", "aborted")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"no runs match --plan nope --status aborted in {db} (3 runs in all)\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--status", "exploded"], "'exploded' is not one of"),
        (["--limit", "0"], "0 is not in the range"),
        (["--db", ":memory:"], "':memory:' holds nothing between commands"),
    ],
)
def test_runs_bad_input_exits_2(args: list[str], message: str) -> None:
    result = invoke("runs", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


# --- orchestra export ------------------------------------------------------------------------


@pytest.fixture
def one_run(demo_api, tmp_path: Path) -> tuple[Path, str, dict[str, Any]]:
    db = tmp_path / "export.duckdb"
    plan = items_plan(demo_api.url)
    result = run_plan(tmp_path, plan, "--db", str(db))
    assert result.exit_code == 0, result.output
    return db, run_id_of(result), plan


def test_export_plan_prints_the_plan_that_ran(one_run) -> None:
    db, run_id, plan = one_run

    result = invoke("export", run_id, "--format", "plan", "--db", str(db))

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == plan
    assert KEY not in result.stdout


@pytest.mark.parametrize("run", ["last", "{prefix}", "{id}", None])
def test_export_takes_an_id_a_prefix_or_last(one_run, run: str | None) -> None:
    db, run_id, _ = one_run
    args = [] if run is None else [run.format(prefix=run_id[:-3], id=run_id)]

    result = invoke("export", *args, "-f", "har", "--db", str(db))

    assert result.exit_code == 0, result.output
    har = json.loads(result.stdout)
    assert har["log"]["version"] == "1.2"
    assert har["log"]["pages"][0]["id"] == run_id
    assert len(har["log"]["entries"]) == 7


def test_export_writes_to_an_output_file(one_run, tmp_path: Path) -> None:
    db, run_id, _ = one_run
    target = tmp_path / "out" / "run.har"

    result = invoke("export", run_id, "--format", "har", "--db", str(db), "--output", str(target))

    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"wrote har of run {run_id} to {target}" in result.stderr
    assert json.loads(target.read_text(encoding="utf-8"))["log"]["entries"]


def test_export_curl_keeps_secrets_as_references(one_run) -> None:
    db, run_id, _ = one_run

    result = invoke("export", run_id, "--format", "curl", "--db", str(db))

    assert result.exit_code == 0, result.output
    assert result.stdout.count("\ncurl -X GET ") == 7
    assert f'"x-key: ${{{KEY_ENV}}}"' in result.stdout
    assert KEY not in result.output


def test_export_curl_reveal_secrets_writes_an_owner_only_file(one_run, tmp_path: Path) -> None:
    db, run_id, _ = one_run
    target = tmp_path / "commands.sh"

    result = invoke(
        "export", run_id, "-f", "curl", "--reveal-secrets", "--db", str(db), "-o", str(target)
    )

    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    assert f"x-key: {KEY}" in text
    assert f"${{{KEY_ENV}}}" not in text
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "secrets from the environment are revealed" in result.stderr


def test_export_jsonl_records_and_tables(one_run) -> None:
    db, run_id, _ = one_run

    records = invoke("export", run_id, "--format", "jsonl", "--db", str(db))
    exchanges = invoke("export", run_id, "-f", "jsonl", "--table", "exchanges", "--db", str(db))

    assert records.exit_code == exchanges.exit_code == 0, records.output + exchanges.output
    rows = [json.loads(line) for line in records.stdout.splitlines()]
    assert [row["data"] for row in rows] == CaptureStore(db).record_values(run_id)
    assert len(exchanges.stdout.splitlines()) == 7
    assert KEY not in exchanges.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "-f", "plan"], "no run 'nope'"),
        (["last", "-f", "har", "--reveal-secrets"], "--reveal-secrets applies to --format curl"),
        (["last", "-f", "plan", "--table", "exchanges"], "--table applies to --format jsonl"),
        (["last", "-f", "xml"], "'xml' is not one of"),
        (["last"], "Missing option '--format'"),
    ],
)
def test_export_bad_input_exits_2(one_run, args: list[str], message: str) -> None:
    db, _, _ = one_run
    result = invoke("export", *args, "--db", str(db))
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_export_of_an_ambiguous_prefix_exits_2(three_runs) -> None:
    db, ids = three_runs
    common = ids[0]
    while not all(run_id.startswith(common) for run_id in ids):
        common = common[:-1]
    result = invoke("export", common, "-f", "plan", "--db", str(db))
    assert result.exit_code == 2, result.output
    assert "matches 3 runs; give more of the id" in result.stderr


def test_export_from_a_missing_file_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    db = tmp_path / "missing.duckdb"
    result = invoke("export", "last", "-f", "har", "--db", str(db))
    assert result.exit_code == 2, result.output
    assert f"{db} does not exist" in result.stderr
    assert not db.exists()


@pytest.mark.parametrize("command", ["runs", "export"])
def test_capture_commands_have_help_with_examples(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert f"orchestra {command}" in result.stdout.split("Examples:")[1]


def test_with_demo_api_and_replay_replays_against_the_captured_base_url(tmp_path: Path) -> None:
    db = tmp_path / "demo.duckdb"
    plan = items_plan("http://127.0.0.1:9")  # the demo API's url replaces it
    captured = run_plan(tmp_path, plan, "--with-demo-api", "--db", str(db))
    assert captured.exit_code == 0, captured.output

    replayed = run_plan(tmp_path, plan, "--with-demo-api", "--replay", "last", "--db", str(db))

    assert replayed.exit_code == 0, replayed.output
    assert f"replayed from: run {run_id_of(captured)}" in replayed.stdout
    store = CaptureStore(db)
    newest = store.runs(limit=1).iloc[0]
    assert newest["mode"] == "replay"
    assert store.record_values(newest["run_id"]) == store.record_values(run_id_of(captured))
