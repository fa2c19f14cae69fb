"""Cells put into the notebook below the output that asked for them (the builder's export).

A kernel cannot add cells to a notebook: ``set_next_input`` puts one cell
below the running one, and only while a cell runs — a builder button runs in
a comm message, not a cell. So the kernel asks the frontend: it opens a comm
on the target ``orchestra.cells`` that Orchestra's JupyterLab extension
registers on every notebook kernel (``extension/src/cellsbelow.ts``). The
open message names the output by its mark (the builder puts
``application/vnd.orchestra.output+json: {"id": mark}`` in its output's data,
see ``orchestra.dashboard._builder._cells_below``) and carries the cells' sources; the
extension inserts them as code cells right below the cell holding that
output, in one undoable step, and answers ``{"inserted": n}`` — or
``{"missing": true}`` when no cell of its notebooks shows the output (another
notebook on the same kernel, or outputs cleared). A frontend without the
extension has no such target and closes the comm unanswered (JupyterLab,
Notebook 7), or ignores it: the caller says so and keeps the cells where the
user can copy them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

TARGET = "orchestra.cells"

NO_FRONTEND = (
    "this notebook frontend cannot insert cells (JupyterLab with Orchestra's extension can): "
    "copy them from the export box"
)


def insert_below(mark: str, cells: list[str], report: Callable[[str], None]) -> bool:
    """Ask the frontend to insert ``cells`` below the output marked ``mark``.

    ``report`` is called with what happened once the frontend answers (or
    closes the comm unanswered). False: no kernel comm to ask on (no kernel).
    """
    try:
        from comm import create_comm  # ipykernel puts its own comm factory here

        channel = create_comm(target_name=TARGET, data={"output": mark, "cells": cells})
    except Exception:
        return False
    answers: list[dict[str, Any]] = []

    def received(message: dict[str, Any]) -> None:
        data = message.get("content", {}).get("data") or {}
        answers.append(data)
        if isinstance(data.get("inserted"), int):
            count = data["inserted"]
            report(
                f"inserted {count} %%flow cell{'' if count == 1 else 's'} below the builder "
                "(one undo: Z in command mode)"
            )
        elif data.get("error"):
            report(f"could not insert the cells: {data['error']}; copy them from the export box")
        elif not any("inserted" in answer for answer in answers):
            report(
                "no cell of this notebook shows the builder any more (outputs cleared?): "
                "run %flow builder again, or copy the cells from the export box"
            )

    def closed(message: dict[str, Any]) -> None:
        if not answers:
            report(NO_FRONTEND)

    channel.on_msg(received)
    channel.on_close(closed)
    return True
