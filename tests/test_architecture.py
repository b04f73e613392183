"""The promises of the package's layout: a folder per subsystem, small modules, no cycles.

These read the source, not the running package, so they hold for imports made
inside functions and under ``TYPE_CHECKING`` too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import wheelcache

PACKAGE = Path(wheelcache.__file__).resolve().parent
MAX_MODULE_LINES = 350


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(("wheelcache", *parts))] = path
    return found


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """Every wheelcache module that *module* imports, wherever the import stands."""
    is_package = path.name == "__init__.py"
    package = module.split(".") if is_package else module.split(".")[:-1]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                stem = ".".join([*base, *([node.module] if node.module else [])])
            else:
                stem = node.module or ""
            for alias in node.names:
                candidate = f"{stem}.{alias.name}"
                targets.add(candidate if candidate in known else stem)
    return {t for t in targets if t in known and t != module}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back_through_others() -> None:
    """No import cycles between modules: each subsystem can be read bottom-up."""
    graph = _graph()
    graph.pop("wheelcache", None)  # the public facade re-exports; nothing imports it back
    for imported in graph.values():
        imported.discard("wheelcache")
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_is_longer_than_the_limit() -> None:
    """Small modules, one idea each: none over ~350 lines."""
    long = {
        name: lines
        for name, path in _modules().items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_subpackage_init_files_import_nothing() -> None:
    """Importing one module of a subsystem never drags in its siblings (the hit path stays lean)."""
    for path in PACKAGE.glob("*/__init__.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        assert imports == [], path


def test_every_subsystem_has_its_own_folder() -> None:
    folders = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert {
        "_store",
        "_pointers",
        "_fs",
        "_wheels",
        "_tree",
        "_gc",
        "_build",
        "_cli",
        "_remote",
    } <= folders


DESIGN = Path(__file__).resolve().parent.parent / "docs" / "design.md"


def _resolve(reference: str) -> bool:
    """True when a dotted reference in the docs names something that exists."""
    import importlib

    parts = reference.split(".")
    if parts[0][:1].isupper():  # Class.method: look for the class in every module
        for module in _modules():
            found = importlib.import_module(module)
            target = getattr(found, parts[0], None)
            if target is not None and getattr(target, "__module__", "").startswith("wheelcache"):
                for attribute in parts[1:]:
                    target = getattr(target, attribute, None)
                if target is not None:
                    return True
        return False
    for split in range(len(parts), 0, -1):
        module = ".".join(("wheelcache", *parts[:split]))
        if module not in _modules():
            continue
        found_object: object = importlib.import_module(module)
        for attribute in parts[split:]:
            found_object = getattr(found_object, attribute, None)
        return found_object is not None
    return False


def test_design_doc_names_only_functions_that_exist() -> None:
    """docs/design.md names the function performing each step: every such name must exist."""
    import re

    text = DESIGN.read_text(encoding="utf-8")
    references = {
        m
        for m in re.findall(r"`([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+)`", text)
        if (m.startswith("_") or m.split(".")[0] in {"Store", "Layout", "WheelCache", "Source"})
        and not m.endswith((".py", ".md", ".json", ".lock", ".whl"))
    }
    assert len(references) > 30  # the check sees the doc's references
    assert sorted(r for r in references if not _resolve(r)) == []
