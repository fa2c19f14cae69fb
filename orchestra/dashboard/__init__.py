"""The run dashboard (Panel): flow graph, steps, exchanges, waterfall and metrics of a capture.

``Dashboard(db="orchestra.duckdb")`` renders inline in a notebook cell; the
same app is served by ``panel serve orchestra/dashboard/app.py --args --db
FILE``, by :func:`serve` and by ``orchestra dashboard``. :class:`DashboardState`
holds the selections and the data the views draw (drive it from tests or
cells); :class:`LiveFeed` feeds it from a runner's event bus. :class:`FlowBuilder`
is the visual flow builder (its "Builder" tab, and ``%flow builder`` inline).
"""

from orchestra.dashboard._app import Dashboard, serve
from orchestra.dashboard._builder import BuilderState, FlowBuilder
from orchestra.dashboard._live import LiveFeed
from orchestra.dashboard._state import DashboardState

__all__ = ["BuilderState", "Dashboard", "DashboardState", "FlowBuilder", "LiveFeed", "serve"]
