"""The one place the builder reaches the plan import/export and capped-run functions.

Test-read caps (``orchestra.ReadCaps`` with ``orchestra.run(plan, caps=…)``),
curl/HAR import (``step_from_curl``, ``steps_from_har``) and export
(``plan_to_flow_cells``, ``step_to_curl``) live in the plan format and the
engine; the builder calls them only through this module, so the way it
uses them is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestra.plan import (
    ReadCaps,
    plan_to_flow_cells,
    step_from_curl,
    step_to_curl,
    steps_from_har,
)

_DEFAULT = ReadCaps.test_read()


@dataclass(frozen=True)
class Caps:
    """Test-read caps of a "Try it" run, starting from :meth:`ReadCaps.test_read`."""

    max_pages: int = _DEFAULT.max_pages or 5
    max_fanout_items: int = _DEFAULT.max_fanout_items or 5
    max_records: int = _DEFAULT.max_records or 100


def prepare(plan: dict[str, Any], caps: Caps | None, **options: Any) -> Any:
    """A runner for ``plan`` (a test read with ``caps`` unless None), captured as
    ``orchestra.run`` captures. Its masker masks what the builder shows of the records,
    which the engine keeps raw in memory."""
    from orchestra._run import build_runner

    if caps is not None:
        options["caps"] = ReadCaps(caps.max_pages, caps.max_fanout_items, caps.max_records)
    runner, _ = build_runner(plan, **options)
    return runner


@dataclass
class ImportedStep:
    """A step read from curl or HAR, with the plan settings it needs.

    ``config`` holds the values its templates read (secrets as ``{env: NAME}``)
    and ``secrets`` the values of those names, kept out of the plan.
    """

    step: dict[str, Any]
    auth: dict[str, Any] | None
    config: dict[str, Any]
    secrets: dict[str, str]
    notes: list[str]


def _imported(value: Any) -> ImportedStep:
    return ImportedStep(
        dict(value.step), value.auth, dict(value.config), dict(value.secrets), list(value.notes)
    )


def import_request(text: str) -> list[ImportedStep]:
    """Steps from a curl command (as copied from a browser) or a HAR file's JSON."""
    text = text.strip()
    if text.startswith("{"):
        return [_imported(found) for found in steps_from_har(text)]
    return [_imported(step_from_curl(text))]


def flow_cells(plan: dict[str, Any]) -> list[str]:
    """The plan as ``%%flow`` cells (settings first, one cell per root step)."""
    return plan_to_flow_cells(plan)


def step_curl(plan: dict[str, Any], step_path: str) -> str:
    """One step's first request as a curl command (secrets as environment references)."""
    return step_to_curl(plan, step_path)
