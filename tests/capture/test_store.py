"""The capture store: every table filled from a real run, masked, queryable."""

from __future__ import annotations

import json

import orjson
import pytest

import orchestra
from orchestra.capture import SCHEMA_VERSION, CaptureStore, RunNotFound, SchemaVersionError


def fanout_plan():
    return {
        "key": "capture-demo",
        "config": {"base_url": None, "key": {"env": "CAPTURE_TEST_KEY"}},
        "steps": [
            {
                "name": "items",
                "url": "{config.base_url}/items",
                "params": {
                    "limit": 5,
                    "offset": "{context.next || `0`}",
                    "api_key": "{config.key}",
                },
                "context_updates": {"next": "response.body.next_offset"},
                "while": "response.body.offset < `5`",
                "sub_steps": [
                    {
                        "name": "detail",
                        "iterate_over": "response.body.items",
                        "url": "{config.base_url}/items/{item.id}",
                        "headers": {"X-Api-Key": "{config.key}"},
                        "concurrency": 3,
                    }
                ],
            },
            {"name": "missing", "url": "{config.base_url}/status/404", "ignore_on": [404]},
            {"name": "flaky", "url": "{config.base_url}/flaky/cap?fail=1",
             "retry": {"base_seconds": 0.01}},
        ],
    }  # fmt: skip


@pytest.fixture
def captured(demo_api, tmp_path, monkeypatch):
    monkeypatch.setenv("CAPTURE_TEST_KEY", "canary-capture-key-42")
    store = CaptureStore(tmp_path / "run.duckdb")
    result = orchestra.run(fanout_plan(), {"base_url": demo_api.url}, db=store)
    assert result.ok, result.error
    return store, result


def test_every_table_is_filled(captured):
    store, result = captured
    runs = store.runs()
    assert list(runs.run_id) == [result.run_id]
    run = runs.iloc[0]
    assert run.status == "succeeded"
    assert run.requests == result.requests == 2 + 10 + 1 + 2
    assert run.records == result.record_count

    exchanges = store.exchanges(result.run_id)
    assert len(exchanges) == result.requests
    assert list(exchanges.exchange_id) == sorted(exchanges.exchange_id)
    flaky = exchanges[exchanges.step_path == "flaky"]
    assert list(flaky.attempt) == [1, 2]
    assert list(flaky.status_code) == [503, 200]
    details = exchanges[exchanges.step_path == "items.detail"]
    assert sorted(details.item_index) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]

    steps = store.steps(result.run_id)
    assert len(steps[steps.step_path == "items.detail"]) == 10
    items = steps[steps.step_path == "items"].iloc[0]
    assert (items["pages"], items["items"], items["requests"]) == (2, 10, 2)

    records = store.record_values(result.run_id, step_path="items.detail")
    assert sorted(r["id"] for r in records) == list(range(1, 11))

    errors = store.errors(result.run_id)
    assert list(errors.kind) == ["ignored"]
    assert store.plan(result.run_id) == fanout_plan()


def test_secrets_are_masked_in_every_column(captured):
    store, result = captured
    exchanges = store.exchanges(result.run_id)
    text = exchanges.to_json(date_format="iso")
    assert "canary-capture-key-42" not in text
    assert "api_key=${CAPTURE_TEST_KEY}" in exchanges.url.iloc[0]
    detail = exchanges[exchanges.step_path == "items.detail"].iloc[0]
    assert json.loads(detail.request_headers)["x-api-key"] == "${CAPTURE_TEST_KEY}"
    config = json.loads(store.runs().config.iloc[0])
    assert config["key"] == "${CAPTURE_TEST_KEY}"


def test_sql_and_run_resolution(captured):
    store, result = captured
    frame = store.sql(
        "SELECT step_path, count(*) AS n FROM exchanges WHERE run_id = ? GROUP BY 1 ORDER BY 1",
        [result.run_id],
    )
    assert dict(zip(frame.step_path, frame.n, strict=True))["items.detail"] == 10
    assert store.resolve_run("last") == result.run_id
    assert store.resolve_run(result.run_id[:18]) == result.run_id
    with pytest.raises(RunNotFound, match="orchestra runs"):
        store.resolve_run("nope")


