"""No import cycles among guardrails' own modules at import time (issue 11: imports flow one way).

Read with :mod:`ast`, never imported: each module's top-level ``import`` and ``from`` statements (those inside
``if``/``try``/``with`` blocks and class bodies too, as they run on import; not those inside functions or under
``if TYPE_CHECKING:``). Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first, so those packages are
edges too, unless the importing module is inside them (then they are already being imported).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "guardrails"

# Cycles being removed in issue 11, as the sorted tuple of their modules; each entry must still be a cycle.
# (emitters/terraform.py:526 ↔ terraform_security.py:27, found at aea8546, is gone with emitters/terraform/.)
KNOWN_CYCLES: set[tuple[str, ...]] = set()


@dataclass(frozen=True)
class Edge:
    target: str
    line: int


def module_names() -> dict[str, Path]:
    """Every module under guardrails/ by dotted name (a package by its ``__init__``)."""
    out: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_time_statements(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module is imported."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from import_time_statements(node.body)
            yield from import_time_statements(node.orelse)
        elif isinstance(node, ast.Try | ast.TryStar):
            for block in (node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody):
                yield from import_time_statements(block)
        elif isinstance(node, ast.With | ast.ClassDef):
            yield from import_time_statements(node.body)


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def edges_of(name: str, path: Path, modules: dict[str, Path]) -> list[Edge]:
    """The guardrails modules ``name`` imports at import time, with the line of the import."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    # Packages that are already being imported when this module runs: naming them again costs nothing.
    running = set(_ancestors(name)) | ({name} if path.name == "__init__.py" else set())
    out: list[Edge] = []

    def add(target: str, line: int, *, needs_contents: bool) -> None:
        """``target`` is imported; ``needs_contents``: a name defined in it is read (``from target import x``)."""
        for ancestor in _ancestors(target):
            if ancestor in modules and ancestor not in running:
                out.append(Edge(ancestor, line))
        if target in modules and (needs_contents or target not in running):
            out.append(Edge(target, line))

    for node in import_time_statements(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno, needs_contents=False)
            continue
        if node.level:
            parts = package.split(".")
            source = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        for alias in node.names:
            if f"{source}.{alias.name}" in modules:  # a submodule: imported by itself if not yet an attribute
                add(f"{source}.{alias.name}", node.lineno, needs_contents=False)
            else:
                add(source, node.lineno, needs_contents=True)
    return [e for e in out if e.target != name]


def import_graph() -> dict[str, list[Edge]]:
    modules = module_names()
    return {name: edges_of(name, path, modules) for name, path in modules.items()}


def strongly_connected(graph: dict[str, list[Edge]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively; components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted({e.target for e in graph[root]})))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            nxt = next(targets, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted({e.target for e in graph.get(nxt, [])}))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def cycle_path(graph: dict[str, list[Edge]], component: list[str]) -> str:
    """The shortest cycle through the component's first module: ``a:12 → b:40 → a`` (module:line of the import)."""
    members = set(component)
    start = component[0]
    parents: dict[str, tuple[str, int]] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for edge in sorted(graph[node], key=lambda e: (e.target, e.line)):
            if edge.target not in members:
                continue
            if edge.target == start:
                steps = [f"{node}:{edge.line}"]
                while node != start:
                    node, line = parents[node]
                    steps.append(f"{node}:{line}")
                return " → ".join([*reversed(steps), start])
            if edge.target not in parents and edge.target != start:
                parents[edge.target] = (node, edge.line)
                queue.append(edge.target)
    return " ↔ ".join(component)


def common_package(component: list[str]) -> str:
    """The innermost package that holds every module of the component."""
    split = [name.split(".")[:-1] for name in component]
    common: list[str] = []
    for parts in zip(*split, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return ".".join(common)


# ----------------------------------------------------------------------------- tests


def test_no_import_cycle_among_guardrails_modules() -> None:
    """Each cycle is reported with the innermost package that holds it and the imports that close it."""
    graph = import_graph()
    cycles = {tuple(c): c for c in strongly_connected(graph)}
    new = [f"{common_package(c)}: {cycle_path(graph, c)}" for key, c in sorted(cycles.items())
           if key not in KNOWN_CYCLES]
    assert not new, "import cycles at import time:\n  " + "\n  ".join(new)
    gone = KNOWN_CYCLES - set(cycles)
    assert not gone, f"no longer cycles, remove them from KNOWN_CYCLES: {sorted(gone)}"


def test_the_reader_sees_import_time_imports_only(tmp_path: Path) -> None:
    """Function-local and TYPE_CHECKING imports do not count; relative, conditional and package imports do."""
    root = tmp_path / "guardrails" / "pkg"
    root.mkdir(parents=True)
    sources = {
        "__init__": "from guardrails.pkg import a\nfrom guardrails.pkg.e import THING\nVALUE = 1\n",
        "a": "from typing import TYPE_CHECKING\n"
             "if TYPE_CHECKING:\n    from guardrails.pkg import c\n"
             "def late():\n    from guardrails.pkg import d\n"
             "try:\n    from . import b\nexcept ImportError:\n    pass\n",
        "b": "import guardrails.pkg.a\n",
        "c": "from guardrails.pkg.a import late\n",
        "d": "from guardrails.pkg import a\n",
        "e": "from guardrails.pkg import VALUE\nTHING = VALUE\n",
    }
    modules = {}
    for module, text in sources.items():
        (root / f"{module}.py").write_text(text, encoding="utf-8")
        modules["guardrails.pkg" if module == "__init__" else f"guardrails.pkg.{module}"] = root / f"{module}.py"
    graph = {name: edges_of(name, path, modules) for name, path in modules.items()}
    targets = {name: {e.target for e in edges} for name, edges in graph.items()}
    assert targets == {"guardrails.pkg": {"guardrails.pkg.a", "guardrails.pkg.e"},
                       "guardrails.pkg.a": {"guardrails.pkg.b"}, "guardrails.pkg.b": {"guardrails.pkg.a"},
                       "guardrails.pkg.c": {"guardrails.pkg.a"}, "guardrails.pkg.d": {"guardrails.pkg.a"},
                       "guardrails.pkg.e": {"guardrails.pkg"}}
    assert strongly_connected(graph) == [["guardrails.pkg.a", "guardrails.pkg.b"],
                                         ["guardrails.pkg", "guardrails.pkg.e"]]
    assert cycle_path(graph, ["guardrails.pkg.a", "guardrails.pkg.b"]) == \
        "guardrails.pkg.a:7 → guardrails.pkg.b:1 → guardrails.pkg.a"
    assert cycle_path(graph, ["guardrails.pkg", "guardrails.pkg.e"]) == \
        "guardrails.pkg:2 → guardrails.pkg.e:1 → guardrails.pkg"
