"""``orchestra import curl|har``: print a plan, which ``orchestra run`` then runs."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from orchestra.capture import CaptureStore
from orchestra.cli import main
from orchestra.demo import DemoAPI


def test_import_curl_then_run_the_plan(demo_api: DemoAPI, tmp_path: Path):
    command = (
        f"curl '{demo_api.url}/echo/users?limit=5' -H 'Authorization: Bearer tok-9' "
        """-H 'Content-Type: application/json' --data-raw '{"name": "ann"}'"""
    )
    plan_file = tmp_path / "users.yaml"
    args = ["import", "curl", command, "--name", "users", "--key", "users"]
    imported = CliRunner().invoke(main, [*args, "-o", str(plan_file)])
    assert imported.exit_code == 0, imported.output
    assert "tok-9" not in imported.output and "tok-9" not in plan_file.read_text()
    assert "secrets: the plan reads API_TOKEN from the environment" in imported.stderr
    assert "  export API_TOKEN=…" in imported.stderr.splitlines()
    plan = yaml.safe_load(plan_file.read_text())
    assert plan["steps"][0]["params"] == {"limit": "5"}
    assert plan["steps"][0]["body"] == {"name": "ann"}

    db = str(tmp_path / "run.duckdb")
    ran = CliRunner().invoke(main, ["run", str(plan_file), "--db", db],
                             env={"API_TOKEN": "tok-9"})  # fmt: skip
    assert ran.exit_code == 0, ran.output
    (seen,) = CaptureStore(db).record_values()
    # the server sent the token back; capture masks it by value as the variable's name
    assert seen["headers"]["authorization"] == "Bearer ${API_TOKEN}"
    assert seen["query"] == {"limit": "5"} and seen["body"] == {"name": "ann"}


def test_import_curl_from_stdin_as_json():
    result = CliRunner().invoke(
        main, ["import", "curl", "-", "--format", "json"], input="curl https://api.test/a -I\n"
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan == {"key": "imported", "steps": [{"url": "https://api.test/a", "method": "HEAD"}]}


def test_unknown_curl_options_exit_2_and_are_listed():
    result = CliRunner().invoke(main, ["import", "curl", "curl --frob -Z https://x.test"])
    assert result.exit_code == 2
    assert "unknown curl options: --frob, -Z" in result.stderr
    assert "fix:" in result.stderr


def test_import_har(tmp_path: Path):
    har = {"log": {"entries": [
        {"request": {"method": "GET", "url": "https://api.test/v1/users?page=1", "headers": []}},
        {"request": {"method": "GET", "url": "https://api.test/v1/users/7", "headers": []}},
    ]}}  # fmt: skip
    path = tmp_path / "session.har"
    path.write_text(json.dumps(har), encoding="utf-8")
    every = CliRunner().invoke(main, ["import", "har", str(path)])
    assert every.exit_code == 0, every.output
    steps = yaml.safe_load(every.stdout)["steps"]
    assert [s["name"] for s in steps] == ["users", "users_2"]
    one = CliRunner().invoke(main, ["import", "har", str(path), "--entry", "1"])
    assert yaml.safe_load(one.stdout)["steps"] == [
        {"name": "users", "url": "https://api.test/v1/users/7"}
    ]
    missing = CliRunner().invoke(main, ["import", "har", str(path), "--entry", "5"])
    assert missing.exit_code == 2 and "entry 5 does not exist" in missing.stderr
