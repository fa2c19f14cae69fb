"""A ``CommandContext`` without a kernel: a fresh flow on the demo API, a capture file, and
collectors for what a command would display or write into the next cell."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestra.notebook._flow import NotebookFlow
from orchestra.notebook.commands import CommandContext, FlowSettings

ITEMS = """url: "{config.base_url}/items"
params: {limit: 5, offset: "{context.next_offset || `0`}"}
context_updates: {next_offset: response.body.next_offset}
while: response.body.next_offset != null && response.body.offset < `10`
"""


class Screen:
    """What a command displayed and the cells it proposed (``%flow edit``)."""

    def __init__(self) -> None:
        self.shown: list[object] = []
        self.next_inputs: list[str] = []


@pytest.fixture
def screen() -> Screen:
    return Screen()


@pytest.fixture
def ctx(demo_api, tmp_path: Path, screen: Screen) -> Iterator[CommandContext]:
    context = CommandContext(
        flow=NotebookFlow(),
        settings=FlowSettings(db=str(tmp_path / "capture.duckdb"), progress="off",
                              debug_panel=False),
        display=screen.shown.append,
        set_next_input=screen.next_inputs.append,
    )  # fmt: skip
    context.flow.config["base_url"] = demo_api.url
    try:
        yield context
    finally:
        context.debug.end()
        context.loop.stop()
