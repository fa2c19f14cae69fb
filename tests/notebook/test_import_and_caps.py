"""In a real kernel: ``%%flow import curl`` adds a step; ``%flow run --max-pages`` test-reads."""

from __future__ import annotations

from tests.notebook.kernel import KernelSession


def test_import_curl_cell_then_a_capped_run(flow: KernelSession, demo_api):
    body = (
        f"curl '{demo_api.url}/cursor?limit=10' \\\n"
        "  -H 'Authorization: Bearer demo-static-token' -H 'Accept: application/json'"
    )
    imported = flow.run(f"%%flow import curl --name users --no-run\n{body}").check()
    assert "users" in imported.text and "demo-static-token" not in imported.text
    paginate = "%%flow users\n" + (
        'url: "' + demo_api.url + '/cursor"\nparams: {limit: 10}\n'
        "paginate: {type: cursor, cursor_path: next_cursor}\nrecords: items\n"
    )
    flow.run(paginate.replace("%%flow users", "%%flow users --no-run")).check()
    ran = flow.run("%flow run --max-pages 3").check()
    assert "partial: stopped at 3 pages in step 'users'" in ran.text
    assert "partial: stopped at 3 pages in step &#x27;users&#x27;" in ran.html
    assert demo_api.stats()["by_path"]["/cursor"] == 3
    shown = flow.run("%flow show").check().text
    assert "env: API_TOKEN" in shown and "demo-static-token" not in shown


def test_a_pasted_curl_cell_is_rewritten_without_its_secret(flow: KernelSession, demo_api):
    command = (
        f"curl '{demo_api.url}/protected/items?limit=2' \\\n"
        "  -H 'Authorization: Bearer demo-static-token'"
    )
    cell = flow.run(f"%%flow import curl --name items\n{command}").check()
    [rewrite] = [p for p in cell.payload if p.get("source") == "set_next_input"]
    assert rewrite["replace"] is True  # the running cell itself, as Jupyter saves it
    assert "demo-static-token" not in rewrite["text"]
    assert rewrite["text"].startswith("%%flow import curl --name items\ncurl ")
    assert "Bearer ${API_TOKEN}" in rewrite["text"]
    assert "${API_TOKEN}" in cell.text  # the note says where the secret went
    # running the rewritten cell again reads the same secret from the kernel
    again = flow.run(rewrite["text"]).check()
    assert not [p for p in again.payload if p.get("source") == "set_next_input"]
    ran = flow.run("%flow run").check()
    assert "demo-static-token" not in ran.text and "200" in ran.text
