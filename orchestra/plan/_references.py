"""Checking ``steps.<name>`` references at load time.

Every compiled expression's JMESPath AST is walked for ``steps.<x>`` read
from the scope root (:func:`orchestra.expressions.scope_references`). A
reference is valid when ``x`` has finished before the expression is
evaluated. It is rejected, with the plan path of the expression, when ``x``
does not exist (or is a sub-step, which is not in ``steps``), is the step
itself or a group containing it, runs at the same time (a sibling in a
parallel group), sits in another branch of the same choice, or runs later.
References that form a cycle (``a`` uses ``b`` and ``b`` uses ``a``) are
reported once as a cycle.

A compensation may also refer to the step it undoes. Auth-flow steps have a
namespace of their own: they run before every plan step.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from orchestra.errors import PlanIssue
from orchestra.expressions import Expression, scope_references
from orchestra.plan._compiled import (
    CompiledAuth,
    CompiledChoice,
    CompiledNode,
    CompiledParallel,
    CompiledStep,
)

_LATER_FIX = "a step can only use steps.<name> of steps that finished before it"


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a node of the ``steps`` namespace runs."""

    index: int  # position in execution order (pre-order)
    plan_path: str
    containers: tuple[tuple[str, str, str], ...]  # (container name, kind, slot)


@dataclass(frozen=True, slots=True)
class _Reference:
    owner: str  # the namespace node whose expression it is
    target: str
    where: str  # plan path of the expression
    source: str  # the expression text
    allow_owner: bool = False  # a compensation may read its own step


def _places(nodes: list[CompiledNode]) -> dict[str, _Place]:
    places: dict[str, _Place] = {}
    counter = iter(range(1_000_000))

    def visit(node: CompiledNode, containers: tuple[tuple[str, str, str], ...]) -> None:
        places.setdefault(node.name, _Place(next(counter), node.plan_path, containers))
        if isinstance(node, CompiledParallel):
            for index, child in enumerate(node.children):
                visit(child, (*containers, (node.name, "parallel", str(index))))
        elif isinstance(node, CompiledChoice):
            for branch in node.branches:
                for step in branch.steps:
                    visit(step, (*containers, (node.name, "choice", branch.label)))
            for step in node.otherwise:
                visit(step, (*containers, (node.name, "choice", "otherwise")))

    for node in nodes:
        visit(node, ())
    return places


def _request_expressions(step: CompiledStep) -> Iterator[tuple[str, Expression, bool]]:
    """(plan path, expression, is a compensation) of a step, its sub-steps, compensations."""
    for where, expression in step.expressions:
        yield where, expression, False
    if step.compensate is not None:
        for where, expression in step.compensate.expressions:
            yield where, expression, True
    for sub in step.sub_steps:
        yield from _request_expressions(sub)


def _references(nodes: list[CompiledNode]) -> list[_Reference]:
    found: list[_Reference] = []

    def add(owner: str, where: str, expression: Expression, allow_owner: bool) -> None:
        for target in scope_references(expression):
            found.append(_Reference(owner, target, where, expression.source, allow_owner))

    for top in nodes:
        for node in top.walk():
            if isinstance(node, CompiledChoice):
                for branch in node.branches:
                    add(node.name, f"{branch.plan_path}.when", branch.when, False)
            elif isinstance(node, CompiledStep) and not node.is_fanout:
                for where, expression, compensation in _request_expressions(node):
                    add(node.name, where, expression, compensation)
    return found


