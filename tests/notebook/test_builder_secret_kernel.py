"""A secret typed into ``%flow builder``'s password field, in a real kernel (nbclient): it is
the flow's secret (as ``%flow secret`` keeps one), runs use it, and no form of it is in the
outputs, exports, the capture or the saved notebook."""

from __future__ import annotations

from pathlib import Path

import httpx
import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from tests.faults.capture_checks import connect, secret_forms

TYPE_THE_SECRET = """import os
b.state.selected = ''
def by(css):
    (found,) = b.form_area.select(lambda w: css in (getattr(w, 'css_classes', None) or []))
    return found
by('ob-f:@plan.auth.type').value = 'bearer'
by('orchestra-secret-mode').value = 'prompt'
by('ob-f:@plan.auth.token').value = 'DEMO_BEARER'
password = by('ob-secret:@plan.auth.token')
password.value = os.environ.pop('TOKEN_FOR_THE_TEST')  # as typed: nowhere else after this
print(b.state.plan['auth'], repr(password.value), b.state.message)
"""


def leaks(text: str, secret: str) -> list[str]:
    return [name for name, form in secret_forms(secret).items() if form in text]


@pytest.mark.timeout(300)
def test_a_secret_typed_in_the_builder_is_the_flows_and_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_api
) -> None:
    token = httpx.post(
        f"{demo_api.url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("demo-client", "demo-secret"),
    ).json()["access_token"]
    db = tmp_path / "capture.duckdb"
    monkeypatch.setenv("TOKEN_FOR_THE_TEST", token)
    monkeypatch.setenv("ORCHESTRA_DB", str(db))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    cells = [
        "%load_ext orchestra",
        f"%flow config base_url={demo_api.url}",
        '%%flow items\nurl: "{config.base_url}/items"\nparams: {limit: 2}',
        "b = %flow builder\nb",
        TYPE_THE_SECRET,
        '%%flow protected --out r\nurl: "{config.base_url}/protected/items"\nrecords: items',
        "assert r.ok, r\nprint(r.records[:1])",
        "%flow show",
        "%flow config",
        "print(b.state.yaml_text)",
        "%flow export",
        "%flow export cells --whole",
        "b",  # the builder drawn again, on the flow with the secret
        "b.state.try_it(full=True).status",
    ]
    notebook = new_notebook(cells=[new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    NotebookClient(notebook, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    typed = "".join(o.get("text", "") for o in notebook.cells[4].outputs)
    assert "{'type': 'bearer', 'token': {'env': 'DEMO_BEARER'}} ''" in typed
    assert "secret DEMO_BEARER kept in memory" in typed
    assert "item-1" in "".join(o.get("text", "") for o in notebook.cells[6].outputs)
    assert "succeeded" in str(notebook.cells[13].outputs)
    assert "env: DEMO_BEARER" in str(notebook.cells[9].outputs)

    redrawn = notebook.cells[12].outputs
    assert any("application/vnd.holoviews_exec.v0+json" in o.get("data", {}) for o in redrawn)
    assert "DEMO_BEARER" in str(redrawn)  # the builder's page is in the notebook, secret not
    saved = tmp_path / "saved.ipynb"
    nbformat.write(notebook, saved)
    assert not leaks(saved.read_text(), token), "the saved notebook holds the secret"
    assert not token_columns(db, token)


def token_columns(db: Path, token: str) -> str:
    """``table.column`` of every text column of the capture holding a form of the token."""
    found = []
    with connect(db) as connection:
        columns = connection.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type IN ('VARCHAR', 'JSON') ORDER BY ALL"
        ).fetchall()
        runs = connection.execute("SELECT count(*) FROM runs").fetchone()[0]
        assert runs >= 3  # the cells' runs and the builder's
        for schema, table, column in columns:
            for form in secret_forms(token).values():
                query = (
                    f'SELECT count(*) FROM "{schema}"."{table}" '
                    f'WHERE contains(CAST("{column}" AS VARCHAR), ?)'
                )
                if connection.execute(query, [form]).fetchone()[0]:
                    found.append(f"{table}.{column}: {form}")
    return "\n".join(found)
