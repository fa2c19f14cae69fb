"""The flow graph's shape: nodes and edges from the plan, statuses from the capture, positions.

A run's graph is built from the plan JSON that ran (``plans`` table): one node
per HTTP step, sub-step (fanout), parallel group and choice, plus nodes for
paths the capture holds that the plan does not name (``auth``, compensations).
Edges follow execution order: a step to the next one, a parent to each
sub-step, a group or choice to each child or branch, and the ends of every
child or branch to whatever runs after the group.

The layout is layered (Sugiyama-style, top to bottom): a node's layer is the
longest path to it; inside a layer nodes sit near the mean of their
predecessors and are pushed apart so that no two labels overlap. Coordinates
are screen pixels, so the view draws the figure exactly ``width`` x ``height``
and label boxes computed here are the boxes the browser shows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from orchestra.dashboard._style import (
    CANCELLED,
    DONE,
    FAILED,
    OK,
    PENDING,
    RUNNING,
    SKIPPED,
    format_ms,
)
from orchestra.events import worst_status

NODE_RADIUS = 9
LAYER_GAP = 62  # pixels between layers
TITLE_CHAR_PX = 7.4  # generous average width of a 12px bold character
SUBTITLE_CHAR_PX = 6.4  # 11px regular
SUBTITLE_RESERVE = 24  # characters kept for "1,234 req · 12.34 s · 99x" so labels never grow
LABEL_GAP = 6  # between a node's circle and its label
NODE_GAP = 26  # between one label's end and the next node
MARGIN = 16
LABEL_HALF_HEIGHT = 15

CONTAINERS = ("parallel", "choice")


@dataclass
class GraphNode:
    """One node of the flow graph: a step path, what it is, where it is drawn, how it went."""

    path: str
    name: str
    kind: str  # http | fanout | parallel | choice | auth | compensation
    parent: str | None = None  # the step that fans out to it, or the group it belongs to
    branch: str | None = None  # the choice branch it starts: when[0], when[1], otherwise
    order: int = 0  # execution order in the plan (depth first)
    layer: int = 0
    x: float = 0.0
    y: float = 0.0
    status: str = PENDING
    executions: int = 0
    requests: int = 0
    retries: int = 0
    failed_requests: int = 0
    duration_ms: float | None = None
    error: str | None = None

    @property
    def title(self) -> str:
        return self.name

    @property
    def subtitle(self) -> str:
        parts = [f"{self.requests:,} req"]
        if self.duration_ms is not None:
            parts.append(format_ms(self.duration_ms))
        if self.kind == "fanout" and self.executions:
            parts.append(f"{self.executions:,}x")
        if self.status == SKIPPED and not self.requests:
            parts = ["skipped"]
        if self.kind in CONTAINERS:
            parts = [self.kind] + ([format_ms(self.duration_ms)] if self.duration_ms else [])
        return " · ".join(parts)

    @property
    def label_width(self) -> float:
        return max(len(self.title) * TITLE_CHAR_PX, SUBTITLE_RESERVE * SUBTITLE_CHAR_PX)

    def box(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of the node and its label, in pixels."""
        return (
            self.x - NODE_RADIUS,
            self.y - LABEL_HALF_HEIGHT,
            self.x + NODE_RADIUS + LABEL_GAP + self.label_width,
            self.y + LABEL_HALF_HEIGHT,
        )


@dataclass
class GraphEdge:
    source: str
    target: str
    kind: str  # next | fanout | branch | compensate


@dataclass
class FlowGraphLayout:
    """Nodes (in execution order) and edges, placed; ``width``/``height`` in pixels."""

    nodes: dict[str, GraphNode] = field(default_factory=dict)
    edges: list[GraphEdge] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0

    @property
    def paths(self) -> list[str]:
        return list(self.nodes)

    def predecessors(self, path: str) -> list[str]:
        return [
            edge.source for edge in self.edges if edge.target == path and edge.kind != "compensate"
        ]

    def children(self, path: str) -> list[str]:
        return [node.path for node in self.nodes.values() if node.parent == path]

    def descendants(self, path: str) -> list[str]:
        found: list[str] = []
        for child in self.children(path):
            found.append(child)
            found.extend(self.descendants(child))
        return found

    def copy(self) -> FlowGraphLayout:
        return FlowGraphLayout(
            {path: replace(node) for path, node in self.nodes.items()},
            list(self.edges),
            self.width,
            self.height,
        )


