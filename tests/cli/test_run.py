"""``orchestra run`` end to end against a real HTTP server on 127.0.0.1.

The server runs in a thread of the test process: pages of items, item
details, an echo endpoint that reflects the ``Authorization`` header and the
query (so a secret comes back in response bodies), error statuses and a slow
endpoint for the Ctrl-C test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner, Result

from orchestra.cli import main

REPO = Path(__file__).resolve().parents[2]
CANARY = "canary-7f3a9c1e-do-not-print"
CANARY_ENV = "ORCH_CLI_TEST_TOKEN"
ITEMS = [{"id": i, "name": f"item-{i}"} for i in range(1, 7)]  # 3 pages of 2
PAGE_SIZE = 2


class ApiServer(ThreadingHTTPServer):
    """The test API: remembers every request; ``/slow`` waits for ``release``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict[str, Any]] = []
        self.slow_started = threading.Event()
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: ApiServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.requests.append({"path": parts.path, "query": query, "headers": headers})
        segments = parts.path.strip("/").split("/")
        if parts.path == "/items":
            page = int(query.get("page", "1"))
            chunk = ITEMS[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
            more = page * PAGE_SIZE < len(ITEMS)
            self._send(200, {"items": chunk, "next_page": page + 1 if more else None})
        elif segments[0] == "items" and len(segments) == 2:
            self._send(200, {"id": int(segments[1]), "price": int(segments[1]) * 10})
        elif parts.path == "/echo":
            self._send(200, {"query": query, "authorization": headers.get("authorization")})
        elif parts.path == "/count":
            self._send(200, {"count": 2})
        elif segments[0] == "status":
            self._send(int(segments[1]), {"error": "as requested", "query": query})
        elif parts.path == "/slow":
            self.server.slow_started.set()
            self.server.release.wait(30)
            self._send(200, {"slow": True})
        else:
            self._send(404, {"error": "no such path"})


@pytest.fixture
def api() -> Iterator[ApiServer]:
    server = ApiServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


def write_plan(directory: Path, plan: dict[str, Any], name: str = "plan.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(plan), encoding="utf-8")
    return path


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def items_plan() -> dict[str, Any]:
    """Paginated items (3 pages) with a fanout to each item's detail (6 items)."""
    return {
        "key": "cli-items",
        "config": {"base_url": "http://127.0.0.1:9"},
        "steps": [
            {
                "name": "items",
                "url": "{config.base_url}/items",
                "params": {"page": "{context.page}"},
                "while": "response.body.next_page != null",
                "context_updates": {"page": "response.body.next_page"},
                "sub_steps": [
                    {
                        "name": "detail",
                        "iterate_over": "response.body.items[*]",
                        "concurrency": 3,
                        "url": "{config.base_url}/items/{item.id}",
                        "extract": {"price": "response.body.price"},
                    }
                ],
            }
        ],
    }


def count_plan(expected: int) -> dict[str, Any]:
    """Two steps; the second asserts ``count == expected`` (the server answers 2)."""
    return {
        "key": "cli-expect",
        "steps": [
            {"name": "first", "url": "{config.base_url}/items"},
            {
                "name": "count",
                "url": "{config.base_url}/count",
                "expect": {"status": [200], "that": [f"response.body.count == `{expected}`"]},
            },
        ],
    }


def summary_facts(stdout: str) -> dict[str, str]:
    """The ``label: value`` lines at the top of the summary."""
    facts = {}
    for line in stdout.split("\n\n")[0].splitlines():
        label, _, value = line.partition(":")
        facts[label] = value.strip()
    return facts


def parse_junit(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    return suites[0]


# --- exit codes and summary --------------------------------------------------------------


def test_successful_run_exits_0_and_prints_the_summary(api: ApiServer, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, items_plan())

    result = invoke(["run", str(plan), "--config", f"base_url={api.url}"])

    assert result.exit_code == 0, result.output
    out = result.stdout
    facts = summary_facts(out)
    assert facts["status"] == "succeeded"
    assert facts["requests"] == "9"  # 3 pages + 6 details
    assert facts["responses"] == "200: 9"
    assert facts["records"] == "9"
    assert facts["retries"] == "0"
    assert facts["plan"] == "cli-items"
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert lines["items"][1:5] == ["1", "ok", "3", "3"]  # executions, status, pages, records
    assert lines["items.detail"][1:5] == ["6", "ok", "6", "6"]
    assert len(api.requests) == 9


def test_failed_expectation_exits_1_and_lists_the_assertion(api: ApiServer, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, count_plan(expected=3))

    result = invoke(["run", str(plan), "-c", f"base_url={api.url}"])

    assert result.exit_code == 1, result.output
    assert "failed" in result.stdout
    assert "ExpectationFailed in step count" in result.stdout
    assert "failed assertions (1):" in result.stdout
    assert "count: 'response.body.count == `3`' is not true" in result.stdout


def test_passing_expectation_exits_0(api: ApiServer, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, count_plan(expected=2))

    result = invoke(["run", str(plan), "-c", f"base_url={api.url}"])

    assert result.exit_code == 0, result.output
    assert "failed assertions" not in result.stdout


def test_http_error_exits_1_with_error_type_and_step(api: ApiServer, tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path,
        {
            "key": "cli-error",
            "steps": [
                {
                    "name": "broken",
                    "url": "{config.base_url}/status/500",
                    "retry": {"max_attempts": 1},
                }
            ],
        },
    )

    result = invoke(["run", str(plan), "-c", f"base_url={api.url}"])

    assert result.exit_code == 1
    assert "error: HTTPStatusError in step broken" in result.stdout
    assert "500" in result.stdout


def test_invalid_plan_exits_2_naming_path_field_and_fix(tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path, {"key": "bad", "steps": [{"name": "a", "url": "http://x", "metod": "GET"}]}
    )

    result = invoke(["run", str(plan)])

    assert result.exit_code == 2
    assert "steps[0].metod" in result.stderr
    assert "did you mean 'method'" in result.stderr
    assert str(plan) in result.stderr
    assert result.stdout == ""


def test_missing_plan_file_exits_2(tmp_path: Path) -> None:
    result = invoke(["run", str(tmp_path / "nope.json")])

    assert result.exit_code == 2
    assert "nope.json" in result.stderr and "does not exist" in result.stderr


def test_unknown_option_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "plan.json", "--no-such-flag"])

    assert result.exit_code == 2
    assert "No such option" in result.stderr


def test_bad_config_flag_exits_2(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, count_plan(expected=2))  # valid: the plan is checked first

    result = invoke(["run", str(plan), "--config", "no_equals_sign"])

    assert result.exit_code == 2
    assert "expected KEY=VALUE" in result.stderr


def test_unset_env_reference_exits_2_naming_the_variable(api: ApiServer, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, count_plan(expected=2))
    env = {"ORCH_CLI_SURELY_UNSET": None}

    result = CliRunner().invoke(
        main,
        [
            "run",
            str(plan),
            "-c",
            f"base_url={api.url}",
            "-c",
            'key={"env": "ORCH_CLI_SURELY_UNSET"}',
        ],
        env=env,  # type: ignore[arg-type]
    )

    assert result.exit_code == 2
    assert "ORCH_CLI_SURELY_UNSET" in result.stderr
    assert api.requests == []


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"type": "bearer"}', "token"),
        ('{"type": "kerberos", "token": "x"}', "--auth"),
        ('{"type": "bearer", "token": "{config.base_url"}', "auth.token"),  # template syntax
    ],
)
def test_bad_auth_exits_2(api: ApiServer, tmp_path: Path, auth: str, message: str) -> None:
    plan = write_plan(tmp_path, count_plan(expected=2))

    result = invoke(["run", str(plan), "-c", f"base_url={api.url}", "--auth", auth])

    assert result.exit_code == 2
    assert message in result.stderr
    assert api.requests == []


