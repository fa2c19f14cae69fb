"""Typed tables: each step's records as columns, in the capture file's ``data`` schemas.

Records are stored as JSON text (``record_rows.data``) or, a page at a time, as
a reference to the list in their exchange's body (``record_pages``; the view
``records`` shows both, ``_schema.py``). Here DuckDB infers one type per step
path from its records (``json_group_structure``: nested objects become STRUCTs,
lists LISTs; for pages, ``json_structure`` of each body, merged by
``merge_raw``) and ``json_transform`` turns each record into those columns —
for a page, the whole body into the nested type at once, so no JSON text is
made per record. A record that does not fit gets NULL where it does not fit
(the transform is not strict), so odd records never break a table; a field
whose records disagree (a number here, a string there) stays ``JSON``.

Two views per step path that emitted records, named by the step path itself
(``data.users``, ``data."items.detail"``: the same name as everywhere else,
and two paths can never collide as they could once mangled into identifiers):

* ``data_all.<step>`` — every run's records, with a ``run_id`` column;
* ``data.<step>`` — the records of the latest run that ran the step (by
  ``runs.started_at``), so ``SELECT name, address.city FROM data.users`` reads
  the newest extraction; ``data_all`` picks another run by ``run_id``.

A plain ``duckdb.connect(file)`` sees them: they are views stored in the file,
over its ``main.records`` table. The capture writer (re)creates the views of
the steps a run emitted when the run ends; the inferred type of each step is
kept as its ``data_all`` view's comment and merged with the type of the new
run's first ``SAMPLE_RECORDS`` records, so the end of a run costs the same
whatever the run's or the file's size (inferring over all of 100k records
takes ~0.4 s of DuckDB on a quiet core, over 20k ~0.06 s); a field first seen
past the sample is not a column until ``CaptureStore.refresh_tables()``,
which rebuilds every view from all records (and makes them for files written
before typed tables).

DataFrames and Parquet exports (``CaptureReader.table``/``table_select``) infer
the type over the one run they read, so they do not depend on the views.
"""

from __future__ import annotations

import logging
from typing import Any

import duckdb
import orjson

from orchestra.capture._schema import path_keys

logger = logging.getLogger("orchestra.capture")

LATEST_SCHEMA = "data"
ALL_SCHEMA = "data_all"
RUN_COLUMN = "run_id"
# A record field that clashes with the added run_id column keeps its value under this name.
RECORD_RUN_COLUMN = "record_run_id"
VALUE_COLUMN = "value"  # the one column of a step whose records are not objects
_INTEGERS = {"UBIGINT", "HUGEINT", "UHUGEINT"}  # widened to BIGINT (pandas int64)
_NUMBERS = ("BIGINT", "DOUBLE")
# The views' types come from at most this many records of each run (DuckDB's read_json
# samples as many by default): inference costs ~4 us a record, and a run's end should not
# grow with its size. DataFrames and exports infer over every record they read.
SAMPLE_RECORDS = 20_480

Structure = Any  # json_group_structure's output, parsed: a type name, a dict or a one-item list


class TableNotFound(LookupError):
    """No typed table for that step: it emitted no records (the message lists those that did)."""