# -- structure ------------------------------------------------------------------------------


class _Builder:
    def __init__(self) -> None:
        self.layout = FlowGraphLayout()

    def add(self, node: GraphNode, preds: Iterable[str], kind: str) -> GraphNode:
        node.order = len(self.layout.nodes)
        self.layout.nodes[node.path] = node
        for pred in preds:
            self.layout.edges.append(GraphEdge(pred, node.path, kind))
        return node

    def sequence(
        self,
        steps: Iterable[Any],
        preds: list[str],
        kind: str,
        *,
        parent: str | None = None,
        branch: str | None = None,
    ) -> list[str]:
        for step in steps:
            preds = self.step(step, preds, kind, parent=parent, branch=branch)
            kind, branch = "next", None
        return preds

    def step(
        self, step: Any, preds: list[str], kind: str, *, parent: str | None, branch: str | None
    ) -> list[str]:
        """Add ``step`` (a compiled node) after ``preds``; return the paths that end it."""
        from orchestra.plan import CompiledChoice, CompiledParallel

        if isinstance(step, CompiledParallel):
            group = self.add(
                GraphNode(step.path, step.name, "parallel", parent, branch), preds, kind
            )
            exits: list[str] = []
            for child in step.children:
                exits += self.step(child, [group.path], "branch", parent=group.path, branch=None)
            return exits or [group.path]
        if isinstance(step, CompiledChoice):
            choice = self.add(
                GraphNode(step.path, step.name, "choice", parent, branch), preds, kind
            )
            exits = []
            for option in step.branches:
                exits += self.sequence(
                    option.steps, [choice.path], "branch", parent=choice.path, branch=option.label
                )
            exits += self.sequence(
                step.otherwise, [choice.path], "branch", parent=choice.path, branch="otherwise"
            )
            return exits or [choice.path]
        node_kind = "fanout" if step.is_fanout else "http"
        node = self.add(GraphNode(step.path, step.name, node_kind, parent, branch), preds, kind)
        exits = []
        for sub in step.sub_steps:
            exits += self.step(sub, [node.path], "fanout", parent=node.path, branch=None)
        return exits or [node.path]


def structure_from_plan(plan: dict[str, Any] | None) -> FlowGraphLayout:
    """Nodes and edges of a plan JSON; an empty graph when it cannot be loaded."""
    if not plan:
        return FlowGraphLayout()
    from orchestra.plan import load_plan

    try:
        compiled = load_plan(plan)
    except Exception:  # an old or foreign plan: the graph falls back to the captured paths
        return FlowGraphLayout()
    builder = _Builder()
    builder.sequence(compiled.steps, [], "next")
    return builder.layout


def add_captured_paths(layout: FlowGraphLayout, paths: Iterable[str]) -> FlowGraphLayout:
    """Add nodes for captured paths the plan does not name: auth, compensations, unknowns."""
    builder = _Builder()
    builder.layout = layout
    for path in paths:
        if not path or path in layout.nodes:
            continue
        head, _, leaf = path.rpartition(".")
        if path == "auth" or path.startswith("auth."):
            _add_auth(builder, path)
        elif leaf == "compensate" and head in layout.nodes:
            builder.add(
                GraphNode(path, f"{layout.nodes[head].name} ↺", "compensation", head),
                [head],
                "compensate",
            )
        elif head and head in layout.nodes:
            builder.add(GraphNode(path, leaf, "fanout", head), [head], "fanout")
        else:
            last = _sequence_ends(layout)
            builder.add(GraphNode(path, path, "http"), last, "next")
    return layout


