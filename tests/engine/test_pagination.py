"""Pagination with while, context_updates, prev, break_when and max_loops."""

import httpx

from orchestra import RunStatus

ITEMS = list(range(1, 26))


def offset_api(request: httpx.Request) -> httpx.Response:
    offset = int(request.url.params.get("offset", "0"))
    page = ITEMS[offset : offset + 10]
    more = offset + 10 < len(ITEMS)
    return httpx.Response(
        200, json={"items": page, "has_more": more, "next_offset": offset + 10 if more else None}
    )


def test_seed_style_offset_pagination(run_mock):
    seen = []

    def handler(request):
        seen.append(request.url.params.get("offset"))
        return offset_api(request)

    plan = {
        "key": "p",
        "config": {"base_url": "http://api"},
        "step": {
            "url": "{config.base_url}/items",
            "params": {"limit": "10", "offset": "{context.next_offset || '0'}"},
            "while": "response.body.has_more == true",
            "context_updates": {"next_offset": "response.body.next_offset"},
        },
    }
    result = run_mock(plan, handler)
    assert result.status is RunStatus.SUCCEEDED, result.error
    assert seen == ["0", "10", "20"]
    assert [r.data["items"] for r in result.records] == [ITEMS[0:10], ITEMS[10:20], ITEMS[20:]]
    assert result.steps["main"].pages == 3


def test_cursor_first_page_sends_no_cursor_and_prev_is_the_previous_response(run_mock):
    params = []

    def handler(request):
        cursor = request.url.params.get("cursor")
        params.append(dict(request.url.params))
        nxt = {None: "c1", "c1": "c2", "c2": None}[cursor]
        return httpx.Response(200, json={"page": cursor, "next_cursor": nxt})

    plan = {
        "key": "p",
        "steps": [
            {
                "name": "pages",
                "url": "http://api/list",
                "params": {"cursor": "{prev.body.next_cursor}"},
                "while": "response.body.next_cursor != null",
            }
        ],
    }
    result = run_mock(plan, handler)
    assert result.ok, result.error
    assert params == [{}, {"cursor": "c1"}, {"cursor": "c2"}]


def test_break_when_stops_the_loop(run_mock):
    plan = {
        "key": "p",
        "step": {
            "url": "http://api/items",
            "params": {"offset": "{context.next_offset || '0'}"},
            "while": "response.body.has_more",
            "break_when": "response.body.items[0] == `11`",
            "context_updates": {"next_offset": "response.body.next_offset"},
        },
    }
    result = run_mock(plan, offset_api)
    assert result.ok
    assert result.steps["main"].pages == 2


def test_link_header_pagination_follows_response_links_next(run_mock):
    def handler(request):
        page = int(request.url.params.get("page", "1"))
        link = f'<http://api/l?page={page + 1}>; rel="next", <http://api/l?page=3>; rel="last"'
        headers = {"link": link} if page < 3 else {}
        return httpx.Response(200, json=[page], headers=headers)

    plan = {
        "key": "p",
        "config": {"base_url": "http://api"},
        "step": {
            "url": "{prev.links.next || join('', [config.base_url, '/l?page=1'])}",
            "while": "response.links.next != null",
        },
    }
    result = run_mock(plan, handler)
    assert result.ok, result.error
    assert [r.data for r in result.records] == [[1], [2], [3]]


def test_max_loops_ends_the_step_with_a_clear_error(run_mock):
    plan = {
        "key": "p",
        "limits": {"max_loops": 4},
        "step": {"name": "forever", "url": "http://api/x", "while": "`true`"},
    }
    result = run_mock(plan, lambda r: httpx.Response(200, json={}))
    assert result.status is RunStatus.FAILED
    assert "max_loops" in str(result.error)
    assert "forever" in str(result.error)
    assert result.requests == 4


def test_later_steps_see_earlier_steps(run_mock):
    def handler(request):
        if request.url.path == "/me":
            return httpx.Response(200, json={"id": 42})
        return httpx.Response(200, json={"path": request.url.path})

    plan = {
        "key": "p",
        "steps": [
            {"name": "me", "url": "http://api/me", "extract": {"user": "response.body.id"}},
            {"name": "orders", "url": "http://api/users/{steps.me.extract.user}/orders"},
            {"name": "again", "url": "http://api/u/{steps.me.body.id}"},
        ],
    }
    result = run_mock(plan, handler)
    assert result.ok, result.error
    assert result.records_of("orders") == [{"path": "/users/42/orders"}]
    assert result.records_of("again") == [{"path": "/u/42"}]


def test_delay_seconds_waits_before_each_request(run_mock, sleeps):
    plan = {
        "key": "p",
        "step": {
            "url": "http://api/items",
            "delay_seconds": 0.25,
            "params": {"offset": "{context.next_offset || '0'}"},
            "while": "response.body.has_more",
            "context_updates": {"next_offset": "response.body.next_offset"},
        },
    }
    result = run_mock(plan, offset_api)
    assert result.ok
    assert sleeps == [0.25, 0.25, 0.25]
