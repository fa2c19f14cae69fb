"""A real local HTTP API that behaves like the APIs Orchestra flows talk to.

Offset, page, cursor and Link-header pagination; collections shaped like
GitHub, Microsoft Graph, Stripe, Slack and HAL APIs; ``/tickets`` with an
``updated_since`` filter for incremental sync; detail endpoints for fanout;
OAuth2 with expiring tokens; API-key and Basic auth; rate limits with 429 and
``Retry-After``; flaky, slow and failing endpoints; XML, CSV, binary and large
bodies; create/delete resources for sagas. One call starts it::

    from orchestra.demo import start_demo_api
    api = start_demo_api()
    api.url        # "http://127.0.0.1:54321"
    api.stop()

``python -m orchestra.demo --port 8765`` serves it in the foreground; the
pytest plugin provides the ``demo_api`` and ``demo_api_server`` fixtures.
"""

from orchestra.demo._app import build_app
from orchestra.demo._server import DemoAPI, serve_forever, start_demo_api
from orchestra.demo._state import DemoSettings, DemoState

__all__ = [
    "DemoAPI",
    "DemoSettings",
    "DemoState",
    "build_app",
    "serve_forever",
    "start_demo_api",
]
