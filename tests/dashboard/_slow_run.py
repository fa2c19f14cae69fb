"""A slow run written by another process: ``python _slow_run.py BASE_URL DB``.

The live-update tests start it while a dashboard watches ``DB``: a slow first
step, a fanout of slow requests two at a time, then slower steps one by one, so
requests and finished steps reach the file a few at a time over several seconds.
"""

from __future__ import annotations

import sys
from typing import Any

FANOUT_ITEMS = 16
TAIL_STEPS = 3
TOTAL_REQUESTS = 1 + 1 + FANOUT_ITEMS + TAIL_STEPS


def slow_plan(base_url: str, delay: float = 0.5, tail_delay: float | None = None) -> dict[str, Any]:
    """The plan; the tail steps take ``tail_delay`` (default twice ``delay``) each.

    The tail is the only time a watcher can see finished steps while the run still runs
    (the fanout's parent stays running until its last item), and the writer flushes once
    a second: shorter tail steps leave a loaded machine's page too little time to show it.
    """
    tail = 2 * delay if tail_delay is None else tail_delay
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
                {"name": f"tail_{i}", "url": f"{{config.base_url}}/slow?delay={tail}"}
                for i in range(TAIL_STEPS)
            ],
        ],
    }


if __name__ == "__main__":
    import orchestra

    result = orchestra.run(slow_plan(sys.argv[1]), db=sys.argv[2])
    print(result.status, result.run_id, flush=True)
    sys.exit(0 if result.ok else 1)
