"""A secret typed once into the builder's password field: the plan keeps ``{env: NAME}``,
runs use the value, and no form of it is in the plan, YAML, exports, saved file, widgets,
Bokeh models or the capture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import panel as pn
from bokeh.document import Document
from bokeh.embed.util import standalone_docs_json

from orchestra.dashboard import FlowBuilder
from tests.faults.capture_checks import connect, secret_forms


def demo_token(url: str) -> str:
    return str(
        httpx.post(
            f"{url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("demo-client", "demo-secret"),
        ).json()["access_token"]
    )


def leaks(text: str, secret: str) -> list[str]:
    return [name for name, form in secret_forms(secret).items() if form in text]


def db_leaks(db: Path, secret: str) -> list[str]:
    """``table.column (form)`` of every text column of the capture holding the secret."""
    found = []
    with connect(db) as connection:
        columns = connection.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type IN ('VARCHAR', 'JSON') ORDER BY ALL"
        ).fetchall()
        assert len(columns) > 20
        for schema, table, column in columns:
            for name, form in secret_forms(secret).items():
                query = (
                    f'SELECT count(*) FROM "{schema}"."{table}" '
                    f'WHERE contains(CAST("{column}" AS VARCHAR), ?)'
                )
                if connection.execute(query, [form]).fetchone()[0]:
                    found.append(f"{table}.{column} ({name})")
    return found


def by_class(view: Any, css: str) -> Any:
    (found,) = view.select(lambda w: css in (getattr(w, "css_classes", None) or []))
    return found


def widget_texts(view: Any) -> str:
    """Every parameter value of every widget and pane in the view, as text."""
    parts = []
    for item in view.select(lambda w: isinstance(w, pn.widgets.Widget | pn.pane.PaneBase)):
        for name in item.param:
            parts.append(repr(getattr(item, name, "")))
    return "\n".join(parts)


def test_a_prompted_secret_is_used_and_never_kept_or_shown(demo_api: Any, tmp_path: Path) -> None:
    token = demo_token(demo_api.url)
    db = tmp_path / "builder.duckdb"
    plan = {
        "key": "prompted",
        "config": {"base_url": demo_api.url},
        "steps": [
            {
                "name": "items",
                "url": "{config.base_url}/protected/items",
                "paginate": {"type": "offset", "limit": 10},
                "records": "items",
            }
        ],
    }
    builder = FlowBuilder(plan, db=db)
    state = builder.state
    state.selected = ""
    by_class(builder.form_area, "ob-f:@plan.auth.type").value = "bearer"
    by_class(builder.form_area, "orchestra-secret-mode").value = "prompt"
    password = by_class(builder.form_area, "ob-secret:@plan.auth.token")
    assert password.visible and isinstance(password, pn.widgets.PasswordInput)
    by_class(builder.form_area, "ob-f:@plan.auth.token").value = "DEMO_BEARER"
    assert "token" not in (state.plan.get("auth") or {})  # the name alone is no value yet
    password.value_input = token  # as the browser sends it, key by key, then on Enter
    password.value = token

    assert state.plan["auth"] == {"type": "bearer", "token": {"env": "DEMO_BEARER"}}
    assert password.value == "" and password.value_input == ""
    assert "secret DEMO_BEARER kept in memory" in state.message and not state.issues
    view = builder.__panel__()
    assert not leaks(widget_texts(view), token)
    document = Document()
    view.get_root(document)
    assert not leaks(json.dumps(standalone_docs_json([document]), default=str), token)

    # the value is used: the try reads the protected list
    state.selected = "steps[0]"
    result = state.try_it()
    assert result is not None and str(result.status.value) == "succeeded", state.error
    assert len(state.records) == 50 and state.partial.startswith("partial: stopped at 5 pages")

    # and it is in nothing the builder keeps, shows, saves or exports
    assert not leaks(state.yaml_text + json.dumps(state.plan), token)
    for fmt in ("yaml", "json", "cells", "curl"):
        exported = state.export(fmt)
        assert "DEMO_BEARER" in exported or fmt == "curl", fmt
        assert not leaks(exported, token), fmt
    saved = tmp_path / "plan.yaml"
    state.save(saved)
    assert not leaks(saved.read_text(), token) and "DEMO_BEARER" in saved.read_text()
    assert not leaks(widget_texts(view) + state.message + state.try_summary, token)
    assert not db_leaks(db, token)


def test_a_short_or_badly_named_secret_is_not_kept() -> None:
    plan = {"key": "k", "steps": [{"name": "a", "url": "http://127.0.0.1:1/"}]}
    builder = FlowBuilder(plan, db=":memory:")
    state = builder.state
    state.selected = ""
    by_class(builder.form_area, "ob-f:@plan.auth.type").value = "bearer"
    by_class(builder.form_area, "orchestra-secret-mode").value = "prompt"
    password = by_class(builder.form_area, "ob-secret:@plan.auth.token")
    password.value = "abc"
    assert password.value == "" and "token" not in state.plan["auth"]
    assert "shorter than 4 characters" in builder.forms.local_errors["@plan.auth.token"]
    by_class(builder.form_area, "ob-f:@plan.auth.token").value = "not a name"
    password.value = "long-enough-value"
    assert password.value == "" and "token" not in state.plan["auth"]
    assert "not a name" in builder.forms.local_errors["@plan.auth.token"]
    assert not state.binding.environ().get("not a name")
