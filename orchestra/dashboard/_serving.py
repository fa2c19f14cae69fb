"""Served pages that answer at once and are built while the browser loads its JavaScript.

A Bokeh server builds a new session's whole document before it answers the page's
HTML, and serves the page's JavaScript (~3.5 MB: Bokeh, Panel, Tabulator) from the
same event loop. So a page load used to run one thing after the other: the
dashboard's Python objects and Bokeh models (~0.45 s of CPU), then the HTML, then
the browser fetching and running the JavaScript (~0.3 s), then the document pulled
over the websocket and drawn. :func:`serve` overlaps the first two:

* Panel's ``reuse_sessions="warm"``: the HTML of every page comes from a template
  session built when the server starts (:func:`keep_template_session`, as ``panel
  serve --warm --reuse-sessions`` does; the page's HTML does not depend on the run it
  shows: the session built for the new page is what the browser draws), and the new
  session is built right after the HTML is sent.
* :class:`PreparePage`, a Bokeh handler: before a session's document is built, its
  page's Python objects (the capture read and the views) are made in a worker
  thread, so the event loop serves the JavaScript meanwhile. Only making the Bokeh
  models stays on the loop. It also keeps one page made ahead for the next page with
  the same URL, taken only if the capture file was not written since.

A session the hook did not prepare (the template session, a failed preparation) is
built on the loop, as before.

Panel points a session's stylesheets at this server only while it writes that
session's HTML; a reused session's HTML is the template's, so :func:`local_stylesheets`
does it for the new session before its models are made (else they would name
cdn.holoviz.org, which a machine without internet cannot reach).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

import panel as pn
from bokeh.application import Application
from bokeh.application.application import SessionContext
from bokeh.application.handlers.handler import Handler
from bokeh.document import Document
from bokeh.server.contexts import BokehSessionContext
from panel.config import config
from panel.io.document import _cleanup_doc
from panel.io.resources import LOCAL_DIST, patch_stylesheet
from panel.io.session import generate_session
from panel.io.state import set_curdoc, state

logger = logging.getLogger("orchestra.dashboard")

Page = TypeVar("Page")
Arguments = dict[str, list[bytes]]
ArgumentsKey = tuple[tuple[str, tuple[bytes, ...]], ...]


def arguments_key(arguments: Arguments) -> ArgumentsKey:
    """``arguments`` (a URL's query) as a value two requests with the same query share."""
    return tuple(sorted((name, tuple(values)) for name, values in arguments.items()))


class PreparePage(Handler, Generic[Page]):
    """Makes each new session's page objects in a worker thread, before its document.

    ``prepare(arguments)`` gets the page URL's query arguments and returns what the
    page's own handler takes with :meth:`take` while it builds the document.

    It also keeps one page made ahead (a spare) for the arguments of the last page,
    made ``spare_after`` seconds after that page (while a person reads it: made at once,
    it took CPU from the first clicks and switches on that page):
    the next page with those arguments (a reload, another tab) takes it instead of
    waiting for its own, if ``current(spare)`` says it still shows what the capture
    holds. A page that has not read for a while does its full read at its first poll,
    as any page does.
    """

    def __init__(
        self,
        prepare: Callable[[Arguments], Page],
        *,
        current: Callable[[Page], bool] = lambda page: False,
        spare_after: float = 10.0,
    ):
        super().__init__()
        self._prepare = prepare
        self._current = current
        self._spare_after = spare_after
        self._prepared: dict[str, Page] = {}
        self._spare: tuple[ArgumentsKey, Page] | None = None
        self._making_spare = False

    async def on_session_created(self, session_context: SessionContext) -> None:
        arguments: Arguments = {}
        if isinstance(session_context, BokehSessionContext) and session_context.request:
            arguments = dict(session_context.request.arguments)
        key = arguments_key(arguments)
        page = self._take_spare(key)
        if page is None:
            try:
                page = await asyncio.to_thread(self._prepare, arguments)
            except Exception:  # built again on the loop, where the page reports it
                logger.exception("preparing a dashboard page in a worker thread failed")
                return
        self._prepared[session_context.id] = page
        asyncio.get_running_loop().call_later(
            self._spare_after, lambda: asyncio.ensure_future(self.make_spare(arguments))
        )

    def _take_spare(self, key: ArgumentsKey) -> Page | None:
        spare, self._spare = self._spare, None
        if spare is None or spare[0] != key or not self._current(spare[1]):
            return None
        return spare[1]

    def keep_spare(self, arguments: Arguments) -> None:
        """Make the spare page for ``arguments`` now, in this thread (as the server starts)."""
        self._spare = (arguments_key(arguments), self._prepare(arguments))

    async def make_spare(self, arguments: Arguments) -> None:
        """Make the spare page for ``arguments`` in a worker thread (one at a time)."""
        if self._making_spare:
            return
        self._making_spare = True
        try:
            page = await asyncio.to_thread(self._prepare, arguments)
        except Exception:  # the next page makes its own, and reports
            logger.debug("making a spare dashboard page failed", exc_info=True)
            return
        finally:
            self._making_spare = False
        self._spare = (arguments_key(arguments), page)

    async def on_session_destroyed(self, session_context: SessionContext) -> None:
        self._prepared.pop(session_context.id, None)

    def modify_document(self, doc: Document) -> None:
        """Nothing: the page's own handler builds the document with what it takes."""

    def take(self, doc: Document | None) -> Page | None:
        """What was prepared for ``doc``'s session (once), or None."""
        context = doc.session_context if doc is not None else None
        if context is None:
            return None
        return self._prepared.pop(context.id, None)


def local_stylesheets(doc: Document | None) -> None:
    """Make the stylesheets of ``doc``'s models come from this server, as Panel's page does.

    What Panel's ``server_html_page_for_session`` sets for the session whose HTML it
    writes (Panel reads it when it makes a model's stylesheets).

    Under ``pn.serve``, once the browser reports its address, Panel's Location may move
    that address (``Location._sync_pathname``) and drop the session's stylesheet models:
    each pane's next update then sent new ones, and Bokeh walked the whole document after
    each (~20 ms a pane; 4 at a page's first switch to a big run). Once the page is drawn
    the session gets its models back, at the address Panel settled on.
    """
    if doc is None:
        return
    dist_url = f"{state.rel_path}/{LOCAL_DIST}" if state.rel_path else LOCAL_DIST
    doc._template_variables.setdefault("dist_url", dist_url)
    # Panel's cache of a session's stylesheet models (private: without it, Panel's own way)
    cache = getattr(state, "_stylesheets", None)
    if doc.session_context is None or cache is None:
        return
    made = cache.setdefault(doc, {})  # Panel fills it as the models are made

    def keep_stylesheet_models() -> None:
        now = cache.get(doc)
        if now is made:
            return  # not dropped
        settled = doc._template_variables.get("dist_url", dist_url)
        for sheet in made.values():
            patch_stylesheet(sheet, settled)
        cache[doc] = {**made, **(now or {})}

    state.onload(keep_stylesheet_models)


def keep_template_session(application: Application, paths: list[str]) -> None:
    """Build the template session whose HTML every page at ``paths`` is answered with.

    What ``panel serve --warm --reuse-sessions`` does for a script (Panel has no
    public call for it): the session is built now, kept, and its Panel objects are
    cleaned up (they never poll or answer a browser); only its document remains, to
    write pages with. Without it the server's first page would be built the slow way
    and its session kept as the template. ``paths`` are the request paths of the page
    (with the server's prefix).
    """
    config.reuse_sessions = "warm"
    session = generate_session(application)
    with set_curdoc(session.document):
        for path in paths:
            state._session_key_funcs[path] = lambda request: request.path
            state._sessions[path] = session
        session.block_expiration()
    _cleanup_doc(session.document, destroy=False)


def after_page_drawn(callback: Callable[[], None]) -> bool:
    """Call ``callback`` once the browser has drawn the current served page; True if deferred.

    In a served session it waits for the page's ``DocumentReady`` (Panel's
    ``state.onload``): what ``callback`` adds to the page is then made, sent and drawn
    after the rest, so the views above it show sooner. Where no browser reports back
    (a notebook output, a page being saved, a session already drawn) it is called now.
    """
    doc = state.curdoc
    if doc is None or doc.session_context is None or state.loaded:
        callback()
        return False
    state.onload(callback)
    return True


def when_served_page_drawn(callback: Callable[[], None]) -> bool:
    """Call ``callback`` on a later turn of the server's loop once the browser has drawn a
    served page, and never elsewhere; True if it will be called.

    For work that only makes a later click on a served page quicker (a part the page may
    need, made and sent while the person reads it): the next turn lets what
    :func:`after_page_drawn` adds reach the browser first. A notebook output or a saved
    page has no such later, and does without.
    """
    doc = state.curdoc
    if doc is None or doc.session_context is None:
        return False
    # pn.state is ``state``: spelled so, the SQL check (test_read_api) sees no query
    after_page_drawn(lambda: pn.state.execute(callback, schedule=True))
    return True