def _add_auth(builder: _Builder, path: str) -> None:
    """Token requests run before the first request that needs them: put them first."""
    layout = builder.layout
    roots = [
        p
        for p in layout.nodes
        if not layout.predecessors(p) and layout.nodes[p].kind not in ("auth", "compensation")
    ]
    parent = "auth" if path != "auth" and "auth" in layout.nodes else None
    node = GraphNode(path, path if parent is None else path.split(".", 1)[1], "auth", parent)
    builder.add(node, [parent] if parent else [], "next")
    if parent is None:
        for root in roots:
            layout.edges.append(GraphEdge(path, root, "next"))


def _sequence_ends(layout: FlowGraphLayout) -> list[str]:
    """Nodes nothing follows (the ends of the run so far), compensations aside."""
    sources = {edge.source for edge in layout.edges if edge.kind != "compensate"}
    return [p for p, n in layout.nodes.items() if p not in sources and n.kind != "compensation"]


# -- layout ---------------------------------------------------------------------------------


def place(layout: FlowGraphLayout) -> FlowGraphLayout:
    """Assign layers and pixel positions (see the module docstring); returns ``layout``."""
    nodes = layout.nodes
    if not nodes:
        layout.width, layout.height = 0.0, 0.0
        return layout
    for node in sorted(nodes.values(), key=lambda n: n.order):
        preds = layout.predecessors(node.path)
        if node.kind == "compensation" and node.parent in nodes:
            node.layer = nodes[node.parent].layer
        else:
            node.layer = max((nodes[p].layer + 1 for p in preds if p in nodes), default=0)
    layers: dict[int, list[GraphNode]] = {}
    for node in nodes.values():
        layers.setdefault(node.layer, []).append(node)
    for index in sorted(layers):
        members = layers[index]
        desired: dict[str, float] = {}
        for node in members:
            if node.kind == "compensation" and node.parent in nodes:
                desired[node.path] = nodes[node.parent].x + 1  # just right of its step
                continue
            xs = [nodes[p].x for p in layout.predecessors(node.path) if p in nodes]
            desired[node.path] = sum(xs) / len(xs) if xs else 0.0
        members.sort(key=lambda n: (desired[n.path], n.order))
        right = -math.inf
        for node in members:
            node.x = max(desired[node.path], right + NODE_GAP + NODE_RADIUS)
            right = node.box()[2]
        # centre the layer under its parents (a shift keeps the spacing)
        shift = sum(desired[n.path] - n.x for n in members) / len(members)
        if not any(n.kind == "compensation" for n in members):
            for node in members:
                node.x += shift
    left = min(node.box()[0] for node in nodes.values())
    for node in nodes.values():
        node.x += MARGIN - left
    depth = max(node.layer for node in nodes.values())
    layout.width = max(node.box()[2] for node in nodes.values()) + MARGIN
    layout.height = depth * LAYER_GAP + 2 * (MARGIN + LABEL_HALF_HEIGHT)
    for node in nodes.values():
        node.y = layout.height - MARGIN - LABEL_HALF_HEIGHT - node.layer * LAYER_GAP
    return layout


def overlaps(layout: FlowGraphLayout) -> list[tuple[str, str]]:
    """Pairs of nodes whose circles or labels overlap (empty for a readable layout)."""
    found = []
    boxes = [(node.path, node.box()) for node in layout.nodes.values()]
    for i, (a, (al, ab, ar, at)) in enumerate(boxes):
        for b, (bl, bb, br, bt) in boxes[i + 1 :]:
            if al < br and bl < ar and ab < bt and bb < at:
                found.append((a, b))
    return found


def build(plan: dict[str, Any] | None, captured_paths: Iterable[str]) -> FlowGraphLayout:
    """The placed graph of a run: plan structure plus captured paths."""
    return place(add_captured_paths(structure_from_plan(plan), captured_paths))


# -- statuses -------------------------------------------------------------------------------


