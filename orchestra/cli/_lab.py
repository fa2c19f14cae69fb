"""``orchestra lab``: the ``jupyter lab`` command line that opens the quickstart notebook.

Jupyter opens only files under the directory it serves. Run in the checkout,
Lab serves it and opens ``notebooks/quickstart.ipynb``; anywhere else the
quickstart the package installed (``share/orchestra/notebooks``) is copied into
the working directory as ``orchestra-quickstart.ipynb`` (once, never over an
existing file) and opened there.
"""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

QUICKSTART = Path("notebooks") / "quickstart.ipynb"
COPY_NAME = "orchestra-quickstart.ipynb"


def quickstart_notebook() -> Path | None:
    """The quickstart notebook: the checkout's, else the installed copy, if there is one."""
    checkout = Path(__file__).resolve().parents[2] / QUICKSTART
    if checkout.is_file():
        return checkout
    installed = Path(sysconfig.get_path("data")) / "share" / "orchestra" / QUICKSTART
    return installed if installed.is_file() else None


def _names_a_path(arguments: list[str], cwd: Path) -> bool:
    return any(not arg.startswith("-") and (cwd / arg).exists() for arg in arguments)


def lab_command(arguments: list[str], cwd: Path) -> tuple[list[str], str]:
    """The ``jupyter lab`` command for ``orchestra lab ARGUMENTS`` run in ``cwd``, and a note.

    Outside the checkout this copies the quickstart into ``cwd`` (the note says so).
    """
    command = [sys.executable, "-m", "jupyterlab", *arguments]
    if _names_a_path(arguments, cwd):
        return command, ""
    quickstart = quickstart_notebook()
    if quickstart is None:
        return command, ""
    note = ""
    try:
        relative = quickstart.relative_to(cwd.resolve())
    except ValueError:
        relative = Path(COPY_NAME)
        if not (cwd / COPY_NAME).exists():
            shutil.copyfile(quickstart, cwd / COPY_NAME)
            note = f"orchestra lab: copied the quickstart notebook to {cwd / COPY_NAME}"
    if not any("root_dir" in arg or "notebook_dir" in arg for arg in arguments):
        # Jupyter would serve the notebook's own directory; the working one is the one to see.
        command.append(f"--ServerApp.root_dir={cwd.resolve()}")
    return [*command, relative.as_posix()], note
