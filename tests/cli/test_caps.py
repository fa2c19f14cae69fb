"""``orchestra run --max-pages/--max-fanout-items/--max-records``: a test read from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from orchestra.capture import CaptureStore
from orchestra.cli import main
from orchestra.demo import DemoAPI


def write_plan(directory: Path, *, limit: int = 10, fanout: bool = True) -> Path:
    plan: dict = {
        "key": "cli-caps",
        "steps": [
            {
                "name": "users",
                "url": "{config.base_url}/cursor",
                "params": {"limit": limit},
                "paginate": {"type": "cursor", "cursor_path": "next_cursor"},
                "records": "items",
                "sub_steps": [
                    {
                        "name": "detail",
                        "iterate_over": "response.body.items",
                        "url": "{config.base_url}/items/{item.id}",
                    }
                ],
            }
        ],
    }
    if not fanout:
        del plan["steps"][0]["sub_steps"]
    path = directory / "plan.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    return path


def facts(stdout: str) -> dict[str, str]:
    found = {}
    for line in stdout.split("\n\n")[0].splitlines():
        label, _, value = line.partition(":")
        found[label] = value.strip()
    return found


def test_capped_run_exits_0_and_the_summary_says_partial(demo_api: DemoAPI, tmp_path: Path):
    plan = write_plan(tmp_path)
    db = str(tmp_path / "cli.duckdb")
    args = ["run", str(plan), "-c", f"base_url={demo_api.url}", "--db", db, "--max-pages", "2"]
    result = CliRunner().invoke(main, [*args, "--max-fanout-items", "3"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    shown = facts(result.stdout)
    assert shown["status"] == "succeeded"
    assert shown["partial"] == (
        "ran 3 of 10 fanout items in step 'users.detail'; stopped at 2 pages in step 'users'"
    )
    assert shown["records"] == str(20 + 6)  # 2 pages of 10 users, 3 details of each page
    assert demo_api.stats()["by_path"]["/cursor"] == 2
    run_id = shown["run id"]
    assert CaptureStore(db).partial(run_id) == shown["partial"]


def test_max_records_from_the_cli(demo_api: DemoAPI, tmp_path: Path):
    plan = write_plan(tmp_path)
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(plan),
            "-c",
            f"base_url={demo_api.url}",
            "--no-capture",
            "--max-records",
            "15",
            "--max-fanout-items",
            "1",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "stopped at 15 records in step 'users'" in facts(result.stdout)["partial"]
    assert demo_api.stats()["by_path"]["/cursor"] == 2


def test_caps_never_reached_print_no_partial_line(demo_api: DemoAPI, tmp_path: Path):
    plan = write_plan(tmp_path, limit=500, fanout=False)
    result = CliRunner().invoke(
        main,
        [
            "run",
            str(plan),
            "-c",
            f"base_url={demo_api.url}",
            "--no-capture",
            "--max-pages",
            "5",
            "--max-records",
            "5000",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert facts(result.stdout)["records"] == "1000"
    assert "partial" not in facts(result.stdout)


def test_a_cap_below_one_is_refused(tmp_path: Path):
    plan = write_plan(tmp_path)
    result = CliRunner().invoke(main, ["run", str(plan), "--no-capture", "--max-pages", "0"])
    assert result.exit_code == 2
    assert "--max-pages" in result.output


def test_the_junit_report_of_a_capped_run_says_partial(demo_api: DemoAPI, tmp_path: Path):
    import xml.etree.ElementTree as ET

    plan = write_plan(tmp_path, fanout=False)
    report = tmp_path / "junit.xml"
    base = ["run", str(plan), "-c", f"base_url={demo_api.url}", "--no-capture", "--quiet"]
    result = CliRunner().invoke(main, [*base, "--max-pages", "2", "--junit", str(report)])
    assert result.exit_code == 0, result.output
    found = {p.get("name"): p.get("value") for p in ET.parse(report).iter("property")}
    assert found["partial"] == "stopped at 2 pages in step 'users'"
    whole = CliRunner().invoke(main, [*base, "--junit", str(report)])
    assert whole.exit_code == 0, whole.output
    assert "partial" not in {p.get("name") for p in ET.parse(report).iter("property")}
