"""Parsing of ``--config`` values, config files and ``ORCHESTRA_CONFIG_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestra.cli._overrides import (
    apply_to_defaults,
    build_overrides,
    deep_merge,
    from_assignments,
    from_environment,
    from_file,
    parse_assignment,
    parse_value,
)
from orchestra.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10", 10),
        ("2.5", 2.5),
        ("true", True),
        ("null", None),
        ('"10"', "10"),
        ('{"env": "API_TOKEN"}', {"env": "API_TOKEN"}),
        ("[1, 2]", [1, 2]),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("plain text", "plain text"),
        ("", ""),
        ("{not json", "{not json"),
    ],
)
def test_values_are_json_when_they_parse(text: str, value: Any) -> None:
    assert parse_value(text) == value


def test_assignment_splits_at_the_first_equals_sign() -> None:
    assert parse_assignment("url=http://h/?a=b") == (["url"], "http://h/?a=b")
    assert parse_assignment("page.size=2") == (["page", "size"], 2)


@pytest.mark.parametrize("text", ["novalue", "=1", "a..b=1", "a.=1", "bad key=1"])
def test_bad_assignments_raise_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="--config"):
        parse_assignment(text)


def test_dotted_keys_build_nested_objects_and_later_flags_win() -> None:
    config = from_assignments(["page.size=2", "page.cursor=abc", "flag=false", "flag=true"])
    assert config == {"page": {"size": 2, "cursor": "abc"}, "flag": True}


def test_a_dotted_key_under_a_scalar_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"config\.page is not an object"):
        from_assignments(["page=3", "page.size=2"])


def test_a_dotted_key_never_writes_into_a_secret_reference() -> None:
    with pytest.raises(ConfigError, match="not an object"):
        from_assignments(['token={"env": "X"}', "token.env=Y"])


def test_environment_variables_lower_case_and_nest() -> None:
    environ = {
        "ORCHESTRA_CONFIG_BASE_URL": "http://h",
        "ORCHESTRA_CONFIG_PAGE__SIZE": "5",
        "ORCHESTRA_CONFIG_TOKEN": '{"env": "REAL_TOKEN"}',
        "ORCHESTRA_CONFIG_": "ignored",
        "OTHER": "ignored",
    }
    assert from_environment(environ) == {
        "base_url": "http://h",
        "page": {"size": 5},
        "token": {"env": "REAL_TOKEN"},
    }


def test_layers_env_then_file_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"a": "file", "b": "file", "nested": {"x": 1}}')
    environ = {"ORCHESTRA_CONFIG_A": "env", "ORCHESTRA_CONFIG_C": "env"}

    config = build_overrides(
        assignments=["b=flag", "nested.y=2"], config_file=path, environ=environ
    )

    assert config == {"a": "file", "b": "flag", "c": "env", "nested": {"x": 1, "y": 2}}


def test_yaml_and_json_files(tmp_path: Path) -> None:
    yaml_path = tmp_path / "c.yaml"
    yaml_path.write_text("base_url: http://h\npage:\n  size: 3\ntoken: {env: T}\n")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")

    assert from_file(yaml_path) == {
        "base_url": "http://h",
        "page": {"size": 3},
        "token": {"env": "T"},
    }
    assert from_file(empty) == {}


_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 10)}]\n" for a, b in zip("abcdef", "bcdefg", strict=True)
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- 1\n- 2\n", "expected an object"),
        ("a: [1,\n", "not valid JSON or YAML at line"),
        (_LAUGHS, "aliases here expand"),  # the plan loader's budgets hold for config files
        ("a: " + "[" * 5000 + "]" * 5000, "nest"),
        (b"a: caf\xe9\n", "not UTF-8"),
    ],
)
def test_bad_files_raise_config_error(tmp_path: Path, text: str | bytes, message: str) -> None:
    path = tmp_path / "c.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        from_file(path)


def test_deep_merge_keeps_secret_references_whole() -> None:
    base = {"db": {"host": "h", "port": 1}, "token": {"env": "OLD"}}
    merged = deep_merge(base, {"db": {"port": 2}, "token": {"env": "NEW"}})
    assert merged == {"db": {"host": "h", "port": 2}, "token": {"env": "NEW"}}
    # an object replacing a secret reference replaces it, it does not mix into it
    assert deep_merge({"t": {"env": "A"}}, {"t": {"value": 1}}) == {"t": {"value": 1}}
    assert base["db"] == {"host": "h", "port": 1}  # inputs untouched


def test_overrides_merge_into_the_plan_defaults_of_nested_objects() -> None:
    defaults = {"page": {"size": 10, "kept": "yes"}, "base_url": "http://default"}
    overrides = {"page": {"size": 2}, "name": "n"}
    assert apply_to_defaults(defaults, overrides) == {
        "page": {"size": 2, "kept": "yes"},
        "name": "n",
    }