def test_quiet_prints_nothing_on_success_and_one_line_on_failure(
    api: ApiServer, tmp_path: Path
) -> None:
    passing = write_plan(tmp_path, count_plan(expected=2), "pass.json")
    failing = write_plan(tmp_path, count_plan(expected=5), "fail.json")

    ok = invoke(["run", str(passing), "-c", f"base_url={api.url}", "--quiet"])
    bad = invoke(["run", str(failing), "-c", f"base_url={api.url}", "-q"])

    assert (ok.exit_code, ok.stdout, ok.stderr) == (0, "", "")
    assert bad.exit_code == 1
    assert bad.stdout == ""
    assert "failed: ExpectationFailed in step count" in bad.stderr


# --- config -------------------------------------------------------------------------------


def config_plan() -> dict[str, Any]:
    """A plan whose expectations check the config types the engine received."""
    return {
        "key": "cli-config",
        "config": {"base_url": "http://127.0.0.1:9", "page": {"size": 10, "kept": "yes"}},
        "steps": [
            {
                "name": "echo",
                "url": "{config.base_url}/echo",
                "params": {"size": "{config.page.size}", "name": "{config.name}"},
                "expect": {
                    "that": [
                        "config.page.size == `2`",
                        "config.page.kept == 'yes'",
                        "config.flag == `true`",
                        'config.limits == {"max": `3`}',
                        "config.name == 'plain text'",
                    ]
                },
            }
        ],
    }


