"""Tab in ``%%flow`` cells and on ``%flow`` lines: ``complete_request`` to a real kernel.

The kernel answers as it does for JupyterLab (or any frontend): plan fields
valid at the cursor's YAML place, literal values of a field, scope names,
``steps.<name>`` of the flow built so far, keys of the bodies its last run
received, and ``%flow`` commands, options and option values.
"""

from __future__ import annotations

import pytest

from tests.notebook.kernel import ITEMS, KernelSession

pytestmark = pytest.mark.timeout(180)


def matches(kernel: KernelSession, code: str, marker: str = "|") -> tuple[list[str], str]:
    """Completions at ``marker`` in ``code`` and the text they replace."""
    cursor = code.index(marker)
    text = code.replace(marker, "", 1)
    reply = kernel.complete(text, cursor)
    assert reply["status"] == "ok"
    assert reply["cursor_end"] == cursor
    return reply["matches"], text[reply["cursor_start"] : cursor]


def test_step_fields_at_the_top_of_a_step_cell(flow: KernelSession) -> None:
    found, replaced = matches(flow, "%%flow items\nurl: x\nmeth|")
    assert found == ["method"] and replaced == "meth"
    found, _ = matches(flow, "%%flow items\nurl: x\n|")
    assert {"method", "params", "sub_steps", "paginate", "while", "extract"} <= set(found)
    assert "url" not in found  # already written
    assert "import" not in found and "print" not in found  # no Python names in a plan


def test_fields_follow_the_yaml_nesting(flow: KernelSession) -> None:
    paginate = "%%flow items\nurl: x\npaginate:\n  type: offset\n  |\nwhile: y\n"
    found, _ = matches(flow, paginate)
    assert set(found) == {
        "limit",
        "limit_param",
        "offset_param",
        "start",
        "total_path",
        "max_pages",
    }
    cursor = "%%flow items\nurl: x\npaginate:\n  type: cursor\n  cur|"
    assert matches(flow, cursor)[0] == ["cursor_param", "cursor_path"]
    sub = "%%flow items\nurl: x\nsub_steps:\n  - name: d\n    iter|"
    assert matches(flow, sub)[0] == ["iterate_over"]
    auth = "%%flow\nauth:\n  type: bearer\n  |"
    assert matches(flow, auth)[0] == ["token"]
    retry = "%%flow items\nurl: x\nretry:\n  max|"
    assert matches(flow, retry)[0] == ["max_attempts", "max_backoff_seconds"]
    plan = "%%flow\nkey: k\nsteps:\n  - name: a\n    url: x\n  - name: b\n    paral|"
    assert matches(flow, plan)[0] == ["parallel"]


def test_values_of_a_field_with_fixed_values(flow: KernelSession) -> None:
    assert matches(flow, "%%flow items\nurl: x\nmethod: P|")[0] == ["PATCH", "POST", "PUT"]
    found, _ = matches(flow, "%%flow items\nurl: x\npaginate:\n  type: |")
    assert set(found) == {"link_header", "json_link", "offset", "page_number", "cursor", "auto"}


def test_scopes_steps_and_response_keys_from_the_last_run(flow: KernelSession) -> None:
    flow.run(ITEMS).check()
    found, replaced = matches(flow, '%%flow next\nurl: "{con|"')
    assert found == ["config.", "context."] and replaced == "con"
    assert matches(flow, '%%flow next\nurl: "{config.|"')[0] == ["base_url"]
    assert matches(flow, '%%flow next\nurl: "{config.base_url}/{steps.|}"')[0] == ["items"]
    found, _ = matches(flow, "%%flow next\nurl: x\nwhile: steps.items.|")
    assert {"body", "status_code", "headers", "status", "pages"} <= set(found)
    found, replaced = matches(flow, "%%flow next\nurl: x\nwhile: steps.items.body.ne|")
    assert found == ["next_offset"] and replaced == "ne"
    found, _ = matches(flow, "%%flow next\nurl: x\nextract:\n  id: steps.items.body.items[0].|")
    assert {"id", "name"} <= set(found)
    # response.body in the cell of the step that ran: the keys of its last answer
    found, _ = matches(flow, "%%flow items\nurl: x\nwhile: response.body.|")
    assert {"items", "next_offset", "offset"} <= set(found)
    found, _ = matches(flow, "%%flow items\nurl: x\nwhile: response.|")
    assert {"body", "status_code", "headers"} <= set(found)


def test_flow_commands_options_and_values(flow: KernelSession) -> None:
    assert matches(flow, "%flow exp|")[0] == ["export"]
    assert matches(flow, "x = 1\n%flow ru|")[0] == ["run", "runs"]
    assert matches(flow, "%flow export --f|")[0] == ["--format"]
    assert matches(flow, "%flow export --format |")[0] == ["curl", "har", "plan"]
    assert matches(flow, "%flow help exp|")[0] == ["export"]
    assert matches(flow, "%%flow items --no|\nurl: x")[0] == ["--no-run"]
    flow.run("%%flow items --no-run\nurl: x").check()
    assert matches(flow, "%flow rerun |")[0] == ["items"]


def test_python_cells_keep_python_completion(flow: KernelSession) -> None:
    found, _ = matches(flow, "import json\njson.dum|")
    assert found == ["json.dump", "json.dumps"] or {"dump", "dumps"} <= set(found)
