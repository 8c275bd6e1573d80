"""The package's import graph, read from the source with ``ast`` (nothing is imported or run).

Every import counts, those inside functions too: a deferred import still makes one module depend on another,
it only moves the cost to the first call (which is how the CLI stays fast).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGE = "portfolio_dashboard"
SRC = Path(__file__).resolve().parents[2] / "src" / PACKAGE


@dataclass(frozen=True, slots=True)
class Import:
    importer: str  # dotted module name
    target: str  # dotted module name (ours), as resolved against the tree
    names: tuple[str, ...]  # the names taken (``from target import a, b``); () for ``import target``
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SRC.rglob("*.py")) if "migrations" not in p.parts}


def _resolve(name: str) -> str | None:
    """The module of ours that ``name`` (a module or ``module.attribute``) refers to."""
    known = modules()
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


@cache
def imports() -> tuple[Import, ...]:
    found: list[Import] = []
    known = modules()
    for mod, path in known.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    target = _resolve(alias.name)
                    if target is not None and alias.name.startswith(PACKAGE):
                        found.append(Import(mod, target, (), node.lineno))
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if not node.module.startswith(PACKAGE):
                    continue
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    if sub in known:  # ``from package import module``
                        found.append(Import(mod, sub, (), node.lineno))
                    else:
                        target = _resolve(node.module)
                        if target is not None:
                            found.append(Import(mod, target, (alias.name,), node.lineno))
    return tuple(found)


def edges() -> set[tuple[str, str]]:
    return {(i.importer, i.target) for i in imports() if i.importer != i.target}


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {m: set() for m in modules()}
    for a, b in edges():
        graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out
