"""Problems as you type: the ``orchestra.diagnostics`` comm of a real kernel.

A frontend opens the comm, sends ``{"id", "code"}`` with the whole cell and
gets ``{"id", "diagnostics"}`` back: the loader's own problems (unknown
field with its suggestion, type errors, JMESPath syntax at its column,
unknown ``steps.x``), each at its range in the cell, judged against the
kernel's current flow.
"""

from __future__ import annotations

import time

import pytest

from tests.notebook.kernel import KernelSession

pytestmark = pytest.mark.timeout(180)


def problems(kernel: KernelSession, code: str, request: int = 1) -> list[dict]:
    channel = kernel.open_comm("orchestra.diagnostics")
    answer = kernel.ask_comm(channel, {"id": request, "code": code})
    assert answer["id"] == request
    return answer["diagnostics"]


def marked(code: str, problem: dict) -> str:
    """The text a diagnostic underlines (on one line)."""
    assert problem["line"] == problem["end_line"]
    return code.split("\n")[problem["line"]][problem["column"] : problem["end_column"]]


def test_a_misspelled_field_is_underlined_with_the_suggestion(flow: KernelSession) -> None:
    code = "%%flow items\nurl: http://x\nmethd: GET\n"
    [problem] = problems(flow, code, request=7)
    assert marked(code, problem) == "methd"
    assert problem["severity"] == "error"
    assert "unknown field 'methd'" in problem["message"] and "'method'" in problem["message"]


def test_type_errors_and_nested_fields(flow: KernelSession) -> None:
    code = (
        "%%flow items\nurl: http://x\ntimeout_seconds: soon\npaginate:\n  type: offset\n  limt: 3\n"
    )
    found = {marked(code, p): p["message"] for p in problems(flow, code)}
    assert "valid number" in found["soon"]
    assert "did you mean 'limit'?" in found["limt"]
    assert "'limit' is missing" in found["paginate"]


def test_jmespath_syntax_at_its_column(flow: KernelSession) -> None:
    code = '%%flow items\nurl: "{config.base_url}/items"\nwhile: response.body.x && || y\n'
    [problem] = problems(flow, code)
    line = code.split("\n")[2]
    assert problem["line"] == 2 and problem["column"] == line.index("||")
    assert "invalid expression" in problem["message"]
    template = '%%flow items\nurl: "{config.base_url}/items/{item.id ||}"\n'
    [problem] = problems(flow, template)
    assert marked(template, problem) == "}"  # the template's expression ends too early there


def test_steps_are_judged_against_the_kernels_current_flow(flow: KernelSession) -> None:
    code = '%%flow detail\nurl: "{config.base_url}/items/{steps.items.body.items[0].id}"\n'
    [problem] = problems(flow, code)
    assert marked(code, problem) == "steps.items"
    assert "there is no step 'items'" in problem["message"]
    flow.run('%%flow items --no-run\nurl: "{config.base_url}/items"').check()
    assert problems(flow, code) == []  # defined by an earlier cell: fine now


def test_the_flow_line_syntax_and_other_cells(flow: KernelSession) -> None:
    code = "%%flow items --no-rn\nurl: x\n"
    [problem] = problems(flow, code)
    assert problem["line"] == 0 and "--no-run" in problem["message"]
    broken = "%%flow items\nurl: [x\n"
    [problem] = problems(flow, broken)
    assert problem["line"] == 2 and "not valid JSON or YAML" in problem["message"]
    assert problems(flow, "print('a python cell')") == []
    assert problems(flow, "%%flow items\n") == []  # still empty: nothing to say yet


def test_cheap_enough_for_every_debounce(flow: KernelSession) -> None:
    code = "%%flow items\nurl: http://x\nmethd: GET\nwhile: response.body.next != null\n"
    channel = flow.open_comm("orchestra.diagnostics")
    flow.ask_comm(channel, {"id": 0, "code": code})
    started = time.perf_counter()
    for request in range(1, 21):
        assert len(flow.ask_comm(channel, {"id": request, "code": code})["diagnostics"]) == 1
    round_trip = (time.perf_counter() - started) / 20
    assert round_trip < 0.25, f"{round_trip * 1000:.0f} ms per round trip"
