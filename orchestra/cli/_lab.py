"""``orchestra lab``: the ``jupyter lab`` command line that opens the quickstart notebook.

The quickstart ships in the checkout (``notebooks/quickstart.ipynb``); Jupyter
opens only files under the directory it serves, so it is opened when the
working directory holds it, and a note says where it is otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

QUICKSTART = Path("notebooks") / "quickstart.ipynb"


def quickstart_notebook() -> Path | None:
    """The quickstart notebook of the checkout this package runs from, if there is one."""
    path = Path(__file__).resolve().parents[2] / QUICKSTART
    return path if path.is_file() else None


def _names_a_path(arguments: list[str], cwd: Path) -> bool:
    return any(not arg.startswith("-") and (cwd / arg).exists() for arg in arguments)


def lab_command(arguments: list[str], cwd: Path) -> tuple[list[str], str]:
    """The ``jupyter lab`` command for ``orchestra lab ARGUMENTS`` run in ``cwd``, and a note."""
    command = [sys.executable, "-m", "jupyterlab", *arguments]
    if _names_a_path(arguments, cwd):
        return command, ""
    quickstart = quickstart_notebook()
    if quickstart is None:
        return command, ""
    try:
        relative = quickstart.relative_to(cwd.resolve())
    except ValueError:
        note = (
            f"orchestra lab: the quickstart is {quickstart}; run `orchestra lab` in "
            f"{quickstart.parents[1]} to open it"
        )
        return command, note
    if not any("root_dir" in arg or "notebook_dir" in arg for arg in arguments):
        # Jupyter would serve the notebook's own directory; the checkout's is the one to see.
        command.append(f"--ServerApp.root_dir={cwd.resolve()}")
    return [*command, relative.as_posix()], ""