# The statistics' count columns, each named by the step status it counts (the worst first
# is decided by STATUS_SEVERITY, the one ordering the CLI and notebook use too), and the
# node status each is drawn as.
_COUNTED = {"failed": "failed", "cancelled": "cancelled", "ok": "ok", "skipped": "skipped"}
_NODE_STATUS = {
    "failed": FAILED,
    "aborted": FAILED,
    "interrupted": CANCELLED,
    "cancelled": CANCELLED,
    "ignored": SKIPPED,
    "ok": OK,
    "skipped": SKIPPED,
}


def _status_from_counts(stats: dict[str, Any], run_running: bool) -> str:
    if run_running and stats.get("running"):
        return RUNNING
    worst = worst_status(
        {status: int(stats.get(column) or 0) for column, status in _COUNTED.items()}
    )
    if worst is not None:
        return _NODE_STATUS[worst]
    if stats.get("requests"):
        return RUNNING if run_running else CANCELLED
    return PENDING


def with_statuses(
    layout: FlowGraphLayout,
    stats: dict[str, dict[str, Any]],
    *,
    run_running: bool,
    live_running: Iterable[str] = (),
) -> FlowGraphLayout:
    """A copy of ``layout`` with each node's status, counts and duration from ``stats``.

    ``stats`` maps step paths to rows of the step statistics query. While the
    run is running, a node is ``running`` when it has unfinished executions,
    when the in-process event feed says so (``live_running``), when it is a
    group or choice with work started under it, or when everything before it
    is done (its first request may still be in flight, so nothing is captured
    yet). Once the run is over nothing is ``pending``: a node that never ran is
    ``skipped``, as the CLI's run summary calls it.
    """
    graph = layout.copy()
    live = set(live_running)
    for node in graph.nodes.values():
        row = stats.get(node.path, {})
        node.status = _status_from_counts(row, run_running)
        node.executions = int(row.get("executions") or 0)
        node.requests = int(row.get("requests") or 0)
        node.retries = int(row.get("retries") or 0)
        node.failed_requests = int(row.get("failed_requests") or 0)
        duration = row.get("duration_ms")
        node.duration_ms = None if duration is None or duration != duration else float(duration)
        node.error = row.get("error")
        if run_running and node.path in live and node.status not in (FAILED, CANCELLED):
            node.status = RUNNING
    ordered = sorted(graph.nodes.values(), key=lambda n: n.order)
    for node in ordered:  # a parent finishes after its fanouts: one that never ran had no items
        parent = graph.nodes.get(node.parent or "")
        if node.kind == "fanout" and node.status == PENDING and parent and parent.status in DONE:
            node.status = SKIPPED
    if not run_running:  # the run is over: what never ran reads as the CLI says it, skipped
        for node in ordered:
            if node.status == PENDING:
                node.status = SKIPPED
        return graph
    for node in ordered:  # more items may come while the parent still pages
        parent = graph.nodes.get(node.parent or "")
        if node.kind == "fanout" and parent and parent.status == RUNNING and node.status == OK:
            node.status = RUNNING
    for node in reversed(ordered):  # groups after their children
        if node.kind in CONTAINERS and node.status == PENDING:
            under = [graph.nodes[p].status for p in graph.descendants(node.path)]
            if any(status != PENDING for status in under):
                node.status = RUNNING
    for node in ordered:  # the frontier: everything before it is done
        if node.status != PENDING or node.kind == "compensation":
            continue
        preds = [graph.nodes[p] for p in graph.predecessors(node.path) if p in graph.nodes]
        if node.kind == "auth":
            continue
        ready = all(
            p.status in DONE or (p.kind in CONTAINERS and p.status == RUNNING) for p in preds
        )
        if ready and (preds or not any(n.status != PENDING for n in ordered)):
            node.status = RUNNING
    return graph


__all__ = [
    "CANCELLED",
    "FAILED",
    "OK",
    "SKIPPED",
    "FlowGraphLayout",
    "GraphEdge",
    "GraphNode",
    "build",
    "overlaps",
    "place",
    "with_statuses",
]
