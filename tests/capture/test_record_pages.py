"""Records stored by reference to their page's captured body (``record_pages``).

A page whose ``records:`` path DuckDB can follow is one ``record_pages`` row;
the ``records`` view, the typed views, ``CaptureReader`` and exports read its
records out of ``exchanges.response_body``. Each test compares what is read
back with what the engine emitted (``RunResult.records``), and the typed table
with the one of the same records stored as text (a ``records:`` path DuckDB
cannot follow: ``data[*]``), and checks every fallback to text: a path DuckDB
cannot follow, a run with secrets (also a token registered mid-run), a body
not stored as UTF-8 text, XML and CSV, a page cut short by a test read's
``max_records``, a body evicted before its records came.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import pytest

import orchestra
from orchestra import ReadCaps
from orchestra.capture import CaptureStore
from orchestra.capture import _tables as tables
from orchestra.capture._diff import diff_runs
from orchestra.capture._rows import WIDTHS, RowBuilder, _json, page_rows
from orchestra.events import RecordEmitted, RequestSent, ResponseReceived, RunStarted
from orchestra.masking import Masker

# Three pages of rows whose JSON is written the way servers write it, not orjson's way:
# escaped slashes and non-ASCII, exponents, trailing zeros, spaces, nested values.
PAGES = [
    b'{"data": [ {"id": 1, "name": "a\\/b \\u00e9", "price": 1.50, "n": 1E2, '
    b'"tags": ["x", "y"], "owner": {"id": 7, "email": "o@example.com"}, "gone": null},'
    b' {"id": 2, "name": "\\"q\\"", "price": 2, "n": 3.0, "tags": [], '
    b'"owner": {"id": 8, "email": null}, "gone": null} ], "next": "/rows?p=2"}',
    b'{"data":[{"id":3,"name":"\xc3\xa9t\xc3\xa9","price":-0.25,"n":12345678901234567890123,'
    b'"tags":["z"],"owner":{"id":9,"email":"p@example.com"},"gone":"now text"}],'
    b'"next":"/rows?p=3"}',
    b'{"data":[],"next":null}',
    # not reached: the third page's next is null
]


def pages_handler(content_type: str = "application/json"):
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("p", "1"))
        return httpx.Response(200, content=PAGES[page - 1], headers={"content-type": content_type})

    return handler


def rows_plan(records: str = "data", **step: Any) -> dict[str, Any]:
    return {
        "key": "pages",
        "steps": [
            {
                "name": "rows",
                "url": "http://api.test/rows",
                "paginate": {"type": "json_link", "next_path": "next"},
                "records": records,
                **step,
            }
        ],
    }


def run(path: Path, plan: dict[str, Any], handler, **options: Any) -> orchestra.RunResult:
    result = orchestra.run(plan, transport=httpx.MockTransport(handler), db=str(path), **options)
    assert result.ok, result.error
    return result


def query(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(sql, params or []).fetchall()


def stored(path: Path) -> tuple[int, int]:
    """(record_pages rows, record_rows rows) in the file."""
    ((pages,),) = query(path, "SELECT count(*) FROM record_pages")
    ((texts,),) = query(path, "SELECT count(*) FROM record_rows")
    return pages, texts


def read_back(path: Path, run_id: str) -> list[tuple[Any, ...]]:
    """Every record as the records view gives it: attribution and the value."""
    rows = query(
        path,
        "SELECT seq, step_path, page, item_index, exchange_id, data FROM records "
        "WHERE run_id = ? ORDER BY seq",
        [run_id],
    )
    return [(*row[:5], orjson.loads(row[5])) for row in rows]


def emitted(result: orchestra.RunResult) -> list[tuple[Any, ...]]:
    return [(r.step_path, r.page, r.item_index, r.data) for r in result.records]


def test_a_page_of_records_is_one_row_read_back_as_the_engine_emitted_them(tmp_path):
    path = tmp_path / "c.duckdb"
    result = run(path, rows_plan(), pages_handler())

    assert stored(path) == (2, 0)  # the empty page has no records, so no row
    assert query(path, "SELECT path, first_index, record_count FROM record_pages ORDER BY seq") == [
        ('$."data"', 0, 2),
        ('$."data"', 0, 1),
    ]
    back = read_back(path, result.run_id)
    assert [row[0] for row in back] == [1, 2, 3]
    assert [(row[1], row[2], row[3], row[5]) for row in back] == emitted(result)
    # each record names the exchange whose body holds it
    exchanges = dict(
        query(path, "SELECT page, exchange_id FROM exchanges WHERE run_id = ?", [result.run_id])
    )
    assert [row[4] for row in back] == [exchanges[1], exchanges[1], exchanges[2]]
    with CaptureStore(path).read() as reader:
        assert reader.record_values(result.run_id) == [r.data for r in result.records]
        assert reader.records_by_step(result.run_id) == {"rows": 3}


def test_typed_tables_and_exports_equal_those_of_the_same_records_stored_as_text(tmp_path):
    by_reference, as_text = tmp_path / "ref.duckdb", tmp_path / "text.duckdb"
    a = run(by_reference, rows_plan("data"), pages_handler())
    b = run(as_text, rows_plan("data[*]"), pages_handler())  # a path DuckDB cannot follow
    assert stored(by_reference) == (2, 0) and stored(as_text) == (0, 3)
    assert [r.data for r in a.records] == [r.data for r in b.records]

    select = "SELECT * EXCLUDE (run_id) FROM data.rows"
    assert query(by_reference, select) == query(as_text, select)
    assert query(by_reference, "DESCRIBE data.rows") == query(as_text, "DESCRIBE data.rows")
    # the integer beyond 64 bits is a float in the engine, so a DOUBLE both ways
    assert dict((row[0], row[1]) for row in query(by_reference, "DESCRIBE data.rows"))["n"] == (
        "DOUBLE"
    )
    for path, result in ((by_reference, a), (as_text, b)):
        frame = result.table("rows")
        assert frame["id"].tolist() == [1, 2, 3]
        assert frame["owner"].iloc[0] == {"id": 7, "email": "o@example.com"}
        store = CaptureStore(path)
        for fmt in ("csv", "parquet"):
            target = tmp_path / f"{path.stem}-rows.{fmt}"
            with store.read() as reader:
                assert reader.copy_records(result.run_id, str(target), step_path="rows",
                                           file_format=fmt) == 3  # fmt: skip
            whole = tmp_path / f"{path.stem}-all.{fmt}"
            with store.read() as reader:
                assert reader.copy_records(result.run_id, str(whole), file_format=fmt) == 3
    with duckdb.connect() as connection:
        for fmt in ("csv", "parquet"):
            read = f"read_{fmt}"
            ref = connection.execute(
                f"SELECT * EXCLUDE (run_id) FROM {read}('{tmp_path}/ref-rows.{fmt}')"
            ).fetchall()
            text = connection.execute(
                f"SELECT * EXCLUDE (run_id) FROM {read}('{tmp_path}/text-rows.{fmt}')"
            ).fetchall()
            assert ref == text and len(ref) == 3
            whole = [
                connection.execute(
                    f"SELECT seq, step_path, page, data FROM {read}('{tmp_path}/{name}-all.{fmt}')"
                ).fetchall()
                for name in ("ref", "text")
            ]
            parsed = [[(*row[:3], orjson.loads(row[3])) for row in rows] for rows in whole]
            assert parsed[0] == parsed[1]


def test_a_list_body_an_odd_key_and_a_nested_path_are_referenced(tmp_path):
    bodies = {
        "/list": b'[{"id": 1}, {"id": 2}]',
        "/graph": b'{"@odata.value": [{"id": 3}], "value": []}',
        "/nested": b'{"result": {"items": [{"id": 4}, {"id": 5, "x": [1]}]}}',
    }

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bodies[request.url.path],
                              headers={"content-type": "application/json"})  # fmt: skip

    plan = {
        "key": "shapes",
        "steps": [
            {"name": "list", "url": "http://api.test/list", "records": "@"},
            {"name": "graph", "url": "http://api.test/graph", "records": "@odata.value"},
            {"name": "nested", "url": "http://api.test/nested", "records": "result.items"},
        ],
    }
    path = tmp_path / "c.duckdb"
    result = run(path, plan, handler)
    assert query(path, "SELECT step_path, path FROM record_pages ORDER BY seq") == [
        ("list", "$"),
        ("graph", '$."@odata.value"'),
        ("nested", '$."result"."items"'),
    ]
    assert stored(path) == (3, 0)
    assert [(row[1], row[5]) for row in read_back(path, result.run_id)] == [
        (r.step_path, r.data) for r in result.records
    ]
    assert query(path, "SELECT id, x FROM data.nested") == [(4, None), (5, [1])]
    assert query(path, 'SELECT id FROM data."graph"') == [(3,)]


def test_a_path_duckdb_cannot_follow_is_stored_as_text(tmp_path):
    path = tmp_path / "c.duckdb"
    result = run(path, rows_plan("data[?id > `1`]"), pages_handler())
    assert stored(path) == (0, 2)
    assert [row[5] for row in read_back(path, result.run_id)] == [r.data for r in result.records]
    assert [r.data["id"] for r in result.records] == [2, 3]


SECRET = "pg-secret-91c2d7"
SECRET_ENV = "ORCH_PAGES_SECRET"


def test_with_secrets_every_record_is_masked_text(tmp_path, monkeypatch):
    """A secret in a record, once plain and once JSON-escaped in the body (which masking of
    the body text does not find): read out of the body the second would show; as text,
    both are masked."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    escaped = "".join(f"\\u{ord(c):04x}" for c in SECRET).encode()
    body = (
        b'{"data": [{"id": 1, "key": "' + SECRET.encode() + b'"}, '
        b'{"id": 2, "key": "' + escaped + b'"}]}'
    )

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["x-key"] == SECRET
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    plan = {
        "key": "secret",
        "config": {"key": {"env": SECRET_ENV}},
        "steps": [
            {"name": "rows", "url": "http://api.test/rows", "headers": {"X-Key": "{config.key}"},
             "records": "data"}
        ],
    }  # fmt: skip
    path = tmp_path / "c.duckdb"
    result = run(path, plan, handler)
    assert stored(path) == (0, 2)
    keys = [row[5]["key"] for row in read_back(path, result.run_id)]
    assert keys == [f"${{{SECRET_ENV}}}"] * 2
    assert SECRET not in repr(query(path, "SELECT * FROM records"))
    assert SECRET not in repr(query(path, "SELECT * FROM data.rows"))


