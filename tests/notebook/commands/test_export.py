"""``%flow export`` without a kernel: plan, HAR and curl, masked, to a file or as the result."""

from __future__ import annotations

import json

import pytest

from orchestra.notebook._errors import FlowError
from orchestra.notebook.commands import run_cell, run_line


def test_export_plan_har_and_curl(ctx, tmp_path):
    run_cell(ctx, "one", 'url: "{config.base_url}/items/1"')
    plan = run_line(ctx, "export --out plan")
    assert [step["name"] for step in plan["steps"]] == ["one"] and ctx.namespace["plan"] == plan
    target = tmp_path / "flow.har"
    assert run_line(ctx, f"export {target}") == f"exported har to {target}"
    assert len(json.loads(target.read_text())["log"]["entries"]) == 1
    curl = run_line(ctx, "export --format curl")
    assert curl.startswith("# Orchestra run") and curl.count("curl -X GET") == 1


def test_export_masks_secrets_and_needs_the_capture(ctx):
    ctx.flow.keep_secret("API_KEY", "sk-unit-123")
    ctx.flow.config["note"] = "sk-unit-123"
    run_cell(ctx, "one", 'url: "{config.base_url}/items/1"')
    assert run_line(ctx, "export")["config"]["note"] == "${API_KEY}"
    ctx.settings.capture = False
    with pytest.raises(FlowError, match="capture is off"):
        run_line(ctx, "export --format har")
