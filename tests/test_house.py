"""The house's rules, read from the code itself: no cycle between packages, the build's spine imports no
capability, nothing below the command line imports click."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

DIGEST = Path(__file__).resolve().parent.parent / "digest"
# The build reads its sources: the collectors are the spine's first stage, one node with it.
BUILD = "build"
CAPABILITIES = {"audience", "backup", "contribute", "delivery", "edit", "mail", "review", "store", "web",
                "starter"}


def _node(path: Path) -> str:
    """The package a module belongs to: its first folder under digest/, the build for the spine's modules."""
    parts = path.relative_to(DIGEST).parts
    if len(parts) == 1:
        return "cli" if parts[0] == "__main__.py" else BUILD
    return BUILD if parts[0] == "collectors" else parts[0]


def _imports(path: Path) -> Iterator[str]:
    """Every module `path` imports, at its top or inside a function (a lazy import is an import too)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _target(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "digest" or len(parts) < 2:
        return None
    if (DIGEST / parts[1]).is_dir():
        return BUILD if parts[1] == "collectors" else parts[1]
    if (DIGEST / f"{parts[1]}.py").is_file():
        return "cli" if parts[1] == "__main__" else BUILD
    return None


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in DIGEST.rglob("*.py"):
        source = _node(path)
        for module in _imports(path):
            target = _target(module)
            if target and target != source:
                edges.setdefault(source, set()).add(target)
    return edges


def test_no_cycle_between_packages() -> None:
    edges = _graph()

    def reaches(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    cycles = sorted(node for node in edges if node in reaches(node))
    assert cycles == [], {node: sorted(edges[node]) for node in cycles}


def test_the_spine_imports_no_capability() -> None:
    assert _graph().get(BUILD, set()) & (CAPABILITIES | {"cli"}) == set()


@pytest.mark.parametrize("path", sorted(p for p in DIGEST.rglob("*.py") if _node(p) != "cli"),
                         ids=lambda p: str(p.relative_to(DIGEST)))
def test_nothing_below_the_command_line_imports_click(path: Path) -> None:
    assert not [m for m in _imports(path) if m == "click" or m.startswith("click.")]
