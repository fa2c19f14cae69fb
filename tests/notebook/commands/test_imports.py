"""``orchestra.notebook`` has no import cycle, counting imports made only for type checking."""

from __future__ import annotations

import grimp
import pytest

PACKAGE = "orchestra.notebook"


def cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """The groups of modules that import each other, directly or not (Tarjan's SCCs)."""
    edges = {m: graph.find_modules_directly_imported_by(m) & modules for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in edges[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return found


@pytest.mark.parametrize("type_checking", [False, True], ids=["runtime", "with-type-checking"])
def test_no_module_of_the_notebook_imports_itself_back(type_checking):
    graph = grimp.build_graph(
        "orchestra", exclude_type_checking_imports=not type_checking, cache_dir=None
    )
    modules = {m for m in graph.modules if m == PACKAGE or m.startswith(PACKAGE + ".")}
    assert "orchestra.notebook.commands.run" in modules
    assert cycles(graph, modules) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    assert cycles(graph, {"a", "b", "c"}) == []
    graph.add_import(importer="c", imported="a")
    assert cycles(graph, {"a", "b", "c"}) == [["a", "b", "c"]]
