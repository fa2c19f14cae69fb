"""Redirects are followed by the engine, each hop an exchange (issue 14, item 7).

Against a real aiohttp server on 127.0.0.1, for both direct transports
(``kind``: aiohttp and reqwest) and for an httpx transport (``MockTransport``):
every request the server saw is an exchange (event pair and ``exchanges`` row)
with its ``attempt`` and ``hop``; the step sees the last hop's response and
URL; aiohttp's redirect rules hold (methods, bodies, credentials across
origins, cookies set by a hop); a chain longer than 20 fails the step with
``TooManyRedirects``, never retried; the HAR export shows the chain, and a
captured run with redirects replays.
"""

from __future__ import annotations

import duckdb
import httpx
import orjson
import pytest
from aiohttp import web

import orchestra
from orchestra import RunStatus
from orchestra.capture import CaptureStore, export_har
from orchestra.capture._schema import SCHEMA_VERSION, TABLES
from orchestra.errors import TooManyRedirects
from orchestra.events import RequestSent, ResponseReceived
from tests.engine import test_reqwest_transport as transports

kind = transports.kind  # the fixture: both direct transports, through ORCHESTRA_TRANSPORT


class _Server(transports._Server):
    """The transport tests' server, counting the requests it sees, plus a cookie hop."""

    def __init__(self):
        super().__init__()
        self.requests: list[str] = []

    def _app(self) -> web.Application:
        app = super()._app()

        @web.middleware
        async def count(request, handler):
            self.requests.append(request.path_qs)
            return await handler(request)

        async def cookie_then_echo(request):
            response = web.Response(status=302, headers={"Location": "/echo"})
            response.set_cookie("hop", "set-by-the-first-hop")
            return response

        app.middlewares.append(count)
        app.add_routes([web.get("/cookie-then-echo", cookie_then_echo)])
        return app


@pytest.fixture(scope="module")
def server():
    with _Server() as running:
        yield running


def _run(plan, server, **options):
    server.requests.clear()
    events: list = []
    result = orchestra.run(
        plan, {"base_url": server.url}, subscribers=[events.append], **{"db": None, **options}
    )
    return result, events


def _hops(events):
    sent = [e for e in events if isinstance(e, RequestSent)]
    answered = {e.exchange_id: e for e in events if isinstance(e, ResponseReceived)}
    return [(e.attempt, e.hop, e.method, e.url, answered[e.exchange_id].status_code) for e in sent]


def test_each_hop_is_an_exchange_and_the_step_sees_the_last(kind, server):
    plan = {
        "key": "r",
        "step": {
            "url": "{config.base_url}/redirect",
            "context_updates": {"url": "response.url", "status": "response.status_code"},
        },
    }
    result, events = _run(plan, server)
    assert result.status is RunStatus.SUCCEEDED, result.error
    assert result.records[0].data == {"from": "redirect"}
    assert result.context == {"url": f"{server.url}/target?from=redirect", "status": 200}
    assert _hops(events) == [
        (1, 0, "GET", f"{server.url}/redirect", 302),
        (1, 1, "GET", f"{server.url}/target?from=redirect", 200),
    ]
    assert len(server.requests) == 2


def test_a_redirect_loop_fails_once_with_every_hop_captured(kind, server, tmp_path):
    db = tmp_path / "loop.duckdb"
    plan = {
        "key": "loop",
        "step": {
            "url": "{config.base_url}/loop",
            "retry": {"max_attempts": 3, "base_seconds": 0.01, "on_status": [302, 503]},
        },
    }
    result, events = _run(plan, server, db=db)
    assert result.status is RunStatus.FAILED
    assert isinstance(result.error, TooManyRedirects)
    message = str(result.error)
    assert "step 'main'" in message and "more than 20 redirects" in message
    assert f"{server.url}/loop?n=20" in message  # the last URL
    assert len(server.requests) == 21  # not retried: one chain of 20 redirects
    with duckdb.connect(str(db), read_only=True) as connection:
        rows = connection.execute(
            "SELECT attempt, hop, status_code, url FROM exchanges ORDER BY exchange_id"
        ).fetchall()
        run = connection.execute("SELECT status, error_type, error_step FROM runs").fetchone()
    assert len(rows) == len(server.requests)
    assert [(attempt, hop) for attempt, hop, _, _ in rows] == [(1, n) for n in range(21)]
    assert {status for _, _, status, _ in rows} == {302}
    assert rows[-1][3] == f"{server.url}/loop?n=20"
    assert run == ("failed", "TooManyRedirects", "main")
    assert not any(e for e in events if type(e).__name__ == "RetryScheduled")


@pytest.mark.parametrize(
    ("status", "method", "after", "body_after"),
    [(303, "POST", "GET", ""), (302, "POST", "GET", ""), (307, "POST", "POST", '{"a":1}'),
     (308, "PUT", "PUT", '{"a":1}'), (302, "PUT", "PUT", '{"a":1}')],
)  # fmt: skip
def test_methods_and_bodies_follow_aiohttps_rules(kind, server, status, method, after, body_after):
    plan = {
        "key": "m",
        "step": {
            "method": method,
            "url": f"{{config.base_url}}/redirect-to?status={status}&to=/echo",
            "body": {"a": 1},
        },
    }
    result, events = _run(plan, server)
    assert result.status is RunStatus.SUCCEEDED, result.error
    echoed = result.records[0].data
    assert (echoed["method"], echoed["body"]) == (after, body_after)
    hops = [e for e in events if isinstance(e, RequestSent)]
    assert [(e.method, e.hop) for e in hops] == [(method, 0), (after, 1)]
    assert (hops[1].body is None) == (after == "GET")


