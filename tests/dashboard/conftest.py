"""Fixtures: a capture of one real demo-API run, shared by the dashboard tests of a module.

The plan exercises every node kind the graph draws (paged HTTP step, fanout,
parallel group, choice with skipped branches), XML and CSV bodies, retries
and rate-limit waits, so the views have something of each to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import orchestra
from orchestra.demo import DemoAPI

# What the run below captures (the tests assert these numbers on screen).
STEP_REQUESTS = {
    "items": 2,
    "items.detail": 10,
    "formats": 0,
    "formats.xml": 1,
    "formats.csv": 1,
    "route": 0,
    "route.never": 0,
    "route.chosen": 1,
    "route.fallback": 0,
    "flaky": 3,
}
TOTAL_REQUESTS = sum(STEP_REQUESTS.values())  # 18


def dashboard_plan(base_url: str) -> dict[str, Any]:
    return {
        "key": "dashboard-test",
        "config": {"base_url": base_url},
        "rate_limits": [{"requests": 8, "window_secs": 0.3}],
        "steps": [
            {
                "name": "items",
                "url": "{config.base_url}/items",
                "params": {"limit": 5, "offset": "{context.next_offset || `0`}"},
                "context_updates": {"next_offset": "response.body.next_offset"},
                "while": "response.body.next_offset != null && response.body.offset < `5`",
                "emit": False,
                "sub_steps": [
                    {
                        "name": "detail",
                        "iterate_over": "response.body.items",
                        "url": "{config.base_url}/items/{item.id}",
                        "concurrency": 3,
                    }
                ],
            },
            {
                "name": "formats",
                "parallel": [
                    {"name": "xml", "url": "{config.base_url}/xml"},
                    {"name": "csv", "url": "{config.base_url}/csv"},
                ],
            },
            {
                "name": "route",
                "choice": [
                    {
                        "when": "`false`",
                        "steps": [{"name": "never", "url": "{config.base_url}/items/1"}],
                    },
                    {
                        "when": "`true`",
                        "steps": [{"name": "chosen", "url": "{config.base_url}/items/2"}],
                    },
                ],
                "otherwise": [{"name": "fallback", "url": "{config.base_url}/items/3"}],
            },
            {
                "name": "flaky",
                "url": "{config.base_url}/flaky/dashboard",
                "params": {"fail": 2},
                "retry": {"max_attempts": 4, "base_seconds": 0.05},
            },
        ],
    }


@dataclass
class Captured:
    path: Path
    run_id: str
    base_url: str


@pytest.fixture(scope="module")
def captured(demo_api_server: DemoAPI, tmp_path_factory: pytest.TempPathFactory) -> Captured:
    """A capture file holding one succeeded run of :func:`dashboard_plan`."""
    demo_api_server.reset()
    path = tmp_path_factory.mktemp("dashboard") / "capture.duckdb"
    result = orchestra.run(dashboard_plan(demo_api_server.url), db=path)
    assert result.status == "succeeded", result.error
    return Captured(path, result.run_id, demo_api_server.url)
