"""``orchestra validate``, ``schema``, ``demo-api``, ``--version`` and ``--help``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import orchestra
from orchestra.cli import main

REPO = Path(__file__).resolve().parents[2]
VALID = {
    "key": "valid",
    "steps": [
        {
            "name": "list",
            "url": "http://h/list",
            "sub_steps": [{"iterate_over": "response.body", "url": "http://h/{item}"}],
        },
        {"name": "other", "url": "http://h/other"},
    ],
}


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"orchestra {orchestra.__version__}"


@pytest.mark.parametrize("command", [[], ["run"], ["validate"], ["schema"], ["demo-api"]])
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert "orchestra " in result.stdout.split("Examples:")[1]


def test_validate_valid_plans(tmp_path: Path) -> None:
    one = write(tmp_path / "one.json", VALID)
    two = write(tmp_path / "two.yaml", "key: y\nstep:\n  url: http://h/\n")

    result = CliRunner().invoke(main, ["validate", str(one), str(two)])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"ok  {one} (3 steps)", f"ok  {two} (1 step)"]


def test_validate_reports_each_invalid_plan_and_exits_2(tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", VALID)
    typo = write(
        tmp_path / "typo.json",
        {"key": "t", "steps": [{"name": "a", "url": "http://h", "metod": "GET"}]},
    )
    syntax = write(tmp_path / "syntax.json", {"key": "s", "step": {"url": "http://h/{item.[}"}})
    missing = tmp_path / "missing.json"

    result = CliRunner().invoke(main, ["validate", str(good), str(typo), str(syntax), str(missing)])

    assert result.exit_code == 2
    assert result.stdout == f"ok  {good} (3 steps)\n"
    err = result.stderr
    assert "steps[0].metod" in err and "did you mean 'method'" in err and str(typo) in err
    assert "step.url" in err and "^" in err  # the caret under the failing column
    assert str(missing) in err and "does not exist" in err
    assert "3 of 4 plans are invalid" in err


def test_validate_needs_a_plan() -> None:
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr


def test_schema_is_json_with_properties(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["schema"])

    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert "properties" in schema
    assert {"key", "steps", "step", "config"} <= set(schema["properties"])
    assert schema == orchestra.plan_json_schema()


def test_schema_output_file(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "plan.schema.json"

    result = CliRunner().invoke(main, ["schema", "--output", str(target)])

    assert result.exit_code == 0
    assert result.stdout == ""
    assert json.loads(target.read_text()) == orchestra.plan_json_schema()


def test_demo_api_passes_its_options_to_serve_forever(monkeypatch: pytest.MonkeyPatch) -> None:
    demo = pytest.importorskip("orchestra.demo")
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(demo, "serve_forever", lambda **kwargs: calls.append(kwargs))

    CliRunner().invoke(
        main, ["demo-api", "--host", "0.0.0.0", "--port", "9001", "--total-items", "7"]
    )
    CliRunner().invoke(main, ["demo-api"])

    assert calls == [
        {"host": "0.0.0.0", "port": 9001, "total_items": 7},
        {"host": "127.0.0.1", "port": 8765},
    ]


def test_demo_api_rejects_a_bad_port() -> None:
    result = CliRunner().invoke(main, ["demo-api", "--port", "70000"])
    assert result.exit_code == 2
    assert "--port" in result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics differ on Windows")
def test_demo_api_serves_until_ctrl_c() -> None:
    pytest.importorskip("orchestra.demo")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestra", "demo-api", "--port", "0", "--total-items", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, (
            process.stderr.read() if process.stderr else ""
        )
        url = line.rsplit(" ", 1)[1].strip()
        with urllib.request.urlopen(f"{url}/items?limit=10", timeout=10) as response:
            body = json.load(response)
        assert [item["id"] for item in body["items"]] == [1, 2, 3]
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert process.returncode == 0
