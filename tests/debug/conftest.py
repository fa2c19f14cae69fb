"""The engine tests' fixtures: ``run_mock`` runs a plan on ``httpx.MockTransport``."""

from tests.engine.conftest import run_mock, sleeps

__all__ = ["run_mock", "sleeps"]
