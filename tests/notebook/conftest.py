"""Fixtures for the magic tests: real ipykernel processes with the extension loaded.

A kernel is shared by the tests of one module (starting one costs ~1 s on two
cores); ``flow`` empties the kernel's current flow before each test. Kernels
get their own working directory, ``IPYTHONDIR`` and ``ORCHESTRA_DB`` under
pytest's temporary directory, so nothing is written into the repository.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notebook.kernel import KernelSession, start_kernel


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory, demo_api_server) -> Iterator[KernelSession]:
    session = start_kernel(tmp_path_factory.mktemp("kernel"), demo_api_server.url)
    try:
        yield session
    finally:
        session.shutdown()


@pytest.fixture
def flow(kernel: KernelSession, demo_api) -> KernelSession:
    """The module's kernel with an empty flow whose ``config.base_url`` is the demo API."""
    kernel.run("%flow reset").check()
    kernel.run(f"%flow config base_url={demo_api.url}").check()
    return kernel
