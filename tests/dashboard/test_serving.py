"""PreparePage: a session's page objects are made in a worker thread, taken once."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from bokeh.document import Document
from bokeh.server.contexts import BokehSessionContext

from orchestra.dashboard._serving import PreparePage, local_stylesheets


class Request:
    def __init__(self, arguments: dict[str, list[bytes]]):
        self.arguments = arguments


def session(session_id: str, arguments: dict[str, list[bytes]]) -> tuple[Any, Document]:
    doc = Document()
    context = BokehSessionContext(session_id, None, doc)  # type: ignore[arg-type]
    context._request = Request(arguments)  # type: ignore[assignment]
    doc._session_context = lambda: context  # type: ignore[assignment]
    return context, doc


def test_the_page_is_made_off_the_event_loop_from_the_url_and_taken_once():
    made_on: list[str] = []

    def prepare(arguments: dict[str, list[bytes]]) -> str:
        made_on.append(threading.current_thread().name)
        return arguments["run"][0].decode()

    handler = PreparePage(prepare)
    first, first_doc = session("s1", {"run": [b"run-a"]})
    second, second_doc = session("s2", {"run": [b"run-b"]})

    async def created() -> None:
        await handler.on_session_created(first)
        await handler.on_session_created(second)

    asyncio.run(created())
    assert made_on and threading.main_thread().name not in made_on
    assert handler.take(second_doc) == "run-b"  # each session gets its own page
    assert handler.take(first_doc) == "run-a"
    assert handler.take(first_doc) is None  # taken once: a rebuilt document makes its own
    assert handler.take(Document()) is None  # a document of no session (a notebook)


def test_a_page_that_fails_to_prepare_is_logged_and_left_to_the_page(caplog):
    def prepare(arguments: dict[str, list[bytes]]) -> str:
        raise RuntimeError("the capture file is gone")

    handler = PreparePage(prepare)
    context, doc = session("s1", {})
    with caplog.at_level(logging.ERROR, logger="orchestra.dashboard"):
        asyncio.run(handler.on_session_created(context))
    assert handler.take(doc) is None  # the page builds it on the loop and shows the error
    assert "the capture file is gone" in caplog.text


def test_a_destroyed_session_drops_what_was_prepared_for_it():
    handler = PreparePage(lambda arguments: object())
    context, doc = session("s1", {})
    asyncio.run(handler.on_session_created(context))
    asyncio.run(handler.on_session_destroyed(context))
    assert handler.take(doc) is None


def test_stylesheets_of_a_reused_session_come_from_this_server():
    doc = Document()  # a page at the server's root (Panel's rel_path is empty)
    local_stylesheets(doc)
    assert doc._template_variables["dist_url"] == "static/extensions/panel/"
    doc._template_variables["dist_url"] = "kept/"
    local_stylesheets(doc)  # what Panel's own page set is kept
    assert doc._template_variables["dist_url"] == "kept/"


class Made:
    """A page made by ``prepare`` (its number), current until told otherwise."""

    count = 0

    def __init__(self) -> None:
        Made.count += 1
        self.number = Made.count
        self.current = True


def run_sessions(handler: PreparePage[Made], *sessions: tuple[Any, Document]) -> list[Made]:
    async def created() -> list[Made]:
        pages = []
        for context, doc in sessions:
            await handler.on_session_created(context)
            page = handler.take(doc)
            assert page is not None
            pages.append(page)
        return pages

    return asyncio.run(created())


def test_a_spare_made_ahead_is_taken_by_the_next_page_with_the_same_url_if_current():
    handler = PreparePage(lambda arguments: Made(), current=lambda page: page.current)
    handler.keep_spare({"run": [b"a"]})  # as the server starts
    spare = handler._spare[1] if handler._spare else None
    first, second = run_sessions(
        handler, session("s1", {"run": [b"a"]}), session("s2", {"run": [b"a"]})
    )
    assert first is spare  # taken: no page made while the browser waited
    assert second is not first  # one spare, taken once: the next page makes its own


def test_a_spare_is_not_taken_for_another_url_or_when_the_capture_changed():
    handler = PreparePage(lambda arguments: Made(), current=lambda page: page.current)
    handler.keep_spare({"run": [b"a"]})
    assert handler._spare is not None
    spare = handler._spare[1]
    (other,) = run_sessions(handler, session("s1", {"run": [b"b"]}))
    assert other is not spare
    handler.keep_spare({"run": [b"a"]})
    assert handler._spare is not None
    handler._spare[1].current = False  # written since it read the capture
    stale = handler._spare[1]
    (page,) = run_sessions(handler, session("s2", {"run": [b"a"]}))
    assert page is not stale


def test_a_spare_for_the_same_url_is_made_after_a_page_in_a_worker_thread():
    made_on: list[threading.Thread] = []

    def prepare(arguments: dict[str, list[bytes]]) -> Made:
        made_on.append(threading.current_thread())
        return Made()

    handler = PreparePage(prepare, current=lambda page: page.current, spare_after=0.01)

    async def page_then_wait() -> None:
        context, doc = session("s1", {"run": [b"a"]})
        await handler.on_session_created(context)
        handler.take(doc)
        for _ in range(200):
            await asyncio.sleep(0.01)
            if handler._spare is not None:
                return

    asyncio.run(page_then_wait())
    assert handler._spare is not None and handler._spare[0] == (("run", (b"a",)),)
    assert len(made_on) == 2 and threading.main_thread() not in made_on
