"""Every ``%flow`` line command in a real kernel, and the errors for wrong ones."""

from __future__ import annotations

import json

import pytest

from tests.notebook.kernel import ITEMS, KernelSession, value

PLAN_FILE = """key: from-file
config: {base_url: "http://127.0.0.1:9"}
steps:
  - name: listing
    url: "{config.base_url}/items"
    params: {limit: 3}
  - name: one
    url: "{config.base_url}/items/{steps.listing.body.items[2].id}"
"""


@pytest.fixture
def plan_file(flow: KernelSession) -> str:
    path = flow.workdir / "plan.yaml"
    path.write_text(PLAN_FILE, encoding="utf-8")
    flow.run(f"plan_file = {str(path)!r}").check()
    return str(path)


def last_text(cell) -> str:
    return cell.check().texts()[-1]


def test_help_documents_every_command(flow):
    from orchestra.notebook.commands import COMMANDS

    text = last_text(flow.run("%flow help"))
    for name in COMMANDS:
        assert f"%flow {name}" in text
    assert "%%flow [NAME]" in text
    assert "--format plan|har|curl" in last_text(flow.run("%flow help export"))
    assert "%flow sql" in last_text(flow.run("%flow"))
    pager = flow.run("%flow?").check().payload
    assert pager and "%flow export [FILE]" in pager[0]["data"]["text/plain"]


def test_config_flowmagic_lists_the_settings(flow):
    text = flow.run("%config FlowMagic").check().text
    for setting in ("db", "progress", "raise_on_failure", "body_max_items", "keep_records"):
        assert f"FlowMagic.{setting}" in text


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%flow epxort", "unknown command 'epxort' for %flow; did you mean 'export'?"),
        ("%flow export --fromat har", "unknown option '--fromat' for export; "
                                      "did you mean '--format'?"),
        ("%flow export --format hra", "unknown format 'hra' for %flow export --format; "
                                      "did you mean 'har'?"),
        ("%flow runs --limt 3", "did you mean '--limit'?"),
        ("%flow sql --oot x SELECT 1", "did you mean '--out'?"),
        ("%flow help exprt", "did you mean 'export'?"),
        ("%flow show extra", "unexpected argument 'extra'"),
        ("%%flow name --no-rnu\nurl: http://x", "unknown option '--no-rnu' for %%flow; "
                                                "did you mean '--no-run'?"),
    ],
)  # fmt: skip
def test_unknown_commands_and_options_name_the_closest_valid_one(flow, line, message):
    cell = flow.run(line)
    assert cell.status == "error"
    assert cell.text.startswith("UsageError: ") and message in cell.text


def test_config_sets_shows_and_unsets_values(flow):
    flow.run("size = 7").check()
    flow.run("%flow config page.size=$size page.label=seven flag=true").check()
    assert value(flow, "_") == (
        "{'base_url': " + value(flow, "_['base_url']") + ", 'page': {'size': 7, 'label': 'seven'}, "
        "'flag': True}"
    )
    flow.run("%flow config --unset page.label --unset flag").check()
    assert "'page': {'size': 7}" in value(flow, "_")
    assert "'nothing' is not set" in flow.run("%flow config --unset nothing").text


def test_run_file_runs_a_plan_without_touching_the_flow(flow, plan_file, demo_api):
    flow.run(ITEMS).check()
    text = last_text(flow.run("%flow run $plan_file --config base_url=" + demo_api.url))
    assert "plan plan.yaml" in text and "one: ok" in text and "/items/3" in text
    shown = last_text(flow.run("%flow show"))
    assert "listing" not in shown and "name: items" in shown


def test_load_makes_a_file_the_flow_and_run_runs_it(flow, plan_file, demo_api):
    shown = last_text(flow.run("%flow load $plan_file"))
    assert "# listing: pending" in shown and "key: from-file" in shown
    flow.run(f"%flow config base_url={demo_api.url}").check()
    text = last_text(flow.run("%flow run --out whole"))
    assert "flow from-file" in text
    assert value(flow, "whole.response('one')['body']['id']") == "3"
    assert "# one: ok" in last_text(flow.run("%flow show"))


