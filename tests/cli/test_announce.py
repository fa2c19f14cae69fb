"""``orchestra run`` announces what ``paginate: auto`` chose (issue 19 item 4).

Against the real demo API (``--with-demo-api``): the Graph-shaped
``/graph/items`` is detected and the summary shows the explanation and the
YAML to paste; ``/search`` looks paginated but matches no rule, so the summary
and stderr warn and name the suspect fields, even with ``--quiet``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml
from click.testing import CliRunner, Result

from orchestra.cli import main

PLAN = """\
key: announce
config:
  base_url: http://127.0.0.1:1
steps:
  - name: items
    method: GET
    url: "{config.base_url}/graph/items"
    params: {"$top": 100}
    paginate: auto
  - name: search
    method: GET
    url: "{config.base_url}/search"
    params: {size: 10}
    paginate: auto
"""
WARNING = (
    "step search: the response looks paginated (fields: total, nxt) but no rule matched; "
    "only one page was read — write paginate: explicitly"
)


def run(tmp_path: Path, *options: str) -> Result:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    args = ["run", str(plan), "--with-demo-api", "--no-progress", "--no-capture", *options]
    return CliRunner().invoke(main, args)


def pasted_yaml(summary: str, step: str) -> dict[str, object]:
    """The indented YAML the summary offers to paste for ``step``."""
    lines = summary.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  step {step}"))
    offer = next(i for i in range(start, len(lines)) if "paste into the step" in lines[i])
    block = []
    for line in lines[offer + 1 :]:
        if not line.startswith("      "):
            break
        block.append(line)
    loaded: dict[str, object] = yaml.safe_load(textwrap.dedent("\n".join(block)))
    return loaded


def test_the_summary_shows_each_detection_with_the_yaml_to_paste(tmp_path: Path) -> None:
    result = run(tmp_path)
    assert result.exit_code == 0, result.output
    summary = result.stdout
    assert "paginate: auto detected:" in summary
    assert 'step items: a next-page URL in the body at "@odata.nextLink"' in summary
    assert pasted_yaml(summary, "items") == {
        "paginate": {"type": "json_link", "next_path": '"@odata.nextLink"'},
        "records": "value",
    }
    assert pasted_yaml(summary, "search") == {"records": "results"}


def test_an_unmatched_paginated_response_warns_in_the_summary_and_on_stderr(
    tmp_path: Path,
) -> None:
    result = run(tmp_path)
    assert result.exit_code == 0, result.output
    assert f"warning: {WARNING}" in result.stdout
    assert result.stderr.strip().splitlines() == [f"Warning: {WARNING}"]  # items: no warning


def test_quiet_still_warns_on_stderr(tmp_path: Path) -> None:
    result = run(tmp_path, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"Warning: {WARNING}" in result.stderr


def test_a_fanout_announces_one_choice_once_with_its_executions(tmp_path: Path) -> None:
    plan = tmp_path / "fanout.yaml"
    plan.write_text(
        """\
key: announce-fanout
config: {base_url: "http://127.0.0.1:1"}
steps:
  - name: items
    url: "{config.base_url}/items"
    params: {limit: 3}
    sub_steps:
      - name: graph
        iterate_over: response.body.items
        url: "{config.base_url}/graph/items"
        params: {"$top": 100}
        paginate: auto
"""
    )
    args = ["run", str(plan), "--with-demo-api", "--no-progress", "--no-capture"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("  step ")]
    assert lines == [
        '  step items.graph (3 executions): a next-page URL in the body at "@odata.nextLink"; '
        "records: value (100 in this response)"
    ]
    assert result.stderr == ""


def test_the_junit_report_carries_each_choice_and_warning_in_its_step(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    report = tmp_path / "junit.xml"
    result = run(tmp_path, "--junit", str(report), "--quiet")
    assert result.exit_code == 0, result.output
    cases = {case.get("name"): case for case in ET.parse(report).iter("testcase")}
    items_out = cases["items"].findtext("system-out") or ""
    assert items_out.startswith("paginate: auto detected:\nstep items: a next-page URL")
    offered = items_out.split("paste into the step instead of paginate: auto:\n")[1]
    assert yaml.safe_load(textwrap.dedent(offered)) == {
        "paginate": {"type": "json_link", "next_path": '"@odata.nextLink"'},
        "records": "value",
    }
    assert cases["items"].find("system-err") is None
    assert cases["search"].findtext("system-err") == f"Warning: {WARNING}\n"
    assert "step search:" in (cases["search"].findtext("system-out") or "")
    assert cases["items"].find("failure") is None and cases["search"].find("failure") is None
