"""The event bus routes by type when a subscriber declares ``event_types``."""

from __future__ import annotations

from unittest import mock

from orchestra.events import EventBus, PageFinished, RecordEmitted, RequestSent


def _page() -> PageFinished:
    return PageFinished(
        run_id="r", at=0.0, step_path="s", execution_id="e", page=1, status_code=200
    )


def _record() -> RecordEmitted:
    return RecordEmitted(run_id="r", at=0.0, step_path="s", record={"a": 1})


class Only:
    event_types = frozenset({RecordEmitted})

    def __init__(self):
        self.seen = []

    def __call__(self, event):
        self.seen.append(event)


def test_a_subscriber_with_event_types_gets_only_those():
    only, everything = Only(), []
    bus = EventBus([only, everything.append])
    page, record = _page(), _record()
    bus.emit(page)
    bus.emit(record)
    assert only.seen == [record]
    assert everything == [page, record]


def test_wants_follows_subscribe_and_unsubscribe():
    bus = EventBus([Only()])
    assert bus.wants(RecordEmitted) and not bus.wants(PageFinished)
    catch_all = mock.Mock()  # a Mock answers any attribute: treated as "every event"
    bus.subscribe(catch_all)
    assert bus.wants(PageFinished)
    bus.emit(_page())
    catch_all.assert_called_once()
    bus.unsubscribe(catch_all)
    assert not bus.wants(RequestSent)


def test_a_failing_subscriber_is_kept_and_others_still_get_events():
    seen = []

    def broken(event):
        raise RuntimeError("boom")

    bus = EventBus([broken, seen.append])
    bus.emit(_record())
    bus.emit(_record())
    assert len(seen) == 2
