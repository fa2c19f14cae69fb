"""A ``%flow secret`` value never reaches the saved notebook, the history or the capture."""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import duckdb
import nbformat
import pytest
from nbclient import NotebookClient
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


ENV_SECRET = 'Zq8+r/T1==a"b\\c ' + secrets.token_hex(6)  # escaped differently everywhere


def forms(secret: str) -> set[str]:
    """How a secret may appear in an output: raw, JSON-escaped, percent- and form-encoded."""
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote(secret),  # `/` kept
        quote_plus(secret),
    }


def test_an_env_secret_is_masked_in_every_output_of_a_saved_notebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_api
):
    """``{env: NAME}`` values: eval outside a pause, show, results, errors, bound objects."""
    monkeypatch.setenv("ORC_NB_TOKEN", ENV_SECRET)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    sources = [
        "%load_ext orchestra",
        f"%flow config base_url={demo_api.url}",
        '%flow config \'token={"env": "ORC_NB_TOKEN"}\'',
        "%flow eval config.token",  # before any run: the flow knows the reference already
        '%%flow echo --out echoed\nurl: "{config.base_url}/echo"\n'
        'params: {q: "{config.token}"}\nheaders: {X-Token: "{config.token}"}\n'
        'body: {key: "{config.token}"}',
        "%flow eval steps.echo.body",  # no debugger pause: the flow's masker
        "%flow eval abs(steps.echo.body.query.q)",  # an error message holding the value
        "%flow show",
        "%flow show --format json",
        "echoed.body, echoed.context, echoed",
        '%%flow leaky\nurl: "{config.base_url}/status/500?note={config.token}"\n'
        "retry: {max_attempts: 1}",
        "%flow runs",
        "%flow export --format har",
        "%flow config",
    ]
    notebook = nbformat.v4.new_notebook(cells=[new_code_cell(s) for s in sources])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    client = NotebookClient(
        notebook, timeout=60, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    saved = tmp_path / "env-secret.ipynb"
    nbformat.write(notebook, saved)

    outputs = [json.dumps(cell.get("outputs", []), ensure_ascii=False) for cell in notebook.cells]
    texts = [
        "".join(
            str(output.get("text", "")) + "".join(map(str, output.get("data", {}).values()))
            + output.get("evalue", "") + "".join(output.get("traceback", []))
            for output in cell.get("outputs", [])
        )
        for cell in notebook.cells
    ]  # fmt: skip
    assert "${ORC_NB_TOKEN}" in texts[4]  # the echo really carried the value (and masked it)
    assert "${ORC_NB_TOKEN}" in texts[5]
    assert "ExpressionError" in texts[6] and "expected a number" in texts[6], texts[6]
    assert "FlowRunFailed" in texts[10]
    file = saved.read_text(encoding="utf-8")
    for form in forms(ENV_SECRET):
        assert form not in file, form
        for index, (text, raw) in enumerate(zip(texts, outputs, strict=True)):
            assert form not in text, (index, form, text)
            assert form not in raw, (index, form)
