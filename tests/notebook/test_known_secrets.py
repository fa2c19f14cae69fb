"""The notebook's one masker (no kernel): what it learns, when, and what it hands to runs."""

from __future__ import annotations

import pandas as pd
import pytest

from orchestra.masking import Masker
from orchestra.notebook._export import ExportedText
from orchestra.notebook._flow import NotebookFlow
from orchestra.notebook._secrets import KnownSecrets, env_references, masked

TOKEN = "Zq8+r/T1==tok"


def test_an_env_reference_is_masked_as_soon_as_the_flow_names_it(monkeypatch):
    monkeypatch.setenv("ORC_UNIT_TOKEN", TOKEN)
    flow = NotebookFlow()
    assert flow.masker.text(TOKEN) == TOKEN  # not named yet
    flow.config["token"] = {"env": "ORC_UNIT_TOKEN"}
    assert flow.masker.text(f"q={TOKEN}") == "q=${ORC_UNIT_TOKEN}"
    assert flow.masker.value({"a": [TOKEN]}) == {"a": ["${ORC_UNIT_TOKEN}"]}


def test_references_in_auth_and_steps_count_and_unset_variables_are_skipped(monkeypatch):
    monkeypatch.setenv("ORC_UNIT_AUTH", "auth-secret-1")
    monkeypatch.delenv("ORC_UNIT_UNSET", raising=False)
    flow = NotebookFlow()
    flow.settings["auth"] = {"type": "bearer", "token": {"env": "ORC_UNIT_AUTH"}}
    flow.config["other"] = [{"env": "ORC_UNIT_UNSET"}]
    assert flow.masker.text("auth-secret-1") == "${ORC_UNIT_AUTH}"
    assert list(env_references([flow.settings])) == ["ORC_UNIT_AUTH", "ORC_UNIT_UNSET"]


def test_a_flow_secret_is_known_and_reset_keeps_it_unless_told():
    flow = NotebookFlow()
    flow.keep_secret("API_KEY", "sk-unit-123")
    assert flow.environ()["API_KEY"] == "sk-unit-123"
    flow.reset()
    assert flow.masker.text("sk-unit-123") == "${API_KEY}"
    flow.reset(secrets=True)
    assert flow.masker.text("sk-unit-123") == "sk-unit-123"


def test_what_a_run_learnt_is_handed_to_the_next_run_with_its_reference():
    known = KnownSecrets()
    first = Masker()
    first.add("fetched-token-42")  # a token a run fetched: ***
    first.add(TOKEN, reference="${NAME}")
    known.learn(first)
    second = Masker()
    known.arm(second)
    assert second.text("Bearer fetched-token-42") == "Bearer ***"
    assert second.text(f"echo {TOKEN}") == "echo ${NAME}"
    assert known.masker.text("fetched-token-42") == "***"
    size = len(known)
    known.learn(first)  # learning the same run again adds nothing
    assert len(known) == size


def test_masked_keeps_the_kind_of_value_it_is_given():
    known = KnownSecrets()
    known.add("sk-unit-456", "${K}")
    text = masked(ExportedText("curl -H 'X: sk-unit-456'"), known.masker)
    assert isinstance(text, ExportedText) and text == "curl -H 'X: ${K}'"
    frame = pd.DataFrame({"n": [1, 2], "body": ['{"k": "sk-unit-456"}', None]})
    shown = masked(frame, known.masker)
    assert shown["body"][0] == '{"k": "${K}"}' and pd.isna(shown["body"][1])
    assert list(shown["n"]) == [1, 2]
    assert frame["body"][0] == '{"k": "sk-unit-456"}'  # the original is not changed
    assert masked({"a": ("sk-unit-456",)}, known.masker) == {"a": ["${K}"]}


@pytest.mark.parametrize("value", [None, 3, 2.5, True])
def test_other_values_pass_through(value):
    assert masked(value, KnownSecrets().masker) is value