def test_config_values_parse_as_json_with_dotted_keys(api: ApiServer, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, config_plan())

    result = invoke(
        [
            "run",
            str(plan),
            "--config",
            f"base_url={api.url}",
            "--config",
            "page.size=2",
            "--config",
            "flag=true",
            "--config",
            'limits={"max": 3}',
            "--config",
            "name=plain text",
        ]
    )

    assert result.exit_code == 0, result.output
    assert api.requests[0]["query"] == {"size": "2", "name": "plain text"}


def test_config_types_are_checked_by_the_plan(api: ApiServer, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, config_plan())

    # "2" as a JSON string is not the number 2: the expectation must fail
    result = invoke(
        [
            *("run", str(plan), "-c", f"base_url={api.url}", "-c", 'page.size="2"'),
            *("-c", "flag=true", "-c", 'limits={"max": 3}', "-c", "name=plain text"),
        ]
    )

    assert result.exit_code == 1
    assert "config.page.size == `2`" in result.stdout


def test_config_layers_env_then_file_then_flags(api: ApiServer, tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path,
        {
            "key": "cli-layers",
            "steps": [
                {
                    "name": "echo",
                    "url": "{config.base_url}/echo",
                    "params": {
                        "a": "{config.a}",
                        "b": "{config.b}",
                        "c": "{config.c}",
                        "d": "{config.nested.d}",
                    },
                }
            ],
        },
    )
    config_file = tmp_path / "config.yaml"
    config_file.write_text(f"base_url: {api.url}\nb: from-file\nc: from-file\n")
    env = {
        "ORCHESTRA_CONFIG_A": "from-env",
        "ORCHESTRA_CONFIG_B": "from-env",
        "ORCHESTRA_CONFIG_C": "from-env",
        "ORCHESTRA_CONFIG_NESTED__D": "42",
    }

    result = invoke(
        ["run", str(plan), "--config-file", str(config_file), "--config", "c=from-flag"], env=env
    )

    assert result.exit_code == 0, result.output
    assert api.requests[0]["query"] == {
        "a": "from-env",
        "b": "from-file",
        "c": "from-flag",
        "d": "42",
    }


def test_config_file_must_hold_an_object(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, count_plan(expected=2))
    config_file = tmp_path / "config.json"
    config_file.write_text("[1, 2, 3]")

    result = invoke(["run", str(plan), "--config-file", str(config_file)])

    assert result.exit_code == 2
    assert "expected an object" in result.stderr


# --- secrets ------------------------------------------------------------------------------


def leaky_plan() -> dict[str, Any]:
    """Every way a secret could travel to output: echoed bodies, URLs, errors, assertions."""
    return {
        "key": "cli-secrets",
        "steps": [
            {
                # seed-002 style: {auth.token} without an auth block; the server echoes it
                "name": "echo",
                "url": "{config.base_url}/echo",
                "headers": {"Authorization": "Bearer {auth.token}"},
                "params": {"q": "{config.token}", "plain": "x{config.token}x"},
                "sub_steps": [
                    {
                        "name": "again",
                        "url": "{config.base_url}/echo",
                        "params": {"from_parent": "{parent.body.authorization}"},
                    }
                ],
            },
            {
                "name": "assertion",
                "url": "{config.base_url}/echo",
                "params": {"q": "{config.token}"},
                "on_error": "continue",
                "expect": {"that": ["response.body.query.q == 'something else'"]},
            },
            {
                "name": "fails",
                "url": "{config.base_url}/status/500",
                "params": {"v": "{config.token}"},
                "retry": {"max_attempts": 1},
            },
        ],
    }


