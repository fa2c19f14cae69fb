"""Transports by name: the built-ins, those registered in code, and entry points.

``ORCHESTRA_TRANSPORT`` names the transport a run uses when none is passed
(``aiohttp`` by default; ``reqwest`` with the ``orchestra[reqwest]`` extra).
A third party adds one as papermill adds engines: call
:func:`register_transport` with a name and a factory, or declare an entry
point in the group ``orchestra.transports`` whose object is the factory::

    [project.entry-points."orchestra.transports"]
    mine = "my_package.transport:make_transport"

A factory takes the run's connection limit and returns an
``httpx.AsyncBaseTransport`` — ideally a
:class:`~orchestra.engine._transport.DirectTransport`, which the engine calls
without httpx's client, raising :class:`~orchestra.errors.TransportError`
and its subclasses for the network's failures.

The built-ins are registered here in code, so they work whether or not the
package's own entry points are installed; entry points are read once, the
first time a name is not found (or the names are listed), and a name
registered in code wins over an entry point of the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

TransportFactory = Callable[[int], "httpx.AsyncBaseTransport"]

ENTRY_POINT_GROUP = "orchestra.transports"
DEFAULT_TRANSPORT = "aiohttp"

_factories: dict[str, TransportFactory] = {}
_entry_points_read = False


def register_transport(name: str, factory: TransportFactory) -> None:
    """Make ``factory`` the transport called ``name`` (case-insensitive; replaces any)."""
    key = _key(name)
    if not key:
        raise ValueError("a transport needs a name")
    _factories[key] = factory


def transport_names() -> list[str]:
    """The names of every known transport, built-ins, registered and entry points."""
    _read_entry_points()
    return sorted(_factories)


def transport_factory(name: str) -> TransportFactory:
    """The factory of the transport called ``name``; a ValueError lists the known ones."""
    key = _key(name)
    factory = _factories.get(key)
    if factory is None:
        _read_entry_points()
        factory = _factories.get(key)
    if factory is None:
        known = ", ".join(repr(each) for each in transport_names())
        raise ValueError(
            f"ORCHESTRA_TRANSPORT must name a known transport ({known}), not {key!r}; "
            f"a package adds one with orchestra.engine.register_transport or an entry "
            f"point in {ENTRY_POINT_GROUP!r}"
        )
    return factory


def _key(name: str) -> str:
    return name.strip().lower()


def _read_entry_points() -> None:
    """Register the entry points of ``ENTRY_POINT_GROUP`` (once; names in code win)."""
    global _entry_points_read
    if _entry_points_read:
        return
    _entry_points_read = True
    for point in entry_points(group=ENTRY_POINT_GROUP):
        key = _key(point.name)
        if key not in _factories:
            _factories[key] = _load_when_called(point.name, point.load)


def _load_when_called(name: str, load: Callable[[], TransportFactory]) -> TransportFactory:
    """A factory that imports the entry point's object only when a run asks for it."""

    def factory(max_connections: int) -> httpx.AsyncBaseTransport:
        loaded = load()
        _factories[_key(name)] = loaded
        return loaded(max_connections)

    return factory


def _aiohttp(max_connections: int) -> httpx.AsyncBaseTransport:
    from orchestra.engine._transport import AiohttpTransport

    return AiohttpTransport(max_connections)


def _reqwest(max_connections: int) -> httpx.AsyncBaseTransport:
    try:
        from orchestra.engine._reqwest import reqwest_transport
    except ModuleNotFoundError as error:
        raise RuntimeError(
            f"ORCHESTRA_TRANSPORT=reqwest needs pyreqwest ({error}): "
            "pip install 'orchestra[reqwest]', or unset ORCHESTRA_TRANSPORT"
        ) from None
    return reqwest_transport(max_connections)


register_transport("aiohttp", _aiohttp)
register_transport("reqwest", _reqwest)
