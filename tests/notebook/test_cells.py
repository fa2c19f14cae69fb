"""``%%flow`` cells in a real kernel: the cell-by-cell flow, re-runs, braces, errors."""

from __future__ import annotations

import re

from tests.notebook.kernel import ITEMS, value


def test_a_step_cell_runs_at_once_and_shows_request_response_and_counts(flow):
    cell = flow.run(ITEMS).check()
    html = cell.html
    assert "succeeded" in html
    assert re.search(r"GET http://127\.0\.0\.1:\d+/items\?limit=5&amp;offset=10", html)
    assert "200 x3" in html  # three pages
    assert "15/15 ok" in html  # the fanout counts
    assert "<details" in html and "&quot;next_offset&quot;" in html  # the body as a tree
    assert "context.next_offset" in html  # the context update
    assert "text/plain" in cell.mimes()  # and the text fallback
    assert "fanout 15/15 ok" in cell.texts()[-1]
    assert value(flow, "items_run.status") == "'succeeded'"
    assert value(flow, "_.run_id == items_run.run_id") == "True"  # bound to `_` too
    assert value(flow, "items_run.context") == "{'next_offset': 15}"
    assert value(flow, "len(items_run.records)") == "18"  # 3 pages + 15 items


def test_later_cells_see_earlier_steps_and_the_flow_context(flow):
    flow.run(ITEMS).check()
    cell = flow.run(
        """%%flow first --out first_run
url: "{config.base_url}/items/{steps.items.body.items[0].id}"
params: {seen: "{context.next_offset}"}
extract: {name: response.body.name}
"""
    ).check()
    assert "/items/11?seen=15" in cell.texts()[-1]
    assert value(flow, "first_run.extract") == "{'name': 'item-11'}"


def test_rerunning_a_step_replaces_it_in_place_and_marks_later_steps_stale(flow):
    flow.run(ITEMS).check()
    flow.run('%%flow total\nurl: "{config.base_url}/items/{steps.items.body.offset}"').check()
    again = flow.run(ITEMS.replace("limit: 5", "limit: 4")).check()
    # the re-run started from the context before it, not after its first run
    assert "offset=0" in value(flow, "items_run.steps['items'].first_url")
    assert value(flow, "items_run.steps['items'].pages") == "4"  # offsets 0, 4, 8, 12
    assert "stale now" in again.html and "total" in again.html
    shown = flow.run("%flow show").check().texts()[-1]
    assert "# items: ok" in shown and "# total: stale" in shown
    assert shown.index("name: items") < shown.index("name: total")  # replaced in place
    assert shown.count("name: items") == 1
    flow.run("%flow run").check()  # the whole flow clears the stale mark
    assert "# total: ok" in flow.run("%flow show").check().texts()[-1]


def test_the_same_cell_run_again_replaces_its_step_even_unnamed_or_renamed(flow):
    body = '%%flow{name}\nurl: "{{config.base_url}}/items"\nparams: {{limit: {limit}}}'
    flow.run(body.format(name="", limit=1), cell_id="cell-a").check()
    flow.run(body.format(name="", limit=2), cell_id="cell-a").check()
    assert value(flow, "_.steps['step_1'].first_url.endswith('limit=2')") == "True"
    flow.run(body.format(name=" renamed", limit=3), cell_id="cell-a").check()
    flow.run(body.format(name="", limit=1), cell_id="cell-b").check()
    shown = flow.run("%flow show").check().texts()[-1]
    assert re.findall(r"name: (\w+)", shown) == ["renamed", "step_2"]


def test_a_whole_plan_cell_becomes_the_flow_and_settings_cells_update_it(flow, demo_api):
    flow.run("%%flow\nkey: demo\nconfig: {page: 2}").check()
    plan = f"""%%flow
{{"key": "whole", "config": {{"base_url": "{demo_api.url}"}},
 "steps": [{{"name": "a", "url": "{{config.base_url}}/items", "params": {{"limit": 2}}}},
           {{"name": "b", "url": "{{config.base_url}}/items/{{steps.a.body.items[1].id}}"}}]}}
"""
    cell = flow.run(plan).check()  # JSON works as well as YAML
    assert "flow whole" in cell.texts()[-1]
    shown = flow.run("%flow show --format json").check().texts()[-1]
    assert '"key": "whole"' in shown and '"name": "b"' in shown
    flow.run('%%flow c\nurl: "{config.base_url}/items/{steps.b.body.id}"').check()
    assert value(flow, "_.steps['c'].first_url.endswith('/items/2')") == "True"


def test_braces_are_never_expanded_by_ipython(flow):
    flow.run("config = {'base_url': 'http://python-variable'}; item = 'x'").check()
    cell = flow.run(
        """%%flow echo
url: "{config.base_url}/echo/raw"
params: {literal: "{{not a template}}", dollar: "$item", page: "{`2`}"}
"""
    ).check()
    text = cell.texts()[-1]
    assert "python-variable" not in text
    query = "{'literal': '{not a template}', 'dollar': '$item', 'page': '2'}"
    assert value(flow, "_.body['query']") == query
    flow.run("%flow config label={item}").check()  # no expansion in %flow lines either
    assert value(flow, "_['label']") == "'{item}'"


def test_no_run_quiet_and_out(flow):
    flow.run('%%flow later --no-run\nurl: "{config.base_url}/items"').check()
    assert "# later: pending" in flow.run("%flow show").check().texts()[-1]
    cell = flow.run('%%flow later --quiet --out r\nurl: "{config.base_url}/items"').check()
    assert cell.texts()[-1].count("\n") == 0 and "succeeded" in cell.texts()[-1]
    assert value(flow, "r.ok") == "True"


