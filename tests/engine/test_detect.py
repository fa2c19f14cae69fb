"""``paginate: auto`` detection over real responses of every demo API shape: the exact
spec and records path, that following the spec really reaches the second page, the
YAML to paste, hand-made edge cases, and that no JSON body makes it raise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import httpx
import jmespath
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestra.demo import DemoAPI
from orchestra.engine._detect import Detection, as_yaml, detect_pagination, jmespath_of

OFFSET = {
    "type": "offset",
    "limit": 10,
    "limit_param": "limit",
    "offset_param": "offset",
    "total_path": "total",
}
STRIPE = {
    "type": "cursor",
    "cursor_path": "data[-1].id",
    "cursor_param": "starting_after",
    "has_more_path": "has_more",
}

# path on the demo API -> (paginate, records, looks_paginated)
EXPECTED: dict[str, tuple[dict[str, Any] | None, str | None, tuple[str, ...]]] = {
    "/items": (OFFSET, "items", ()),
    "/pages": (
        {
            "type": "page_number",
            "page_param": "page",
            "start": 1,
            "size_param": "per_page",
            "size": 10,
            "total_pages_path": "total_pages",
        },
        "items",
        (),
    ),
    "/cursor": (
        {"type": "cursor", "cursor_path": "next_cursor", "cursor_param": "cursor"},
        "items",
        (),
    ),
    "/link": ({"type": "link_header"}, "@", ()),
    "/api/contacts?limit=10": (
        {
            "type": "cursor",
            "cursor_path": "next_offset",
            "cursor_param": "offset",
            "has_more_path": "has_more",
        },
        "contacts",
        (),
    ),
    "/github/items": ({"type": "link_header"}, "@", ()),
    "/graph/items": ({"type": "json_link", "next_path": '"@odata.nextLink"'}, "value", ()),
    "/stripe/items": (STRIPE, "data", ()),
    "/slack/members": (
        {
            "type": "cursor",
            "cursor_path": "response_metadata.next_cursor",
            "cursor_param": "cursor",
        },
        "members",
        (),
    ),
    "/hal/items": ({"type": "json_link", "next_path": "_links.next.href"}, "_embedded.items", ()),
    "/tickets": (OFFSET, "data", ()),
    "/search": (None, "results", ("total", "nxt")),
    "/items/7": (None, None, ()),
    "/github/items?per_page=1000": (None, "@", ()),
}


# path -> how the explanation starts (what was found, and what is sent back)
EXPLAINED = {
    "/github/items": 'Link header with rel="next"; records: @ (10 in this response)',
    "/graph/items": 'a next-page URL in the body at "@odata.nextLink"; records: value (',
    "/stripe/items": "has_more with the last record's id, sent back as ?starting_after=; ",
    "/slack/members": "a cursor in the body at response_metadata.next_cursor, sent back as ?cur",
    "/pages": "page numbers with a total; records: items",
    "/tickets": "offset and limit with a total at total; records: data (10 in this response)",
    "/api/contacts?limit=10": "a next offset in the body at next_offset, sent back as ?offset=",
}


@pytest.fixture
def client(demo_api: DemoAPI) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo_api.url, timeout=10) as http:
        yield http


def detect(response: httpx.Response) -> Detection:
    return detect_pagination(url=str(response.url), headers=response.headers, body=response.json())


@pytest.mark.parametrize("path", list(EXPECTED))
def test_each_demo_shape_is_detected_exactly(client: httpx.Client, path: str) -> None:
    detection = detect(client.get(path))
    paginate, records, looks_paginated = EXPECTED[path]
    assert detection.paginate == paginate
    assert detection.records == records
    assert detection.looks_paginated == looks_paginated
    assert "\n" not in detection.explanation
    assert detection.explanation.startswith(EXPLAINED.get(path, ""))
    if records is not None:
        assert f"records: {records} (" in detection.explanation
    else:
        assert "the body is one record" in detection.explanation


def next_request(response: httpx.Response, spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The second request a paginator following ``spec`` would send (a test oracle)."""
    body = response.json()
    url = str(response.url.copy_with(query=None))
    params = dict(response.url.params)
    kind = spec["type"]
    if kind == "link_header":
        return response.links["next"]["url"], {}
    if kind == "json_link":
        return urljoin(str(response.url), jmespath.search(spec["next_path"], body)), {}
    if kind == "cursor":
        return url, params | {spec["cursor_param"]: jmespath.search(spec["cursor_path"], body)}
    if kind == "offset":
        return url, params | {
            spec["offset_param"]: spec["limit"],
            spec["limit_param"]: spec["limit"],
        }
    assert kind == "page_number"
    return url, params | {spec["page_param"]: spec["start"] + 1, spec["size_param"]: spec["size"]}


