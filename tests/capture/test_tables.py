"""Typed tables over real demo-API runs: ``data.<step>`` / ``data_all.<step>`` in the file.

Run A pages ``/items`` (offset 0, 2 pages of 4) and fans out to the detail of
each item (``users.detail``) and to ``/echo`` with a secret API key in the query
(``users.echo``). Run B pages from offset 100 and has no echo step. The views
are read through a fresh ``duckdb.connect(file)`` — what a user with plain
DuckDB sees — and compared with the JSON records of the same file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from click.testing import CliRunner

import orchestra
from orchestra.capture import CaptureStore, TableNotFound
from orchestra.capture import _tables as tables
from orchestra.cli import main
from orchestra.demo import DemoAPI
from orchestra.errors import RunError

SECRET = "tbl-secret-5c1e9a77d2"
SECRET_ENV = "ORCH_TABLES_API_KEY"


def users_plan(base_url: str, *, offset: int, echo: bool) -> dict[str, Any]:
    sub_steps: list[dict[str, Any]] = [
        {"name": "detail", "iterate_over": "response.body.items",
         "url": "{config.base_url}/items/{item.id}"},
    ]  # fmt: skip
    if echo:
        sub_steps.append(
            {"name": "echo", "iterate_over": "response.body.items",
             "url": "{config.base_url}/echo",
             "params": {"id": "{item.id}", "key": "{config.api_key}"}}
        )  # fmt: skip
    return {
        "key": "tables",
        "config": {
            "base_url": base_url,
            "start": offset,
            "last": offset + 4,
            "api_key": {"env": SECRET_ENV},
        },
        "steps": [
            {
                "name": "users",
                "url": "{config.base_url}/items",
                "params": {"limit": 4, "offset": "{context.next_offset || config.start}"},
                "context_updates": {"next_offset": "response.body.next_offset"},
                "while": "response.body.offset < config.last",
                "sub_steps": sub_steps,
            }
        ],
    }


@dataclass
class Runs:
    path: Path
    store: CaptureStore
    a: str
    b: str
    result_a: orchestra.RunResult


@pytest.fixture(scope="module")
def runs(demo_api_server: DemoAPI, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    path = tmp_path_factory.mktemp("tables") / "capture.duckdb"
    url = demo_api_server.url
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_ENV, SECRET)
        a = orchestra.run(users_plan(url, offset=0, echo=True), db=str(path)).raise_for_status()
        b = orchestra.run(users_plan(url, offset=100, echo=False), db=str(path))
    b.raise_for_status()
    return Runs(path, CaptureStore(path), a.run_id, b.run_id, a)


def query(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """SQL through a fresh DuckDB connection of the file, as a user would open it."""
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(sql, params or []).fetchall()


def column_types(path: Path, relation: str) -> dict[str, str]:
    return {row[0]: row[1] for row in query(path, f"DESCRIBE {relation}")}


def parquet(sql: str) -> list[tuple[Any, ...]]:
    """SQL over Parquet files, in a DuckDB of its own."""
    with duckdb.connect() as connection:
        return connection.execute(sql).fetchall()


def json_records(path: Path, run_id: str, step_path: str) -> list[Any]:
    rows = query(
        path,
        "SELECT data FROM records WHERE run_id = ? AND step_path = ? ORDER BY seq",
        [run_id, step_path],
    )
    return [orjson.loads(row[0]) for row in rows]


def test_each_step_with_records_has_a_view_in_both_schemas(runs: Runs) -> None:
    views = query(
        runs.path,
        "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1, 2",
    )
    steps = ["users", "users.detail", "users.echo"]
    typed = [("data", s) for s in steps] + [("data_all", s) for s in steps]
    assert views == [*typed, ("main", "records")]  # records: the view of every record


def test_nested_fields_are_typed_columns_of_the_latest_run(runs: Runs) -> None:
    rows = query(
        runs.path,
        'SELECT run_id, id, name, price, detail.detail.tags FROM data."users.detail" ORDER BY id',
    )
    expected = json_records(runs.path, runs.b, "users.detail")
    assert len(rows) == len(expected) == 8  # two pages of four, from offset 100
    assert {row[0] for row in rows} == {runs.b}
    assert rows[0][1:] == (
        expected[0]["id"],
        expected[0]["name"],
        expected[0]["price"],
        expected[0]["detail"]["detail"]["tags"],
    )
    types = column_types(runs.path, 'data."users.detail"')
    assert types["id"] == "BIGINT"
    assert types["price"] == "DOUBLE"
    assert types["name"] == "VARCHAR"
    assert types["detail"].startswith("STRUCT(")
    assert "tags VARCHAR[]" in types["detail"]


def test_lists_of_objects_are_lists_of_structs(runs: Runs) -> None:
    assert column_types(runs.path, "data.users")["items"].startswith("STRUCT(id BIGINT")
    rows = query(runs.path, 'SELECT "offset", len(items), items[1].id FROM data.users ORDER BY 1')
    assert rows == [(100, 4, 101), (104, 4, 105)]


def test_run_id_picks_another_run(runs: Runs) -> None:
    rows = query(
        runs.path,
        'SELECT min(id), max(id), count(*) FROM data_all."users.detail" WHERE run_id = ?',
        [runs.a],
    )
    assert rows == [(1, 8, 8)]
    counts = query(runs.path, 'SELECT run_id, count(*) FROM data_all."users.detail" GROUP BY 1')
    assert dict(counts) == {runs.a: 8, runs.b: 8}


def test_latest_run_of_a_step_is_the_latest_that_ran_it(runs: Runs) -> None:
    # run B has no echo step: data."users.echo" still shows run A's records
    rows = query(runs.path, 'SELECT DISTINCT run_id FROM data."users.echo"')
    assert rows == [(runs.a,)]


def test_secrets_stay_masked_in_the_views(runs: Runs) -> None:
    keys = query(runs.path, 'SELECT echo.query.key FROM data."users.echo"')
    assert len(keys) == 8
    assert all(key == f"${{{SECRET_ENV}}}" for (key,) in keys)
    text = query(runs.path, 'SELECT string_agg(CAST(COLUMNS(*) AS VARCHAR)) FROM data."users.echo"')
    assert SECRET not in repr(text)


def test_store_and_run_tables_are_typed_dataframes(runs: Runs) -> None:
    frame = runs.store.table("users.detail")
    assert set(frame["run_id"]) == {runs.b}
    assert str(frame["id"].dtype) == "int64"
    assert str(frame["price"].dtype) == "float64"
    assert isinstance(frame["detail"].iloc[0], dict)
    assert frame["detail"].iloc[0]["detail"]["description"] == "Item 101 description"
    of_a = runs.result_a.table("users.detail")
    assert of_a["id"].tolist() == list(range(1, 9))
    assert of_a.equals(runs.store.table("users.detail", runs.a))


def test_a_run_that_was_not_captured_has_no_tables(demo_api_server: DemoAPI) -> None:
    plan = {"key": "nocap", "steps": [{"name": "health", "url": f"{demo_api_server.url}/health"}]}
    result = orchestra.run(plan, db=None).raise_for_status()
    with pytest.raises(RunError, match="was not captured"):
        result.table("health")


def test_unknown_step_lists_the_steps_with_records(runs: Runs) -> None:
    with pytest.raises(TableNotFound, match=r"'user' emitted no records.*users, users\.detail"):
        runs.store.table("user")


def test_step_without_records_in_the_run_says_so(runs: Runs) -> None:
    with pytest.raises(TableNotFound, match=f"'users.echo' emitted no records in run {runs.b}"):
        runs.store.table("users.echo", runs.b)


def test_a_failed_run_keeps_its_typed_tables(demo_api_server: DemoAPI, tmp_path: Path) -> None:
    path = tmp_path / "failed.duckdb"
    plan = {
        "key": "fails",
        "steps": [
            {"name": "listing", "url": f"{demo_api_server.url}/items", "params": {"limit": 3}},
            {"name": "boom", "url": f"{demo_api_server.url}/status/500"},
        ],
    }
    result = orchestra.run(plan, db=str(path))
    assert result.status == "failed"
    assert query(path, "SELECT len(items), items[3].name FROM data.listing") == [(3, "item-3")]
    assert result.table("listing")["total"].tolist() == [
        query(path, "SELECT total FROM data.listing")[0][0]
    ]


def test_records_that_do_not_fit_the_type_do_not_break_the_view(tmp_path: Path) -> None:
    """A step whose records disagree in type: the view still reads every record."""
    store = CaptureStore(tmp_path / "odd.duckdb")
    records = [
        {"n": 1, "when": {"day": 1}, "tags": ["a"], "none": None},
        {"n": 2.5, "when": "yesterday", "tags": [1], "empty": {}},
        {"n": "three", "tags": [], "extra": True},
    ]
    runs = [("r1", records[:1]), ("r2", records[1:])]
    with store.database.connect(write=True) as connection:
        for started, (run_id, batch) in enumerate(runs):
            connection.execute(
                "INSERT INTO runs (run_id, started_at) VALUES (?, TIMESTAMP '2026-01-01' + "
                "INTERVAL (?) SECOND)",
                [run_id, started],
            )
            connection.execute("INSERT INTO steps (run_id, step_path) VALUES (?, 'odd')", [run_id])
            for seq, record in enumerate(batch):
                connection.execute(
                    "INSERT INTO record_rows (run_id, seq, step_path, data) "
                    "VALUES (?, ?, 'odd', ?)",
                    [run_id, seq, orjson.dumps(record).decode()],
                )
            tables.refresh_run(connection, run_id)  # as the writer does at each run's end
    path = tmp_path / "odd.duckdb"
    types = column_types(path, "data_all.odd")
    assert types == {
        "run_id": "VARCHAR",
        "n": "JSON",
        "when": "JSON",
        "tags": "JSON[]",
        "none": "JSON",
        "empty": "JSON",
        "extra": "BOOLEAN",
    }
    assert query(path, "SELECT count(*) FROM data_all.odd") == [(3,)]
    assert query(path, "SELECT n FROM data.odd ORDER BY n") == [('"three"',), ("2.5",)]
    assert store.refresh_tables() == ["odd"]  # from all records at once: the same types
    assert column_types(path, "data_all.odd") == types


def test_a_run_end_types_the_views_from_a_sample(tmp_path: Path, monkeypatch) -> None:
    """A field first seen past the sample is a column once ``refresh_tables()`` ran."""
    monkeypatch.setattr(tables, "SAMPLE_RECORDS", 2)
    store = CaptureStore(tmp_path / "sample.duckdb")
    with store.database.connect(write=True) as connection:
        connection.execute("INSERT INTO runs (run_id, started_at) VALUES ('r', now()::TIMESTAMP)")
        connection.execute("INSERT INTO steps (run_id, step_path) VALUES ('r', 's')")
        for seq, record in enumerate([{"a": 1}, {"a": 2}, {"a": 3, "late": "x"}]):
            connection.execute(
                "INSERT INTO record_rows (run_id, seq, step_path, data) VALUES ('r', ?, 's', ?)",
                [seq, orjson.dumps(record).decode()],
            )
        tables.refresh_run(connection, "r")
    path = tmp_path / "sample.duckdb"
    assert list(column_types(path, "data.s")) == ["run_id", "a"]
    assert query(path, "SELECT a FROM data.s") == [(1,), (2,), (3,)]
    store.refresh_tables()
    assert list(column_types(path, "data.s")) == ["run_id", "a", "late"]
    assert store.table("s")["late"].fillna("-").tolist() == ["-", "-", "x"]


def test_merged_types_follow_duckdb() -> None:
    assert tables.merge({"a": "BIGINT"}, {"a": "DOUBLE", "b": ["VARCHAR"]}) == {
        "a": "DOUBLE",
        "b": ["VARCHAR"],
    }
    assert tables.merge({"a": "BIGINT"}, "VARCHAR") == "JSON"
    assert tables.merge(None, {"a": "BOOLEAN"}) == {"a": "BOOLEAN"}
    assert tables.normalize({"a": "UBIGINT", "b": "NULL", "c": {}, "d": ["HUGEINT"]}) == {
        "a": "BIGINT",
        "b": "JSON",
        "c": "JSON",
        "d": ["BIGINT"],
    }


# -- orchestra export --format parquet ----------------------------------------------------------


def export(runs: Runs, *args: str) -> Any:
    return CliRunner().invoke(
        main, ["export", *args, "--db", str(runs.path)], catch_exceptions=False
    )


def test_export_parquet_writes_the_typed_records(runs: Runs, tmp_path: Path) -> None:
    out = tmp_path / "out" / "detail.parquet"
    result = export(runs, runs.a, "--format", "parquet", "--step", "users.detail",
                    "--output", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"wrote 8 records of step users.detail (run {runs.a})" in result.stderr
    rows = parquet("SELECT count(*), min(id), max(detail.detail.description) "
                   f"FROM read_parquet('{out}')")  # fmt: skip
    assert rows == [(8, 1, "Item 8 description")]
    types = {row[0]: row[1] for row in parquet(f"DESCRIBE SELECT * FROM read_parquet('{out}')")}
    assert types["id"] == "BIGINT"
    assert types["price"] == "DOUBLE"
    assert types["detail"].startswith("STRUCT(")


def test_export_parquet_defaults_to_the_latest_run_of_the_step(runs: Runs, tmp_path: Path):
    out = tmp_path / "echo.parquet"
    result = export(runs, "--format", "parquet", "--step", "users.echo", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"(run {runs.a})" in result.stderr
    assert SECRET.encode() not in out.read_bytes()
    assert parquet(f"SELECT DISTINCT echo.query.key FROM read_parquet('{out}')") == [
        (f"${{{SECRET_ENV}}}",)
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--step", "nope", "--output", "x.parquet"],
         "step 'nope' emitted no records in .* \\(steps with records: users, users.detail"),
        (["--step", "users"], "--format parquet writes a file: give --output FILE"),
        ([], "--format parquet needs --step STEP"),
    ],
)  # fmt: skip
def test_export_parquet_errors(runs: Runs, args: list[str], message: str) -> None:
    result = export(runs, "--format", "parquet", *args)
    assert result.exit_code == 2
    assert re.search(message, result.stderr), result.stderr


def test_step_applies_to_parquet_only(runs: Runs) -> None:
    result = export(runs, "--format", "jsonl", "--step", "users")
    assert result.exit_code == 2
    assert "--step applies to --format parquet only" in result.stderr
