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


def test_the_pasted_secret_leaves_the_kernels_input_history(flow: KernelSession, demo_api):
    command = (
        f"curl '{demo_api.url}/protected/items?limit=2' \\\n"
        "  -H 'Authorization: Bearer demo-static-token'"
    )
    flow.run(f"%%flow import curl --name items --no-run\n{command}").check()
    flow.run("%history -l 0").check()  # a later cell: the history thread has had its chance
    # the probe spells the secret in two halves, so its own source does not hold it
    probe = flow.run(
        "import sqlite3\n"
        "_secret = 'demo-static-' + 'token'\n"
        "_hm = get_ipython().history_manager\n"
        "_hm.writeout_cache()\n"
        "_saved = sqlite3.connect(str(_hm.hist_file)).execute(\n"
        "    'SELECT source, source_raw FROM history WHERE session = ?', (_hm.session_number,)\n"
        ").fetchall()\n"
        "print(len(_saved), any('import curl' in raw for _, raw in _saved))\n"
        "print('LEAK' if any(_secret in s + r for s, r in _saved) else 'clean db')\n"
        "print('LEAK' if any(_secret in s for s in In + _ih) else 'clean In')\n"
        "print('LEAK' if any(_secret in str(v) for k, v in globals().items()\n"
        "                    if k.startswith('_i')) else 'clean _i')"
    ).check()
    lines = probe.text.split()
    assert "True" in lines, probe.text  # the import cell is in the database, rewritten
    assert "clean db" in probe.text and "clean In" in probe.text and "clean _i" in probe.text
    assert "LEAK" not in probe.text
    searched = flow.run("%history -g Bearer").check()
    assert "Bearer ${API_TOKEN}" in searched.text and "demo-static-token" not in searched.text


def test_an_import_run_without_history_leaves_the_history_alone(flow: KernelSession, demo_api):
    flow.run("_marker = 'the cell before'").check()
    command = (
        f"curl '{demo_api.url}/protected/items?limit=2' \\\n"
        "  -H 'Authorization: Bearer demo-static-token'"
    )
    flow.run(f"%%flow import curl --name items --no-run\n{command}", store_history=False).check()
    probe = flow.run("print(repr(In[-2]))").check()  # In[-1] is the probe itself
    assert "the cell before" in probe.text, probe.text
