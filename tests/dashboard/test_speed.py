"""How often the dashboard opens the capture file: once per user action, never on an idle poll.

Each open costs tens of milliseconds on a large file (DuckDB's open plus the
schema question), and every read after a run switch redraws every view, so a
second read per action doubles what the user waits for. The counts below are
exact (not timed): they hold on a loaded machine. Speed itself is measured by
bench/dashboard.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import orchestra
from orchestra.capture import CaptureReader, CaptureStore, _connection
from orchestra.capture._connection import Database
from orchestra.dashboard import DashboardState
from orchestra.demo import DemoAPI
from tests.dashboard._runs_pair import PairRuns, make_runs


@pytest.fixture(scope="module")
def runs(demo_api_server: DemoAPI, tmp_path_factory: pytest.TempPathFactory) -> PairRuns:
    return make_runs(demo_api_server, tmp_path_factory.mktemp("speed"))


class OpenCounter:
    """Counts the opens of a state's capture file (``CaptureStore.read``)."""

    def __init__(self, store: CaptureStore, monkeypatch: pytest.MonkeyPatch):
        self.opens = 0
        read = store.read

        @contextmanager
        def counted() -> Iterator[CaptureReader]:
            self.opens += 1
            with read() as reader:
                yield reader

        monkeypatch.setattr(store, "read", counted)


def poll(state: DashboardState) -> None:
    asyncio.run(state.poll())


@pytest.mark.parametrize("asked", ["a", "prefix", None])
def test_a_new_page_reads_the_file_once(runs, monkeypatch, asked):
    """The run list, the run asked for (an id, a prefix, or the newest) and its views."""
    listed = CaptureStore(runs.path).runs()["run_id"].tolist()  # newest first
    store = CaptureStore(runs.path)
    counter = OpenCounter(store, monkeypatch)
    run = {"a": runs.a, "prefix": runs.a[:-3], None: None}[asked]
    state = DashboardState(store, run=run)
    assert counter.opens == 1
    expected = runs.a if asked else listed[0]
    assert state.run_id == expected and state.run["run_id"] == expected and not state.error
    assert list(state.steps["step_path"]) and len(state.exchanges) and state.metrics is not None
    assert state.runs["run_id"].tolist() == listed
    polls = state.polls
    poll(state)  # nothing was written: what the first read read is what is shown
    assert counter.opens == 1 and state.polls == polls


def test_a_page_for_a_run_that_is_not_there_says_so(runs):
    state = DashboardState(runs.path, run="no-such-run")
    assert "Could not open the run" in state.error and "no-such-run" in state.error
    assert state.run_id is None and len(state.runs)


def test_a_run_switch_reads_once_and_the_next_poll_does_not_redraw(runs, monkeypatch):
    state = DashboardState(runs.path, run=runs.a)
    poll(state)
    counter = OpenCounter(state.store, monkeypatch)
    polls = state.polls
    state.select_run(runs.b)
    assert state.run["run_id"] == runs.b and not state.error
    assert counter.opens == 1
    poll(state)  # nothing was written: the switch's own read is what is shown
    assert state.polls == polls
    assert counter.opens == 1


def test_a_click_on_an_exchange_of_another_page_reads_once(runs, monkeypatch):
    state = DashboardState(runs.path, run=runs.a, page_size=1)
    last = int(state.exchange_total) - 1
    with state.store.read() as db:
        page, _ = db.exchange_page(runs.a, None, offset=last, limit=1)
    exchange_id = int(page["exchange_id"].iloc[0])
    counter = OpenCounter(state.store, monkeypatch)
    state.select_exchange(exchange_id)
    assert counter.opens == 1
    assert state.exchange_page == last
    assert state.exchanges["exchange_id"].tolist() == [exchange_id]
    assert state.exchange is not None and state.exchange.exchange_id == exchange_id
    assert not state.error


def test_an_idle_poll_does_not_open_the_file_and_a_write_is_seen(
    runs, demo_api_server, tmp_path, monkeypatch
):
    path = tmp_path / "copy.duckdb"
    path.write_bytes(runs.path.read_bytes())
    state = DashboardState(path)
    poll(state)
    counter = OpenCounter(state.store, monkeypatch)
    for _ in range(3):
        poll(state)
    assert counter.opens == 0
    plan = {"key": "speed-one", "steps": [{"name": "items", "url": f"{demo_api_server.url}/items"}]}
    result = orchestra.run(plan, db=path)  # written as any other program writes it
    poll(state)
    assert counter.opens >= 1  # the poll's read (and the new run's, followed)
    assert state.run_id == result.run_id  # the dashboard follows the newest run
    assert state.runs["run_id"].iloc[0] == result.run_id


def test_the_schema_question_is_asked_once_per_file(runs, tmp_path, monkeypatch):
    path = tmp_path / "copy.duckdb"
    path.write_bytes(runs.path.read_bytes())
    asked: list[Any] = []
    has_schema = _connection._has_schema
    monkeypatch.setattr(
        _connection, "_has_schema", lambda connection: asked.append(1) or has_schema(connection)
    )
    database = Database(path)
    for _ in range(3):
        with database.connect():
            pass
    assert len(asked) == 1
    replaced = Path(str(path) + ".new")  # another file at the same path: asked again
    replaced.write_bytes(path.read_bytes())
    replaced.replace(path)
    with Database(path).connect():
        pass
    assert len(asked) == 2
