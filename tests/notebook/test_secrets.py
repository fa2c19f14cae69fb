"""A ``%flow secret`` value never reaches the saved notebook, the history or the capture."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import duckdb
import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from orchestra.demo import DemoAPI
from tests.notebook.kernel import Cell, KernelSession, start_kernel

SECRET = "sk-" + secrets.token_hex(12)

CELLS = [
    ("%flow secret API_KEY", [SECRET]),
    ('%%flow guarded\nurl: "{config.base_url}/protected/apikey"\n'
     'headers: {X-API-Key: "{config.API_KEY}"}', None),
    ('%%flow echo\nmethod: POST\nurl: "{config.base_url}/echo/{config.API_KEY}"\n'
     'params: {q: "{config.API_KEY}", plain: "x{env.API_KEY || config.API_KEY}"}\n'
     'headers: {X-Custom: "{config.API_KEY}", Authorization: "Bearer {config.API_KEY}"}\n'
     'body: {key: "{config.API_KEY}"}\n'
     'extract: {echoed: response.body.body.key}\ncontext_updates: {seen: response.body.query.q}',
     None),
    ('%%flow leaky\nurl: "{config.base_url}/status/500?note={config.API_KEY}"\n'
     "retry: {max_attempts: 1}", None),
    ("print(_ if '_' in dir() else None)\nprint(echo_result := get_ipython().user_ns.get('_'))",
     None),
    ("%flow show", None),
    ("%flow config", None),
    ("%flow export", None),
    ("%flow export --format curl", None),
    ("har = %flow export --format har\nprint(har)", None),
    ("%flow sql SELECT url, request_headers, request_body, response_body FROM exchanges", None),
    ("%flow sql SELECT config, error FROM runs", None),
    ("%flow graph", None),
    ("%flow runs --all", None),
]  # fmt: skip


def notebook_output(cell: Cell, count: int) -> list:
    outputs = []
    for output in cell.outputs:
        if output["type"] == "stream":
            outputs.append(new_output("stream", name="stdout", text=output["text"]))
        elif output["type"] == "execute_result":
            outputs.append(new_output("execute_result", data=output["data"], execution_count=count))
        else:
            outputs.append(new_output("display_data", data=output["data"]))
    if cell.ename:
        outputs.append(new_output("error", ename=cell.ename, evalue=cell.evalue or "",
                                  traceback=cell.traceback))  # fmt: skip
    return outputs


@pytest.fixture(scope="module")
def api() -> Iterator[DemoAPI]:
    server = DemoAPI(api_key=SECRET).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_secret_never_appears_in_notebook_history_or_capture(tmp_path: Path, api: DemoAPI):
    ipython_dir = tmp_path / "ipython"
    profile = ipython_dir / "profile_default"
    profile.mkdir(parents=True)
    # log outputs to the history database too, so the check covers them
    (profile / "ipython_kernel_config.py").write_text("c.HistoryManager.db_log_output = True\n")
    db = tmp_path / "capture.duckdb"
    session: KernelSession = start_kernel(
        tmp_path, api.url, IPYTHONDIR=str(ipython_dir), ORCHESTRA_DB=str(db)
    )
    notebook = new_notebook()
    try:
        results = []
        for count, (source, answers) in enumerate(CELLS, start=1):
            cell = session.run(source, stdin=answers)
            results.append(cell)
            notebook.cells.append(new_code_cell(source, execution_count=count,
                                                outputs=notebook_output(cell, count)))  # fmt: skip
        # the secret was really used: the API answered 200 to the key …
        assert results[1].status == "ok", results[1].text
        assert results[2].status == "ok", results[2].text
        assert results[3].ename == "FlowRunFailed"  # … and the failing URL held it
        shown = "\n".join(c.text + c.html for c in results)
        assert "${API_KEY}" in shown  # shown as the reference
    finally:
        session.shutdown()
    saved = tmp_path / "secret.ipynb"
    nbformat.write(notebook, saved)

    assert SECRET not in saved.read_text(encoding="utf-8")
    history = ipython_dir / "profile_default" / "history.sqlite"
    assert history.exists()
    assert SECRET.encode() not in history.read_bytes()
    with sqlite3.connect(history) as connection:
        inputs = [row[0] for row in connection.execute("SELECT source_raw FROM history")]
        outputs = [row[0] for row in connection.execute("SELECT output FROM output_history")]
    assert "%flow secret API_KEY" in inputs and outputs  # the history was written
    assert not any(SECRET in text for text in inputs + outputs)

    assert SECRET.encode() not in db.read_bytes()
    with duckdb.connect(str(db), read_only=True) as connection:
        tables = ["runs", "plans", "steps", "exchanges", "records", "errors"]
        dumped = "".join(
            str(row)
            for table in tables
            for row in connection.execute(f"SELECT * FROM {table}").fetchall()
        )
    assert "${API_KEY}" in dumped  # the captured requests hold the reference
    assert SECRET not in dumped
