"""Time to first byte: each transport that can tell records it, the capture keeps it.

Against the demo API's ``/slow-body`` (status and headers at once, the body
later), the first byte comes well before the exchange ends; a transport that
cannot tell (a third party's ``DirectTransport`` that does not say) leaves it
unknown (None, NULL in the capture).
"""

from __future__ import annotations

import httpx
import pytest

import orchestra
from orchestra import RunStatus
from orchestra.capture import CaptureStore
from orchestra.engine import DirectTransport, RawResponse
from orchestra.events import ResponseReceived

DELAY = 0.4


def slow_body_plan() -> dict:
    return {
        "key": "first-byte",
        "config": {"base_url": ""},
        "step": {"name": "slow", "url": "{config.base_url}/slow-body?delay=" + str(DELAY)},
    }


def answers(result_events: list) -> list[ResponseReceived]:
    return [event for event in result_events if isinstance(event, ResponseReceived)]


@pytest.mark.parametrize("kind", ["aiohttp", "reqwest", "httpx"])
def test_first_byte_before_the_body_on_every_transport(kind, demo_api, tmp_path, monkeypatch):
    options = {}
    if kind == "httpx":
        options["transport"] = httpx.AsyncHTTPTransport()
    else:
        monkeypatch.setenv("ORCHESTRA_TRANSPORT", kind)
    db = tmp_path / "capture.duckdb"
    events: list = []
    runner_events = events.append
    result = orchestra.run(
        slow_body_plan(), {"base_url": demo_api.url}, db=db, subscribers=[runner_events], **options
    )
    assert result.status is RunStatus.SUCCEEDED, result.error
    assert [record.data for record in result.records] == [{"delayed": DELAY}]
    (answer,) = answers(events)
    assert answer.first_byte_ms is not None
    assert answer.elapsed_ms >= DELAY * 1000 * 0.9
    # the headers came at once: well before the body, which took DELAY more seconds
    assert 0 < answer.first_byte_ms < answer.elapsed_ms - DELAY * 1000 * 0.5

    with CaptureStore(db).read() as reader:
        (row,) = reader.exchanges(result.run_id).to_dict("records")
        assert row["first_byte_ms"] == pytest.approx(answer.first_byte_ms)
        assert row["elapsed_ms"] == pytest.approx(answer.elapsed_ms)
        shown = reader.exchange(result.run_id, int(row["exchange_id"]))
        assert shown is not None and shown["first_byte_ms"] == pytest.approx(answer.first_byte_ms)


def test_a_quick_answer_has_its_first_byte_within_its_time(demo_api, tmp_path):
    plan = {"key": "quick", "step": {"name": "items", "url": demo_api.url + "/slow?delay=0.2"}}
    events: list = []
    result = orchestra.run(plan, db=tmp_path / "c.duckdb", subscribers=[events.append])
    assert result.status is RunStatus.SUCCEEDED, result.error
    (answer,) = answers(events)
    # the server waits before it answers at all: most of the time is waiting, not reading
    assert answer.first_byte_ms is not None
    assert answer.first_byte_ms >= 200 * 0.9
    assert answer.first_byte_ms <= answer.elapsed_ms


class UntimedTransport(DirectTransport):
    """A third party's transport that does not say when the headers came."""

    max_connections = 4

    async def fetch(self, method, url, headers, body, *, max_bytes):
        return RawResponse(200, {"content-type": "application/json"}, b'{"ok": true}', url)

    async def aclose(self) -> None:
        pass


def test_unknown_when_the_transport_cannot_tell(tmp_path):
    db = tmp_path / "capture.duckdb"
    events: list = []
    result = orchestra.run(
        {"key": "untimed", "step": {"url": "http://api.test/x"}},
        transport=UntimedTransport(),
        db=db,
        subscribers=[events.append],
    )
    assert result.status is RunStatus.SUCCEEDED, result.error
    (answer,) = answers(events)
    assert answer.first_byte_ms is None
    with CaptureStore(db).read() as reader:
        (row,) = reader.exchanges(result.run_id).to_dict("records")
    assert row["first_byte_ms"] is None or row["first_byte_ms"] != row["first_byte_ms"]  # NaN
