"""A synchronous, in-process event bus: the engine emits, subscribers listen.

Subscribers are plain callables run in the order they subscribed, on the
engine's thread and loop. They must be quick (append to a buffer, update a
counter); slow work belongs on a thread of the subscriber's own. A failing
subscriber is reported once through ``logging`` and never breaks the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from orchestra.events._types import Event

logger = logging.getLogger("orchestra.events")

Subscriber = Callable[[Event], None]


class EventBus:
    """Delivers every event to every subscriber."""

    def __init__(self, subscribers: Iterable[Subscriber] = ()):
        self._subscribers: list[Subscriber] = list(subscribers)
        self._failed: set[int] = set()

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.remove(subscriber)

    def emit(self, event: Event) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                if id(subscriber) not in self._failed:
                    self._failed.add(id(subscriber))
                    logger.exception("event subscriber %r failed; it is kept", subscriber)
