"""Every module of the package says what it is for, and points only inside the repository.

A module docstring is the first thing a newcomer reads, so every module has
one. Docstrings and comments may cite README.md or ``bench/README.md``, but
never a file outside the repository (the project's shared notes, a scratch
file under ``/tmp``, a sibling directory) or a commit: a reader of the
package has neither, and history belongs in commit messages.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import orchestra

PACKAGE = Path(orchestra.__file__).resolve().parent
MODULES = sorted(PACKAGE.rglob("*.py"))

# What points outside the repository, or at history instead of the code.
OUTSIDE = re.compile(
    r"(?P<what>shared/|MEASURED\.md|SPEC\.md|STYLE\.md|SPEC §|\.\./|/tmp/"
    r"|\bcommit [0-9a-f]{7,40}\b)"
)


def _name(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


def outside_references(text: str) -> list[tuple[int, str]]:
    """(line number, what) for every reference to something outside the repository."""
    return [
        (number, match.group("what"))
        for number, line in enumerate(text.splitlines(), start=1)
        for match in OUTSIDE.finditer(line)
    ]


def test_the_package_has_modules() -> None:
    assert len(MODULES) > 50, MODULES  # the glob found the package, not an empty folder


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_module_has_a_docstring(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstring = ast.get_docstring(tree)
    assert docstring and docstring.strip(), (
        f"{_name(path)} has no module docstring: say what the module is for and why "
        "it is built the way it is, in a docstring on its first line"
    )


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_module_refers_only_to_the_repository(path: Path) -> None:
    found = outside_references(path.read_text(encoding="utf-8"))
    assert not found, (
        f"{_name(path)} refers to files outside the repository or to history: "
        + ", ".join(f"line {line}: {what!r}" for line, what in found)
        + " — cite README.md or bench/README.md, and keep history in commit messages"
    )


@pytest.mark.parametrize(
    "text",
    [
        "Measured on these machines (shared/MEASURED.md, bench/)",
        "see ../shared/STYLE.md",
        "written to /tmp/profile.txt",
        "against the writer of commit db72855",
        "Evaluation order (SPEC §2)",
    ],
)
def test_outside_references_are_found(text: str) -> None:
    assert outside_references(text)


@pytest.mark.parametrize(
    "text",
    [
        "Every table is documented column by column in README.md",
        "the measurements are in bench/README.md",
        "one commit per flush (``Attacher.commit``)",
        "a path like ``a/b/c`` in a plan",
    ],
)
def test_references_inside_the_repository_pass(text: str) -> None:
    assert not outside_references(text)
