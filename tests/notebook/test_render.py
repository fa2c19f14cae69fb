"""The pieces of a cell's output that need no kernel: JSON trees and error underlines."""

from __future__ import annotations

from orchestra.errors import RunError
from orchestra.notebook._errors import Span, locate, underline_text
from orchestra.notebook._jsontree import Limits, html_tree, text_preview


def test_a_huge_body_renders_within_the_budget():
    body = {"items": [{"id": i, "text": "x" * 5000} for i in range(100_000)]}
    html = html_tree(body, Limits(max_items=20, max_string=50, budget=500))
    assert len(html) < 20_000
    assert "… 99,980 more" in html and "(4,950 more chars)" in html
    text = text_preview(body, Limits(max_items=3), max_lines=30)
    assert len(text.splitlines()) <= 31 and "more" in text


def test_the_tree_masks_strings_and_keys_before_shortening():
    limits = Limits(max_string=10, mask=lambda s: s.replace("hunter22", "***"))
    html = html_tree({"hunter22": "pw=hunter22 and more text"}, limits)
    assert "hunter22" not in html and "&quot;***&quot;" in html and "pw=***" in html
    assert "hunter" not in text_preview({"k": "hunter22" * 3}, limits)


def test_the_first_levels_are_open_and_deeper_ones_collapsed():
    html = html_tree({"a": {"b": {"c": 1}}}, Limits(open_depth=1))
    assert html.count("<details open>") == 1 and html.count("<details>") == 2  # a and b


def test_locate_underlines_a_failing_expression_with_its_braces():
    source = 'url: "{config.base_url}/items/{item.idd}"\nextract: {a: b}'
    error = RunError("expression {item.idd} in '…' is null", step_path="x")
    span = locate(source, error, ["x"])
    assert span == Span(0, source.index("{item.idd}"), len("{item.idd}"))
    assert underline_text(source, span).splitlines()[1].endswith("^" * len("{item.idd}"))
    assert locate(source, RunError("nothing quoted here")) is None
