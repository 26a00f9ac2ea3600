"""The package's import graph, read from the source (ast): no circle among zoo's modules.

Every import counts, the ones inside functions too (they run, only later).
``from zoo import x`` is an edge to ``zoo.x`` when that is a module, else to
``zoo``. A failure names the modules of each circle and its edges.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import zoo

ROOT = Path(zoo.__file__).resolve().parent


def module_names(root: Path, package: str) -> dict[str, Path]:
    """``{dotted name: file}`` of every module of the package under ``root``."""
    names = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join([package, *parts])] = path
    return names


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}``, anywhere in its source."""
    modules = module_names(root, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}

    def known(name: str) -> str | None:  # the module itself, else the closest package holding it
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's own package upwards
                    here = name.split(".") if is_package else name.split(".")[:-1]
                    here = here[: len(here) - (node.level - 1)]
                    base = ".".join([*here, *([base] if base else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                if target == package or target.startswith(package + "."):
                    found = known(target)
                    if found and found != name:
                        graph[name].add(found)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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


def describe(graph: dict[str, set[str]], component: list[str]) -> str:
    inside = set(component)
    edges = [f"{a} -> {b}" for a in component for b in sorted(graph[a] & inside)]
    return f"circle of {len(component)} modules: " + "; ".join(edges)


def test_no_import_circle_in_the_package():
    graph = import_graph(ROOT, "zoo")
    found = cycles(graph)
    assert not found, "\n".join(describe(graph, c) for c in found)


def test_the_graph_sees_imports_inside_functions_and_from_package_imports():
    graph = import_graph(ROOT, "zoo")
    assert len(graph) > 50 and "zoo.tasks.base" in graph
    assert "zoo.models" in graph["zoo.factory"]  # a module-level `import zoo.models`
    assert "zoo.models" in graph["zoo.commands"]  # `from zoo import models` inside add_model_flags
    assert "zoo.data.charlm" in graph["zoo.data"]  # `from zoo.data import charlm` inside a function
    assert "zoo.errors" in graph["zoo.registry"]


def test_the_registries_import_no_family_and_no_loader():
    graph = import_graph(ROOT, "zoo")
    assert not {m for m in graph["zoo.registry"] if m.startswith(("zoo.models", "zoo.tasks", "zoo.checkpoint"))}
    assert not {m for m in graph["zoo.data.registry"] if m == "zoo.data" or m.startswith("zoo.data.") and m != "zoo.data.core"}
    for family in ("char_rnn", "seq2seq", "word2vec", "mlp", "cnn", "wide_deep"):  # model files hold models only
        assert not {m for m in graph[f"zoo.models.{family}"] if m.startswith(("zoo.checkpoint", "zoo.apps", "zoo.training"))}


def test_a_circle_is_reported_with_its_edges(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from pkg.sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from .. import c\n")
    (pkg / "c.py").write_text("import pkg.a\nfrom pkg import nothing_here\n")
    graph = import_graph(pkg, "pkg")
    assert graph["pkg.c"] == {"pkg.a", "pkg"}
    found = cycles(graph)
    assert found == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    assert describe(graph, found[0]) == "circle of 3 modules: pkg.a -> pkg.sub.b; pkg.c -> pkg.a; pkg.sub.b -> pkg.c"


MAX_LINES = 600
"""A module longer than this holds several ideas (ARCHITECTURE.md: one idea per module)."""


def test_no_module_over_600_lines():
    long = {str(p.relative_to(ROOT.parent)): n for p in ROOT.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_source_cites_files_of_this_repository_only():
    """Comments and docstrings name files a reader of this checkout can open: no design notes or READMEs
    beside it (``../shared/data`` as the place CI keeps the datasets is a location, not a citation)."""
    repo = ROOT.parent
    files = [*ROOT.rglob("*.py"), *(repo / "tests").rglob("*.py"), *(repo / "benchmarks").rglob("*.py"), repo / "pyproject.toml"]
    bad = [f"{p.relative_to(repo)}:{i}" for p in files if p.is_file()
           for i, line in enumerate(p.read_text().splitlines(), 1)
           if re.search(r"DESIGN\.md|\.\./shared/(?!data\b)|shared/data/README", line) and p.name != "test_architecture.py"]
    assert not bad, f"citations of files outside the repository: {bad}"
