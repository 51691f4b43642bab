"""The shape of the code: the core imports no plugin, knows no plugin's names, and no module
imports (directly or through others) a module that imports it back.

Imports are read from the source (ast), inside functions too, so a lazy import counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = "ganzoo"
PLUGIN_PREFIX = "ganzoo_"


def module_files() -> dict[str, Path]:
    """Module name -> file, for every module under ganzoo/ and plugins/."""
    found = {}
    for base, top in ((ROOT, ROOT / CORE), (ROOT / "plugins", ROOT / "plugins")):
        for path in sorted(top.rglob("*.py")):
            parts = list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts and (parts[0] == CORE or parts[0].startswith(PLUGIN_PREFIX)):
                found[".".join(parts)] = path
    return found


def imported_names(module: str, path: Path, modules=()) -> list[tuple[str, int]]:
    """Every module name ``module`` imports, with its line. ``from a import b`` is ``a.b`` when that
    is one of ``modules``, else ``a`` (the implicit import of a parent package is not counted)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names += [(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base, node.lineno)
                      for alias in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.append((node.args[0].value, node.lineno))
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    files = module_files()
    return {module: {name for name, _ in imported_names(module, path, files) if name in files} - {module}
            for module, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
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


def test_the_graph_is_read():
    graph = import_graph()
    assert "ganzoo.harness" in graph and "ganzoo_metrics.fidelity" in graph
    assert "ganzoo.registry" in graph["ganzoo.harness"]
    assert "ganzoo_metrics.inception_offline" in graph["ganzoo_metrics.fidelity"]  # an import inside a function


def test_core_imports_no_plugin():
    files = module_files()
    offending = [f"{files[m].relative_to(ROOT)}:{line} imports {name}"
                 for m in files if m == CORE or m.startswith(CORE + ".")
                 for name, line in imported_names(m, files[m]) if name.split(".")[0].startswith(PLUGIN_PREFIX)]
    assert not offending, "the core must reach plugins through the registry:\n" + "\n".join(offending)


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_core_branches_on_no_plugin_name():
    """No comparison in ganzoo/ against a name a built-in plugin registers (``== "shapes"``,
    ``in ("stackgan", ...)``): what varies by model, dataset or metric is data the plugin provides."""
    from ganzoo.registry import get_registry

    registry = get_registry()
    names = {name for kind in registry.entries for name in registry.names(kind)}
    files = module_files()
    offending = []
    for module, path in files.items():
        if not (module == CORE or module.startswith(CORE + ".")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Compare):
                continue
            for side in [node.left, *node.comparators]:
                items = side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]
                for item in items:
                    if isinstance(item, ast.Constant) and item.value in names:
                        offending.append(f"{path.relative_to(ROOT)}:{node.lineno} compares with {item.value!r}")
    assert not offending, "\n".join(offending)
