"""Where ``paginate: auto`` finds its detector: ``orchestra.engine._detect``.

That module (pure: ``detect_pagination(*, url, headers, body) -> Detection``) is
written separately; until it is present, :func:`detect_pagination` here answers
"one page, the body is one record", so ``paginate: auto`` runs like no
``paginate`` and says so in its ``PaginationDetected`` event.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class DetectionLike(Protocol):
    """What the engine reads from a detection (``orchestra.engine._detect.Detection``)."""

    @property
    def paginate(self) -> dict[str, Any] | None: ...
    @property
    def records(self) -> str | None: ...
    @property
    def looks_paginated(self) -> tuple[str, ...]: ...
    @property
    def explanation(self) -> str: ...


@dataclass(frozen=True)
class _NoDetector:
    paginate: dict[str, Any] | None = None
    records: str | None = None
    looks_paginated: tuple[str, ...] = ()
    explanation: str = "no pagination detector is installed: one page, the body is one record"


def detect_pagination(*, url: str, headers: Mapping[str, str], body: Any) -> DetectionLike:
    """The detector's answer for a first response (see the module docstring)."""
    try:
        module = importlib.import_module("orchestra.engine._detect")
    except ModuleNotFoundError as error:
        if error.name != "orchestra.engine._detect":
            raise
        return _NoDetector()
    detection: DetectionLike = module.detect_pagination(url=url, headers=headers, body=body)
    return detection
