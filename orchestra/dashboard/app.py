"""The served dashboard: ``panel serve orchestra/dashboard/app.py --args --db FILE``.

Arguments after ``--args``: ``--db FILE`` (default ``$ORCHESTRA_DB`` or
``orchestra.duckdb``), ``--run RUN_ID`` (default: the newest run, following new
ones) and ``--interval SECONDS`` (how often the file is polled, default 0.5).
Panel runs this file once per browser session. With ``--reuse-sessions warm
--warm`` Panel answers every page's HTML at once from a template session built at
start (``orchestra dashboard`` does that and more: see ``dashboard/_serving.py``).
"""

from __future__ import annotations

import argparse
import sys

import panel as pn

from orchestra.dashboard._app import RUNS_EXTENSIONS, Dashboard
from orchestra.dashboard._serving import local_stylesheets


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="orchestra/dashboard/app.py")
    parser.add_argument("--db", default=None, help="capture file (default: $ORCHESTRA_DB)")
    parser.add_argument("--run", default=None, help="run id or prefix (default: newest)")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between polls")
    return parser.parse_args(argv)


if __name__.startswith("bokeh_app"):  # run by `panel serve`, once per session
    pn.extension(*RUNS_EXTENSIONS)  # no builder here: no code editor's JavaScript
    local_stylesheets(pn.state.curdoc)  # a reused session's page names this server's CSS
    options = parse_args(sys.argv[1:])
    Dashboard(db=options.db, run=options.run, refresh_interval=options.interval).servable(
        title="Orchestra dashboard"
    )
