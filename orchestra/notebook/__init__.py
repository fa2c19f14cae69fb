"""The notebook surface: ``%load_ext orchestra`` and the ``%%flow`` / ``%flow`` magics.

>>> %load_ext orchestra                                     # doctest: +SKIP
>>> %flow config base_url=$api.url                          # doctest: +SKIP
>>> %%flow items                                            # doctest: +SKIP
... url: "{config.base_url}/items"

Modules: ``_magic`` (the ``FlowMagic`` class: settings, routing),
``commands`` (every ``%flow`` command and the ``%%flow`` cell, as plain
functions of a ``CommandContext`` in one table), ``_flow`` (the flow built
cell by cell), ``_cell`` and ``_cells`` (reading a cell body, what cells and
whole-flow runs share), ``_execute`` and ``_kernel`` (running on a worker
loop, interrupts), ``_monitor`` and ``_progress`` (events → progress bars),
``_completion`` (Tab completion, with ``_yaml_cursor`` and
``_plan_fields``), ``_diagnostics`` (the cell's problems as you type, on
a comm), ``_display``, ``_jsontree`` and ``_views`` (rich output), ``_export``,
``_errors``, ``_args``, ``_help`` and ``_secrets``; the debugger's
``_debug_session`` (a paused run across cells), ``_debug_panel`` (its
buttons) and ``_debug_scope`` (the paused scope as an object), on top of
:mod:`orchestra.debug`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from orchestra.notebook import _completion as completion
from orchestra.notebook import _diagnostics as diagnostics
from orchestra.notebook._magic import FlowMagic

__all__ = ["FlowMagic", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(ipython: Any) -> None:
    """Register :class:`FlowMagic` (``%load_ext orchestra``)."""
    magic = FlowMagic(shell=ipython)
    ipython.register_magics(magic)
    completion.install(ipython, lambda: magic.current)
    diagnostics.register(lambda: magic.context)


def unload_ipython_extension(ipython: Any) -> None:
    """Stop the worker loop and forget the magic's settings registration."""
    magics = ipython.magics_manager.registry.get("FlowMagic")
    if magics is None:
        return
    with contextlib.suppress(Exception):  # unloading must not fail on a session
        magics.end_debug_session()  # a paused run ends `stopped`, its capture flushed
    magics.loop.stop()
    if magics in getattr(ipython, "configurables", []):
        ipython.configurables.remove(magics)
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("flow", None)
    ipython.magics_manager.registry.pop("FlowMagic", None)
    completion.uninstall(ipython)
    diagnostics.unregister()
