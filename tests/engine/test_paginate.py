"""Pagination presets on API shapes the demo API does not have (over ``httpx.MockTransport``):
next links in the body (relative, ``@odata.nextLink``), cursors in the body and in a header,
Stripe's ``has_more`` + ``starting_after``, an initial cursor, and ``records`` errors."""

from __future__ import annotations

import json

import httpx

from orchestra import RunStatus

ROWS = [{"id": f"r{i}"} for i in range(1, 8)]  # seven rows, three per page


def chunk(start: int) -> list[dict]:
    return ROWS[start : start + 3]


def run_plan(run_mock, step: dict, handler, **options):
    plan = {"key": "p", "steps": [{"name": "rows", **step}]}
    return run_mock(plan, handler, **options)


def ids(result) -> list[str]:
    return [record.data["id"] for record in result.records]


def test_json_link_follows_a_relative_next_url_in_the_body(run_mock):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        start = int(request.url.params.get("from", "0"))
        nxt = f"rows?from={start + 3}" if start + 3 < len(ROWS) else None
        return httpx.Response(200, json={"data": chunk(start), "links": {"next": nxt}})

    result = run_plan(
        run_mock,
        {
            "url": "http://api/v1/rows",
            "params": {"size": 3},
            "paginate": {"type": "json_link", "next_path": "links.next"},
            "records": "data",
        },
        handler,
    )
    assert result.ok, result.error
    # the next URL is resolved against the page's URL and requested as it is (no params added)
    assert seen == [
        "http://api/v1/rows?size=3",
        "http://api/v1/rows?from=3",
        "http://api/v1/rows?from=6",
    ]
    assert ids(result) == [row["id"] for row in ROWS]
    assert result.steps["rows"].pages == 3


def test_json_link_reads_an_odata_next_link_field(run_mock):
    def handler(request: httpx.Request) -> httpx.Response:
        skip = int(request.url.params.get("$skip", "0"))
        body: dict = {"value": chunk(skip)}
        if skip + 3 < len(ROWS):
            body["@odata.nextLink"] = f"http://graph/users?$skip={skip + 3}"
        return httpx.Response(200, json=body)

    result = run_plan(
        run_mock,
        {
            "url": "http://graph/users",
            "paginate": {"type": "json_link", "next_path": "@odata.nextLink"},
            "records": "value",
        },
        handler,
    )
    assert result.ok, result.error
    assert ids(result) == [row["id"] for row in ROWS]


def test_stripe_style_cursor_is_the_last_records_id_until_has_more_is_false(run_mock):
    params = []

    def handler(request: httpx.Request) -> httpx.Response:
        params.append(dict(request.url.params))
        after = request.url.params.get("starting_after")
        start = 0 if after is None else [r["id"] for r in ROWS].index(after) + 1
        rows = chunk(start)
        return httpx.Response(200, json={"data": rows, "has_more": start + len(rows) < len(ROWS)})

    result = run_plan(
        run_mock,
        {
            "url": "http://stripe/v1/customers",
            "params": {"limit": 3},
            "paginate": {
                "type": "cursor",
                "cursor_path": "data[-1].id",
                "cursor_param": "starting_after",
                "has_more_path": "has_more",
            },
            "records": "data",
        },
        handler,
    )
    assert result.ok, result.error
    assert params == [
        {"limit": "3"},
        {"limit": "3", "starting_after": "r3"},
        {"limit": "3", "starting_after": "r6"},
    ]
    assert ids(result) == [row["id"] for row in ROWS]


def slack_like(start_key: str):
    """A handler reading the cursor from ``start_key(request)``; "" ends like Slack."""

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = start_key(request) or "0"
        start = int(cursor)
        nxt = str(start + 3) if start + 3 < len(ROWS) else ""
        return httpx.Response(
            200, json={"members": chunk(start), "response_metadata": {"next_cursor": nxt}}
        )

    return handler


def test_cursor_in_the_body_of_a_post(run_mock):
    bodies = []

    def cursor_of(request: httpx.Request) -> str | None:
        body = json.loads(request.content)
        bodies.append(body)
        return body.get("cursor")

    result = run_plan(
        run_mock,
        {
            "method": "POST",
            "url": "http://slack/users.list",
            "body": {"team": "T1"},
            "paginate": {
                "type": "cursor",
                "cursor_path": "response_metadata.next_cursor",
                "in": "body",
            },
            "records": "members",
        },
        slack_like(cursor_of),
    )
    assert result.ok, result.error
    assert bodies == [{"team": "T1"}, {"team": "T1", "cursor": "3"}, {"team": "T1", "cursor": "6"}]
    assert len(result.records) == len(ROWS)


def test_cursor_in_a_header_with_an_initial_cursor_from_config(run_mock):
    sent = []

    def cursor_of(request: httpx.Request) -> str | None:
        sent.append(request.headers.get("x-cursor"))
        return request.headers.get("x-cursor")

    result = run_mock(
        {
            "key": "p",
            "config": {"resume_from": "3"},
            "steps": [
                {
                    "name": "rows",
                    "url": "http://slack/users.list",
                    "paginate": {
                        "type": "cursor",
                        "cursor_path": "response_metadata.next_cursor",
                        "cursor_param": "X-Cursor",
                        "in": "header",
                        "initial": "{config.resume_from}",
                    },
                    "records": "members",
                }
            ],
        },
        slack_like(cursor_of),
    )
    assert result.ok, result.error
    assert sent == ["3", "6"]
    assert ids(result) == ["r4", "r5", "r6", "r7"]


def test_records_that_are_not_a_list_fail_the_step_naming_the_path(run_mock):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": {"id": 1}})

    result = run_plan(run_mock, {"url": "http://api/x", "records": "data"}, handler)
    assert result.status is RunStatus.FAILED
    message = str(result.error)
    assert "records 'data' gave dict, not a list" in message and "rows" in message


def test_records_missing_from_a_page_emit_nothing(run_mock):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"other": 1})

    result = run_plan(run_mock, {"url": "http://api/x", "records": "data"}, handler)
    assert result.ok and result.records == [] and result.steps["rows"].records == 0


def test_without_records_a_page_is_one_record_as_before(run_mock):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": ROWS})

    result = run_plan(run_mock, {"url": "http://api/x"}, handler)
    assert [record.data for record in result.records] == [{"data": ROWS}]


def test_a_next_url_that_is_not_text_fails_clearly(run_mock):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"next": 5, "data": []})

    result = run_plan(
        run_mock,
        {"url": "http://api/x", "paginate": {"type": "json_link", "next_path": "next"}},
        handler,
    )
    assert result.status is RunStatus.FAILED
    assert "gave int, not a URL" in str(result.error)


def test_page_state_and_next_url_can_be_written_by_hand(run_mock):
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params.get("p"))
        number = int(request.url.params["p"])
        return httpx.Response(200, json={"rows": chunk((number - 1) * 3)})

    result = run_plan(
        run_mock,
        {
            "url": "http://api/rows",
            "params": {"p": "{page_state.n}"},
            "page_state": {"n": 1},
            "page_state_updates": {"n": "sum([page_state.n, `1`])"},
            "while": "length(response.body.rows) == `3`",
            "records": "rows",
        },
        handler,
    )
    assert result.ok, result.error
    assert seen == ["1", "2", "3"]
    assert len(result.records) == len(ROWS)


def test_paginate_auto_loads_and_runs_the_first_page(run_mock):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=ROWS)

    result = run_plan(run_mock, {"url": "http://api/x", "paginate": "auto"}, handler)
    assert result.ok, result.error
    assert result.steps["rows"].pages == 1
