"""Saving over a hand-written YAML plan keeps its comments and formatting where unchanged."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import yaml

from orchestra.dashboard._builder import BuilderState
from orchestra.dashboard._builder._state import FileBinding
from orchestra.dashboard._builder._yaml_keep import updated_yaml

QUICKSTART = Path(__file__).resolve().parents[3] / "templates" / "quickstart.yaml"


def opened(tmp_path: Path) -> tuple[BuilderState, Path]:
    plan = tmp_path / "quickstart.yaml"
    shutil.copy(QUICKSTART, plan)
    state = BuilderState(binding=FileBinding(plan), db=tmp_path / "c.duckdb")
    assert not state.issues, state.issues
    return state, plan


def test_saving_a_commented_template_unchanged_gives_the_same_bytes(tmp_path: Path) -> None:
    state, plan = opened(tmp_path)
    before = plan.read_bytes()
    assert b"# A paginated" in before and b"description: >" in before
    state.save()
    assert not state.error, state.error
    assert plan.read_bytes() == before


def test_one_changed_field_changes_only_its_line_and_keeps_the_comments(tmp_path: Path) -> None:
    state, plan = opened(tmp_path)
    before = plan.read_text().splitlines()
    state.set_value("steps[1]", ("retry", "max_attempts"), 6)
    state.save()
    after = plan.read_text().splitlines()
    changed = [
        line for line in difflib.unified_diff(before, after, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]  # fmt: skip
    assert changed == ["-      max_attempts: 4", "+      max_attempts: 6"]
    assert [line for line in after if line.startswith("#")] == [
        line for line in before if line.startswith("#")
    ]
    assert yaml.safe_load(plan.read_text())["steps"][1]["retry"]["max_attempts"] == 6


def test_added_removed_and_list_edits_land_in_the_file_with_the_comments_kept(
    tmp_path: Path,
) -> None:
    state, plan = opened(tmp_path)
    state.set_value("", ("version",), "2")  # a new plan setting: appended
    state.set_value("steps[0]", ("emit",), None)  # removed
    state.selected = "steps[1]"
    state.add_step()  # a new root step after flaky
    state.save()
    text = plan.read_text()
    data = yaml.safe_load(text)
    assert data == state.plan
    assert text.startswith("# A paginated, fanned-out, retried plan")
    assert "description: >\n  Walks /items page by page" in text
    assert 'url: "{config.base_url}/items"' in text  # the author's quotes


def test_a_file_that_is_not_a_yaml_mapping_is_written_plainly() -> None:
    assert updated_yaml("- a\n- b\n", {"key": "k"}) is None
    assert updated_yaml("key: [unclosed\n", {"key": "k"}) is None
    changed = updated_yaml("key: k  # the key\n", {"key": "k2"})
    assert changed == "key: k2 # the key\n"  # an end-of-line comment keeps its column


def test_save_as_over_another_file_does_not_keep_that_files_comments(tmp_path: Path) -> None:
    state, _ = opened(tmp_path)
    other = tmp_path / "other.yaml"
    other.write_text("# notes about another plan\nkey: other\nsteps: []\n")
    state.save(other)
    text = other.read_text()
    assert "another plan" not in text and yaml.safe_load(text) == state.plan
    before = text
    state.save()  # then saving over it again keeps what the builder wrote there
    assert other.read_text() == before
