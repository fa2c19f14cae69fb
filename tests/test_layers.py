"""The architecture as a test: the import contracts of ``.importlinter`` hold.

``.importlinter`` at the repository root declares the layers (errors, types,
masking ← expressions ← plan ← events and the builder ← engine ← capture ←
debug ← run ← cli | notebook | dashboard), the demo API standing apart, the
plan format free of I/O libraries, and private modules kept inside their
package. This module runs those contracts with the suite, checks what
import-linter cannot see (an allowed upward import stays inside a function;
``import orchestra.plan`` really loads no heavy library), and keeps the
contracts' module lists complete.
"""

from __future__ import annotations

import ast
import configparser
import os
import subprocess
import sys
from pathlib import Path

import pytest

import orchestra

REPO = Path(__file__).resolve().parent.parent
PACKAGE = Path(orchestra.__file__).resolve().parent
CONFIG = REPO / ".importlinter"

# Imports that go up a layer or across surfaces on purpose. Each is listed in
# `.importlinter`'s ignore_imports with its reason, and must stay inside a
# function so that importing the lower module never loads the upper one.
LAZY_IMPORTS = {
    ("orchestra.builder", "orchestra._run"),  # Flow.run()
    ("orchestra.cli._app", "orchestra.dashboard"),  # `orchestra dashboard`
    ("orchestra.notebook.commands.dashboard", "orchestra.dashboard"),  # `%flow dashboard --inline`
    ("orchestra.cli._app", "orchestra.demo"),  # `orchestra demo-api`, `--with-demo-api`
    ("orchestra.notebook.commands.builder", "orchestra.dashboard"),  # `%flow builder`
}

LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"

HEAVY = ("aiohttp", "bokeh", "duckdb", "httpx", "IPython", "pandas", "panel", "pyarrow")


def _contracts() -> dict[str, configparser.SectionProxy]:
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    prefix = "importlinter:contract:"
    return {
        name[len(prefix) :]: parser[name] for name in parser.sections() if name.startswith(prefix)
    }


def _lines(value: str) -> set[str]:
    return {
        line.strip()
        for line in value.splitlines()
        if line.strip() and not line.strip().startswith("#")
    }


def _ignored_imports() -> set[tuple[str, str]]:
    pairs = set()
    for contract in _contracts().values():
        for line in _lines(contract.get("ignore_imports", "")):
            importer, imported = (part.strip() for part in line.split("->"))
            pairs.add((importer, imported))
    return pairs


def _source(module: str) -> Path:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _imports_of(module: str, target: str) -> list[tuple[int, bool]]:
    """``(line, inside a function)`` of each import of ``target`` (or below it) in ``module``."""
    tree = ast.parse(_source(module).read_text())
    nested: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            nested.update(id(inner) for inner in ast.walk(node) if inner is not node)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        if any(name == target or name.startswith(target + ".") for name in names):
            found.append((node.lineno, id(node) in nested))
    return found


def _top_level_modules() -> set[str]:
    return {
        f"orchestra.{path.stem if path.is_file() else path.name}"
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists()
    }


def _env() -> dict[str, str]:
    """The environment of a child Python that imports this checkout of the package."""
    paths = [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def test_the_import_contracts_hold():
    result = subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--config", str(CONFIG), "--no-cache", "--no-logo"],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("importer", "imported"), sorted(LAZY_IMPORTS))
def test_an_allowed_upward_import_stays_inside_a_function(importer, imported):
    assert (importer, imported) in _ignored_imports(), "list it in .importlinter too"
    found = _imports_of(importer, imported)
    assert found, f"{importer} no longer imports {imported}: remove it from LAZY_IMPORTS"
    at_module_level = [line for line, inside in found if not inside]
    assert not at_module_level, (
        f"{_source(importer)}:{at_module_level[0]} imports {imported} at module level; "
        "import it inside the function that needs it"
    )


def test_the_demo_contracts_name_every_other_module():
    contracts = _contracts()
    others = _top_level_modules() - {"orchestra.demo"}
    assert len(others) > 10
    assert _lines(contracts["demo-imports-nothing"]["forbidden_modules"]) == others
    assert _lines(contracts["demo-imported-by-cli-only"]["source_modules"]) == others


@pytest.mark.parametrize(
    "modules",
    [
        "orchestra",
        "orchestra.plan",
        "orchestra.expressions",
        "orchestra.errors",
        "orchestra.builder",
    ],
)
def test_the_plan_format_loads_no_io_storage_or_ui_library(modules):
    code = (
        f"import sys, {modules}\n"
        f"loaded = sorted(name for name in {HEAVY!r} if name in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_the_lazy_public_names_are_the_modules_own():
    import orchestra._run
    import orchestra.capture
    import orchestra.engine

    assert orchestra.run is orchestra._run.run
    assert orchestra.arun is orchestra._run.arun
    assert orchestra.CaptureStore is orchestra.capture.CaptureStore
    assert orchestra.Runner is orchestra.engine.Runner
    assert set(orchestra.__all__) <= set(dir(orchestra))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = orchestra.nope


def test_the_package_is_typed():
    assert (PACKAGE / "py.typed").is_file()
