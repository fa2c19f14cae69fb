"""The inline dashboard handles the browser's messages on the kernel's event loop.

JupyterLab 4.4+ with ipykernel 7 sends comm messages on a kernel subshell (its
``commsOverSubshells`` setting, on by default), so a click in the dashboard
reaches Panel on the subshell's thread while the dashboard's poller updates
the same Bokeh document on the kernel's main loop. Two threads then change
one document and push it over one comm at once; a Bokeh message is several
comm messages (header, metadata, content, buffers), so the two pushes
interleave and the browser assembles one message from parts of two
(``TypeError: s is not iterable`` in ``_apply_json_patch``) and loses a view's
update. Panel 1.9 does not know about subshells. :func:`handle_on_loop` makes
the view's client comm run its handlers (the comm's opening and each message,
with its acknowledgement) on the loop the view was rendered on, one at a
time and in the order they arrived, like every other change of the document.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from typing import Any

import panel as pn


def handle_on_loop(view: pn.viewable.Viewable) -> None:
    """Run the client comm handlers of ``view``'s rendered models on the current loop.

    Call it right after rendering ``view`` for a notebook, on the kernel's loop.
    Outside a running loop (a script) it changes nothing.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    for _, client_comm in view._comms.values():
        # the comm looks these up when the browser opens it, so the wrappers are used
        client_comm._handle_msg = _on_loop(loop, client_comm._handle_msg)
        if client_comm._on_open is not None:
            client_comm._on_open = _on_loop(loop, client_comm._on_open)


def _on_loop(loop: asyncio.AbstractEventLoop, handler: Callable[..., Any]) -> Callable[..., None]:
    thread = threading.get_ident()

    @functools.wraps(handler)
    def handle(*args: Any) -> None:
        if threading.get_ident() == thread:
            handler(*args)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(handler, *args)

    return handle
