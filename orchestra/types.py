"""Small shared types: JSON values, run and step statuses."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeAlias

JSON: TypeAlias = Any
"""Any value that JSON can represent (dict, list, str, int, float, bool, None)."""

Scope: TypeAlias = dict[str, Any]
"""The names a template can see: config, auth, context, response, prev, parent, item, steps."""


class RunStatus(StrEnum):
    """How a run ended (``running`` while it executes)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"
    INTERRUPTED = "interrupted"
    STOPPED = "stopped"  # ended by a debugger's stop (Runner.stop)
    COMPENSATED = "compensated"  # failed or aborted, then every compensation succeeded
    COMPENSATION_FAILED = "compensation_failed"  # failed or aborted, a compensation failed too


class StepStatus(StrEnum):
    """The state of one step execution."""

    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    IGNORED = "ignored"
    SKIPPED = "skipped"  # in a choice branch that was not taken
    ABORTED = "aborted"
    INTERRUPTED = "interrupted"  # the run was cancelled (Ctrl-C, kernel interrupt)
    CANCELLED = "cancelled"  # a sibling in a parallel group with on_error: cancel failed