@pytest.mark.parametrize("path", [p for p, (spec, _, _) in EXPECTED.items() if spec])
def test_following_the_detected_spec_reaches_the_second_page(
    client: httpx.Client, path: str
) -> None:
    first = client.get(path)
    detection = detect(first)
    assert detection.paginate is not None and detection.records is not None
    url, params = next_request(first, detection.paginate)
    second = client.get(url, params=params or None)
    assert second.status_code == 200, second.text
    pages = [jmespath.search(detection.records, page.json()) for page in (first, second)]
    size = len(pages[0])
    ids = [str(record["id"]) for page in pages for record in page]
    assert len(ids) == 2 * size and len(set(ids)) == 2 * size  # a new page, nothing repeated
    assert ids[size] in (str(size + 1), f"item_{size + 1}", f"c-{size + 1}")


def test_yaml_to_paste_round_trips_and_quotes_jmespath() -> None:
    graph = Detection({"type": "json_link", "next_path": '"@odata.nextLink"'}, "value", (), "")
    assert as_yaml(graph) == (
        "paginate:\n  type: json_link\n  next_path: '\"@odata.nextLink\"'\nrecords: value\n"
    )
    link = Detection({"type": "link_header"}, "@", (), "")
    assert as_yaml(link) == "paginate: link_header\nrecords: '@'\n"
    assert yaml.safe_load(as_yaml(link)) == {"paginate": "link_header", "records": "@"}
    assert yaml.safe_load(as_yaml(Detection(STRIPE, "data", (), ""))) == {
        "paginate": STRIPE,
        "records": "data",
    }
    assert as_yaml(Detection(None, "results", ("total",), "")) == "records: results\n"
    assert as_yaml(Detection(None, None, (), "")) == ""


def test_search_warning_names_the_fields_and_the_fix(client: httpx.Client) -> None:
    detection = detect(client.get("/search"))
    assert detection.explanation == (
        "one page, but total, nxt look like pagination and match no rule (write paginate:); "
        "records: results (10 in this response)"
    )


# -- hand-made responses ---------------------------------------------------------


def detect_body(body: Any, headers: dict[str, str] | None = None, url: str = "") -> Detection:
    return detect_pagination(
        url=url or "https://api.example.com/things", headers=headers or {}, body=body
    )


@pytest.mark.parametrize(
    ("body", "next_path"),
    [
        ({"results": [], "next": "https://x/y?page=2"}, "next"),
        ({"results": [], "next": None, "count": 0}, "next"),
        ({"data": [], "next_url": "/things?page=2"}, "next_url"),
        ({"data": [], "nextUrl": "?page=2"}, "nextUrl"),
        ({"data": [], "links": {"next": "https://x/y?page=2"}}, "links.next"),
        ({"data": [], "links": {"next": {"href": "/y?page=2"}}}, "links.next.href"),
        ({"data": [], "paging": {"next": "https://graph/x?after=Q"}}, "paging.next"),
        ({"data": [], "meta": {"next": "/x?page=2"}}, "meta.next"),
    ],
)
def test_next_url_fields(body: dict[str, Any], next_path: str) -> None:
    assert detect_body(body).paginate == {"type": "json_link", "next_path": next_path}


@pytest.mark.parametrize(
    ("field", "param"),
    [("nextPageToken", "pageToken"), ("next_page_token", "page_token"), ("cursor", "cursor")],
)
def test_cursor_fields_name_the_parameter_to_send(field: str, param: str) -> None:
    detection = detect_body({"items": [{"id": 1}], field: "tok", "has_more": True})
    assert detection.paginate == {
        "type": "cursor",
        "cursor_path": field,
        "cursor_param": param,
        "has_more_path": "has_more",
    }


def test_link_header_is_found_in_any_case_and_without_next_on_the_last_page() -> None:
    last_only = {"LINK": '<https://x/y?page=3>; rel="last", <https://x/y?page=2>; rel="prev"'}
    detection = detect_body([{"id": 1}], last_only)
    assert detection.paginate == {"type": "link_header"} and detection.records == "@"
    assert 'rel="last"' in detection.explanation
    assert detect_body([], {"Link": '<https://x/terms>; rel="terms-of-service"'}).paginate is None


def test_an_opaque_next_is_not_a_url_but_looks_paginated() -> None:
    detection = detect_body({"data": [{"id": 1}], "next": "eyJvZmZzZXQiOjF9"})
    assert detection.paginate is None
    assert detection.looks_paginated == ("next",)


def test_odd_keys_are_quoted_as_jmespath_identifiers() -> None:
    assert jmespath_of(("@odata.nextLink",)) == '"@odata.nextLink"'
    assert jmespath_of(("a b", 'say "hi"', "ok_1")) == '"a b"."say \\"hi\\"".ok_1'
    assert jmespath_of(("line\nbreak",)) == '"line\\nbreak"'
    assert jmespath.search(jmespath_of(("line\nbreak", "x")), {"line\nbreak": {"x": 1}}) == 1
    body = {"_embedded": {"my-things": [{"id": 1}]}, "_links": {"next": {"href": "/p2"}}}
    detection = detect_body(body)
    assert detection.records == '_embedded."my-things"'
    assert jmespath.search(detection.records, body) == [{"id": 1}]


