"""``%flow show`` and ``%flow graph``: the current flow as YAML and as a picture.

:class:`FlowView` is the flow's plan as YAML with each step's status;
:class:`FlowGraph` draws the steps top to bottom (sub-steps, parallel
children and choice branches indented under their parent), coloured by the
status of their last run, with a dashed arrow for every ``steps.<name>`` a
step reads. Both render as HTML/SVG in Jupyter and as text elsewhere.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import yaml

from orchestra.expressions import scope_references
from orchestra.notebook._display import STATUS_COLOURS, badge
from orchestra.notebook._flow import NOT_RUN, SKIPPED, STALE, NotebookFlow
from orchestra.plan import (
    CompiledChoice,
    CompiledNode,
    CompiledParallel,
    CompiledStep,
    expand_plan_data,
    load_plan,
)


def plan_yaml(plan: dict[str, Any]) -> str:
    return yaml.safe_dump(plan, sort_keys=False, allow_unicode=True, width=100)


@dataclass
class FlowView:
    """The current flow: its plan as YAML (or JSON) plus each step's status."""

    plan: dict[str, Any]
    statuses: list[tuple[str, str, str]]  # (name, status, note)
    text: str

    @classmethod
    def of(cls, flow: NotebookFlow, fmt: str = "yaml", *, expanded: bool = False) -> FlowView:
        import json

        plan = flow.masker.value(flow.plan())  # as written: secrets are {env: NAME} already
        if expanded:
            plan = expand_plan_data(plan)
        text = json.dumps(plan, indent=2, ensure_ascii=False) if fmt == "json" else plan_yaml(plan)
        statuses = []
        for step in flow:
            note = f"run {step.run_id}" if step.run_id else "not run yet"
            if step.stale_because:
                note += f"; {step.stale_because!r} ran again after it"
            statuses.append((step.name, step.status, note))
        return cls(plan, statuses, text)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td><code>{html.escape(name)}</code></td><td>{badge(status)}</td>"
            f"<td>{html.escape(note)}</td></tr>"
            for name, status, note in self.statuses
        )
        table = f"<table>{rows}</table>" if rows else "<div>no steps yet</div>"
        return f"{table}<pre>{html.escape(self.text)}</pre>"

    def __repr__(self) -> str:
        head = [f"# {name}: {status} ({note})" for name, status, note in self.statuses]
        return "\n".join([*head, self.text.rstrip()])

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


@dataclass
class Node:
    name: str
    path: str
    depth: int
    label: str
    status: str
    parent: int | None
    uses: list[str] = field(default_factory=list)


def _label(node: CompiledNode) -> str:
    if isinstance(node, CompiledParallel):
        return f"parallel ({len(node.children)} steps)"
    if isinstance(node, CompiledChoice):
        return f"choice ({len(node.branches)} when)"
    model = node.model
    label = f"{model.method} {model.url}"
    if node.is_fanout and node.iterate_over is not None:
        label = f"for each {node.iterate_over.source} (c={node.concurrency}) · " + label
    if getattr(model, "while_", None):
        label += " · paginated"
    return label


def _uses(node: CompiledNode) -> list[str]:
    if not isinstance(node, CompiledStep):
        return []
    found: list[str] = []
    for _, expression in node.expressions:
        found.extend(scope_references(expression))
    return list(dict.fromkeys(found))


def _children(node: CompiledNode) -> list[CompiledNode]:
    if isinstance(node, CompiledStep):
        return list(node.sub_steps)
    if isinstance(node, CompiledParallel):
        return list(node.children)
    nodes = [step for branch in node.branches for step in branch.steps]
    return nodes + list(node.otherwise)