def test_a_token_registered_mid_run_masks_the_records_of_its_flush(tmp_path):
    """No secret when the run starts: the first page's answer carries an access_token
    (registered with the masker before its event), and records quote it."""
    token = "tok-mid-run-4f1a9e"

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("p", "1"))
        body: dict[str, Any] = {"data": [{"id": page, "seen": token}]}
        if page == 1:
            body.update(access_token=token, next="/rows?p=2")
        return httpx.Response(200, json=body)

    path = tmp_path / "c.duckdb"
    result = run(path, rows_plan(), handler)
    assert [r.data["id"] for r in result.records] == [1, 2]
    assert stored(path) == (0, 2)
    assert token not in repr(query(path, "SELECT * FROM records"))


def test_a_body_stored_as_base64_keeps_its_records_as_text(tmp_path):
    """``response_format: json`` parses a body the capture stores as base64 (its content
    type is not text): DuckDB could not read records out of it."""
    path = tmp_path / "c.duckdb"
    handler = pages_handler("application/octet-stream")
    result = run(path, rows_plan(response_format="json"), handler)
    assert query(path, "SELECT DISTINCT response_body_encoding FROM exchanges") == [("base64",)]
    assert stored(path) == (0, 3)
    assert [row[5] for row in read_back(path, result.run_id)] == [r.data for r in result.records]