def test_a_cell_with_top_level_await_can_run_a_flow(flow):
    """The kernel's loop is running in such a cell: the run goes to the worker loop."""
    cell = flow.run(
        "import asyncio\nawait asyncio.sleep(0)\n"
        "r = get_ipython().run_cell_magic('flow', 'awaited', "
        "'url: \"{config.base_url}/items\"')\nprint(r.status)"
    ).check()
    assert "succeeded" in cell.text


# -- errors ---------------------------------------------------------------------------------


def test_an_unknown_field_names_the_closest_and_underlines_it(flow):
    cell = flow.run('%%flow bad\nurl: "{config.base_url}/items"\nmetod: GET')
    assert cell.status == "error" and cell.ename == "FlowError"
    text = "\n".join(cell.traceback)
    assert "did you mean 'method'?" in text
    assert "   3 | metod: GET\n     | ^^^^^" in text  # the %%flow line is line 1
    assert "Traceback" not in text  # one short message, no Python traceback
    assert "bad" not in flow.run("%flow show").check().texts()[-1]  # not added to the flow


def test_a_syntax_error_points_at_the_column(flow):
    cell = flow.run('%%flow bad\nurl: "{config.base_url ||}/items"')
    text = "\n".join(cell.traceback)
    assert "expression ends too early" in text
    column = 'url: "{config.base_url ||'.index("|") + 2  # the closing brace
    assert '   2 | url: "{config.base_url ||}/items"\n     | ' + " " * column + "^" in text


def test_a_yaml_error_gives_the_cells_own_line_and_shows_it(flow):
    cell = flow.run('%%flow bad\nurl: "{config.base_url}/items"\nparams: {limit: 3\nx: 1')
    assert cell.ename == "FlowError"
    text = "\n".join(cell.traceback)
    assert "not valid JSON or YAML at line 4, column 2" in text, text
    assert "   3 | params: {limit: 3\n   4 | x: 1\n     |  ^" in text


def test_an_unknown_steps_reference_lists_the_flows_steps(flow):
    flow.run('%%flow listing --no-run\nurl: "{config.base_url}/items"').check()
    flow.run('%%flow detail --no-run\nurl: "{config.base_url}/items/1"').check()
    cell = flow.run('%%flow third --no-run\nurl: "{config.base_url}/items/{steps.zzz.id}"')
    text = "\n".join(cell.traceback)
    assert "there is no step 'zzz'" in text and "fix: steps are: detail, listing" in text, text
    cell = flow.run('%%flow third --no-run\nurl: "{config.base_url}/items/{steps.lisitng.id}"')
    assert "did you mean 'listing'?" in "\n".join(cell.traceback)


def test_a_failing_run_shows_the_error_with_the_expression_underlined(flow):
    cell = flow.run('%%flow bad\nurl: "{config.base_url}/items/{item.idd}"')
    assert cell.status == "error" and cell.ename == "FlowRunFailed"
    assert "{item.idd}" in cell.html
    assert re.search(r"<u [^>]*>\{item\.idd\}</u>", cell.html)
    assert "^^^^^^^^^^" in cell.texts()[-1]


def test_a_failed_expectation_shows_the_last_response_from_the_capture(flow):
    cell = flow.run(
        """%%flow check
url: "{config.base_url}/items"
expect:
  that:
    - response.body.total == `3`
"""
    )
    assert cell.ename == "FlowRunFailed"
    assert re.search(r"<u [^>]*>response\.body\.total == `3`</u>", cell.html)
    assert "last response of <code>check</code> (status 200" in cell.html
    assert "failed" in flow.run("%flow show").check().texts()[-1]


def test_a_failure_without_raising_when_configured(flow):
    flow.run("%config FlowMagic.raise_on_failure = False").check()
    try:
        cell = flow.run('%%flow gone\nurl: "{config.base_url}/status/404"').check()
        assert "failed" in cell.texts()[-1] and "404" in cell.texts()[-1]
    finally:
        flow.run("%config FlowMagic.raise_on_failure = True").check()


def test_a_large_body_is_shown_truncated(flow):
    cell = flow.run('%%flow big\nurl: "{config.base_url}/large"\nparams: {kb: 2048}').check()
    assert len(cell.html) < 150_000  # a 2 MB body, a bounded rendering
    assert "bytes as JSON" in cell.html and "more" in cell.html
    assert len(cell.texts()[-1]) < 10_000
    assert value(flow, "len(str(_.body)) > 2_000_000") == "True"  # the value itself is whole


def test_paginate_auto_is_announced_in_the_cell_output(flow):
    """What ``paginate: auto`` chose, and the warning when it read one page, in a real kernel."""
    cell = flow.run(
        '%%flow graph\nurl: "{config.base_url}/graph/items"\nparams: {"$top": 100}\npaginate: auto'
    ).check()
    assert "paginate: auto detected" in cell.html and "type: json_link" in cell.html
    assert "records: value" in cell.html and "1000 records" in cell.html
    cell = flow.run(
        '%%flow search --quiet\nurl: "{config.base_url}/search"\nparams: {size: 10}\npaginate: auto'
    ).check()
    warning = "step search: the response looks paginated (fields: total, nxt)"
    assert warning in cell.html and warning in cell.texts()[-1]