def quote(identifier: str) -> str:
    """A SQL identifier in double quotes."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


# -- inferring types ---------------------------------------------------------------------------


def normalize(structure: Structure) -> Structure:
    """DuckDB's inferred structure made usable as a table type.

    Integers become ``BIGINT`` (not ``UBIGINT``/``HUGEINT``); a field that was
    always null, and an empty object, become ``JSON``.
    """
    if isinstance(structure, dict):
        if not structure:
            return "JSON"
        return {key: normalize(value) for key, value in structure.items()}
    if isinstance(structure, list):
        return [normalize(structure[0])] if structure else ["JSON"]
    if structure in _INTEGERS:
        return "BIGINT"
    if structure == "NULL":
        return "JSON"
    return structure


def merge(a: Structure, b: Structure) -> Structure:
    """The structure both records shaped like ``a`` and records shaped like ``b`` fit.

    Mirrors ``json_group_structure``: objects merge their fields, lists their
    items, BIGINT and DOUBLE widen to DOUBLE, anything else that differs is JSON.
    """
    if a is None or a == b:
        return b
    if b is None:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        merged = dict(a)
        for key, value in b.items():
            merged[key] = merge(a.get(key), value) if key in a else value
        return merged
    if isinstance(a, list) and isinstance(b, list):
        return [merge(a[0], b[0])]
    if a in _NUMBERS and b in _NUMBERS:
        return "DOUBLE"
    return "JSON"


def infer(connection: duckdb.DuckDBPyConnection, step_path: str,
          run_id: str | None = None) -> Structure | None:  # fmt: skip
    """The normalized structure of a step's records (one run's, or all), or None if none."""
    where = f"step_path = {literal(step_path)}"
    if run_id is not None:
        where += f" AND run_id = {literal(run_id)}"
    return _structure(connection, where, None)


def has_pages(connection: duckdb.DuckDBPyConnection) -> bool:
    """Whether the file has ``record_pages`` (capture schema 4; an older file read as it
    is has only the ``records`` table)."""
    row = connection.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = 'record_pages'"
    ).fetchone()
    return bool(row and row[0])


_PAGES_JOIN = "JOIN main.exchanges AS e ON e.run_id = p.run_id AND e.exchange_id = p.exchange_id"


def _structure(connection: duckdb.DuckDBPyConnection, where: str,
               sample: int | None) -> Structure | None:  # fmt: skip
    """The normalized structure of the records matching ``where`` (the first ``sample``,
    or all), as ``json_group_structure`` over them says.

    When they are all stored by reference (record_pages), the structure of each
    distinct body (``json_structure``: one parse a body, no JSON text per record) is
    merged here (``merge_raw``) — unless one holds ``JSON``, which DuckDB writes both
    for a conflict and for an empty object (the second would merge with an object, the
    first not): then, as when any are text, ``json_group_structure`` over the records.
    """
    records = "main.records"
    if has_pages(connection):
        found = _page_structure(connection, where, sample)
        if found is not _AMBIGUOUS:
            return None if found is None else normalize(found)
    query = f"SELECT data FROM {records} WHERE {where}"
    if sample is not None:
        query += f" LIMIT {int(sample)}"
    row = connection.execute(f"SELECT json_group_structure(data) FROM ({query})").fetchone()
    return _normalized(row)


_AMBIGUOUS = object()


def _page_structure(connection: duckdb.DuckDBPyConnection, where: str,
                    sample: int | None) -> Structure | object | None:  # fmt: skip
    """The raw structure of the records matching ``where`` from their pages' bodies,
    or ``_AMBIGUOUS`` (some are text, or a body's structure holds ``JSON``)."""
    texts = connection.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM main.record_rows WHERE {where} LIMIT 1)"
    ).fetchone()
    if texts and texts[0]:
        return _AMBIGUOUS
    pages = f"SELECT * FROM main.record_pages WHERE {where}"
    if sample is not None:
        pages = (
            f"SELECT * FROM ({pages}) QUALIFY sum(record_count) OVER (ORDER BY run_id, seq) "
            f"- record_count < {int(sample)}"
        )
    rows = connection.execute(
        f"SELECT p.path, json_structure(e.response_body) AS s FROM ({pages}) AS p "
        f"{_PAGES_JOIN} GROUP BY p.path, s ORDER BY min(p.run_id), min(p.seq)"
    ).fetchall()
    structure: Structure | None = None
    for path, text in rows:  # the records are the list at path (first_index 0: all of it)
        listed = orjson.loads(text)
        for key in path_keys(path):
            listed = listed.get(key) if isinstance(listed, dict) else None
        if not isinstance(listed, list) or _holds_json(listed):
            return _AMBIGUOUS
        structure = merge_raw(structure, listed[0])
    return structure


def _holds_json(structure: Structure) -> bool:
    if isinstance(structure, dict):
        return any(_holds_json(value) for value in structure.values())
    if isinstance(structure, list):
        return _holds_json(structure[0])
    return structure == "JSON"


_RAW_INTEGERS = {"UBIGINT", "BIGINT", "HUGEINT"}


def merge_raw(a: Structure | None, b: Structure) -> Structure:
    """Two structures as DuckDB writes them (before ``normalize``) merged as
    ``json_group_structure`` merges its values': ``NULL`` gives way, objects merge their
    fields (in the order first seen), lists their items, integers of two kinds widen to
    ``HUGEINT`` and with ``DOUBLE`` to ``DOUBLE``, anything else that differs is ``JSON``.
    (An empty object is ``JSON`` too: ``_page_structure`` never merges one.)"""
    if a is None or a == "NULL" or a == b:
        return b
    if b == "NULL":
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        merged = dict(a)
        for key, value in b.items():
            merged[key] = merge_raw(a[key], value) if key in a else value
        return merged
    if isinstance(a, list) and isinstance(b, list):
        return [merge_raw(a[0], b[0])]
    numbers = _RAW_INTEGERS | {"DOUBLE"}
    if isinstance(a, str) and isinstance(b, str) and a in numbers and b in numbers:
        return "DOUBLE" if "DOUBLE" in (a, b) else "HUGEINT"
    return "JSON"