def test_env_secret_never_appears_in_any_output(api: ApiServer, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, leaky_plan())
    junit = tmp_path / "junit.xml"
    records = tmp_path / "records.jsonl"

    result = invoke(
        [
            "run",
            str(plan),
            "--config",
            f"base_url={api.url}",
            "--config",
            f'token={{"env": "{CANARY_ENV}"}}',
            "--auth",
            json.dumps({"type": "bearer", "token": {"env": CANARY_ENV}}),
            "--junit",
            str(junit),
            "--records",
            str(records),
            "--progress",
        ],
        env={CANARY_ENV: CANARY},
    )

    assert result.exit_code == 1, result.output
    # the secret really travelled: the server saw it in headers and query strings ...
    seen = json.dumps(api.requests)
    assert f"Bearer {CANARY}" in seen
    assert f"x{CANARY}x" in seen
    # ... and it came back in bodies, yet no output shows it
    outputs = {
        "stdout": result.stdout,
        "stderr": result.stderr,
        "junit": junit.read_text(),
        "records": records.read_text(),
    }
    for name, text in outputs.items():
        assert CANARY not in text, f"secret leaked into {name}"
    # env secrets are masked as a reference to their variable, never as the value
    assert "${ORCH_CLI_TEST_TOKEN}" in outputs["records"]
    assert "items" in outputs["stderr"] or "echo" in outputs["stderr"]  # progress was drawn
    assert "HTTPStatusError in step fails" in result.stdout


# --- JUnit --------------------------------------------------------------------------------


def test_junit_for_a_passing_run(api: ApiServer, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, count_plan(expected=2))
    junit = tmp_path / "reports" / "junit.xml"

    result = invoke(["run", str(plan), "-c", f"base_url={api.url}", "--junit", str(junit)])

    assert result.exit_code == 0, result.output
    suite = parse_junit(junit)
    assert suite.get("name") == "cli-expect"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "0", "0")
    assert suite.get("skipped") == "0"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["first", "count"]
    assert all(c.get("classname") == "cli-expect" for c in cases)
    assert all(len(list(c)) == 0 for c in cases)
    assert float(suite.get("time", "-1")) >= 0
    assert all(float(c.get("time", "-1")) >= 0 for c in cases)


def test_junit_for_failing_expectations(api: ApiServer, tmp_path: Path) -> None:
    plan_data = count_plan(expected=3)
    plan_data["steps"][1]["expect"]["status"] = [201]  # a second failing assertion
    plan = write_plan(tmp_path, plan_data)
    junit = tmp_path / "junit.xml"

    result = invoke(["run", str(plan), "-c", f"base_url={api.url}", "--junit", str(junit)])

    assert result.exit_code == 1
    suite = parse_junit(junit)
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    first, count = suite.findall("testcase")
    assert first.find("failure") is None
    failures = count.findall("failure")
    assert len(failures) == 2  # one per failed assertion, none extra for the step
    assert {f.get("type") for f in failures} == {"ExpectationFailed"}
    messages = sorted(f.get("message", "") for f in failures)
    assert "status 200 is not one of [201]" in messages[1]
    assert "response.body.count == `3`" in messages[0]


def test_junit_marks_steps_that_never_ran_as_skipped(api: ApiServer, tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path,
        {
            "key": "cli-skip",
            "steps": [
                {"name": "ok", "url": "{config.base_url}/count"},
                {
                    "name": "boom",
                    "url": "{config.base_url}/status/503",
                    "retry": {"max_attempts": 1},
                },
                {"name": "never", "url": "{config.base_url}/count"},
                {"name": "ignored", "url": "{config.base_url}/status/404"},
            ],
        },
    )
    junit = tmp_path / "junit.xml"

    result = invoke(["run", str(plan), "-c", f"base_url={api.url}", "--junit", str(junit)])

    assert result.exit_code == 1
    suite = parse_junit(junit)
    assert suite.get("tests") == "4"
    assert suite.get("failures") == "1"
    assert suite.get("skipped") == "2"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    failure = cases["boom"].find("failure")
    assert failure is not None and failure.get("type") == "HTTPStatusError"
    assert "503" in (failure.get("message") or "")
    assert cases["never"].find("skipped") is not None
    assert cases["ignored"].find("skipped") is not None
    assert len(list(cases["ok"])) == 0