def test_graph_draws_the_flow_as_svg_and_text(flow):
    flow.run(ITEMS).check()
    flow.run('%%flow one\nurl: "{config.base_url}/items/{steps.items.body.items[0].id}"').check()
    cell = flow.run("%flow graph").check()
    assert "image/svg+xml" in cell.mimes()
    svg = next(o["data"]["image/svg+xml"] for o in cell.outputs if "image/svg+xml" in o["data"])
    assert svg.startswith("<svg") and "one uses steps.items" in svg
    assert "└─ detail [ok]" in cell.texts()[-1] and "← uses steps.items" in cell.texts()[-1]


def test_export_plan_to_json_yaml_and_as_the_cell_result(flow, demo_api):
    flow.run(ITEMS).check()
    flow.run('%%flow one\nurl: "{config.base_url}/items/{steps.items.body.items[0].id}"').check()
    flow.run("%flow export plan.json").check()
    plan = json.loads((flow.workdir / "plan.json").read_text())
    assert [step["name"] for step in plan["steps"]] == ["items", "one"]
    assert plan["config"]["base_url"] == demo_api.url
    flow.run("%flow export exported.yaml").check()
    assert "- name: items" in (flow.workdir / "exported.yaml").read_text()
    flow.run("result = %flow export").check()
    assert value(flow, "result") == repr(plan)  # the same plan as the cell's result
    # the exported plan runs headless with the same engine
    import orchestra

    assert orchestra.run(flow.workdir / "plan.json", db=None).ok


def test_export_har_and_curl_cover_the_flows_runs(flow):
    flow.run(ITEMS).check()
    flow.run('%%flow one\nurl: "{config.base_url}/items/1"').check()
    flow.run("%flow export flow.har").check()
    har = json.loads((flow.workdir / "flow.har").read_text())["log"]
    assert len(har["pages"]) == 2 and len(har["entries"]) == 3 + 15 + 1
    curl = last_text(flow.run("%flow export --format curl"))
    assert curl.startswith("# Orchestra run") and curl.count("curl -X GET") == 19
    run_id = value(flow, "_.splitlines()[0].split()[3]").strip("'")
    flow.run(f"plan = %flow export --format plan --run {run_id}").check()
    assert value(flow, "(plan['key'], [s['name'] for s in plan['steps']])") == (
        "('notebook', ['items'])"
    )


def test_sql_returns_a_dataframe_and_takes_notebook_variables(flow):
    flow.run(ITEMS + "\n").check()
    flow.run("run_id = items_run.run_id").check()
    cell = flow.run(
        "df = %flow sql SELECT step_path, count(*) AS n FROM exchanges "
        "WHERE run_id = $run_id AND url NOT LIKE '%$nothing%' GROUP BY 1 ORDER BY 1\ndf"
    ).check()
    assert "text/html" in cell.mimes()  # pandas' table
    assert value(flow, "type(df).__name__") == "'DataFrame'"
    assert value(flow, "df.n.tolist()") == "[3, 15]"
    flow.run("%flow sql --out kept SELECT count(*) AS n FROM records").check()
    assert value(flow, "int(kept.n[0]) > 0") == "True"
    bad = flow.run("%flow sql SELECT nope FROM exchanges")
    assert bad.ename == "FlowError" and "nope" in bad.evalue
    assert "not a variable" in flow.run("%flow sql SELECT $missing_variable").text


def test_dollar_names_inside_a_function_are_its_local_variables(flow):
    """``$name`` is what Python would see at the line: a function's locals first."""
    flow.run(ITEMS + "\n").check()
    flow.run(
        "step_path, run_id = 'not-this-one', items_run.run_id\n"
        "def count(step_path):\n"
        "    found = %flow sql SELECT count(*) AS n FROM exchanges WHERE step_path = $step_path "
        "AND run_id = $run_id\n"
        "    return int(found.n[0])\n"
        "def set_page(size):\n"
        "    %flow config page_size=$size\n"
        "    %flow config top_size=$step_path\n"
    ).check()
    assert value(flow, "(count('items'), count('items.detail'))") == "(3, 15)"
    flow.run("set_page(7)\nshown = %flow eval config.[page_size, top_size]").check()
    assert value(flow, "shown") == "[7, 'not-this-one']"
    assert value(flow, "[count(p) for p in ['items']]") == "[3]"


