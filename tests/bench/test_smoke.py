"""Every benchmark script runs in smoke mode, so that ``bench/`` cannot rot.

Benchmarks are not tests: smoke mode uses tiny sizes and one round, and nothing
here looks at a timing or a verdict — only that each script runs to the end and
writes its JSON with the fields the full run reports.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

SCRIPTS = {
    "overhead": ["overhead.py"],
    "fanout": ["fanout.py", "--profile"],
    "capture": ["capture.py"],
    "pagination": ["pagination.py"],
    "memory": ["memory.py", "--sizes", "100,300"],
    "dlt": ["dlt_compare.py", "--breakdown", "--profile"],
}


# dlt lives in the benchmarks' own virtualenv only (bench/requirements.txt); .ci/run
# makes one (`bash bench/run.sh --install`) and names its interpreter here.
BENCH_PYTHON = os.environ.get("ORCHESTRA_BENCH_PYTHON")


def _interpreter(name: str) -> str:
    if name != "dlt" or importlib.util.find_spec("dlt") is not None:
        return sys.executable
    if BENCH_PYTHON:
        return BENCH_PYTHON
    pytest.skip(
        "dlt is not installed: `bash bench/run.sh --install`, then set "
        "ORCHESTRA_BENCH_PYTHON to that virtualenv's python (as .ci/run does)"
    )


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_benchmark_runs_in_smoke_mode(name: str, tmp_path: Path) -> None:
    python = _interpreter(name)
    script, *flags = SCRIPTS[name]
    env = {**os.environ, "PYTHONPATH": str(BENCH.parent)}
    done = subprocess.run(
        [python, str(BENCH / script), "--smoke", "--results-dir", str(tmp_path), *flags],
        capture_output=True,
        text=True,
        timeout=110,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / f"{name}.json").read_text())
    assert result["smoke"] is True
    assert result["machine"]["cores"] >= 1
    assert result["targets"], "every benchmark names its targets"
    for target in result["targets"]:
        assert target["pass"] is None  # never judged in smoke mode
        assert isinstance(target["value"], int | float)
    if "contenders" in result:
        for summary in result["contenders"].values():
            assert summary["runs"] == 1 and summary["median_s"] >= 0