def test_bodies_are_stored_as_text_or_base64(demo_api, tmp_path):
    store = CaptureStore(tmp_path / "formats.duckdb")
    plan = {"key": "f", "steps": [{"name": "bin", "url": f"{demo_api.url}/binary"},
                                  {"name": "csv", "url": f"{demo_api.url}/csv"}]}  # fmt: skip
    result = orchestra.run(plan, db=store)
    rows = store.exchanges(result.run_id).set_index("step_path")
    assert rows.loc["bin"].response_body_encoding == "base64"
    assert rows.loc["bin"].response_size == 256
    assert rows.loc["csv"].response_body.startswith("id,name,category,price")


def test_memory_database(demo_api):
    store = CaptureStore(":memory:")
    result = orchestra.run({"key": "m", "step": {"url": f"{demo_api.url}/health"}}, db=store)
    assert store.records(result.run_id).shape[0] == 1
    assert orjson.loads(store.records(result.run_id).data.iloc[0]) == {"ok": True}


def test_capture_off(demo_api, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = orchestra.run({"key": "m", "step": {"url": f"{demo_api.url}/health"}}, db=None)
    assert result.ok and result.db is None
    assert not list(tmp_path.iterdir())


def test_default_db_is_orchestra_duckdb_in_the_working_directory(demo_api, tmp_path, monkeypatch):
    monkeypatch.delenv("ORCHESTRA_DB")
    monkeypatch.chdir(tmp_path)
    result = orchestra.run({"key": "m", "step": {"url": f"{demo_api.url}/health"}})
    assert result.db == str(tmp_path / "orchestra.duckdb")
    assert len(CaptureStore("orchestra.duckdb").runs()) == 1


def test_newer_schema_is_refused_with_what_to_do(tmp_path, demo_api):
    import duckdb

    path = tmp_path / "future.duckdb"
    store = CaptureStore(path)
    orchestra.run({"key": "m", "step": {"url": f"{demo_api.url}/health"}}, db=store)
    with duckdb.connect(str(path)) as connection:
        connection.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                           [str(SCHEMA_VERSION + 1)])  # fmt: skip
    with (
        pytest.raises(SchemaVersionError, match="upgrade Orchestra"),
        CaptureStore(path).database.connect(write=True),
    ):
        pass


def test_persistent_context_survives_in_the_capture_file(demo_api, tmp_path):
    plan = {
        "key": "incremental",
        "persistent_context": ["last_offset"],
        "steps": [
            {
                "name": "page",
                "url": f"{demo_api.url}/items",
                "params": {"limit": 3, "offset": "{context.last_offset || `0`}"},
                "context_updates": {"last_offset": "response.body.next_offset"},
            }
        ],
    }
    path = tmp_path / "context.duckdb"
    first = orchestra.run(plan, db=path)
    second = orchestra.run(plan, db=path)  # a new store object: only the file carries it
    assert [r["id"] for r in first.records[0].data["items"]] == [1, 2, 3]
    assert [r["id"] for r in second.records[0].data["items"]] == [4, 5, 6]
    saved = CaptureStore(path).sql("SELECT plan_key, context_values FROM contexts")
    assert json.loads(saved.context_values[0]) == {"last_offset": 6}


def test_notable_events_and_step_kinds_are_stored(demo_api, tmp_path):
    store = CaptureStore(tmp_path / "events.duckdb")
    plan = {
        "key": "events",
        "rate_limits": [{"requests": 2, "window_secs": 0.2}],
        "steps": [
            {"name": "flaky", "url": f"{demo_api.url}/flaky/ev?fail=1",
             "retry": {"base_seconds": 0.01}},
            {"name": "again", "url": f"{demo_api.url}/health"},
            {"name": "route", "choice": [{"when": "`false`", "steps": [
                {"name": "never", "url": f"{demo_api.url}/health"}]}]},
        ],
    }  # fmt: skip
    result = orchestra.run(plan, db=store)
    assert result.ok, result.error
    events = store.sql("SELECT type, step_path, delay_seconds FROM events ORDER BY seq")
    assert "retry_scheduled" in set(events.type)
    assert "rate_limit_wait" in set(events.type)
    steps = store.steps(result.run_id).set_index("step_path")
    assert steps.loc["route.never"].status == "skipped"
    assert steps.loc["route"].kind == "choice"
    assert "when" in steps.loc["route.never"].reason or steps.loc["route.never"].reason