class _Checker:
    def __init__(self, nodes: list[CompiledNode], known: frozenset[str]):
        self.places = _places(nodes)
        self.known = known
        self.sub_steps = {
            step.name
            for top in nodes
            for node in top.walk()
            if isinstance(node, CompiledStep)
            for step in node.walk()
            if step.is_fanout
        }
        self.issues: list[PlanIssue] = []

    def problem(self, ref: _Reference) -> tuple[str, str] | None:
        """(message, fix) when ``ref`` is not valid, else None."""
        target, owner = ref.target, ref.owner
        head = f"steps.{target} in {ref.source!r}"
        if target in self.known:
            return None
        place = self.places.get(target)
        if place is None:
            if target in self.sub_steps:
                return (
                    f"{head}: {target!r} is a sub-step; sub-step results are not in steps",
                    "use item/parent inside the fanout, or extract values on the parent step",
                )
            steps = [*sorted(self.known), *(name for name in self.places if name != owner)]
            close = difflib.get_close_matches(target, steps, n=1, cutoff=0.6)
            fix = (
                f"did you mean {close[0]!r}?" if close
                else "steps are: " + ", ".join(steps) if steps
                else "no other step runs before this one: add the step it needs first"
            )  # fmt: skip
            return f"{head}: there is no step {target!r}", fix
        mine = self.places[owner]
        if target == owner:
            if ref.allow_owner:
                return None
            return (
                f"{head}: the step refers to itself and has not finished yet",
                "use response (this page) or prev (the previous page) for its own answers",
            )
        if any(name == target for name, _, _ in mine.containers):
            return (
                f"{head}: {target!r} contains this step and has not finished yet",
                _LATER_FIX,
            )
        for (name_a, kind, slot_a), (name_b, _, slot_b) in zip(
            mine.containers, place.containers, strict=False
        ):
            if name_a != name_b:
                break
            if slot_a != slot_b:
                if kind == "parallel":
                    return (
                        f"{head}: {target!r} runs at the same time, in parallel group {name_a!r}",
                        f"move {target!r} before the parallel group {name_a!r}",
                    )
                return (
                    f"{head}: {target!r} is in another branch of choice {name_a!r} and never "
                    "runs together with this step",
                    f"refer to {target!r} after the choice, or move it before the choice",
                )
        if place.index > mine.index:
            return (
                f"{head}: {target!r} runs later (at {place.plan_path})",
                f"move {target!r} before this step; " + _LATER_FIX,
            )
        return None

    def check(self, refs: list[_Reference]) -> list[PlanIssue]:
        problems = [(ref, self.problem(ref)) for ref in refs]
        bad = [(ref, problem) for ref, problem in problems if problem is not None]
        cyclic = self._report_cycles(
            [ref for ref in refs if ref.target != ref.owner and ref.target not in self.known]
        )
        for ref, (message, fix) in bad:
            if (ref.owner, ref.target) not in cyclic:
                self.issues.append(PlanIssue(f"{ref.where} (step {ref.owner!r})", message, fix))
        return self.issues

    def _report_cycles(self, refs: list[_Reference]) -> set[tuple[str, str]]:
        """Report each cycle among the references once; returns its edges.

        Valid references point at earlier steps, so every cycle holds at least
        one invalid reference; reporting the cycle replaces reporting those.
        """
        edges: dict[str, list[_Reference]] = {}
        for ref in refs:
            if ref.target in self.places:
                edges.setdefault(ref.owner, []).append(ref)
        cyclic: set[tuple[str, str]] = set()
        order = sorted(edges, key=lambda name: self.places[name].index)
        for start in order:
            path = self._cycle_from(start, edges)
            if path is None or any((r.owner, r.target) in cyclic for r in path):
                continue
            cyclic.update((r.owner, r.target) for r in path)
            chain = " → ".join([path[0].owner, *(r.target for r in path)])
            first = path[0]
            self.issues.append(
                PlanIssue(
                    f"{first.where} (step {first.owner!r})",
                    f"steps refer to each other in a cycle: {chain}",
                    "break the cycle: " + _LATER_FIX,
                )
            )
        return cyclic

    @staticmethod
    def _cycle_from(start: str, edges: dict[str, list[_Reference]]) -> list[_Reference] | None:
        stack: list[tuple[str, list[_Reference]]] = [(start, [])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for ref in edges.get(node, []):
                if ref.target == start:
                    return [*path, ref]
                if ref.target not in seen:
                    seen.add(ref.target)
                    stack.append((ref.target, [*path, ref]))
        return None


def _auth_issues(auth: CompiledAuth) -> list[PlanIssue]:
    """Auth-flow steps may use earlier auth steps; token paths may use any of them."""
    issues = []
    names = [step.name for step in auth.token_steps]
    for position, step in enumerate(auth.token_steps):
        for where, expression, _ in _request_expressions(step):
            for target in scope_references(expression):
                if target in names[:position]:
                    continue
                if target in names:
                    message = f"steps.{target} in {expression.source!r}: {target!r} runs later"
                else:
                    message = (
                        f"steps.{target} in {expression.source!r}: auth steps run before the "
                        f"plan's steps and see only earlier auth steps ({', '.join(names)})"
                    )
                issues.append(PlanIssue(f"{where} (step {step.name!r})", message, _LATER_FIX))
    paths = [("token_path", auth.token_path), ("expires_in_path", auth.expires_in_path)]
    for field, path in paths:
        if path is None or not auth.is_flow:
            continue
        for target in scope_references(path):
            if target not in names:
                issues.append(
                    PlanIssue(
                        f"auth.{field}",
                        f"steps.{target} in {path.source!r}: there is no auth step {target!r}",
                        "auth steps are: " + ", ".join(names),
                    )
                )
    return issues


def check_references(
    nodes: list[CompiledNode], auth: CompiledAuth | None, known: Iterable[str]
) -> list[PlanIssue]:
    """Every invalid ``steps.<name>`` reference of the plan, as plan issues."""
    issues = _Checker(nodes, frozenset(known)).check(_references(nodes))
    if auth is not None:
        issues.extend(_auth_issues(auth))
    return issues