def test_credentials_are_dropped_when_the_origin_changes(kind, server):
    other = server.url.replace("127.0.0.1", "localhost")

    def plan(to):
        return {
            "key": "c",
            "step": {
                "url": f"{{config.base_url}}/redirect-to?to={to}/echo",
                "headers": {"Authorization": "Bearer t0ken-value", "X-Keep": "k"},
            },
        }

    same, _ = _run(plan(""), server)
    cross, events = _run(plan(other), server)
    assert same.records[0].data["headers"]["authorization"] == "Bearer t0ken-value"
    sent = cross.records[0].data["headers"]
    assert "authorization" not in sent and sent["x-keep"] == "k"
    hop = [e for e in events if isinstance(e, RequestSent)][1]
    assert "authorization" not in {name.lower() for name in hop.headers}
    assert hop.headers.get("host") == other.removeprefix("http://")  # as sent


def test_a_cookie_set_by_a_hop_is_sent_to_the_next(kind, server):
    plan = {
        "key": "k",
        "step": {
            "url": "{config.base_url}/cookie-then-echo",
        },
    }
    result, _ = _run(plan, server)
    assert result.status is RunStatus.SUCCEEDED, result.error
    assert result.records[0].data["headers"]["cookie"] == "hop=set-by-the-first-hop"


def test_an_unusable_location_fails_the_step_without_retrying(kind, server):
    plan = {
        "key": "bad",
        "step": {
            "url": "{config.base_url}/redirect-to?to=ftp://files.example/x",
            "retry": {"max_attempts": 3, "base_seconds": 0.01},
        },
    }
    result, events = _run(plan, server)
    assert result.status is RunStatus.FAILED
    assert "'ftp://files.example/x' is not an http(s) URL" in str(result.error)
    assert len(server.requests) == 1
    assert _hops(events) == [
        (1, 0, "GET", f"{server.url}/redirect-to?to=ftp://files.example/x", 302)
    ]


def test_a_retry_starts_the_chain_again_with_the_next_attempt(server):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        if request.url.path == "/start":
            return httpx.Response(307, headers={"Location": "/end"})
        status = 503 if len(calls) < 3 else 200
        return httpx.Response(status, json={"ok": status == 200})

    plan = {
        "key": "mock",
        "step": {"url": "http://api.test/start", "retry": {"base_seconds": 0.001}},
    }
    events: list = []
    result = orchestra.run(
        plan, transport=httpx.MockTransport(handler), db=None, subscribers=[events.append]
    )
    assert result.status is RunStatus.SUCCEEDED, result.error
    assert _hops(events) == [
        (1, 0, "GET", "http://api.test/start", 307),
        (1, 1, "GET", "http://api.test/end", 503),
        (2, 0, "GET", "http://api.test/start", 307),
        (2, 1, "GET", "http://api.test/end", 200),
    ]


def test_har_shows_the_chain_and_a_replay_follows_it(kind, server, tmp_path):
    db = tmp_path / "chain.duckdb"
    plan = {
        "key": "chain",
        "step": {"url": "{config.base_url}/redirect"},
    }
    result, _ = _run(plan, server, db=db)
    assert result.status is RunStatus.SUCCEEDED, result.error
    entries = export_har(CaptureStore(db), result.run_id)["log"]["entries"]
    assert [(e["_orchestra"]["hop"], e["response"]["status"]) for e in entries] == [
        (0, 302),
        (1, 200),
    ]
    assert entries[0]["response"]["redirectURL"] == "/target?from=redirect"
    assert entries[1]["request"]["url"] == f"{server.url}/target?from=redirect"

    replayed = orchestra.run(plan, {"base_url": server.url}, db=db, replay=result.run_id)
    assert replayed.status is RunStatus.SUCCEEDED, replayed.error
    assert replayed.records == result.records


def test_a_version_1_capture_file_gains_the_hop_column(tmp_path):
    db = tmp_path / "old.duckdb"
    with duckdb.connect(str(db)) as connection:
        old_exchanges = TABLES["exchanges"].replace(",\n            hop BIGINT", "")
        old_exchanges = old_exchanges.replace(",\n            first_byte_ms DOUBLE", "")
        assert "hop" not in old_exchanges and "first_byte_ms" not in old_exchanges
        for name, ddl in TABLES.items():
            connection.execute(old_exchanges if name == "exchanges" else ddl)
        connection.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        connection.execute("INSERT INTO exchanges (run_id, exchange_id) VALUES ('old', 1)")

    result = orchestra.run(
        {"key": "new", "step": {"url": "http://api.test/x"}},
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json={})),
        db=db,
    )
    assert result.status is RunStatus.SUCCEEDED, result.error
    with duckdb.connect(str(db), read_only=True) as connection:
        version = connection.execute("SELECT value FROM meta WHERE key = 'schema_version'")
        assert version.fetchone() == (str(SCHEMA_VERSION),)
        hops = connection.execute("SELECT run_id, hop FROM exchanges ORDER BY run_id").fetchall()
    assert sorted(hops) == sorted([("old", 0), (result.run_id, 0)])
    assert orjson.loads(orjson.dumps(SCHEMA_VERSION)) >= 2
