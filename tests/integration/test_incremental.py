"""``incremental:`` against the real demo API's ``/tickets?updated_since=`` (issue 19 item 3).

A first run reads every ticket and keeps the highest ``updated_at`` in the
persistent context of the capture file; tickets are then added and changed on
the server, and the second run's first request carries that cursor and
fetches only those tickets. A failed run does not move the cursor, another
config keeps its own, and the cursor is an ordinary context value
(``incremental.<step>``) that the run shows.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import orchestra
from orchestra.capture import CaptureStore
from orchestra.demo import DemoAPI

START = "2024-01-01T00:00:00Z"
TICKETS = 100  # the demo API's initial tickets, ticket i updated i hours after START


def sync_plan(**extra_steps: object) -> dict:
    tickets = {
        "name": "tickets",
        "url": "{config.base_url}/tickets",
        "paginate": {"type": "offset", "limit": 10},
        "records": "data",
        "incremental": {"cursor_path": "updated_at", "param": "updated_since",
                        "initial_value": START},
    }  # fmt: skip
    steps = [tickets, *({"name": k, **v} for k, v in extra_steps.items())]  # type: ignore[dict-item]
    return {"key": "ticket-sync", "steps": steps}


def first_since(db: str, run_id: str) -> list[str]:
    """The ``updated_since`` the run's first ``tickets`` request carried."""
    with CaptureStore(db).read() as reader:
        urls = reader.exchanges(run_id, step_path="tickets").sort_values("exchange_id")["url"]
    return parse_qs(urlsplit(urls.iloc[0]).query).get("updated_since", [])


def ids(result: orchestra.RunResult) -> list[int]:
    return [record.data["id"] for record in result.records]


def test_the_second_run_fetches_only_new_and_changed_tickets(demo_api: DemoAPI, tmp_path):
    db = str(tmp_path / "sync.duckdb")
    config = {"base_url": demo_api.url}
    first = orchestra.run(sync_plan(), config, db=db)
    assert first.ok, first.error
    assert ids(first) == list(range(1, TICKETS + 1))
    assert first_since(db, first.run_id) == [START]
    last_seen = first.records[-1].data["updated_at"]

    demo_api.add_tickets({"subject": "new one"}, {"subject": "new two"})
    changed = demo_api.update_ticket(5, status="closed")

    second = orchestra.run(sync_plan(), config, db=db)
    assert second.ok, second.error
    assert first_since(db, second.run_id) == [last_seen]
    assert ids(second) == [TICKETS + 1, TICKETS + 2, 5]
    assert second.steps["tickets"].pages == 1
    assert second.records[-1].data["updated_at"] == changed["updated_at"]

    third = orchestra.run(sync_plan(), config, db=db)
    assert third.ok and ids(third) == []
    assert first_since(db, third.run_id) == [changed["updated_at"]]


def test_a_failed_run_does_not_move_the_cursor(demo_api: DemoAPI, tmp_path):
    db = str(tmp_path / "sync.duckdb")
    config = {"base_url": demo_api.url}
    assert orchestra.run(sync_plan(), config, db=db).ok
    demo_api.add_tickets({"subject": "read by a run that fails"})

    failing = sync_plan(boom={"url": "{config.base_url}/no-such-endpoint"})
    failed = orchestra.run(failing, config, db=db)
    assert not failed.ok
    assert ids(failed) == [TICKETS + 1]  # read, but the run failed afterwards

    again = orchestra.run(sync_plan(), config, db=db)
    assert again.ok, again.error
    assert ids(again) == [TICKETS + 1]  # so the next run reads it again


def test_another_config_keeps_its_own_cursor(demo_api: DemoAPI, tmp_path):
    db = str(tmp_path / "sync.duckdb")
    assert orchestra.run(sync_plan(), {"base_url": demo_api.url}, db=db).ok
    other = orchestra.run(sync_plan(), {"base_url": demo_api.url, "tenant": "b"}, db=db)
    assert other.ok, other.error
    assert len(other.records) == TICKETS
    assert first_since(db, other.run_id) == [START]


def test_the_cursor_is_a_context_value_and_end_value_caps_it(demo_api: DemoAPI, tmp_path):
    plan = sync_plan()
    spec = plan["steps"][0]["incremental"]
    spec.update(end_value="2024-01-01T10:00:00Z", row_order="asc")
    result = orchestra.run(plan, {"base_url": demo_api.url}, db=str(tmp_path / "c.duckdb"))
    assert result.ok, result.error
    assert result.context["incremental.tickets"] == "2024-01-01T10:00:00Z"
    # asc: the page holding a ticket beyond end_value is the last one read
    assert result.steps["tickets"].pages == 2


def test_a_replay_sets_the_cursor_like_any_context_value(demo_api: DemoAPI, tmp_path):
    db = str(tmp_path / "sync.duckdb")
    config = {"base_url": demo_api.url}
    first = orchestra.run(sync_plan(), config, db=db)
    demo_api.add_tickets({"subject": "new"})
    second = orchestra.run(sync_plan(), config, db=db)
    assert first.ok and second.ok and ids(second) == [TICKETS + 1]

    def replay(**options: object) -> orchestra.RunResult:
        return orchestra.run(
            sync_plan(), config, db=None, replay=second.run_id, replay_db=db, **options
        )

    cursor = first.context["incremental.tickets"]
    replayed = replay(context={"incremental.tickets": cursor})
    assert replayed.ok, replayed.error
    assert ids(replayed) == ids(second)
    # without it (no capture of its own) the replay starts from initial_value: a request
    # the second run never made
    missed = replay()
    assert not missed.ok and "updated_since" in str(missed.error)
