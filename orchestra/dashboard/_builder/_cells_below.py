"""The builder's "Insert as %%flow cells below": its output's mark and the request.

The inline builder (``%flow builder``) marks the output it is drawn in with a
MIME entry no renderer shows, ``application/vnd.orchestra.output+json:
{"id": mark}``, so Orchestra's JupyterLab extension can find the cell that
holds it. Inserting the exported cells below that cell is the binding's
(the notebook's flow binding opens the kernel comm for it); a builder bound
to a plan file, or served by ``orchestra dashboard``, has no notebook to
insert into and keeps the cells in its export box.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

OUTPUT_MIME = "application/vnd.orchestra.output+json"

Insert = Callable[[str, list[str], Callable[[str], None]], bool]
"""``insert(mark, cells, report)``: ask for ``cells`` below the output marked ``mark``."""


def new_mark() -> str:
    """A fresh id for one builder's outputs."""
    return uuid.uuid4().hex


def marked(bundle: Any, mark: str) -> Any:
    """``bundle`` (a mimebundle dict or ``(data, metadata)``) with ``mark`` in its data."""
    data, metadata = bundle if isinstance(bundle, tuple) else (bundle, None)
    data = {**(data or {}), OUTPUT_MIME: {"id": mark}}
    return data if metadata is None else (data, metadata)


def inserter(binding: Any) -> Insert | None:
    """The binding's way to insert cells into its notebook (None: it has no notebook)."""
    insert = getattr(binding, "insert_cells", None)
    return insert if callable(insert) else None
