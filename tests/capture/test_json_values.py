"""Capture stores any value it is given, by one rule (``orchestra._json``), and never dies on
one: an integer beyond 64 bits (which orjson refuses) is stored as a string of its digits.

End to end against a real server on 127.0.0.1 through ``orchestra run``, then the writer on
its own for what no plan produces today (records and event detail holding such values).
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from click.testing import CliRunner

import orchestra
from orchestra._json import json_text, request_json, to_json
from orchestra.capture import CaptureStore, CaptureWriter
from orchestra.cli import main
from orchestra.events import RecordEmitted, RetryScheduled, RunFinished, RunStarted
from orchestra.masking import Masker

BIG = 2**70  # 1180591620717411303424
SERVER_BIG = "123456789012345678901234567890"


class BigServer(ThreadingHTTPServer):
    """``GET /big`` answers a JSON body holding a 30-digit integer literal; ``POST /sink``
    keeps the raw body it was sent."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), BigHandler)
        self.received: list[bytes] = []
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class BigHandler(BaseHTTPRequestHandler):
    server: BigServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, body: bytes) -> None:
        self.server.requests += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(b'{"n": ' + SERVER_BIG.encode() + b"}")

    def do_POST(self) -> None:
        self.server.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self._answer(b'{"ok": true}')


@pytest.fixture
def big_server() -> Iterator[BigServer]:
    server = BigServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


PLAN = f"""
key: big-values
config:
  base_url: http://127.0.0.1:9
  big: {BIG}
persistent_context: [cursor]
steps:
  - name: fetch
    url: "{{config.base_url}}/big"
    context_updates:
      cursor: config.big
  - name: send
    method: POST
    url: "{{config.base_url}}/sink"
    body:
      n: "{{config.big}}"
"""


