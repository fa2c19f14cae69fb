"""Exports of a captured run: plan JSON, HAR 1.2, curl commands and JSON Lines.

One run against the real demo API feeds every test: offset pagination with a
fanout, a JSON POST and a form POST carrying an ``{"env": …}`` secret in
headers, query and body, a binary response, and a request that gets no
response at all (connection refused).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import jsonschema
import pytest

import orchestra
from orchestra.capture import (
    CaptureStore,
    ExchangeFilter,
    RunNotFound,
    _export,
    export_curl,
    export_har,
    export_jsonl,
    export_plan,
)

SECRET_ENV = "ORCH_EXPORT_TEST_KEY"
SECRET = "exp0rt-s3cret-4c9d2e"
NOTE = 'it\'s $HOME `pwd` "quoted" \\ back!slash'


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_plan(base_url: str) -> dict[str, Any]:
    return {
        "key": "export-demo",
        "config": {"base_url": base_url, "key": {"env": SECRET_ENV}, "dead_port": _dead_port()},
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
                        "extract": {"description": "response.body.detail.description"},
                    }
                ],
            },
            {
                "name": "echo",
                "method": "POST",
                "url": "{config.base_url}/echo",
                "headers": {"X-Api-Key": "{config.key}", "X-Note": NOTE},
                "params": {"api_key": "{config.key}", "q": "a b&c"},
                "body": {"key": "{config.key}", "n": 1},
            },
            {
                "name": "form",
                "method": "POST",
                "url": "{config.base_url}/echo/form",
                "form": {"name": "x y", "password": "{config.key}"},
            },
            {"name": "binary", "url": "{config.base_url}/binary"},
            {
                "name": "flaky",
                "url": "{config.base_url}/flaky/export",
                "params": {"fail": 1},
                "retry": {"base_seconds": 0.01},
            },
            {
                "name": "unreachable",
                "url": "http://127.0.0.1:{config.dead_port}/nothing",
                "retry": {"max_attempts": 1},
                "on_error": "continue",
            },
        ],
    }


@pytest.fixture(scope="module")
def captured(demo_api_server, tmp_path_factory) -> tuple[CaptureStore, str, dict[str, Any]]:
    """(store, run id, plan) of one captured run."""
    demo_api_server.reset()
    db = tmp_path_factory.mktemp("export") / "capture.duckdb"
    plan = demo_plan(demo_api_server.url)
    result = orchestra.run(plan, db=db, environ={**os.environ, SECRET_ENV: SECRET})
    assert result.status == "failed"  # only because of the unreachable step
    assert result.steps["echo"].statuses == {"ok": 1}
    assert result.steps["unreachable"].statuses == {"failed": 1}
    return CaptureStore(db), result.run_id, plan


# --- plan ------------------------------------------------------------------------------------


def test_plan_export_is_the_plan_that_ran_with_secrets_as_references(captured) -> None:
    store, run_id, plan = captured

    exported = export_plan(store, run_id)

    assert exported == plan
    assert exported["config"]["key"] == {"env": SECRET_ENV}
    assert SECRET not in json.dumps(exported)
    assert export_plan(store) == plan  # default: the newest run
    assert export_plan(store, run_id[:12]) == plan  # a unique prefix


def test_an_unknown_run_is_a_clear_error(captured) -> None:
    store, _, _ = captured
    with pytest.raises(RunNotFound, match="no run 'nope'"):
        export_har(store, "nope")


# --- HAR 1.2 ---------------------------------------------------------------------------------

# The fields HAR 1.2 requires (http://www.softwareishard.com/blog/har-12-spec/), with the
# optional ones it defines; anything else must be a custom field starting with "_".
_CUSTOM = {"^_": {}}
_ISO_8601 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
_NAME_VALUE = {
    "type": "object",
    "required": ["name", "value"],
    "properties": {"name": {"type": "string"}, "value": {"type": "string"}, "comment": {}},
    "patternProperties": _CUSTOM,
    "additionalProperties": False,
}
_NAME_VALUES = {"type": "array", "items": _NAME_VALUE}
_COOKIES = {"type": "array", "items": {"type": "object", "required": ["name", "value"]}}
_TIMING = {"type": "number", "minimum": -1}
HAR_1_2_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["log"],
    "additionalProperties": False,
    "properties": {
        "log": {
            "type": "object",
            "required": ["version", "creator", "entries"],
            "properties": {
                "version": {"const": "1.2"},
                "creator": {
                    "type": "object",
                    "required": ["name", "version"],
                    "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
                },
                "browser": {"type": "object"},
                "comment": {"type": "string"},
                "pages": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["startedDateTime", "id", "title", "pageTimings"],
                        "properties": {
                            "startedDateTime": {"type": "string", "pattern": _ISO_8601},
                            "id": {"type": "string"},
                            "title": {"type": "string"},
                            "pageTimings": {
                                "type": "object",
                                "properties": {"onContentLoad": _TIMING, "onLoad": _TIMING},
                            },
                            "comment": {"type": "string"},
                        },
                        "patternProperties": _CUSTOM,
                        "additionalProperties": False,
                    },
                },
                "entries": {"type": "array", "items": {"$ref": "#/$defs/entry"}},
            },
            "patternProperties": _CUSTOM,
            "additionalProperties": False,
        }
    },
    "$defs": {
        "entry": {
            "type": "object",
            "required": [
                "startedDateTime",
                "time",
                "request",
                "response",
                "cache",
                "timings",
            ],
            "properties": {
                "pageref": {"type": "string"},
                "startedDateTime": {"type": "string", "pattern": _ISO_8601},
                "time": {"type": "number", "minimum": 0},
                "request": {"$ref": "#/$defs/request"},
                "response": {"$ref": "#/$defs/response"},
                "cache": {"type": "object"},
                "timings": {
                    "type": "object",
                    "required": ["send", "wait", "receive"],
                    "properties": {
                        "blocked": _TIMING,
                        "dns": _TIMING,
                        "connect": _TIMING,
                        "ssl": _TIMING,
                        "send": {"type": "number", "minimum": 0},
                        "wait": {"type": "number", "minimum": 0},
                        "receive": {"type": "number", "minimum": 0},
                        "comment": {"type": "string"},
                    },
                    "patternProperties": _CUSTOM,
                    "additionalProperties": False,
                },
                "serverIPAddress": {"type": "string"},
                "connection": {"type": "string"},
                "comment": {"type": "string"},
            },
            "patternProperties": _CUSTOM,
            "additionalProperties": False,
        },
        "request": {
            "type": "object",
            "required": [
                "method",
                "url",
                "httpVersion",
                "cookies",
                "headers",
                "queryString",
                "headersSize",
                "bodySize",
            ],
            "properties": {
                "method": {"type": "string"},
                "url": {"type": "string"},
                "httpVersion": {"type": "string"},
                "cookies": _COOKIES,
                "headers": _NAME_VALUES,
                "queryString": _NAME_VALUES,
                "postData": {
                    "type": "object",
                    "required": ["mimeType"],
                    "anyOf": [{"required": ["text"]}, {"required": ["params"]}],
                    "properties": {
                        "mimeType": {"type": "string"},
                        "text": {"type": "string"},
                        "params": {"type": "array"},
                        "comment": {"type": "string"},
                    },
                    "patternProperties": _CUSTOM,
                    "additionalProperties": False,
                },
                "headersSize": {"type": "integer"},
                "bodySize": {"type": "integer"},
                "comment": {"type": "string"},
            },
            "patternProperties": _CUSTOM,
            "additionalProperties": False,
        },
        "response": {
            "type": "object",
            "required": [
                "status",
                "statusText",
                "httpVersion",
                "cookies",
                "headers",
                "content",
                "redirectURL",
                "headersSize",
                "bodySize",
            ],
            "properties": {
                "status": {"type": "integer"},
                "statusText": {"type": "string"},
                "httpVersion": {"type": "string"},
                "cookies": _COOKIES,
                "headers": _NAME_VALUES,
                "content": {
                    "type": "object",
                    "required": ["size", "mimeType"],
                    "properties": {
                        "size": {"type": "integer"},
                        "compression": {"type": "integer"},
                        "mimeType": {"type": "string"},
                        "text": {"type": "string"},
                        "encoding": {"type": "string"},
                        "comment": {"type": "string"},
                    },
                    "patternProperties": _CUSTOM,
                    "additionalProperties": False,
                },
                "redirectURL": {"type": "string"},
                "headersSize": {"type": "integer"},
                "bodySize": {"type": "integer"},
                "comment": {"type": "string"},
            },
            "patternProperties": _CUSTOM,
            "additionalProperties": False,
        },
    },
}


def test_the_har_schema_rejects_what_har_1_2_forbids() -> None:
    """The schema is strict enough to matter: missing fields and stray names fail."""
    good = {
        "log": {
            "version": "1.2",
            "creator": {"name": "x", "version": "1"},
            "entries": [
                {
                    "startedDateTime": "2024-01-01T00:00:00.000Z",
                    "time": 1,
                    "request": {
                        "method": "GET",
                        "url": "http://h/",
                        "httpVersion": "HTTP/1.1",
                        "cookies": [],
                        "headers": [],
                        "queryString": [],
                        "headersSize": -1,
                        "bodySize": 0,
                    },
                    "response": {
                        "status": 200,
                        "statusText": "OK",
                        "httpVersion": "HTTP/1.1",
                        "cookies": [],
                        "headers": [],
                        "content": {"size": 0, "mimeType": ""},
                        "redirectURL": "",
                        "headersSize": -1,
                        "bodySize": 0,
                    },
                    "cache": {},
                    "timings": {"send": 0, "wait": 1, "receive": 0},
                }
            ],
        }
    }
    jsonschema.validate(good, HAR_1_2_SCHEMA)
    for breaking in (
        lambda h: h["log"].pop("creator"),
        lambda h: h["log"]["entries"][0]["request"].pop("queryString"),
        lambda h: h["log"]["entries"][0]["response"]["content"].pop("mimeType"),
        lambda h: h["log"]["entries"][0].update(orchestra={}),  # custom fields need "_"
        lambda h: h["log"]["entries"][0].update(startedDateTime="yesterday"),
        lambda h: h["log"]["entries"][0]["timings"].update(wait=-1),
    ):
        broken = json.loads(json.dumps(good))
        breaking(broken)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, HAR_1_2_SCHEMA)


def test_har_is_valid_har_1_2(captured) -> None:
    store, run_id, _ = captured

    har = export_har(store, run_id)

    jsonschema.validate(har, HAR_1_2_SCHEMA)
    text = json.dumps(har)  # plain JSON, as a .har file holds it
    assert json.loads(text) == har
    log = har["log"]
    assert log["creator"] == {"name": "Orchestra", "version": orchestra.__version__}
    assert [page["id"] for page in log["pages"]] == [run_id]
    exchanges = store.exchanges(run_id)
    assert len(log["entries"]) == len(exchanges) == 2 + 4 + 3 + 2 + 1  # pages, details, rest
    assert exchanges.first_byte_ms.notna().sum() == len(exchanges) - 1  # all but unreachable
    rows = zip(log["entries"], exchanges.elapsed_ms, exchanges.first_byte_ms, strict=True)
    for entry, elapsed, first_byte in rows:
        assert entry["pageref"] == run_id
        dt.datetime.fromisoformat(entry["startedDateTime"])
        if elapsed == elapsed:  # not NaN
            timings = entry["timings"]
            # waiting until the first byte, receiving the body after it: the whole exchange
            told = first_byte == first_byte  # the transport told when the first byte came
            assert timings["wait"] == pytest.approx(first_byte if told else elapsed, abs=0.001)
            assert timings["wait"] + timings["receive"] == pytest.approx(elapsed, abs=0.002)
            assert entry["time"] == pytest.approx(elapsed, abs=0.001)


def _entries(har: dict[str, Any], step_path: str) -> list[dict[str, Any]]:
    return [e for e in har["log"]["entries"] if e["_orchestra"]["step_path"] == step_path]


def test_har_entries_carry_orchestra_fields_request_and_response(captured) -> None:
    store, run_id, _ = captured
    har = export_har(store, run_id)

    details = _entries(har, "items.detail")
    assert len(details) == 4
    assert sorted((e["_orchestra"]["item_index"], e["request"]["url"].rsplit("/", 1)[1])
                  for e in details) == [(0, "1"), (0, "3"), (1, "2"), (1, "4")]  # fmt: skip
    assert {e["_orchestra"]["attempt"] for e in details} == {1}
    pages = _entries(har, "items")
    assert [e["_orchestra"]["page"] for e in pages] == [1, 2]
    assert pages[1]["request"]["queryString"] == [
        {"name": "limit", "value": "2"},
        {"name": "offset", "value": "2"},
    ]
    assert pages[0]["response"]["status"] == 200
    assert pages[0]["response"]["statusText"] == "OK"
    assert json.loads(pages[0]["response"]["content"]["text"])["offset"] == 0
    assert pages[0]["response"]["content"]["mimeType"] == "application/json"
    assert "postData" not in pages[0]["request"]

    (echo,) = _entries(har, "echo")
    request = echo["request"]
    assert request["method"] == "POST"
    assert request["postData"]["mimeType"] == "application/json"
    assert json.loads(request["postData"]["text"]) == {"key": f"${{{SECRET_ENV}}}", "n": 1}
    headers = {h["name"]: h["value"] for h in request["headers"]}
    assert headers["x-api-key"] == f"${{{SECRET_ENV}}}"
    assert headers["x-note"] == NOTE
    assert {"name": "q", "value": "a b&c"} in request["queryString"]

    retried = [(e["_orchestra"]["attempt"], e["response"]["status"], e["response"]["statusText"])
               for e in _entries(har, "flaky")]  # fmt: skip
    assert retried == [(1, 503, "Service Unavailable"), (2, 200, "OK")]

    (binary,) = _entries(har, "binary")
    content = binary["response"]["content"]
    assert content["encoding"] == "base64"
    import base64

    assert len(base64.b64decode(content["text"])) == content["size"] > 0


def test_an_exchange_without_response_has_status_0_and_the_error(captured) -> None:
    store, run_id, _ = captured
    (entry,) = _entries(export_har(store, run_id), "unreachable")
    response = entry["response"]
    assert response["status"] == 0
    assert response["_error"]
    assert "connect" in response["_error"].lower() or "refused" in response["_error"].lower()
    assert entry["timings"]["wait"] >= 0


def test_har_never_holds_the_secret(captured) -> None:
    store, run_id, _ = captured
    text = json.dumps(export_har(store, run_id))
    assert SECRET not in text
    assert f"${{{SECRET_ENV}}}" in text


# --- curl ------------------------------------------------------------------------------------


def _commands(script: str) -> list[tuple[str, str]]:
    """(comment, command) per exchange of an exported curl script."""
    blocks = script.strip().split("\n\n")[1:]  # the first block is the header
    out = []
    for block in blocks:
        comments = [line for line in block.splitlines() if line.startswith("#")]
        command = "\n".join(line for line in block.splitlines() if not line.startswith("#"))
        out.append((comments[0], command))
    return out


def test_curl_has_one_commented_command_per_exchange(captured) -> None:
    store, run_id, _ = captured

    script = export_curl(store, run_id)

    commands = _commands(script)
    assert len(commands) == len(store.exchanges(run_id))
    comment_pattern = re.compile(r"^# [\w.]+ page \d+ attempt \d+ -> (\d{3}|no response.*)")
    for comment, command in commands:
        assert comment_pattern.match(comment), comment
        words = shlex.split(command.replace("\\\n", " "))
        assert words[0] in ("curl", "printf")
        assert "-X" in words
        names = [words[i + 1].split(":")[0].lower() for i, w in enumerate(words) if w == "-H"]
        assert not {"connection", "content-length", "host", "transfer-encoding"} & set(names)
    assert commands[0][0] == "# items page 1 attempt 1 -> 200"
    assert any(c.startswith("# items.detail page 1 attempt 1 -> 200 (item 1)") for c, _ in commands)
    assert "# flaky page 1 attempt 1 -> 503" in [c for c, _ in commands]
    assert "# flaky page 1 attempt 2 -> 200" in [c for c, _ in commands]
    assert any("unreachable" in c and "no response" in c for c, _ in commands)
    assert SECRET not in script


@pytest.mark.parametrize(
    ("filters", "step_path", "where", "order"),
    [
        (ExchangeFilter(status_class="5xx"), None, "status_code // 100 = 5", "exchange_id"),
        (ExchangeFilter(status_class="none"), None, "status_code IS NULL", "exchange_id"),
        (ExchangeFilter(status_class="2xx", url="/ITEMS/", sort="-exchange_id"), None,
         "status_code // 100 = 2 AND url LIKE '%/items/%'", "exchange_id DESC"),
        (ExchangeFilter(status_class="2xx", attempt=1), "flaky", "false", "exchange_id"),
        (ExchangeFilter(status_class="2xx", sort="-attempt"), "flaky",
         "status_code // 100 = 2 AND step_path = 'flaky'", "exchange_id"),
    ],
)  # fmt: skip
def test_curl_of_a_filtered_list_has_exactly_the_lists_exchanges(
    captured, filters: ExchangeFilter, step_path: str | None, where: str, order: str
) -> None:
    """The dashboard's "curl · exchange list": the list's filter and sort, no more, no less."""
    store, run_id, _ = captured
    with duckdb.connect(store.path, read_only=True) as con:  # plain SQL on the file
        cursor = con.execute(
            f"SELECT * FROM exchanges WHERE run_id = ? AND {where} ORDER BY {order}", [run_id]
        )
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    expected = [_export.curl_comment(row) for row in rows]
    with store.read() as reader:  # what the exchange list shows, page by page
        page, total = reader.exchange_page(run_id, step_path, limit=500, filters=filters)
    assert total == len(expected)
    assert page["exchange_id"].tolist() == [row["exchange_id"] for row in rows]
    script = export_curl(store, run_id, step_path=step_path, filters=filters)
    assert [comment for comment, _ in _commands(script)] == expected
    noun = "exchange" if total == 1 else "exchanges"
    assert script.splitlines()[0].endswith(f": {total} {noun}")
    assert SECRET not in script


def test_curl_leaves_env_references_for_the_shell_and_explains_masks(captured) -> None:
    store, run_id, _ = captured
    script = export_curl(store, run_id)
    by_step = {comment.split()[1]: command for comment, command in _commands(script)}

    echo = by_step["echo"]
    reference = f"${{{SECRET_ENV}}}"
    assert f'"x-api-key: {reference}"' in echo  # double quotes: the shell expands it
    assert f"api_key={reference}" in echo
    assert "--data-raw" in echo
    assert "# ${NAME} are secrets from environment variables" in script
    form_block = next(b for b in script.split("\n\n") if b.startswith("# form "))
    assert "password=%2A%2A%2A" in form_block or "password=***" in form_block
    assert "cannot be revealed" in form_block


def _bash(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def _argv_of(command: str, env: dict[str, str]) -> list[str]:
    """The argv bash hands to curl, with ``curl`` replaced by a Python argv printer."""
    printer = f"{shlex.quote(sys.executable)} -c 'import json,sys; print(json.dumps(sys.argv[1:]))'"
    result = _bash(f'curl() {{ {printer} "$@"; }}\n{command}', env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_exported_curl_expands_the_reference_and_nothing_else(captured) -> None:
    """Shell quoting, checked without the network: the argv curl would get."""
    store, run_id, _ = captured
    echo = next(cmd for comment, cmd in _commands(export_curl(store, run_id))
                if comment.startswith("# echo "))  # fmt: skip
    env = {"PATH": os.environ["PATH"], "HOME": "/should/not/expand", SECRET_ENV: SECRET}

    argv = _argv_of(echo, env)

    assert f"x-api-key: {SECRET}" in argv
    assert f"x-note: {NOTE}" in argv  # $HOME, `pwd`, quotes, backslash and ! stay literal
    url = argv[argv.index("-X") + 2]
    assert url.endswith(f"/echo?api_key={SECRET}&q=a+b%26c")
    assert argv[argv.index("--data-raw") + 1] == json.dumps(
        {"key": SECRET, "n": 1}, separators=(",", ":")
    )


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_exported_curl_runs_against_the_demo_api(captured, demo_api) -> None:
    store, run_id, _ = captured
    echo = next(cmd for comment, cmd in _commands(export_curl(store, run_id))
                if comment.startswith("# echo "))  # fmt: skip
    echo = echo.replace(export_plan(store, run_id)["config"]["base_url"], demo_api.url)
    env = {"PATH": os.environ["PATH"], SECRET_ENV: SECRET}

    result = _bash(echo + " --silent --show-error --fail", env)

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["method"] == "POST"
    assert answer["headers"]["x-api-key"] == SECRET  # ${NAME} expanded from the environment
    assert answer["headers"]["x-note"] == NOTE
    assert answer["query"] == {"api_key": SECRET, "q": "a b&c"}
    assert answer["body"] == {"key": SECRET, "n": 1}


def _exchange(**fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "method": "GET", "url": "http://127.0.0.1:9/x", "request_headers": "{}",
        "request_body": None, "status_code": 200, "error": None, "step_path": "s",
        "page": 1, "attempt": 1, "item_index": None,
    }  # fmt: skip
    row.update(fields)
    return row


def test_curl_pipes_a_binary_request_body_through_base64() -> None:
    exchange = _exchange(
        method="PUT",
        request_headers=json.dumps({"content-type": "application/octet-stream"}),
        request_body="AAEC/w==",
    )

    command = _export.curl_command(exchange, None)

    assert command.startswith("printf %s AAEC/w== | base64 -d | curl -X PUT ")
    assert command.endswith("--data-binary @-")
    reader = f"{shlex.quote(sys.executable)} -c 'import sys; print(sys.stdin.buffer.read().hex())'"
    result = _bash(f"curl() {{ {reader}; }}\n{command}", {"PATH": os.environ["PATH"]})
    assert result.stdout.strip() == "000102ff", result.stderr


def test_curl_head_requests_and_empty_headers() -> None:
    exchange = _exchange(method="HEAD", request_headers=json.dumps({"x-empty": "", "a": "b"}))

    command = _export.curl_command(exchange, None)

    assert command.splitlines()[0] == "curl --head http://127.0.0.1:9/x \\"
    assert "-H 'x-empty;'" in command
    assert "-H 'a: b'" in command


def test_reveal_secrets_puts_env_values_back_encoded_for_their_place(captured) -> None:
    store, run_id, _ = captured
    value = 'v a&l"ue'

    script = export_curl(store, run_id, reveal_secrets=True, environ={SECRET_ENV: value})

    assert f"${{{SECRET_ENV}}}" not in script
    assert "revealed" in script.splitlines()[1]
    echo = next(cmd for comment, cmd in _commands(script) if comment.startswith("# echo "))
    argv = _argv_of(echo, {"PATH": os.environ["PATH"]})
    assert f"x-api-key: {value}" in argv
    assert "api_key=v%20a%26l%22ue&" in argv[argv.index("-X") + 2]
    assert json.loads(argv[argv.index("--data-raw") + 1]) == {"key": value, "n": 1}
    assert "cannot be revealed" in script  # the form's password was masked by name: ***


def test_reveal_secrets_keeps_a_reference_whose_variable_is_unset(captured) -> None:
    store, run_id, _ = captured

    script = export_curl(store, run_id, reveal_secrets=True, environ={})

    assert f"# warning: ${SECRET_ENV} is not set in the environment" in script
    assert f'"x-api-key: ${{{SECRET_ENV}}}"' in script


def test_reveal_secrets_reads_os_environ_by_default(captured, monkeypatch) -> None:
    store, run_id, _ = captured
    monkeypatch.setenv(SECRET_ENV, "from-os-environ")
    assert "x-api-key: from-os-environ" in export_curl(store, run_id, reveal_secrets=True)


# --- JSON Lines ------------------------------------------------------------------------------


def test_jsonl_records_are_the_emitted_values_with_their_place(captured) -> None:
    store, run_id, _ = captured

    lines = list(export_jsonl(store, run_id))

    rows = [json.loads(line) for line in lines]
    assert all("\n" not in line for line in lines)
    assert [row["data"] for row in rows] == store.record_values(run_id)
    assert [row["seq"] for row in rows] == list(range(1, len(rows) + 1))
    details = [row for row in rows if row["step_path"] == "items.detail"]
    assert len(details) == 4
    assert {row["item_index"] for row in details} == {0, 1}
    assert details[0]["data"]["detail"] == {"description": "Item 1 description"}
    assert set(rows[0]) == {"seq", "step_path", "page", "item_index", "data"}


def test_jsonl_exchanges_are_the_rows_with_headers_as_objects(captured) -> None:
    store, run_id, _ = captured

    rows = [json.loads(line) for line in export_jsonl(store, run_id, table="exchanges")]

    frame = store.exchanges(run_id)
    assert [row["exchange_id"] for row in rows] == list(frame.exchange_id)
    assert set(rows[0]) == set(frame.columns)
    assert isinstance(rows[0]["request_headers"], dict)
    dt.datetime.fromisoformat(rows[0]["started_at"])
    unreachable = next(row for row in rows if row["step_path"] == "unreachable")
    assert unreachable["status_code"] is None and unreachable["error"]
    assert SECRET not in json.dumps(rows)


@pytest.mark.parametrize("table", ["steps", "errors", "events"])
def test_jsonl_steps_errors_and_events(captured, table: str) -> None:
    store, run_id, _ = captured
    rows = [json.loads(line) for line in export_jsonl(store, run_id, table=table)]
    count = store.sql(f"SELECT count(*) FROM {table} WHERE run_id = ?", [run_id]).iloc[0, 0]
    assert len(rows) == count > 0
    assert {row["run_id"] for row in rows} == {run_id}


def test_jsonl_reads_in_chunks_without_losing_rows(captured, monkeypatch) -> None:
    store, run_id, _ = captured
    everything = list(export_jsonl(store, run_id, table="exchanges"))
    monkeypatch.setattr(_export, "_CHUNK", 3)
    assert list(export_jsonl(store, run_id, table="exchanges")) == everything
    assert len(everything) > 3


def test_jsonl_rejects_an_unknown_table(captured) -> None:
    store, run_id, _ = captured
    with pytest.raises(ValueError, match="table must be one of"):
        list(export_jsonl(store, run_id, table="plans"))


def test_exports_write_to_files_as_the_cli_does(captured, tmp_path: Path) -> None:
    """A HAR file round-trips through json and stays valid."""
    store, run_id, _ = captured
    path = tmp_path / "run.har"
    path.write_text(json.dumps(export_har(store, run_id)), encoding="utf-8")
    jsonschema.validate(json.loads(path.read_text(encoding="utf-8")), HAR_1_2_SCHEMA)
