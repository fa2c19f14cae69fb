"""A synchronous, in-process event bus: the engine emits, subscribers listen.

Subscribers are plain callables run in the order they subscribed, on the
engine's thread and loop. They must be quick (append to a buffer, update a
counter); slow work belongs on a thread of the subscriber's own. A failing
subscriber is reported once through ``logging`` and never breaks the run.

A subscriber may say which events it wants with an ``event_types`` attribute
(a collection of event classes, subclasses included); the bus then never
calls it for others. Routes are computed once per event class (and again
after a subscribe or unsubscribe), so a fanout's seven events per item cost
one dictionary lookup each plus the subscribers that want them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from orchestra.events._types import Event

logger = logging.getLogger("orchestra.events")

Subscriber = Callable[[Event], None]


class EventBus:
    """Delivers every event to every subscriber (that wants its type)."""

    def __init__(self, subscribers: Iterable[Subscriber] = ()):
        self._subscribers: list[Subscriber] = list(subscribers)
        self._failed: set[int] = set()
        self._routes: dict[type, tuple[Subscriber, ...]] = {}

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)
        self._routes = {}

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.remove(subscriber)
        self._routes = {}

    def _route(self, kind: type) -> tuple[Subscriber, ...]:
        route = tuple(s for s in self._subscribers if _wants(s, kind))
        self._routes[kind] = route
        return route

    def wants(self, kind: type) -> bool:
        """Whether any subscriber takes events of ``kind`` (so the engine may skip making one)."""
        route = self._routes.get(kind)
        if route is None:
            route = self._route(kind)
        return bool(route)

    def emit(self, event: Event) -> None:
        route = self._routes.get(type(event))
        if route is None:
            route = self._route(type(event))
        for subscriber in route:
            try:
                subscriber(event)
            except Exception:
                if id(subscriber) not in self._failed:
                    self._failed.add(id(subscriber))
                    logger.exception("event subscriber %r failed; it is kept", subscriber)


def _wants(subscriber: Subscriber, kind: type) -> bool:
    types = getattr(subscriber, "event_types", None)
    if not isinstance(types, frozenset | set | tuple | list):
        return True  # no declaration (or not one we understand): every event
    return any(isinstance(wanted, type) and issubclass(kind, wanted) for wanted in types)