def test_page_number_from_query_and_offset_size_from_the_records_count() -> None:
    paged = detect_body({"data": [{}] * 5, "total": 50}, url="https://x/y?page=1&page_size=5")
    assert paged.paginate == {
        "type": "page_number",
        "page_param": "page",
        "start": 1,
        "size_param": "page_size",
        "size": 5,
    }
    offset = detect_body({"data": [{}] * 4, "meta": {"total": 9, "offset": 0}})
    assert offset.paginate == {
        "type": "offset",
        "limit": 4,
        "limit_param": "limit",
        "offset_param": "offset",
        "total_path": "meta.total",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"id": 1, "total": 99.5, "count": 3},  # an order: its total is money
        {"items": [{"id": 1}, {"id": 2}], "total": 2},  # everything is here
        {"id": 1, "has_more": False, "next_page": None},
        {"ok": True},
        [],
        "text",
        None,
    ],
)
def test_plain_responses_are_one_page_without_warning(body: Any) -> None:
    detection = detect_body(body)
    assert detection.paginate is None and detection.looks_paginated == ()
    assert detection.explanation.startswith("no pagination found: one page")


def test_a_total_above_the_count_and_page_fields_without_total_warn() -> None:
    detection = detect_body(
        {"entries": [{}] * 3, "page": 1, "per_page": 3, "pagination": {"totalItems": 30}}
    )
    assert detection.paginate is None
    assert detection.looks_paginated == ("page", "per_page", "pagination.totalItems")


def test_a_list_field_of_unknown_name_is_records_only_when_paginated() -> None:
    assert detect_body({"members": [{"id": 1}], "next_cursor": "c"}).records == "members"
    assert detect_body({"id": 1, "tags": ["a", "b"]}).records is None


# -- never raises ----------------------------------------------------------------

KEYS = [
    *("data", "items", "next", "links", "href", "_links", "_embedded", "has_more", "id"),
    *("total", "page", "offset", "limit", "next_cursor", "cursor", "@odata.nextLink"),
    *("response_metadata", "meta", "per_page", "total_pages", "next_offset", "x y"),
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(KEYS) | st.text(max_size=6),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=json_values,
    headers=st.dictionaries(
        st.sampled_from(["link", "Link", "x"]) | st.text(max_size=4),
        st.text(max_size=30),
        max_size=3,
    ),
    url=st.text(max_size=30) | st.just("http://[::1/x?page=2&limit=3"),
)
@example(body={"\n": {"next": True}}, headers={}, url="")  # a key that must be escaped
def test_never_raises_and_its_paths_evaluate(body: Any, headers: dict[str, str], url: str) -> None:
    detection = detect_pagination(url=url, headers=headers, body=body)
    assert detection.explanation and "\n" not in detection.explanation
    if detection.records is not None:
        assert isinstance(jmespath.search(detection.records, body), list)
    spec = detection.paginate or {}
    for key in ("next_path", "cursor_path", "total_path", "total_pages_path", "has_more_path"):
        if key in spec:
            jmespath.compile(spec[key])
    assert yaml.safe_load(as_yaml(detection) or "{}") is not None


def test_rules_apply_in_the_documented_order() -> None:
    """Each rule wins over every later one: drop the winner's field, the next rule wins."""
    body: dict[str, Any] = {
        "data": [{"id": 1}],
        "next": "https://x/y?page=2",
        "next_cursor": "c",
        "total": 9,
        "offset": 0,
        "next_offset": 1,
        "has_more": True,
    }
    link = {"Link": '<https://x/y?page=2>; rel="next"'}
    found = []
    for winner_field in [None, "next", "next_cursor", "total", "next_offset", "has_more"]:
        detection = detect_body(body, link if winner_field is None else {})
        spec = detection.paginate or {}
        found.append((spec.get("type"), spec.get("cursor_path")))
        if winner_field is not None:
            body.pop(winner_field)
    assert found == [
        ("link_header", None),
        ("json_link", None),
        ("cursor", "next_cursor"),
        ("offset", None),
        ("cursor", "next_offset"),
        ("cursor", "data[-1].id"),
    ]


def test_a_count_equal_to_a_full_page_is_not_taken_for_the_total() -> None:
    page_count = detect_body({"items": [{}] * 10, "count": 10, "offset": 0, "limit": 10})
    assert page_count.paginate is None and page_count.looks_paginated == ("offset",)
    total_count = detect_body({"items": [{}] * 10, "count": 25, "offset": 0, "limit": 10})
    assert total_count.paginate == {
        "type": "offset",
        "limit": 10,
        "limit_param": "limit",
        "offset_param": "offset",
        "total_path": "count",
    }
    last = detect_body({"items": [{}] * 4, "count": 4, "offset": 0, "limit": 10})
    assert last.paginate is not None and last.paginate["total_path"] == "count"


def test_paging_headers_without_a_link_header_warn() -> None:
    headers = {"X-Total-Count": "120", "Content-Length": "999", "X-Next-Page": "2"}
    detection = detect_body([{"id": 1}] * 10, headers)
    assert detection.paginate is None
    assert detection.looks_paginated == ("X-Total-Count header", "X-Next-Page header")
    quiet = detect_body([{"id": 1}] * 10, {"X-Total-Count": "10", "X-Next-Page": ""})
    assert quiet.looks_paginated == ()