def test_junit_ignored_responses_are_skipped(api: ApiServer, tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path,
        {
            "key": "cli-ignore",
            "steps": [{"name": "gone", "url": "{config.base_url}/status/404", "ignore_on": [404]}],
        },
    )
    junit = tmp_path / "junit.xml"

    result = invoke(["run", str(plan), "-c", f"base_url={api.url}", "--junit", str(junit)])

    assert result.exit_code == 0, result.output
    suite = parse_junit(junit)
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("1", "0", "1")


# --- records ------------------------------------------------------------------------------


def test_records_file_has_one_json_line_per_record(api: ApiServer, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, items_plan())
    records = tmp_path / "out" / "records.jsonl"

    result = invoke(["run", str(plan), "-c", f"base_url={api.url}", "--records", str(records)])

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in records.read_text().splitlines()]
    assert len(lines) == 9
    pages = [line for line in lines if line["step_path"] == "items"]
    details = [line for line in lines if line["step_path"] == "items.detail"]
    assert [p["page"] for p in pages] == [1, 2, 3]
    assert pages[0]["data"]["items"] == ITEMS[:2]
    assert sorted(d["item_index"] for d in details) == [0, 0, 0, 1, 1, 1]  # 2 per page
    assert sorted(d["data"]["id"] for d in details) == [1, 2, 3, 4, 5, 6]
    assert all(d["data"]["detail"] == {"price": d["data"]["id"] * 10} for d in details)
    assert {line["plan_key"] for line in lines} == {"cli-items"}
    assert len({line["run_id"] for line in lines}) == 1


# --- the real console entry ----------------------------------------------------------------


def python_m_orchestra(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestra", *args]


def _subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def test_python_dash_m_orchestra_runs_a_plan(api: ApiServer, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, items_plan())
    junit = tmp_path / "junit.xml"

    completed = subprocess.run(
        python_m_orchestra("run", str(plan), "-c", f"base_url={api.url}", "--junit", str(junit)),
        capture_output=True,
        text=True,
        timeout=60,
        env=_subprocess_env(),
        cwd=tmp_path,
    )

    assert completed.returncode == 0, completed.stderr
    assert "succeeded" in completed.stdout
    assert parse_junit(junit).get("tests") == "2"
    assert completed.stderr == ""  # stderr is not a terminal: no progress bars


def test_python_dash_m_orchestra_exit_code_2_for_invalid_plan(tmp_path: Path) -> None:
    plan = write_plan(tmp_path, {"key": "x", "stepz": []})

    completed = subprocess.run(
        python_m_orchestra("run", str(plan)),
        capture_output=True,
        text=True,
        timeout=60,
        env=_subprocess_env(),
    )

    assert completed.returncode == 2
    assert "stepz" in completed.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics differ on Windows")
def test_ctrl_c_interrupts_the_run_prints_summary_and_exits_130(
    api: ApiServer, tmp_path: Path
) -> None:
    plan = write_plan(
        tmp_path,
        {
            "key": "cli-slow",
            "steps": [
                {"name": "fast", "url": "{config.base_url}/count"},
                {"name": "slow", "url": "{config.base_url}/slow"},
                {"name": "after", "url": "{config.base_url}/count"},
            ],
        },
    )
    junit = tmp_path / "junit.xml"
    process = subprocess.Popen(
        python_m_orchestra("run", str(plan), "-c", f"base_url={api.url}", "--junit", str(junit)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_subprocess_env(),
    )
    try:
        assert api.slow_started.wait(30), "the run never reached the slow step"
        time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 130, stderr
    assert "interrupted" in stdout
    assert "Traceback" not in stderr
    suite = parse_junit(junit)
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["slow"].find("error") is not None
    assert cases["after"].find("skipped") is not None
    assert len(list(cases["fast"])) == 0
    assert suite.get("errors") == "1"
    assert [r["path"] for r in api.requests] == ["/count", "/slow"]


def test_an_unwritable_report_fails_a_passing_run_after_the_summary(
    api: ApiServer, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, count_plan(expected=2))
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")

    result = invoke(
        ["run", str(plan), "-c", f"base_url={api.url}", "--junit", str(blocker / "junit.xml")]
    )

    assert result.exit_code == 1
    assert summary_facts(result.stdout)["status"] == "succeeded"
    assert "--junit" in result.stderr and "cannot write it" in result.stderr