def test_xml_and_csv_records_are_text(tmp_path, demo_api):
    plan = {
        "key": "formats",
        "config": {"base_url": demo_api.url},
        "steps": [
            {"name": "csv", "url": "{config.base_url}/csv", "records": "@"},
            {"name": "xml", "url": "{config.base_url}/xml", "records": "catalog.item"},
            {"name": "text_json", "url": "{config.base_url}/items",
             "response_format": "text"},
        ],
    }  # fmt: skip
    path = tmp_path / "c.duckdb"
    result = orchestra.run(plan, db=str(path))
    assert result.ok, result.error
    assert stored(path)[0] == 0
    assert len(result.records_of("csv")) > 1
    assert [r["name"] for r in result.records_of("xml")][:2] == ["item-1", "item-2"]
    back = read_back(path, result.run_id)
    assert [row[5] for row in back] == [r.data for r in result.records]


def test_auto_format_json_from_a_text_content_type_is_referenced(tmp_path):
    path = tmp_path / "c.duckdb"
    result = run(path, rows_plan(), pages_handler("text/plain"))  # auto: starts with {
    assert stored(path) == (2, 0)
    assert [row[5] for row in read_back(path, result.run_id)] == [r.data for r in result.records]


def test_a_page_cut_short_by_max_records_is_text(tmp_path):
    path = tmp_path / "c.duckdb"
    result = run(path, rows_plan(), pages_handler(), caps=ReadCaps(max_records=1))
    assert [r.data["id"] for r in result.records] == [1]
    assert stored(path) == (0, 1)
    assert [row[5] for row in read_back(path, result.run_id)] == [r.data for r in result.records]


