"""A ``%%flow`` cell shows what ``paginate: auto`` chose (issue 19 item 4), against the demo API.

The cell's output (text and HTML) names the detection and the YAML to paste;
a response that looks paginated but matches no rule is a warning there, also
in a ``--quiet`` cell's one line.
"""

from __future__ import annotations

from orchestra.notebook.commands import run_cell

GRAPH = 'url: "{config.base_url}/graph/items"\nparams: {"$top": 100}\npaginate: auto\n'
SEARCH = 'url: "{config.base_url}/search"\nparams: {size: 10}\npaginate: auto\n'
WARNING = (
    "step search: the response looks paginated (fields: total, nxt) but no rule matched; "
    "only one page was read — write paginate: explicitly"
)


def test_a_detected_paginator_is_announced_with_the_yaml_to_paste(ctx):
    view = run_cell(ctx, "items", GRAPH)
    assert view.ok and view.steps["items"].records == 1000
    text, page = repr(view), view._repr_html_()
    for shown in (text, page):
        assert "paginate: auto detected" in shown
        assert "step items: a next-page URL in the body at " in shown
        assert "type: json_link" in shown and "records: value" in shown
    assert "⚠" not in text


def test_a_response_that_looks_paginated_but_matches_nothing_warns(ctx):
    view = run_cell(ctx, "search", SEARCH)
    assert view.ok and view.steps["search"].pages_finished == 1
    assert f"⚠ {WARNING}" in repr(view)
    assert WARNING in view._repr_html_() and 'color:#8a6d00">⚠' in view._repr_html_()
    quiet = run_cell(ctx, "search --quiet", SEARCH)
    assert repr(quiet).splitlines()[1:] == [f"  ⚠ {WARNING}"]
    assert WARNING in quiet._repr_html_()