def _normalized(row: tuple[Any, ...] | None) -> Structure | None:
    if row is None or row[0] is None:
        return None
    return normalize(orjson.loads(row[0]))


# -- the SQL of a typed table --------------------------------------------------------------------


def _columns(structure: Structure, nested_as_json: bool = False) -> str:
    """The typed columns selected from ``v``, the transformed record (objects and lists as
    JSON text with ``nested_as_json``, for flat formats such as CSV)."""

    def column(expression: str, kind: Structure) -> str:
        flat = nested_as_json and isinstance(kind, dict | list)
        return f"CAST(to_json({expression}) AS VARCHAR)" if flat else expression

    if not isinstance(structure, dict):
        return f"{column('v', structure)} AS {VALUE_COLUMN}"
    columns = []
    for key, kind in structure.items():
        alias = RECORD_RUN_COLUMN if key.lower() == RUN_COLUMN else key
        columns.append(f"{column(f'v.{quote(key)}', kind)} AS {quote(alias)}")
    return ", ".join(columns)


def typed_select(structure: Structure, where: str, *, nested_as_json: bool = False,
                 pages: bool = True, paths: tuple[str, ...] = ()) -> str:  # fmt: skip
    """``run_id`` plus one column per field, for the records matching ``where``, in order.

    ``nested_as_json`` writes objects and lists as JSON text (for CSV) instead of STRUCTs
    and LISTs. ``pages`` False reads a file without record_pages (capture schema < 4).
    The records of record_pages are typed a page at a time: for each of ``paths``,
    DuckDB transforms the body itself to the nested type (one parse of the body, no
    JSON text per record); any other path through its list (``_page_list``).
    """
    shape = orjson.dumps(structure).decode()
    if not pages:
        source = (
            f"SELECT run_id, seq, json_transform(data, {literal(shape)}) AS v "
            f"FROM main.records WHERE {where}"
        )
    else:
        parts = [
            f"SELECT run_id, seq, json_transform(data, {literal(shape)}) AS v "
            f"FROM main.record_rows WHERE {where}"
        ]
        for path in paths:
            keys = path_keys(path)
            nested: Structure = [structure]
            for key in reversed(keys):
                nested = {key: nested}
            listed = f"json_transform(e.response_body, {literal(orjson.dumps(nested).decode())})"
            for key in keys:
                listed = f"struct_extract({listed}, {literal(key)})"
            parts.append(_pages_part(listed, f"{where} AND path = {literal(path)}"))
        others = f" AND path NOT IN ({', '.join(literal(p) for p in paths)})" if paths else ""
        listed = f"json_transform(json_extract(e.response_body, p.path), {literal(f'[{shape}]')})"
        parts.append(_pages_part(listed, where + others))
        source = " UNION ALL ".join(parts)
    return (
        f"SELECT {RUN_COLUMN}, {_columns(structure, nested_as_json)} FROM ({source}) "
        "ORDER BY run_id, seq"
    )


def _pages_part(listed: str, where: str) -> str:
    """The records of the record_pages rows matching ``where``, ``listed`` being the
    typed list of a page's body: all of it, as a page row always covers its whole list
    (``first_index`` 0; the engine stores a page cut short as text). Not slicing the
    list saves a copy of it (~10 % of the typed table's time)."""
    return (
        "SELECT p.run_id, unnest(range(p.seq, p.seq + p.record_count)) AS seq, "
        f"unnest({listed}) AS v "
        f"FROM (SELECT * FROM main.record_pages WHERE {where}) AS p {_PAGES_JOIN}"
    )


def record_paths(connection: duckdb.DuckDBPyConnection, where: str) -> tuple[str, ...]:
    """The paths of the record_pages rows matching ``where`` (none in an older file)."""
    if not has_pages(connection):
        return ()
    rows = connection.execute(
        f"SELECT DISTINCT path FROM main.record_pages WHERE {where} ORDER BY 1"
    ).fetchall()
    return tuple(row[0] for row in rows)


def _latest_run(step_path: str) -> str:
    return (
        "(SELECT s.run_id FROM main.steps AS s JOIN main.runs AS r USING (run_id) "
        f"WHERE s.step_path = {literal(step_path)} "
        "ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1)"
    )


