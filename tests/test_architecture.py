"""Keep the layers honest: core never imports the CLI or rich; adapters never print."""

from __future__ import annotations

import ast
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
