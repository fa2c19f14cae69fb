"""Test-wide settings: runs are captured into a fresh temporary DuckDB file per test."""

import pytest


@pytest.fixture(autouse=True)
def _capture_to_a_temporary_file(tmp_path, monkeypatch):
    """``orchestra.run`` captures by default; keep test captures out of the working tree."""
    monkeypatch.setenv("ORCHESTRA_DB", str(tmp_path / "capture.duckdb"))
