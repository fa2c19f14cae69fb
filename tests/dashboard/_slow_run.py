"""A slow run written by another process: ``python _slow_run.py BASE_URL DB``.

The live-update tests start it while a dashboard watches ``DB``: a slow first
step, a fanout of slow requests two at a time, then slow steps one by one, so
requests and finished steps reach the file a few at a time over several seconds.
"""

from __future__ import annotations

import sys
from typing import Any

FANOUT_ITEMS = 16
TAIL_STEPS = 3
TOTAL_REQUESTS = 1 + 1 + FANOUT_ITEMS + TAIL_STEPS


def slow_plan(base_url: str, delay: float = 0.5) -> dict[str, Any]:
    return {
        "key": "slow-live",
        "config": {"base_url": base_url},
        "steps": [
            {"name": "warm_up", "url": f"{{config.base_url}}/slow?delay={delay}"},
            {
                "name": "items",
                "url": "{config.base_url}/items",
                "params": {"limit": FANOUT_ITEMS},
                "emit": False,
                "sub_steps": [
                    {
                        "name": "slow_detail",
                        "iterate_over": "response.body.items",
                        "url": f"{{config.base_url}}/slow?delay={delay}&item={{item.id}}",
                        "concurrency": 2,
                    }
                ],
            },
            *[
                {"name": f"tail_{i}", "url": f"{{config.base_url}}/slow?delay={delay}"}
                for i in range(TAIL_STEPS)
            ],
        ],
    }


if __name__ == "__main__":
    import orchestra

    result = orchestra.run(slow_plan(sys.argv[1]), db=sys.argv[2])
    print(result.status, result.run_id, flush=True)
    sys.exit(0 if result.ok else 1)
