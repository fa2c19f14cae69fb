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