def test_a_run_with_integers_beyond_64_bits_is_captured_whole(
    big_server: BigServer, tmp_path: Path
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    db = tmp_path / "capture.duckdb"
    records = tmp_path / "records.jsonl"

    result = CliRunner().invoke(
        main,
        ["run", str(plan), "-c", f"base_url={big_server.url}", "--db", str(db),
         "--records", str(records)],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    with duckdb.connect(str(db), read_only=True) as connection:
        run_id, status, config = connection.execute(
            "SELECT run_id, status, config FROM runs"
        ).fetchone()
        exchanges = connection.execute("SELECT count(*) FROM exchanges").fetchone()[0]
        plan_config = connection.execute("SELECT plan->'config'->>'big' FROM plans").fetchone()
        (saved_by, values), *others = connection.execute(
            "SELECT run_id, context_values FROM contexts"
        ).fetchall()
        stored = connection.execute("SELECT data FROM records ORDER BY seq").fetchall()
        sent = connection.execute(
            "SELECT request_body FROM exchanges WHERE method = 'POST'"
        ).fetchone()[0]
    assert status == "succeeded" and exchanges == big_server.requests == 2
    assert json.loads(config)["big"] == str(BIG)  # the rule: beyond 64 bits, a string
    assert plan_config == (str(BIG),)
    assert not others and saved_by == run_id and json.loads(values) == {"cursor": str(BIG)}
    assert len(stored) == 2 and json.loads(stored[0][0])["n"] == pytest.approx(float(SERVER_BIG))
    assert big_server.received == [f'{{"n":{BIG}}}'.encode()]  # the wire gets the exact number
    assert json.loads(sent) == {"n": BIG}
    assert len(records.read_text(encoding="utf-8").splitlines()) == 2

    again = CliRunner().invoke(
        main, ["run", str(plan), "-c", f"base_url={big_server.url}", "--db", str(db)]
    )
    assert again.exit_code == 0, again.output  # the saved context loads (as a string)


def test_contexts_name_the_run_that_saved_them(demo_api, tmp_path: Path) -> None:
    store = CaptureStore(tmp_path / "contexts.duckdb")
    plan = {
        "key": "ctx",
        "persistent_context": ["seen"],
        "steps": [{"name": "one", "url": f"{demo_api.url}/items?limit=1",
                   "context_updates": {"seen": "response.body.total"}}],
    }  # fmt: skip

    first = orchestra.run(plan, db=store)
    second = orchestra.run(plan, db=store)

    assert first.ok and second.ok
    rows = store.sql("SELECT run_id FROM contexts")
    assert list(rows.run_id) == [second.run_id]  # replaced by the last successful run


@dataclass(slots=True, kw_only=True)
class BigRetry(RetryScheduled):
    """An event whose detail holds values JSON (or orjson) has no place for."""

    limit: int
    seen: Any


def test_the_writer_stores_any_value_in_config_plan_records_and_event_detail(
    tmp_path: Path,
) -> None:
    db = tmp_path / "values.duckdb"
    writer = CaptureWriter(str(db))
    now = time.time()
    config = {"big": BIG, "when": datetime.datetime(2024, 1, 2, 3, 4, 5), "amount":
              Decimal("1.50"), "tags": {"a"}, "ratio": math.nan, "pair": (1, 2), "keys": {1: "x"},
              "negative": -(2**64)}  # fmt: skip
    events = [
        RunStarted(run_id="v1", at=now, plan_key="values", plan={"key": "values",
                   "config": {"big": BIG}, "steps": []}, config=config, masker=Masker()),
        RecordEmitted(run_id="v1", at=now, step_path="s", record={"n": BIG, "ids": {BIG}}),
        BigRetry(run_id="v1", at=now, step_path="s", exchange_id=1, attempt=2,
                 delay_seconds=0.1, reason="test", limit=BIG, seen=[BIG, b"raw"]),
        RunFinished(run_id="v1", at=now, status="succeeded", duration_ms=1.0),
    ]  # fmt: skip
    for event in events:
        writer(event)

    assert writer.error is None
    store = CaptureStore(db)
    run = store.runs().iloc[0]
    assert run.status == "succeeded"
    assert json.loads(run.config) == {"big": str(BIG), "when": "2024-01-02T03:04:05",
        "amount": "1.50", "tags": ["a"], "ratio": None, "pair": [1, 2], "keys": {"1": "x"},
        "negative": str(-(2**64))}  # fmt: skip
    assert store.record_values("v1") == [{"n": str(BIG), "ids": [str(BIG)]}]
    detail = json.loads(store.sql("SELECT detail FROM events").detail[0])
    assert detail["limit"] == str(BIG) and detail["seen"] == [str(BIG), "raw"]


@pytest.mark.parametrize(
    "value",
    [{"a": 1, "b": [1.5, None, True, "x"]}, [2**63, -(2**63), 2**64 - 1], "text", 0.1,
     {"when": datetime.date(2024, 1, 2)}],
)  # fmt: skip
def test_the_fast_path_is_orjson_unchanged(value: Any) -> None:
    assert to_json(value) == orjson.dumps(value, default=str)
    assert request_json(value) == orjson.dumps(value)


def test_what_cannot_be_json_at_all_is_stored_as_a_string(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    deep: list[Any] = []
    inner = deep
    for _ in range(300):  # orjson stops at 255 levels
        inner.append([])
        inner = inner[0]

    with caplog.at_level(logging.WARNING, logger="orchestra"):
        stored = [json.loads(json_text(value)) for value in (loop, deep)]

    assert all(text.startswith("<not storable as JSON: ") for text in stored), stored
    assert "cannot be stored as JSON" in caplog.text


def test_request_bodies_keep_big_integers_exact_and_convert_the_rest() -> None:
    body = {"n": BIG, "tags": {"a"}, "when": datetime.date(2024, 1, 2), "keys": {2: BIG}}
    assert request_json(body) == (
        b'{"n":1180591620717411303424,"tags":["a"],"when":"2024-01-02",'
        b'"keys":{"2":1180591620717411303424}}'
    )
