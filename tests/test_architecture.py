"""The house keeps its plan: the stage packages import only downwards and no module imports
itself in a circle (every import counts: module level, inside functions, and for type checking).

Layers, lowest first: the shared records, errors and settings; ingestion; indexing; answering;
the front doors (``rag.cli``; ``ui/`` sits beside them and may import any layer). ``rag/__init__``
only re-exports the public names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"errors": 0, "records": 0, "settings": 0, "ingestion": 1, "indexing": 2, "answering": 3, "cli": 4}
MAX_MODULE_LINES = 400
MAX_TOP_LEVEL = 8


def _modules(package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The known modules ``module`` imports (``from pkg import name`` counts ``pkg.name`` when it is a module)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            names.update(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names)
    out = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module:
            out.add(name)
    return out


def _graph(*packages: str) -> dict[str, set[str]]:
    known = {m: p for package in packages for m, p in _modules(package).items()}
    return {m: _imported(m, p, known) for m, p in known.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.get(parts[1]) if parts[0] == "rag" and len(parts) > 1 else None


@pytest.mark.parametrize("packages", [("rag", "ui"), ("benchmarks", "rag")])
def test_no_import_circles(packages: tuple[str, ...]) -> None:
    assert _cycles(_graph(*packages)) == []


def test_a_cycle_is_found() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_stages_import_only_downwards() -> None:
    upward = []
    for module, imports in _graph("rag").items():
        if module == "rag":
            continue  # the package itself re-exports the public names
        for target in imports:
            if target == "rag" or (_layer(target) or 0) > (_layer(module) or 0):
                upward.append(f"{module} -> {target}")
    assert upward == []
    assert set(_graph("rag")) <= {"rag"} | {m for m in _graph("rag") if _layer(m) is not None}


def test_the_folder_tree_is_the_plan() -> None:
    top = sorted(p.name for p in (ROOT / "rag").iterdir() if p.name != "__pycache__")
    assert len(top) <= MAX_TOP_LEVEL, top
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "rag").rglob("*.py")
        if (n := len(p.read_text("utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
