"""The package's layers, read from its source with ``ast`` (docs/architecture.md draws them).

Every ``import`` of a ``renovation`` module counts, at the top of a module or inside a function
(a deferred import is still a dependency), except those under ``if TYPE_CHECKING:`` (annotations only).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "renovation"

#: What each layer may import besides itself: cli → web → services → store, projections, report → domain
#: (the web board is run by the CLI's ``serve``, and sits beside it over the same services).
ALLOWED = {
    "domain": set(),
    "store": {"domain"},
    "projections": {"store", "domain"},
    "report": {"projections", "domain"},
    "services": {"store", "projections", "report", "domain"},
    "web": {"services", "report", "domain"},
    "cli": {"services", "report", "domain", "web"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for orelse in child.orelse:
                yield from _import_nodes(orelse)
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        yield from _import_nodes(child)


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``name`` imports (``from a import b`` counts a.b when b is a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        found.update(target for target in targets if target.split(".")[0] == "renovation")
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "renovation"


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return groups


def test_the_walk_sees_the_packages_imports() -> None:
    """Not vacuous: the walk finds imports we know are there, and none under TYPE_CHECKING."""
    edges = graph()
    assert "renovation.services.writer" in edges["renovation.services.application"]
    assert "renovation.store.backend" in edges["renovation.store.sqlite"]
    assert "renovation.domain.errors" in edges["renovation.domain.rules"]
    # projections/__init__ names ReadModels for annotations only, and imports it inside a function
    assert "renovation.projections.runner" in edges["renovation.projections"]
    assert len(edges) > 40


def test_no_module_imports_another_that_imports_it_back() -> None:
    assert cycles(graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below_it(name: str) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        if layer(module) == name
        for target in targets
        if layer(target) not in ALLOWED[name] | {name}
    )
    assert wrong == []


def test_nothing_outside_the_cli_imports_it() -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph().items()
        if layer(module) != "cli"
        for target in targets
        if layer(target) == "cli"
    )
    assert wrong == []


def test_every_module_belongs_to_a_layer() -> None:
    assert {layer(module) for module in modules()} <= {*ALLOWED, "renovation"}
