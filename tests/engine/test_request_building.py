"""How a step's templates become a request: the URL's own query and ``params`` merge."""

import httpx

import orchestra
from orchestra.demo import DemoAPI


def _echoed_query(plan: dict, demo_api: DemoAPI) -> dict:
    result = orchestra.run(plan, {"base_url": demo_api.url}, db=None)
    assert result.status == orchestra.RunStatus.SUCCEEDED, result.error
    return result.records[0].data["query"]


def test_params_add_to_the_query_written_in_the_url(demo_api: DemoAPI) -> None:
    plan = {"key": "q", "steps": [{
        "name": "e", "url": "{config.base_url}/echo?limit=10&sort=name",
        "params": {"offset": "20", "sort": "id"},
    }]}  # fmt: skip

    assert _echoed_query(plan, demo_api) == {"limit": "10", "sort": "id", "offset": "20"}


def test_an_api_key_in_the_query_keeps_the_urls_own_query(demo_api: DemoAPI) -> None:
    plan = {
        "key": "q",
        "auth": {"type": "api_key", "name": "api_key", "value": "k-123456", "in": "query"},
        "steps": [{"name": "e", "url": "{config.base_url}/echo?limit=10"}],
    }

    query = _echoed_query(plan, demo_api)

    assert query == {"limit": "10", "api_key": "k-123456"}


def test_an_httpx_transport_sees_the_same_merged_query() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={})

    plan = {"key": "q", "steps": [{
        "name": "e", "url": "http://api.test/e?a=1", "params": {"b": ["2", "3"]},
    }]}  # fmt: skip
    orchestra.run(plan, db=None, transport=httpx.MockTransport(answer))

    assert seen == ["http://api.test/e?a=1&b=2&b=3"]


def test_a_header_httpx_cannot_encode_is_blamed_on_the_header() -> None:
    """httpx encodes header values as ASCII (the default transport sends UTF-8)."""
    plan = {"key": "h", "steps": [{
        "name": "e", "url": "http://api.test/e", "headers": {"X-Name": "ünï"},
    }]}  # fmt: skip
    transport = httpx.MockTransport(lambda request: httpx.Response(200))

    result = orchestra.run(plan, db=None, transport=transport)

    assert result.status == orchestra.RunStatus.FAILED
    assert "header 'X-Name' holds non-ASCII text" in str(result.error)
    assert "URL" not in str(result.error)