def test_fanout_pages_keep_their_item_index(tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/parents":
            return httpx.Response(200, json={"data": [{"id": 1}, {"id": 2}, {"id": 3}]})
        parent = request.url.path.rsplit("/", 1)[-1]
        return httpx.Response(200, json={"data": [{"child": f"{parent}-{i}"} for i in range(2)]})

    plan = {
        "key": "fan",
        "steps": [
            {
                "name": "parents",
                "url": "http://api.test/parents",
                "records": "data",
                "sub_steps": [
                    {"name": "children", "iterate_over": "response.body.data",
                     "url": "http://api.test/children/{item.id}", "records": "data",
                     "concurrency": 3},
                ],
            }
        ],
    }  # fmt: skip
    path = tmp_path / "c.duckdb"
    result = run(path, plan, handler)
    assert stored(path) == (4, 0)
    back = read_back(path, result.run_id)
    assert sorted((row[1], row[3], orjson.dumps(row[5])) for row in back) == sorted(
        (r.step_path, r.item_index, orjson.dumps(r.data)) for r in result.records
    )
    children = query(path, 'SELECT child FROM data."parents.children"')
    assert sorted(c for (c,) in children) == sorted(f"{p}-{i}" for p in (1, 2, 3) for i in range(2))


def test_a_version_3_file_keeps_its_records_and_typed_tables(tmp_path):
    from orchestra.capture._schema import TABLES

    path = tmp_path / "v3.duckdb"
    old_records = TABLES["record_rows"].replace("record_rows", "records")
    with duckdb.connect(str(path)) as connection:
        for name, ddl in TABLES.items():
            if name not in ("record_rows", "record_pages"):
                connection.execute(ddl)
        connection.execute(old_records)
        connection.execute("INSERT INTO meta VALUES ('schema_version', '3')")
        connection.execute("INSERT INTO runs (run_id, started_at) VALUES ('old', now())")
        connection.execute("INSERT INTO steps (run_id, step_path) VALUES ('old', 'rows')")
        connection.execute(
            "INSERT INTO records (run_id, seq, step_path, data) VALUES ('old', 1, 'rows', ?)",
            ['{"id": 0, "name": "old"}'],
        )
        tables.refresh_all(connection)
        assert connection.execute("SELECT id, name FROM data.rows").fetchall() == [(0, "old")]

    with CaptureStore(path).read() as reader:  # read as it is, before any run migrates it
        assert reader.record_values("old") == [{"id": 0, "name": "old"}]
        assert reader.table("rows", "old")["name"].tolist() == ["old"]

    result = run(path, rows_plan(), pages_handler())
    assert stored(path) == (2, 1)
    assert read_back(path, "old")[0][5] == {"id": 0, "name": "old"}
    assert [row[5] for row in read_back(path, result.run_id)] == [r.data for r in result.records]
    assert query(path, "SELECT count(*) FROM data_all.rows") == [(4,)]
    assert query(path, "SELECT id FROM data.rows") == [(1,), (2,), (3,)]


# -- the row builder ------------------------------------------------------------------------


def _exchange(builder: RowBuilder, exchange_id: int, body: bytes) -> None:
    builder.handlers[RequestSent](
        RequestSent(run_id="r", at=1.0, step_path="s", execution_id="e", exchange_id=exchange_id,
                    method="GET", url="http://x/", headers={}, body=None, page=1, attempt=1)
    )  # fmt: skip
    builder.handlers[ResponseReceived](
        ResponseReceived(run_id="r", at=1.0, step_path="s", execution_id="e",
                         exchange_id=exchange_id, status_code=200,
                         headers={"content-type": "application/json"}, body=body,
                         elapsed_ms=1.0, page=1, attempt=1)
    )  # fmt: skip


def _records(builder: RowBuilder, exchange_id: int, records: list[Any]) -> None:
    for index, record in enumerate(records):
        builder.handlers[RecordEmitted](
            RecordEmitted(run_id="r", at=2.0, step_path="s", record=record, page=1,
                          exchange_id=exchange_id, source='$."data"', index=index,
                          count=len(records))
        )  # fmt: skip


def _builder() -> RowBuilder:
    builder = RowBuilder("test")
    builder.handlers[RunStarted](
        RunStarted(run_id="r", at=0.0, plan_key="k", plan={}, config={}, mode="run",
                   masker=Masker())
    )  # fmt: skip
    return builder


def test_a_body_evicted_before_its_records_leaves_them_text():
    from orchestra.capture import _rows

    builder = _builder()
    records = [{"id": 1}, {"id": 2}]
    body = orjson.dumps({"data": records})
    _exchange(builder, 1, body)
    for exchange_id in range(2, _rows._KEPT_BODIES + 2):  # then as many others
        _exchange(builder, exchange_id, b'{"data": []}')
    _records(builder, 1, records)
    _records(builder, 2, [])  # nothing
    taken = builder.take()
    assert "record_pages" not in taken
    assert taken["record_rows"][7::8] == [_json(r) for r in records]
    assert builder.run is not None and builder.run.records == 2

    _exchange(builder, 9999, body)
    _records(builder, 9999, records)
    taken = builder.take()
    assert "record_rows" not in taken
    assert len(taken["record_pages"]) == WIDTHS["record_pages"]  # one row for the page
    assert page_rows(taken["record_pages"])[7::8] == [_json(r) for r in records]
    assert page_rows(taken["record_pages"])[1::8] == [3, 4]  # seq goes on


def test_a_record_out_of_its_page_order_is_text():
    builder = _builder()
    records = [{"id": 1}, {"id": 2}, {"id": 3}]
    _exchange(builder, 1, orjson.dumps({"data": records}))
    builder.handlers[RecordEmitted](
        RecordEmitted(run_id="r", at=2.0, step_path="s", record=records[1], page=1,
                      exchange_id=1, source='$."data"', index=1, count=3)
    )  # fmt: skip
    taken = builder.take()
    assert "record_pages" not in taken
    assert taken["record_rows"][7::8] == [_json(records[1])]


# -- merging DuckDB's structures as json_group_structure does --------------------------------

VALUES = [
    "null", "true", "1", "-1", "1.5", "18446744073709551615", '"s"', '{"a": 1}',
    '{"b": "x", "a": null}', "[1]", '["x"]', "[]", '[{"a": 1}]', '{"a": [1, -1]}',
    '{"a": {"c": 1}}', '{"a": {"c": -2, "d": [true]}}', "[null]",
]  # fmt: skip


@pytest.mark.parametrize("a", VALUES)
def test_merge_raw_mirrors_json_group_structure(a):
    with duckdb.connect() as connection:
        for b in VALUES:
            one, two, both = connection.execute(
                "SELECT json_structure(?::JSON), json_structure(?::JSON), "
                "(SELECT json_group_structure(j::JSON) FROM (VALUES (?), (?)) AS t(j))",
                [a, b, a, b],
            ).fetchone()
            merged = tables.merge_raw(orjson.loads(one), orjson.loads(two))
            assert merged == orjson.loads(both), (a, b)


def test_pages_with_an_empty_object_are_typed_as_json_group_structure_types_them(tmp_path):
    """``{}`` and a conflict are both ``JSON`` in a body's structure: the typed table then
    comes from json_group_structure over the records, as for records stored as text."""
    bodies = [
        b'{"data": [{"id": 1, "meta": {}, "v": null}], "next": "/rows?p=2"}',
        b'{"data": [{"id": 2, "meta": {"k": 1}, "v": "x"}], "next": null}',
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("p", "1"))
        return httpx.Response(200, content=bodies[page - 1],
                              headers={"content-type": "application/json"})  # fmt: skip

    by_reference, as_text = tmp_path / "ref.duckdb", tmp_path / "text.duckdb"
    run(by_reference, rows_plan("data"), handler)
    run(as_text, rows_plan("data[*]"), handler)
    assert stored(by_reference) == (2, 0)
    described = query(by_reference, "DESCRIBE data.rows")
    assert described == query(as_text, "DESCRIBE data.rows")
    assert dict((row[0], row[1]) for row in described)["meta"] == "STRUCT(k BIGINT)"
    select = "SELECT * EXCLUDE (run_id) FROM data.rows"
    assert query(by_reference, select) == query(as_text, select)


def test_a_diff_of_a_run_by_reference_and_one_as_text_finds_no_change(tmp_path):
    """Numbers and strings DuckDB writes otherwise than orjson (``1e+22``/``1e22``,
    ``\\u001f``/``\\u001F``, ``1e-6``/``0.000001``) are the same values."""
    body = (
        b'{"data": [{"id": 1, "a": 1e22, "b": "\\u001f", "c": 0.000001, "d": 1.5e300},'
        b' {"id": 2, "a": 2.50, "b": "x", "c": null, "d": -0.0}]}'
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    path = tmp_path / "c.duckdb"
    a = run(path, {"key": "d", "steps": [{"name": "rows", "url": "http://api.test/rows",
                                          "records": "data"}]}, handler)  # fmt: skip
    b = run(path, {"key": "d", "steps": [{"name": "rows", "url": "http://api.test/rows",
                                          "records": "data[*]"}]}, handler)  # fmt: skip
    assert query(path, "SELECT run_id, count(*) FROM record_pages GROUP BY 1") == [(a.run_id, 1)]
    texts = dict(query(path, "SELECT seq, CAST(data AS VARCHAR) FROM records WHERE run_id = ?",
                       [a.run_id]))  # fmt: skip
    assert orjson.loads(texts[1]) == b.records[0].data
    assert texts[1] != orjson.dumps(b.records[0].data).decode()  # written otherwise
    diff = diff_runs(CaptureStore(path), a.run_id, b.run_id)
    assert diff.records.counts == {"rows": {"same": 2}}, diff.records
    assert not diff.records.differs


def test_kept_bodies_are_bounded_in_bytes(monkeypatch):
    from orchestra.capture import _rows

    monkeypatch.setattr(_rows, "_KEPT_BYTES", 100)
    builder = _builder()
    records = [{"id": 1, "pad": "x" * 40}]
    body = orjson.dumps({"data": records})
    assert 50 < len(body) <= 100
    _exchange(builder, 1, body)
    _exchange(builder, 2, body)  # 2 bodies > 100 bytes: the first is evicted
    assert list(builder._bodies) == [2] and builder._kept_bytes == len(body)
    _records(builder, 1, records)
    _records(builder, 2, records)
    taken = builder.take()
    assert taken["record_rows"][7::8] == [_json(records[0])]  # exchange 1: text
    assert len(taken["record_pages"]) == WIDTHS["record_pages"]  # exchange 2: a reference
    assert builder._bodies == {} and builder._kept_bytes == 0
    _exchange(builder, 3, b"x" * 200)  # bigger than the bound: not kept at all
    assert builder._bodies == {} and builder._kept_bytes == 0


def test_a_later_run_with_another_records_path_is_in_the_typed_views(tmp_path):
    """The views name the paths they were made for; a path first seen later (same
    types, so the views are not made again) is read by their generic branch."""
    bodies = {"/wrapped": b'{"data": [{"id": 1}, {"id": 2}]}', "/bare": b'[{"id": 3}]'}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bodies[request.url.path],
                              headers={"content-type": "application/json"})  # fmt: skip

    path = tmp_path / "c.duckdb"
    first = run(path, {"key": "p", "steps": [{"name": "rows", "url": "http://api.test/wrapped",
                                              "records": "data"}]}, handler)  # fmt: skip
    view = query(path, "SELECT sql FROM duckdb_views() WHERE view_name = 'rows' "
                       "AND schema_name = 'data_all'")[0][0]  # fmt: skip
    second = run(path, {"key": "p", "steps": [{"name": "rows", "url": "http://api.test/bare",
                                               "records": "@"}]}, handler)  # fmt: skip
    assert (
        query(
            path,
            "SELECT sql FROM duckdb_views() WHERE view_name = 'rows' AND schema_name = 'data_all'",
        )[0][0]
        == view
    )  # not made again
    paths = dict(query(path, "SELECT run_id, path FROM record_pages"))
    assert paths == {first.run_id: '$."data"', second.run_id: "$"}
    rows = query(path, "SELECT run_id, id FROM data_all.rows")
    assert sorted(rows) == sorted([(first.run_id, 1), (first.run_id, 2), (second.run_id, 3)])
    assert query(path, "SELECT id FROM data.rows") == [(3,)]
    assert second.table("rows")["id"].tolist() == [3]
