"""``%flow import curl|har`` and ``%%flow import curl``: imported requests join the flow."""

from __future__ import annotations

import json

import pytest
from IPython.core.error import UsageError

from orchestra.notebook._errors import FlowError
from orchestra.notebook.commands import run_cell, run_line


def test_a_copied_curl_becomes_a_step_that_runs_with_its_secret_hidden(ctx, demo_api):
    view = run_line(
        ctx,
        f"import curl curl '{demo_api.url}/protected/items?limit=2' "
        "-H 'Authorization: Bearer demo-static-token' -H 'Accept: application/json'",
    )
    assert view.ok, view.error
    assert ctx.flow.names() == ["items"]
    assert ctx.flow.settings["auth"] == {"type": "bearer", "token": {"env": "API_TOKEN"}}
    assert ctx.flow.secrets == {"API_TOKEN": "demo-static-token"}
    assert [item["id"] for item in view.body["items"]] == [1, 2]
    shown = repr(run_line(ctx, "show"))
    assert "demo-static-token" not in shown and "env: API_TOKEN" in shown
    assert "demo-static-token" not in repr(view)
    # a later cell refers to the imported step by its name
    later = run_cell(ctx, "first", 'url: "{config.base_url}/items/{steps.items.body.items[0].id}"')
    assert later.ok and later.response("first")["body"]["id"] == 1


def test_the_cell_form_takes_the_command_as_its_body(ctx, demo_api):
    body = (
        f"curl '{demo_api.url}/echo/orders?x=1' \\\n"
        "  -H 'content-type: application/json' \\\n"
        """  --data-raw $'{"sku": "it\\'s", "qty": 2}'\n"""
    )
    view = run_cell(ctx, "import curl --name order --out got", body)
    assert view.ok and ctx.namespace["got"] is view
    assert ctx.flow.find("order").spec["body"] == {"sku": "it's", "qty": 2}
    assert view.body["body"] == {"sku": "it's", "qty": 2} and view.body["query"] == {"x": "1"}
    assert ctx.flow.find("order").source.startswith("%%flow order\n")
    again = run_cell(ctx, "import curl --name order --no-run", body)  # replaces, no new step
    assert ctx.flow.names() == ["order"] and again is not None


def test_a_second_import_with_another_token_gets_its_own_secret(ctx, demo_api):
    run_line(ctx, f"import curl --no-run curl {demo_api.url}/echo/a -H 'Cookie: sid=1'")
    run_line(ctx, f"import curl --no-run curl {demo_api.url}/echo/a -H 'Cookie: sid=2'")
    assert ctx.flow.names() == ["a", "a_2"]
    assert ctx.flow.config == {"base_url": demo_api.url, "cookie": {"env": "COOKIE"},
                               "cookie_2": {"env": "COOKIE_2"}}  # fmt: skip
    assert ctx.flow.find("a_2").spec["headers"] == {"Cookie": "{config.cookie_2}"}
    assert ctx.flow.secrets == {"COOKIE": "sid=1", "COOKIE_2": "sid=2"}
    view = run_line(ctx, "run")
    assert view.ok
    assert view.response("a_2")["body"]["headers"]["cookie"] == "${COOKIE_2}"  # masked


def test_har_entries_become_steps(ctx, demo_api, tmp_path):
    har = {"log": {"entries": [
        {"request": {"method": "GET", "url": f"{demo_api.url}/items?limit=3", "headers": []}},
        {"request": {"method": "GET", "url": f"{demo_api.url}/items/2", "headers": []}},
    ]}}  # fmt: skip
    path = tmp_path / "session.har"
    path.write_text(json.dumps(har), encoding="utf-8")
    ctx.namespace["har_path"] = str(path)
    view = run_line(ctx, "import har $har_path")
    assert ctx.flow.names() == ["items", "items_2"] and view.ok
    run_line(ctx, f"import har {path} --entry 1 --name detail --no-run")
    assert ctx.flow.names() == ["items", "items_2", "detail"]


def test_import_errors_name_the_problem(ctx):
    with pytest.raises(FlowError, match="unknown curl option: --frob"):
        run_line(ctx, "import curl curl --frob https://x.test")
    with pytest.raises(UsageError, match="expected curl or har, got 'wget'"):
        run_line(ctx, "import wget https://x.test")
    with pytest.raises(UsageError, match="paste the curl command"):
        run_line(ctx, "import curl --no-run")
    with pytest.raises(FlowError, match=r"cannot read 'nope\.har'"):
        run_line(ctx, "import har nope.har")
