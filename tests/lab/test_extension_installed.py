"""The install gives JupyterLab with Orchestra's extension enabled: `jupyter labextension list`."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(120)

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_jupyter_labextension_list_shows_the_extension_enabled_and_ok():
    listing = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    output = ANSI.sub("", listing.stdout + listing.stderr)
    line = next((row for row in output.splitlines() if "orchestra-jupyterlab" in row), "")
    assert re.search(r"orchestra-jupyterlab v\S+ enabled OK \(python, orchestra\)", line), output