def test_runs_lists_captured_runs_newest_first(flow):
    flow.run(ITEMS).check()
    flow.run('%%flow one\nurl: "{config.base_url}/items/1"').check()
    flow.run("runs = %flow runs --limit 2").check()
    assert value(flow, "runs.plan_key.tolist()") == "['notebook', 'notebook']"
    assert value(flow, "runs.status.tolist()") == "['succeeded', 'succeeded']"
    assert value(flow, "runs.started_at.iloc[0] >= runs.started_at.iloc[1]") == "True"
    flow.run("every = %flow runs --all --limit 1").check()
    assert value(flow, "len(every)") == "1"


def test_reset_empties_the_flow(flow):
    flow.run(ITEMS).check()
    assert "the flow is empty" in last_text(flow.run("%flow reset"))
    assert "steps: []" in last_text(flow.run("%flow show"))
    assert "no steps" in flow.run("%flow run").text


def test_every_command_has_an_example_in_the_magics_docstring(flow):
    from orchestra.notebook.commands import COMMANDS

    pager = flow.run("%flow?").check().payload[0]["data"]["text/plain"]
    for command in COMMANDS.values():
        assert f"%flow {command.usage}" in pager and command.example in pager


def test_secret_without_a_prompt_says_what_to_do(flow):
    cell = flow.run("%flow secret API_TOKEN")  # this client allows no stdin, like nbclient
    assert cell.ename == "FlowError" and "set the environment variable API_TOKEN" in cell.evalue


def test_the_extension_reloads(flow):
    flow.run("%reload_ext orchestra").check()
    assert "%flow run" in last_text(flow.run("%flow help"))
    flow.run("%unload_ext orchestra").check()
    assert flow.run("%flow help").status == "error"
    flow.run("%load_ext orchestra").check()


def test_dollar_names_are_expanded_in_every_line_command(flow, plan_file, demo_api):
    """``--replay $rid``, ``--run $rid``, ``export $path`` (format from the expanded name)."""
    first = flow.run(f"%flow run $plan_file --config base_url={demo_api.url} --out first")
    first.check()
    flow.run("rid = first.run_id; target = 'picked.har'; n = 7; cfg = {'a': [1]}").check()
    demo_api.reset()
    replay = f"%flow run $plan_file --replay $rid -c base_url={demo_api.url} --out again"
    replayed = last_text(flow.run(replay))
    assert replayed.startswith("✔ succeeded") and demo_api.stats()["requests_total"] == 0
    assert value(flow, "again.response('one')['body']['id']") == "3"
    curl = last_text(flow.run("%flow export --format curl --run $rid"))
    assert curl.count("curl -X GET") == 2 and "/items/3" in curl
    flow.run("%flow export --run=$rid $target").check()
    har = json.loads((flow.workdir / "picked.har").read_text())["log"]  # HAR, not a plan
    assert len(har["entries"]) == 2
    shown = last_text(flow.run("%flow config n=$n cfg=$cfg literal=$$n"))
    assert json.loads(shown.removeprefix("config: "))["n"] == 7
    flow.run("got = %flow eval config.cfg\nraw = %flow eval config.literal").check()
    assert value(flow, "(got, raw)") == "({'a': [1]}, '$n')"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%flow break itmes", "no step 'itmes'; its steps (closest first): items, "),
        ("%flow break group", "'group' is a parallel group; it sends no request"),
        ("%flow break pick", "'pick' is a choice; it sends no request"),
    ],
)
def test_break_rejects_unknown_steps_groups_and_choices(flow, line, message):
    flow.run(ITEMS.replace("%%flow items --out items_run", "%%flow items --no-run")).check()
    flow.run(
        "%%flow group --no-run\nparallel:\n"
        '  - {name: left, url: "{config.base_url}/items/1"}\n'
        '  - {name: right, url: "{config.base_url}/items/2"}'
    ).check()
    flow.run(
        "%%flow pick --no-run\nchoice:\n"
        '  - when: "`true`"\n    steps: [{name: hit, url: "{config.base_url}/items/1"}]\n'
        'otherwise: [{name: miss, url: "{config.base_url}/items/2"}]'
    ).check()
    cell = flow.run(line)
    assert cell.ename == "FlowError" and message in cell.evalue, cell.text
    assert ", group," not in cell.evalue  # groups are no breakpoint targets
    listed = last_text(flow.run("%flow break"))
    assert listed.startswith("no breakpoints")  # nothing was set
    assert "group.left" in last_text(flow.run("%flow break group.left"))
    assert "hit" in last_text(flow.run("%flow break hit"))
    flow.run("%flow break --clear").check()
    assert "pick.hit, pick.miss" in flow.run("%flow break pick").evalue
