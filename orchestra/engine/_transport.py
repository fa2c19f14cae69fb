"""The default HTTP transport: httpx's API over aiohttp's connection pool.

Measured on these machines (shared/MEASURED.md) httpx's own async transport
falls to ~250 requests/s at concurrency 50; the ``httpx-aiohttp`` transport
keeps httpx's request/response models and runs 5-12x faster. Tests and replay
pass their own transport (``httpx.MockTransport`` or a capture replayer).
"""

from __future__ import annotations

import httpx
from httpx_aiohttp import AiohttpTransport

# Below typical server keep-alive timeouts, to avoid reusing a closing connection.
KEEPALIVE_EXPIRY_SECONDS = 4.0


def default_transport(max_connections: int) -> httpx.AsyncBaseTransport:
    """An aiohttp-backed transport sized for ``max_connections`` concurrent requests."""
    limits = httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
    )
    return AiohttpTransport(limits=limits)
