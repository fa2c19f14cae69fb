"""Secret canaries: after a run, no secret value is anywhere, byte for byte.

The canaries: (a) a client secret read from the environment through config
``{"env": …}``; (b) the OAuth2 access and refresh tokens the demo API issues at
run time (``auth: oauth2_client_credentials``, ``POST /oauth/token``); (c) an
API key from the environment sent in headers and (d) in query parameters —
under sensitive names (``X-API-Key``, ``api_key``) and under innocent ones that
only masking by value catches, and reflected back in response bodies by
``/echo``. The run goes through the real CLI; then the DuckDB file (and any
WAL) is read as raw bytes, together with the CLI's stdout and stderr, every log
record, the JUnit and records files, and every export (HAR, curl without
``--reveal-secrets``, plan, JSON Lines, the runs list).

A control run writes the same values unregistered (plain config values) into
another file through the same writer, and the same byte search finds them
there: the search can see what DuckDB stores.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from orchestra.cli import main
from orchestra.demo import DemoAPI, start_demo_api

CLIENT_SECRET = "cnry-client-secret-7d41f0a2b9"
API_KEY = "cnry-api-key-3e8c55d0a6"
SECRET_ENV = "ORCH_CANARY_CLIENT_SECRET"
KEY_ENV = "ORCH_CANARY_API_KEY"
ENV = {SECRET_ENV: CLIENT_SECRET, KEY_ENV: API_KEY}


@pytest.fixture(scope="module")
def canary_api() -> Any:
    """A demo API whose OAuth client secret and API key are canaries."""
    server = start_demo_api(client_secret=CLIENT_SECRET, api_key=API_KEY)
    try:
        yield server
    finally:
        server.stop()


def canary_plan(base_url: str, *, secret: bool) -> dict[str, Any]:
    """The plan; ``secret=False`` gives the control: the same values as plain config."""
    return {
        "key": "canary" if secret else "canary-control",
        "config": {
            "base_url": base_url,
            "client_secret": {"env": SECRET_ENV} if secret else CLIENT_SECRET,
            "api_key": {"env": KEY_ENV} if secret else API_KEY,
        },
        "auth": {
            "type": "oauth2_client_credentials",
            "token_url": "{config.base_url}/oauth/token",
            "client_id": "demo-client",
            "client_secret": "{config.client_secret}",
            "client_auth": "body",
        },
        "steps": [
            {
                "name": "items",
                "url": "{config.base_url}/protected/items",
                "params": {"limit": 2},
                "expect": {"status": [200]},
            },
            {
                "name": "key_in_header",
                "url": "{config.base_url}/protected/apikey",
                "headers": {"X-API-Key": "{config.api_key}"},
                "expect": {"status": [200]},
            },
            {
                "name": "key_in_query",
                "url": "{config.base_url}/protected/apikey",
                "params": {"api_key": "{config.api_key}"},
                "expect": {"status": [200]},
            },
            {
                "name": "echo",
                "url": "{config.base_url}/echo",
                "headers": {"X-Trace": "{config.api_key}", "X-Client": "{config.client_secret}"},
                "params": {"q": "{config.api_key}", "note": "a-{config.client_secret}-b"},
            },
            {
                "name": "echo_post",
                "method": "POST",
                "url": "{config.base_url}/echo",
                "body": {"secret": "{config.client_secret}", "key": "{config.api_key}"},
            },
            {
                "name": "fails",
                "url": "{config.base_url}/status/418",
                "params": {"q": "{config.api_key}", "s": "{config.client_secret}"},
                "on_error": "continue",
            },
        ],
    }


def _run(tmp_path: Path, plan: dict[str, Any], db: Path, *extra: str) -> Result:
    plan_file = tmp_path / f"{plan['key']}.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    return CliRunner().invoke(
        main,
        ["run", str(plan_file), "--db", str(db), "--progress", *extra],
        env=ENV,
        catch_exceptions=False,
    )


def _file_bytes(db: Path) -> bytes:
    """The raw bytes of a DuckDB file and its WAL (if one is left)."""
    data = db.read_bytes()
    wal = db.with_name(db.name + ".wal")
    if wal.exists():
        data += wal.read_bytes()
    return data


def _issued_tokens(server: DemoAPI) -> set[str]:
    return set(server.state.access_tokens) | set(server.state.refresh_tokens)


def _log_text(caplog: pytest.LogCaptureFixture, keep: Callable[[str], bool]) -> bytes:
    return "\n".join(
        f"{record.name} {record.getMessage()} {record.exc_text or ''}"
        for record in caplog.records
        if keep(record.name)
    ).encode()


def _exports(run_id: str, db: Path) -> dict[str, str]:
    """Every export of the run through the CLI, stdout and stderr together."""
    outputs = {}
    commands: dict[str, list[str]] = {
        "har": ["export", run_id, "--format", "har"],
        "curl": ["export", run_id, "--format", "curl"],
        "plan": ["export", run_id, "--format", "plan"],
        "runs": ["runs"],
    }
    for table in ("records", "exchanges", "steps", "errors", "events"):
        commands[f"jsonl {table}"] = ["export", run_id, "--format", "jsonl", "--table", table]
    for name, args in commands.items():
        result = CliRunner().invoke(main, [*args, "--db", str(db)], env=ENV)
        assert result.exit_code == 0, (name, result.output)
        outputs[name] = result.stdout + result.stderr
    return outputs


def test_no_canary_is_stored_printed_logged_or_exported(
    canary_api: DemoAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    canary_api.reset()
    db = tmp_path / "canary.duckdb"
    junit, records = tmp_path / "junit.xml", tmp_path / "records.jsonl"

    result = _run(
        tmp_path, canary_plan(canary_api.url, secret=True), db,
        "--junit", str(junit), "--records", str(records),
    )  # fmt: skip
    tokens = _issued_tokens(canary_api)

    # the run really used every canary: the API accepted the token and the key
    assert result.exit_code == 1, result.output  # only "fails" failed (on_error: continue)
    assert "HTTPStatusError in step fails" in result.stdout or "fails" in result.stdout
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line}
    for step in ("items", "key_in_header", "key_in_query", "echo", "echo_post"):
        assert lines[step][2] == "ok", result.stdout
    assert canary_api.stats()["token_requests"] == 1
    assert len(canary_api.state.access_tokens) == 1 and tokens
    run_id = result.stdout.split("run id:")[1].split()[0]

    haystacks: dict[str, bytes] = {
        "duckdb file": _file_bytes(db),
        "cli stdout": result.stdout.encode(),
        "cli stderr": result.stderr.encode(),
        # every log record at every level, but httpx's own INFO line: see the xfail below
        "log records": _log_text(caplog, lambda name: name != "httpx"),
        "junit file": junit.read_bytes(),
        "records file": records.read_bytes(),
    }
    haystacks.update({name: text.encode() for name, text in _exports(run_id, db).items()})
    canaries = {"client secret": CLIENT_SECRET, "api key": API_KEY}
    canaries.update({f"token {i}": token for i, token in enumerate(sorted(tokens))})

    for where, haystack in haystacks.items():
        assert haystack, f"{where} is empty: nothing was searched"
        for what, canary in canaries.items():
            assert canary.encode() not in haystack, f"the {what} leaked into the {where}"

    # what was stored instead: references for env secrets, *** for the runtime token
    stored = haystacks["duckdb file"]
    assert f"${{{KEY_ENV}}}".encode() in stored
    assert f"${{{SECRET_ENV}}}".encode() in stored
    # the token, sent by the engine and echoed back by the API, masked ("Bearer" is masked
    # too for now: the engine registers the token answer's token_type as a secret)
    assert re.search(rb'"authorization":"(Bearer|\*\*\*) \*\*\*"', haystacks["jsonl exchanges"])
    assert f'"x-trace: ${{{KEY_ENV}}}"'.encode() in haystacks["curl"]
    assert f'"env": "{KEY_ENV}"'.encode() in haystacks["plan"]


def test_the_byte_search_sees_values_that_are_not_secret(
    canary_api: DemoAPI, tmp_path: Path
) -> None:
    """Control: the same values as plain config are found in the raw DuckDB bytes."""
    canary_api.reset()
    db = tmp_path / "control.duckdb"

    result = _run(tmp_path, canary_plan(canary_api.url, secret=False), db)

    assert result.exit_code == 1, result.output
    stored = _file_bytes(db)
    assert CLIENT_SECRET.encode() in stored  # in the stored plan: a plain config value
    assert API_KEY.encode() in stored  # in the plan, and echoed back unmasked
    assert stored.count(API_KEY.encode()) >= 2


def test_a_token_fetched_by_a_plain_step_is_masked_too(canary_api: DemoAPI, tmp_path: Path) -> None:
    canary_api.reset()
    db = tmp_path / "plain-step.duckdb"
    plan = {
        "key": "canary-plain-token",
        "config": {"base_url": canary_api.url, "client_secret": {"env": SECRET_ENV}},
        "steps": [
            {
                "name": "token",
                "method": "POST",
                "url": "{config.base_url}/oauth/token",
                "form": {
                    "grant_type": "client_credentials",
                    "client_id": "demo-client",
                    "client_secret": "{config.client_secret}",
                },
            },
            {
                "name": "items",
                "url": "{config.base_url}/protected/items",
                "headers": {"Authorization": "Bearer {steps.token.body.access_token}"},
                "expect": {"status": [200]},
            },
        ],
    }

    result = _run(tmp_path, plan, db)

    assert result.exit_code == 0, result.output
    stored = _file_bytes(db)
    assert CLIENT_SECRET.encode() not in stored
    for token in _issued_tokens(canary_api):
        assert token.encode() not in stored


def _login_plan(url: str, secrets: list[str] | None) -> dict[str, Any]:
    login: dict[str, Any] = {
        "name": "login",
        "method": "POST",
        "url": "{config.base_url}/auth/login",
        "body": {"username": "demo", "password": "demo-password"},
    }
    if secrets is not None:
        login["secrets"] = secrets
    return {
        "key": "canary-session",
        "config": {"base_url": url},
        "steps": [
            login,
            {
                "name": "items",
                "url": "{config.base_url}/protected/items",
                "headers": {"Authorization": "Bearer {steps.login.body.data.session.token}"},
                "expect": {"status": [200]},
            },
        ],
    }


def test_a_step_names_the_secrets_of_its_answer(canary_api: DemoAPI, tmp_path: Path) -> None:
    """A custom login's session token, named by ``secrets:``, is stored nowhere."""
    canary_api.reset()
    db = tmp_path / "session.duckdb"

    result = _run(tmp_path, _login_plan(canary_api.url, ["response.body.data.session.token"]), db)

    assert result.exit_code == 0, result.output
    tokens = _issued_tokens(canary_api)
    assert tokens, "the API issued no token: nothing was searched"
    stored = _file_bytes(db)
    for token in tokens:
        assert token.encode() not in stored
        assert token not in result.output
    assert b'"token":"***"' in stored


def test_without_secrets_a_custom_session_token_is_stored(
    canary_api: DemoAPI, tmp_path: Path
) -> None:
    """Control: the same plan without ``secrets:`` stores the token (the search sees it)."""
    canary_api.reset()
    db = tmp_path / "no-secrets.duckdb"

    result = _run(tmp_path, _login_plan(canary_api.url, None), db)

    assert result.exit_code == 0, result.output
    stored = _file_bytes(db)
    assert any(token.encode() in stored for token in _issued_tokens(canary_api))


def test_httpx_request_logs_hold_no_secret(
    canary_api: DemoAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    canary_api.reset()

    _run(tmp_path, canary_plan(canary_api.url, secret=True), tmp_path / "log.duckdb")

    logged = _log_text(caplog, lambda name: name.startswith("httpx"))
    assert b"HTTP Request" in logged  # httpx did log the requests
    assert API_KEY.encode() not in logged
    assert CLIENT_SECRET.encode() not in logged
