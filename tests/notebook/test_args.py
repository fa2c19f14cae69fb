"""``$name`` expansion of a ``%flow`` line, before any command parses it (no kernel)."""

from __future__ import annotations

from pathlib import Path

from orchestra.notebook._args import Expanded, assignments, expand

NAMESPACE = {"rid": "20260101-000000-abc", "out": Path("/tmp/x.har"), "n": 7, "cfg": {"a": [1]}}


def evaluate(expression: str):
    return eval(expression, {}, dict(NAMESPACE))  # the kernel evaluates in the notebook's ns


def test_whole_words_options_and_assignments_are_expanded_in_one_place():
    words = ["run", "$out", "--replay", "$rid", "--run=$rid", "n=$n", "plain", "a=b", "$"]
    assert expand(words, evaluate) == [
        "run", "/tmp/x.har", "--replay", "20260101-000000-abc", "--run=20260101-000000-abc",
        "n=7", "plain", "a=b", "$",
    ]  # fmt: skip


def test_an_expanded_assignment_keeps_the_python_value():
    words = expand(["n=$n", "cfg=$cfg", "text=7", "nested.k=$rid"], evaluate)
    assert isinstance(words[1], Expanded)
    assert assignments(words) == {
        "n": 7, "cfg": {"a": [1]}, "text": 7, "nested": {"k": "20260101-000000-abc"},
    }  # fmt: skip


def test_a_double_dollar_is_a_literal_dollar():
    assert expand(["$$rid", "k=$$n", "--when=$$x"], evaluate) == ["$rid", "k=$n", "--when=$x"]
    assert assignments(expand(["k=$$n"], evaluate)) == {"k": "$n"}


def test_expressions_are_python_expressions():
    assert expand(["$out.suffix", "$cfg['a'][0]"], evaluate) == [".har", "1"]
