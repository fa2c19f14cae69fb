"""Running the demo API: in a background thread (:class:`DemoAPI`, for tests
and notebooks) or in the foreground until a signal (:func:`serve_forever`, for
``python -m orchestra.demo`` and ``orchestra demo-api``)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypedDict, TypeVar, Unpack

from aiohttp import web

from orchestra.demo._app import build_app
from orchestra.demo._state import DemoSettings, DemoState

KEEPALIVE_TIMEOUT_SECONDS = 75.0
SHUTDOWN_TIMEOUT_SECONDS = 2.0

T = TypeVar("T")


class SettingsOverrides(TypedDict, total=False):
    """Keyword settings accepted by :class:`DemoAPI` (defaults in :class:`DemoSettings`)."""

    total_items: int
    total_contacts: int
    total_tickets: int
    token_ttl_seconds: float
    rate_limit: int
    rate_window_seconds: float
    static_token: str
    api_key: str
    client_id: str
    client_secret: str
    basic_username: str
    basic_password: str


def base_url(host: str, port: int) -> str:
    """``http://host:port`` that a local client can connect to."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


async def start_site(state: DemoState, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve ``state`` on ``host:port`` (port 0 picks a free one); returns the runner and port."""
    runner = web.AppRunner(
        build_app(state),
        access_log=None,
        keepalive_timeout=KEEPALIVE_TIMEOUT_SECONDS,
        shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner, runner.addresses[0][1]


class DemoAPI:
    """A demo API server running on its own event loop in a daemon thread.

    >>> with DemoAPI(total_items=50) as api:   # doctest: +SKIP
    ...     httpx.get(f"{api.url}/items").json()["total"]
    50
    """

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, **settings: Unpack[SettingsOverrides]
    ) -> None:
        self.host = host
        self.requested_port = port
        self.settings = DemoSettings(**settings)
        self.state = DemoState(self.settings)
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._startup_error: BaseException | None = None

    def __repr__(self) -> str:
        where = self.url if self.running else "not running"
        return f"<DemoAPI {where}>"

    @property
    def running(self) -> bool:
        """Whether the server thread is up and serving."""
        return self._port is not None and self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        if self._port is None:
            raise RuntimeError("DemoAPI is not running: call start() first")
        return self._port

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:54321``."""
        return base_url(self.host, self.port)

    def start(self) -> DemoAPI:
        """Start serving in a background thread; returns once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError("DemoAPI is already started")
        ready = threading.Event()
        self._startup_error = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, args=(self._loop, ready), name="orchestra-demo-api", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._thread = self._loop = None
            raise self._startup_error
        return self

    def stop(self) -> None:
        """Stop serving, finish open connections briefly, and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
        self._loop = self._thread = None
        self._port = None

    def stats(self) -> dict[str, Any]:
        """The ``/_stats`` counters, read on the server's loop."""
        return self._call(self.state.stats)

    def reset(self) -> None:
        """Same as ``POST /_reset``, run on the server's loop."""
        self._call(self.state.reset)

    def add_tickets(self, *bodies: dict[str, Any]) -> list[dict[str, Any]]:
        """Create tickets (like ``POST /tickets``), each newer than every earlier change."""
        return self._call(lambda: [self.state.tickets.create(body) for body in bodies])

    def update_ticket(self, ticket_id: int, **changes: Any) -> dict[str, Any]:
        """Change ticket ``ticket_id`` (like ``PATCH /tickets/{id}``) and restamp it."""
        record = self._call(lambda: self.state.tickets.update(ticket_id, changes))
        if record is None:
            raise KeyError(f"no ticket {ticket_id} on the demo API")
        return record

    def __enter__(self) -> DemoAPI:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _call(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the server loop (directly if not running or already on it)."""
        loop = self._loop
        if loop is None or not self.running or threading.current_thread() is self._thread:
            return function()

        async def call() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(call(), loop).result()

    def _run(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        try:
            try:
                runner, self._port = loop.run_until_complete(
                    start_site(self.state, self.host, self.requested_port)
                )
            except BaseException as exc:
                self._startup_error = exc
                return
            finally:
                ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            _cancel_remaining_tasks(loop)
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            asyncio.set_event_loop(None)
            loop.close()


def _cancel_remaining_tasks(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def start_demo_api(**settings: Any) -> DemoAPI:
    """Start a demo API in the background and return it (``.url``, ``.stop()``).

    Accepts ``host``, ``port`` and the :class:`DemoSettings` fields as keywords.
    """
    return DemoAPI(**settings).start()


def serve_forever(host: str = "127.0.0.1", port: int = 8765, **settings: Any) -> None:
    """Serve the demo API in the foreground until SIGINT or SIGTERM.

    Prints ``Orchestra demo API listening on <url>`` once it accepts connections.
    ``settings`` are :class:`DemoSettings` fields.
    """
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(host, port, DemoSettings(**settings)))


async def _serve(host: str, port: int, settings: DemoSettings) -> None:
    runner, bound_port = await start_site(DemoState(settings), host, port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):
            continue  # not the main thread, or Windows: Ctrl-C raises KeyboardInterrupt
        handled.append(sig)
    print(f"Orchestra demo API listening on {base_url(host, bound_port)}", flush=True)
    try:
        await stop.wait()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
        await runner.cleanup()