def test_a_version_2_file_gains_first_byte_ms_unknown_for_its_old_rows(tmp_path, demo_api):
    import duckdb

    from orchestra.capture._schema import TABLES

    path = tmp_path / "v2.duckdb"
    with duckdb.connect(str(path)) as connection:
        old = TABLES["exchanges"].replace(",\n            first_byte_ms DOUBLE", "")
        assert "first_byte_ms" not in old
        for name, ddl in TABLES.items():
            connection.execute(old if name == "exchanges" else ddl)
        connection.execute("INSERT INTO meta VALUES ('schema_version', '2')")
        connection.execute(
            "INSERT INTO exchanges (run_id, exchange_id, elapsed_ms, hop) VALUES ('old', 1, 5, 0)"
        )

    result = orchestra.run({"key": "m", "step": {"url": f"{demo_api.url}/health"}}, db=path)
    assert result.status is orchestra.RunStatus.SUCCEEDED, result.error
    with CaptureStore(path).read() as reader:
        assert reader.rows("SELECT value FROM meta WHERE key = 'schema_version'") == [
            {"value": str(SCHEMA_VERSION)}
        ]
        old_row = reader.exchange("old", 1)
        assert old_row is not None and old_row["first_byte_ms"] is None
        (new,) = reader.exchanges(result.run_id).to_dict("records")
        assert 0 < new["first_byte_ms"] <= new["elapsed_ms"]
        bars = reader.waterfall(result.run_id).exchanges
        assert bars["first_byte_ms"].tolist() == [pytest.approx(new["first_byte_ms"])]


def test_a_version_2_file_read_without_migrating_has_no_first_byte(tmp_path, demo_api):
    import duckdb

    path = tmp_path / "v2.duckdb"
    result = orchestra.run({"key": "m", "step": {"url": f"{demo_api.url}/health"}}, db=path)
    with duckdb.connect(str(path)) as connection:  # as version 2 wrote it
        connection.execute("ALTER TABLE exchanges DROP COLUMN first_byte_ms")
        connection.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    with CaptureStore(path).read() as reader:  # read-only: not migrated
        assert not reader.has_column("exchanges", "first_byte_ms")
        bars = reader.waterfall(result.run_id).exchanges
        assert len(bars) == 1 and bars["first_byte_ms"].isna().all()
        assert reader.exchange(result.run_id, int(bars["exchange_id"][0])) is not None


def test_a_read_holds_the_file_only_inside_its_block_and_keeps_its_instance(captured):
    """Reads attach the file to a kept in-memory instance (no new DuckDB instance per read)
    and detach it at the block's end, also when the block failed inside a transaction."""
    import duckdb

    from orchestra.capture import _connection

    store, _ = captured
    path = store.path
    with store.read() as reader:
        first = reader.connection
        run_ids = reader.runs()["run_id"].tolist()
        with pytest.raises(duckdb.Error):  # attached here: no read-write open beside it
            duckdb.connect(path).close()
    duckdb.connect(path).close()  # detached: a writer (here, this process) gets the file
    with pytest.raises(RuntimeError, match="inside"), store.read() as reader:
        reader.connection.execute("BEGIN TRANSACTION")
        raise RuntimeError("a failure inside the block")
    with store.read() as reader:  # the same instance again, the file attached afresh
        assert reader.connection is first
        assert reader.runs()["run_id"].tolist() == run_ids
    assert len(_connection._idle_readers) <= _connection._IDLE_READERS
    duckdb.connect(path).close()
