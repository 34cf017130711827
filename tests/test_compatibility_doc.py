"""docs/compatibility.md is generated from the conformance corpus: fail while it is stale."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from tests.conformance.corpus import REPO, corpus_root


def _generator() -> ModuleType:
    path = REPO / "scripts" / "compatibility_doc.py"
    spec = importlib.util.spec_from_file_location("compatibility_doc", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compatibility_doc_is_current() -> None:
    corpus = corpus_root()
    if not (corpus / "warp" / "INDEX.md").is_file():
        pytest.skip(f"the conformance corpus is absent ({corpus}): cannot check the doc")
    expected = _generator().render(corpus)
    actual = (REPO / "docs" / "compatibility.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/compatibility.md is stale: run scripts/compatibility_doc.py"


def test_compatibility_doc_cites_no_path_outside_the_repo() -> None:
    text = (REPO / "docs" / "compatibility.md").read_text(encoding="utf-8")
    assert "../" not in text and "shared/" not in text and "/work/" not in text


def test_generator_reads_same_cells_and_escaped_pipes(tmp_path: Path) -> None:
    tables = _generator().tables(
        "## X\n| file | command |\n|---|---|\n| a.txt | `ip -j r get \\| jq .` |\n"
        "| b.txt | same |\n"
    )
    assert tables == [
        (
            "X",
            [
                {"file": "a.txt", "command": "`ip -j r get | jq .`"},
                {"file": "b.txt", "command": "`ip -j r get | jq .`"},
            ],
        )
    ]
