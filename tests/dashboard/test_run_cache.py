"""A finished run's aggregates are read once per process; a changed or running run is re-read.

Real captures of the dashboard test plan (``conftest.captured``), copied per
test so that one can be changed with SQL. "Read" is observed by counting the
read API's aggregate queries (the step statistics) while the dashboard runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestra.capture import CaptureReader
from orchestra.dashboard import Dashboard
from orchestra.dashboard import _run_cache as run_cache
from tests.dashboard.conftest import TOTAL_REQUESTS, Captured


@pytest.fixture
def copy(captured: Captured, tmp_path: Path) -> Captured:
    path = tmp_path / "capture.duckdb"
    shutil.copy(captured.path, path)
    run_cache.RUNS.clear()
    return Captured(path, captured.run_id, captured.base_url)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run ids whose step statistics the read API computed."""
    seen: list[str] = []
    original = CaptureReader.step_statistics

    def counted(self: CaptureReader, run_id: str) -> pd.DataFrame:
        seen.append(run_id)
        return original(self, run_id)

    monkeypatch.setattr(CaptureReader, "step_statistics", counted)
    return seen


def second_run(path: Path, run_id: str) -> str:
    """Another finished run in the file (a copy of the first under a new id)."""
    other = run_id[:-6] + "ffffff"
    with duckdb.connect(str(path)) as db:
        for table in (
            "runs",
            "steps",
            "exchanges",
            "record_rows",
            "record_pages",
            "errors",
            "events",
        ):
            db.execute(
                f"INSERT INTO {table} SELECT * REPLACE ($other AS run_id) FROM {table} "
                "WHERE run_id = $run",
                {"other": other, "run": run_id},
            )
    return other


def test_switching_back_to_a_finished_run_reads_no_aggregates(copy, reads):
    other = second_run(copy.path, copy.run_id)
    dashboard = Dashboard(db=copy.path, run=copy.run_id)
    first_steps = dashboard.state.steps.copy()
    first_totals = dict(dashboard.state.metrics.totals)
    dashboard.state.select_run(other)
    dashboard.state.select_run(copy.run_id)
    dashboard.state.select_run(other)
    assert reads == [copy.run_id, other]  # each run once
    dashboard.state.select_run(copy.run_id)
    pd.testing.assert_frame_equal(dashboard.state.steps, first_steps)
    assert dashboard.state.metrics.totals == first_totals
    assert dashboard.state.run["requests"] == TOTAL_REQUESTS
    # another tab of the same process shares what was read
    Dashboard(db=copy.path, run=other)
    assert reads == [copy.run_id, other]
    assert run_cache.RUNS.hits >= 3


def test_a_run_that_changed_is_read_again(copy, reads):
    dashboard = Dashboard(db=copy.path, run=copy.run_id)
    with duckdb.connect(str(copy.path)) as db:  # one more exchange under the run
        db.execute(
            "INSERT INTO exchanges SELECT * REPLACE (exchange_id + 100000 AS exchange_id) "
            "FROM exchanges WHERE run_id = $run LIMIT 1",
            {"run": copy.run_id},
        )
    dashboard.state.run_id = None
    dashboard.state.select_run(copy.run_id)
    assert reads == [copy.run_id, copy.run_id]
    assert dashboard.state.run["requests"] == TOTAL_REQUESTS + 1


def test_a_running_run_is_never_kept(copy, reads):
    with duckdb.connect(str(copy.path)) as db:
        db.execute("UPDATE runs SET status = 'running' WHERE run_id = $run", {"run": copy.run_id})
    dashboard = Dashboard(db=copy.path, run=copy.run_id)
    dashboard.state.run_id = None
    dashboard.state.select_run(copy.run_id)
    assert reads == [copy.run_id, copy.run_id]
    assert len(run_cache.RUNS) == 0


def test_the_cache_is_bounded():
    cache = run_cache.RunCache(max_runs=2)
    for n in range(3):
        cache.put(("f", n), {"n": n})
    assert cache.get(("f", 0)) is None
    assert cache.get(("f", 2)) == {"n": 2}
    assert len(cache) == 2
