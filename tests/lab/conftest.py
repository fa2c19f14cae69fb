"""Fixtures of the Lab browser tests: one ``jupyter lab`` per module, a fresh page per test.

``jupyterlab`` yields a :class:`~tests.lab._jupyterlab.Lab`: ``.page`` (Playwright),
``.url`` (the server, ending in ``/``), ``.root`` (the server's root directory,
holding ``notebook.ipynb``, an empty notebook) and ``.console_errors``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard._browser import CHROMIUM
from tests.lab._jupyterlab import Lab, LabServer, jupyter_lab, lab_page, write_notebook


@pytest.fixture(scope="module")
def jupyterlab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    root = tmp_path_factory.mktemp("lab-root")
    home = tmp_path_factory.mktemp("lab-home")
    write_notebook(root / "notebook.ipynb")
    with jupyter_lab(root, home, home / "jupyter-lab.log") as server:
        yield server


@pytest.fixture
def jupyterlab(jupyterlab_server: LabServer) -> Iterator[Lab]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `apt-get install -y chromium` runs the Lab tests")
    with lab_page(jupyterlab_server) as lab:
        yield lab
