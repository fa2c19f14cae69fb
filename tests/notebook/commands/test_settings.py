"""``%flow config`` and ``%flow secret`` without a kernel (the prompt is the context's)."""

from __future__ import annotations

import pytest
from IPython.core.error import StdinNotImplementedError, UsageError

from orchestra.notebook._errors import FlowError
from orchestra.notebook.commands import run_line


def test_config_sets_nested_values_from_python_and_unsets_them(ctx):
    ctx.namespace.update(size=7, cfg={"a": [1]})
    shown = run_line(ctx, "config page.size=$size page.label=seven cfg=$cfg flag=true")
    assert shown["page"] == {"size": 7, "label": "seven"} and shown["cfg"] == {"a": [1]}
    run_line(ctx, "config --unset page.label --unset flag")
    assert ctx.flow.config["page"] == {"size": 7} and "flag" not in ctx.flow.config
    with pytest.raises(UsageError, match="'nothing' is not set"):
        run_line(ctx, "config --unset nothing")


def test_secret_keeps_the_value_masked_and_refers_to_it(ctx):
    asked: list[str] = []
    ctx.ask_secret = lambda prompt: asked.append(prompt) or "tok-unit-4567"
    said = run_line(ctx, "secret API_TOKEN --config token")
    assert asked == ["API_TOKEN: "] and "{config.token}" in said
    assert ctx.flow.config["token"] == {"env": "API_TOKEN"}
    assert ctx.flow.environ()["API_TOKEN"] == "tok-unit-4567"
    ctx.flow.config["echo"] = "tok-unit-4567"
    assert run_line(ctx, "config")["echo"] == "${API_TOKEN}"


def test_secret_refuses_short_values_bad_names_and_no_prompt(ctx):
    ctx.ask_secret = lambda prompt: "abc"
    with pytest.raises(FlowError, match="shorter than 4"):
        run_line(ctx, "secret SHORT")
    assert "SHORT" not in ctx.flow.config
    with pytest.raises(UsageError, match="not a valid name"):
        run_line(ctx, "secret 'a b'")

    def no_stdin(prompt: str) -> str:
        raise StdinNotImplementedError("no stdin")

    ctx.ask_secret = no_stdin
    with pytest.raises(FlowError, match="set the environment variable API_TOKEN"):
        run_line(ctx, "secret API_TOKEN")