class FlowGraph:
    """A picture of the flow (SVG in Jupyter, an indented tree as text)."""

    ROW, WIDTH, INDENT = 38, 330, 28

    def __init__(self, flow: NotebookFlow) -> None:
        self.nodes: list[Node] = []
        statuses: dict[str, str] = {}
        ran = set()  # roots a run reached: their sub-steps it never ran are skipped
        for step in flow:
            statuses.update(step.paths)
            statuses[step.name] = step.status
            if step.has_run:
                ran.add(step.name)
        try:
            compiled = load_plan(flow.plan()) if len(flow) else None
        except Exception:  # an unfinished flow still gets a picture of its names
            compiled = None
        if compiled is None:
            for step in flow:
                self.nodes.append(Node(step.name, step.name, 0, "", step.status, None))
            return

        def visit(node: CompiledNode, depth: int, parent: int | None) -> None:
            index = len(self.nodes)
            unrun = SKIPPED if node.path.split(".")[0] in ran else NOT_RUN
            status = statuses.get(node.path, statuses.get(node.name, unrun))
            self.nodes.append(
                Node(node.name, node.path, depth, _label(node), status, parent, _uses(node))
            )
            for child in _children(node):
                visit(child, depth + 1, index)

        for root in compiled.steps:
            visit(root, 0, None)

    def __repr__(self) -> str:
        if not self.nodes:
            return "(the flow has no steps yet)"
        lines = []
        for node in self.nodes:
            prefix = "   " * (node.depth - 1) + "└─ " if node.depth else ""
            line = f"{prefix}{node.name} [{node.status}]  {node.label}"
            if node.uses:
                line += "  ← uses " + ", ".join(f"steps.{u}" for u in node.uses)
            lines.append(line)
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_svg_(self) -> str:
        row, width, indent = self.ROW, self.WIDTH, self.INDENT
        depth = max((n.depth for n in self.nodes), default=0)
        total_width = 40 + depth * indent + width + 80
        height = max(1, len(self.nodes)) * row + 20
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_width}" height="{height}" '
            'font-family="sans-serif" font-size="12">',
            '<defs><marker id="orc-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
            'markerWidth="6" markerHeight="6" orient="auto-start-reverse">'
            '<path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
        ]
        position = {}
        for index, node in enumerate(self.nodes):
            x, y = 10 + node.depth * indent, 10 + index * row
            position[node.name] = (x, y)
            if node.parent is not None:
                px, py = 10 + self.nodes[node.parent].depth * indent, 10 + node.parent * row
                out.append(
                    f'<path d="M {px + 20} {py + 28} V {y + 14} H {x}" fill="none" '
                    'stroke="#999" marker-end="url(#orc-arrow)"/>'
                )
            elif index:
                previous = max(i for i in range(index) if self.nodes[i].depth == 0)
                py = 10 + previous * row
                out.append(
                    f'<line x1="{x + 11}" y1="{py + 28}" x2="{x + 11}" y2="{y}" stroke="#555" '
                    'marker-end="url(#orc-arrow)"/>'
                )
            colour = STATUS_COLOURS.get(node.status, "#7f7f7f")
            dash = ' stroke-dasharray="4 3"' if node.status in (STALE, NOT_RUN, SKIPPED) else ""
            out.append(
                f'<rect x="{x}" y="{y}" width="{width}" height="28" rx="5" fill="white" '
                f'stroke="{colour}" stroke-width="2"{dash}/>'
                f'<rect x="{x}" y="{y}" width="6" height="28" rx="2" fill="{colour}"/>'
                f'<text x="{x + 12}" y="{y + 12}" font-weight="bold">'
                f"{html.escape(node.name)} <tspan font-weight='normal' fill='{colour}'>"
                f"{html.escape(node.status)}</tspan></text>"
                f'<text x="{x + 12}" y="{y + 24}" fill="#555" font-size="10">'
                f"{html.escape(node.label[:60])}</text>"
            )
        for index, node in enumerate(self.nodes):
            x, y = 10 + node.depth * indent, 10 + index * row
            for used in node.uses:
                if used not in position:
                    continue
                ux, uy = position[used]
                right = 10 + depth * indent + width + 10
                out.append(
                    f'<path d="M {ux + width} {uy + 14} C {right + 40} {uy + 14}, '
                    f'{right + 40} {y + 14}, {x + width} {y + 14}" fill="none" stroke="#1f77b4" '
                    'stroke-dasharray="3 3" marker-end="url(#orc-arrow)"><title>'
                    f"{html.escape(node.name)} uses steps.{html.escape(used)}</title></path>"
                )
        out.append("</svg>")
        return "".join(out)
