"""What typed tables cost on 100k records: inferring types, making the views, reading them.

A capture file gets one run of ``--records`` records (nested objects, lists,
numbers, strings) at step ``users``; then, ``--rounds`` times each:

* ``infer``: ``json_group_structure`` over the step's records (the type);
* ``read_json``: the alternative — the records written as JSON Lines and typed
  by ``read_json`` (DuckDB's file reader) — to compare inference costs;
* ``run end``: what the capture writer adds when a run ends
  (``_tables.refresh_run``: infer over the run's records, merge, create views);
* ``refresh``: ``CaptureStore.refresh_tables()`` (every step, all records);
* ``query``: ``SELECT count(*), count(address.city) FROM data.users``;
* ``dataframe``: ``CaptureStore.table("users")``;
* ``parquet``: ``CaptureStore.export_table("users", file)``.

Run: ``python bench/typed_tables.py [--records 100000] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import orjson
import pandas as pd

from orchestra.capture import CaptureStore
from orchestra.capture import _tables as tables

RUN_ID = "bench-run"


def record(i: int) -> dict[str, object]:
    return {
        "id": i,
        "name": f"user{i}",
        "email": f"u{i}@example.com",
        "active": i % 2 == 0,
        "score": i * 0.5,
        "address": {"city": f"C{i % 100}", "zip": f"{i:05d}", "geo": {"lat": 1.5, "lng": 2.5}},
        "tags": ["a", "b"][: i % 3],
        "created": "2026-01-01T00:00:00Z",
    }


def fill(store: CaptureStore, count: int) -> None:
    frame = pd.DataFrame(
        {"seq": range(count), "data": [orjson.dumps(record(i)).decode() for i in range(count)]}
    )
    with store.database.connect(write=True) as connection:
        connection.execute(
            "INSERT INTO runs (run_id, started_at) VALUES (?, now()::TIMESTAMP)", [RUN_ID]
        )
        connection.execute("INSERT INTO steps (run_id, step_path) VALUES (?, 'users')", [RUN_ID])
        connection.register("frame", frame)
        connection.execute(
            "INSERT INTO record_rows (run_id, seq, step_path, data) "
            "SELECT ?, seq, 'users', data::JSON FROM frame",
            [RUN_ID],
        )
        connection.execute("CHECKPOINT")


def timed(action: Callable[[], object], rounds: int) -> list[float]:
    action()  # warm-up
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1e3)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "capture.duckdb"
        store = CaptureStore(path)
        fill(store, options.records)
        jsonl = Path(directory) / "users.jsonl"

        def with_connection(work: Callable[[duckdb.DuckDBPyConnection], object]) -> object:
            with store.database.connect(write=True) as connection:
                connection.execute("SET threads = 1")  # as the capture writer runs
                return work(connection)

        def read_json(connection: duckdb.DuckDBPyConnection) -> object:
            connection.execute(
                f"COPY (SELECT data FROM records WHERE step_path = 'users') TO '{jsonl}' "
                "(FORMAT csv, HEADER false, QUOTE '', ESCAPE '')"
            )
            return connection.execute(f"DESCRIBE SELECT * FROM read_json('{jsonl}')").fetchall()

        def query() -> object:
            with duckdb.connect(str(path), read_only=True) as connection:
                return connection.execute(
                    "SELECT count(*), count(address.city) FROM data.users"
                ).fetchall()

        cases: dict[str, Callable[[], object]] = {
            "infer (json_group_structure)": lambda: with_connection(
                lambda c: tables.infer(c, "users")
            ),
            "read_json (JSONL out + infer)": lambda: with_connection(read_json),
            "run end (refresh_run)": lambda: with_connection(
                lambda c: tables.refresh_run(c, RUN_ID)
            ),
            "refresh_tables()": store.refresh_tables,
            "query data.users": query,
            "store.table() DataFrame": lambda: store.table("users"),
            "export_table() Parquet": lambda: store.export_table(
                "users", Path(directory) / "users.parquet"
            ),
        }
        print(f"{options.records:,} records, {options.rounds} rounds, median (min-max) ms")
        for name, action in cases.items():
            times = timed(action, options.rounds)
            print(f"  {name:32} {statistics.median(times):8.1f} "
                  f"({min(times):.1f}-{max(times):.1f})")  # fmt: skip


if __name__ == "__main__":
    main()