def latest_run_of(connection: duckdb.DuckDBPyConnection, step_path: str) -> str | None:
    """The run ``data.<step>`` shows: the latest that ran the step, or None."""
    row = connection.execute(f"SELECT {_latest_run(step_path)}").fetchone()
    return None if row is None or row[0] is None else str(row[0])


# -- the views -------------------------------------------------------------------------------


def create_views(connection: duckdb.DuckDBPyConnection, step_path: str,
                 structure: Structure) -> None:  # fmt: skip
    """(Re)create ``data_all.<step>`` and ``data.<step>`` for records of this structure."""
    name = quote(step_path)
    for schema in (ALL_SCHEMA, LATEST_SCHEMA):
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    where = f"step_path = {literal(step_path)}"
    pages = has_pages(connection)
    select = typed_select(structure, where, pages=pages,
                          paths=record_paths(connection, where))  # fmt: skip
    connection.execute(f"CREATE OR REPLACE VIEW {ALL_SCHEMA}.{name} AS {select}")
    comment = literal(orjson.dumps(structure).decode())
    connection.execute(f"COMMENT ON VIEW {ALL_SCHEMA}.{name} IS {comment}")
    connection.execute(
        f"CREATE OR REPLACE VIEW {LATEST_SCHEMA}.{name} AS SELECT * FROM {ALL_SCHEMA}.{name} "
        f"WHERE run_id = {_latest_run(step_path)}"
    )


def _stored_structures(connection: duckdb.DuckDBPyConnection) -> dict[str, Structure]:
    """The types the ``data_all`` views were made for (kept as their comments), by step."""
    rows = connection.execute(
        "SELECT view_name, comment FROM duckdb_views() WHERE schema_name = ? "
        "AND database_name = current_database()",
        [ALL_SCHEMA],
    ).fetchall()
    found = {}
    for step_path, comment in rows:
        try:
            found[step_path] = orjson.loads(comment) if comment else None
        except orjson.JSONDecodeError:
            found[step_path] = None
    return found


def _run_structures(connection: duckdb.DuckDBPyConnection, run_id: str) -> dict[str, Structure]:
    """Per step path, the normalized type of the run's first ``SAMPLE_RECORDS`` records
    (of each way of storing them: ``_structure``).

    One ``LIMIT`` query per step: the scan stops at the sample, where a window over the
    run's records would read every record (~35 % slower at 50,000 records).
    """
    found = {}
    for step_path in record_steps(connection, run_id):
        where = f"run_id = {literal(run_id)} AND step_path = {literal(step_path)}"
        structure = _structure(connection, where, SAMPLE_RECORDS)
        if structure is not None:
            found[step_path] = structure
    return found


def record_steps(connection: duckdb.DuckDBPyConnection, run_id: str | None = None) -> list[str]:
    """The step paths that emitted records (in a run, or in the file), sorted."""
    query = "SELECT DISTINCT step_path FROM main.records"
    params: list[Any] = []
    if run_id is not None:
        query += " WHERE run_id = ?"
        params.append(run_id)
    return [row[0] for row in connection.execute(query + " ORDER BY 1", params).fetchall()]


def refresh_run(connection: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """At a run's end: the views of the steps it emitted, typed for old and new records.

    Returns the step paths whose views were (re)made: none when the run's records fit
    the types already there, the usual case, which costs no write. Each statement
    commits on its own (a failed one would abort a transaction, and the fallback).
    """
    done = []
    stored = _stored_structures(connection)
    for step_path, inferred in _run_structures(connection, run_id).items():
        structure = merge(stored.get(step_path), inferred)
        if structure != stored.get(step_path):  # else the views stand (they pick the run)
            _create_or_fall_back(connection, step_path, structure)
            done.append(step_path)
    return done


def refresh_all(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """Rebuild every view, its types inferred over all records of the step; drop the
    views of steps without records."""
    for schema in (LATEST_SCHEMA, ALL_SCHEMA):
        connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    steps = record_steps(connection)
    for step_path in steps:
        _create_or_fall_back(connection, step_path, infer(connection, step_path))
    return steps


def _create_or_fall_back(connection: duckdb.DuckDBPyConnection, step_path: str,
                         structure: Structure) -> None:  # fmt: skip
    """Typed views, or (fields DuckDB cannot hold as columns) one JSON ``value`` column."""
    try:
        create_views(connection, step_path, structure)
    except duckdb.Error as error:
        logger.warning("typed table %s: %s; its records stay one JSON column", step_path, error)
        create_views(connection, step_path, "JSON")
