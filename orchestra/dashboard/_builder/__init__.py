"""The visual flow builder: forms generated from the plan's schema, live validation,
"Try it" against the real API with test-read caps, point-and-click expressions,
import and export.

``FlowBuilder`` is shown inline by ``%flow builder`` (bound to the kernel's
current flow) and served as the "Builder" tab of ``orchestra dashboard``
(editing a plan file). :class:`BuilderState` holds what it shows; drive it
from tests or cells.
"""

from orchestra.dashboard._builder._state import (
    BuilderState,
    ExportBlocked,
    FileBinding,
    PlanBinding,
)
from orchestra.dashboard._builder._view import FlowBuilder

__all__ = ["BuilderState", "ExportBlocked", "FileBinding", "FlowBuilder", "PlanBinding"]
