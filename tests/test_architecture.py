"""Keep the layers honest (ARCHITECTURE.md): no import cycle; core never imports the CLI or
rich, never starts a process or opens a socket itself; adapters never print; commands end
through one exit path."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ztctl"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(path: Path, name: str, known: Iterable[str]) -> set[str]:
    """Every module ``path`` (module ``name``) imports when it runs: at module level or inside
    a function (a lazy import still runs), but not under ``if TYPE_CHECKING:``. ``from a
    import b`` counts as ``a.b`` when that is a module of ``known``, else as ``a``."""
    modules = set(known)
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit_node(other)
                continue
            visit_node(child)

    def visit_node(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package
                for _ in range(node.level - 1):
                    parent = parent.rpartition(".")[0]
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules else base)
        visit(node)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name → file, for every module of the package at ``root``."""
    out = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module → the package's modules it imports at run time. Importing ``a.b.c`` also runs
    ``a.b`` (its package ``__init__``), so that is an edge too; a module's own enclosing
    packages are not (Python has them half-imported already)."""
    files = module_files(root)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        edges: set[str] = set()
        for imported in runtime_imports(path, name, files):
            parts = imported.split(".")
            for end in range(2, len(parts) + 1):
                candidate = ".".join(parts[:end])
                if candidate in files and not name.startswith(candidate + "."):
                    edges.add(candidate)
        edges.discard(name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
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
    return found


def test_no_import_cycle_between_ztctl_modules() -> None:
    graph = import_graph(PACKAGE)
    assert "ztctl.core.probe.run" in graph["ztctl.core.probe"], "the graph misses imports"
    found = cycles(graph)
    assert not found, "import cycles: " + "; ".join(" ↔ ".join(c) for c in found)


def test_the_cycle_finder_sees_lazy_and_package_cycles(tmp_path: Path) -> None:
    """The rule above must be able to fail: a cycle through a function-level import, and one
    through a package ``__init__``; a TYPE_CHECKING import is not one."""
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "a.py").write_text("def f():\n    from pkg import b\n")
    (root / "b.py").write_text("import pkg.a\n")
    (root / "sub" / "__init__.py").write_text("from pkg.sub.x import X\n")
    (root / "sub" / "x.py").write_text("from pkg import c\nX = 1\n")
    (root / "c.py").write_text("from pkg.sub.y import Y\n")
    (root / "sub" / "y.py").write_text("Y = 2\n")
    (root / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import e\n"
    )
    (root / "e.py").write_text("from pkg import d\n")
    found = cycles(import_graph(root))
    assert ["pkg.a", "pkg.b"] in found
    assert any("pkg.c" in c and "pkg.sub" in c for c in found), found
    assert not any("pkg.d" in c for c in found), found


# Modules that start processes, open sockets or speak TLS/HTTP: only adapters (and the lab)
# import them; core asks an adapter.
_IO_MODULES = frozenset({"subprocess", "socket", "ssl", "httpx", "http.client"})


def test_core_neither_starts_processes_nor_opens_sockets() -> None:
    files = module_files(PACKAGE)
    for name, path in sorted(files.items()):
        if not name.startswith("ztctl.core"):
            continue
        bad = {m for m in runtime_imports(path, name, files) if m in _IO_MODULES}
        assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}: use an adapter"


def test_commands_end_through_one_exit_path() -> None:
    """A command sets a non-zero exit code with ``app.exit(code)`` or by raising a
    ZtctlError, never with ``SystemExit``/``sys.exit`` of its own."""
    for path in modules_in("cli/commands"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bad = [
            n.lineno
            for n in ast.walk(tree)
            if (isinstance(n, ast.Name) and n.id == "SystemExit")
            or (isinstance(n, ast.Attribute) and n.attr == "exit" and _is_sys(n.value))
        ]
        assert not bad, f"{path.relative_to(PACKAGE)} exits by itself at lines {bad}"


def _is_sys(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id == "sys"


def modules_in(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


def test_core_imports_neither_click_rich_nor_cli() -> None:
    for path in modules_in("core"):
        bad = {
            m
            for m in imports_of(path)
            if m.split(".")[0] in {"click", "rich"} or m.startswith("ztctl.cli")
        }
        assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


def test_adapters_do_not_import_cli_or_print() -> None:
    for path in modules_in("adapters"):
        bad = {
            m
            for m in imports_of(path)
            if m.split(".")[0] in {"click", "rich"} or m.startswith("ztctl.cli")
        }
        assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        prints = [
            n.lineno
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
        ]
        assert not prints, f"{path.relative_to(PACKAGE)} prints at lines {prints}"


def test_core_and_adapters_never_import_the_lab() -> None:
    for folder in ("core", "adapters"):
        for path in modules_in(folder):
            bad = {m for m in imports_of(path) if m.startswith("ztctl.lab")}
            assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


def test_adapters_do_not_import_core() -> None:
    """Adapters stand on the standard library, third-party packages, other adapters and the
    base (``ztctl.errors``, ``ztctl.problems``); core calls them, never the reverse."""
    files = module_files(PACKAGE)
    for name, path in sorted(files.items()):
        if not name.startswith("ztctl.adapters"):
            continue
        bad = {m for m in runtime_imports(path, name, files) if m.startswith("ztctl.core")}
        assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


def test_the_base_imports_no_layer() -> None:
    files = module_files(PACKAGE)
    for name in ("ztctl.errors", "ztctl.problems"):
        found = runtime_imports(files[name], name, files)
        bad = {m for m in found if m.startswith(("ztctl.core", "ztctl.cli", "ztctl.adapters"))}
        assert not bad, f"{name} imports {sorted(bad)}"


# ARCHITECTURE.md: no module over ~800 lines, no function over ~80. Exceptions, with why,
# are listed there and here (none today).
MAX_MODULE_LINES = 800
MAX_FUNCTION_LINES = 80


def test_no_module_and_no_function_is_too_long() -> None:
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(PACKAGE)
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{where}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{where}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, "too long (split them): " + "; ".join(too_long)


def test_no_reference_outside_the_repository() -> None:
    """Code, tests and docs cite what a reader of the repository can open: no section sign
    pointing at notes that are not here (RFC sections are fine), no developer's path."""
    root = PACKAGE.parent
    # These two name the forbidden forms in order to look for them.
    checkers = {"tests/test_architecture.py", "tests/test_compatibility_doc.py"}
    bad = []
    for folder in ("ztctl", "tests", "docs", "bench"):
        for path in sorted((root / folder).rglob("*")):
            if path.suffix not in {".py", ".md"} or not path.is_file():
                continue
            if str(path.relative_to(root)) in checkers:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                cleaned = re.sub(r"RFC \d+ §[\d.]+", "", line)
                if "§" in cleaned or "/work/" in cleaned or "shared/reference" in cleaned:
                    bad.append(f"{path.relative_to(root)}:{number}")
    for name in ("README.md", "ARCHITECTURE.md"):
        if "§" in (root / name).read_text(encoding="utf-8"):
            bad.append(name)
    assert not bad, "cites something outside the repository: " + ", ".join(bad)
