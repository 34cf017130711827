"""Where the conformance corpus lives, and what its INDEX files list.

The corpus is a folder of real outputs (warp-cli, kubeconfigs, OS commands) collected from
public sources, kept outside the repository in ``../shared/corpus/`` (next to the checkout's
root) or wherever ``ZTCTL_CORPUS`` points. Tests read it at test time and skip, saying why,
where it is absent; its files are never copied into the repository.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def corpus_root() -> Path:
    configured = os.environ.get("ZTCTL_CORPUS")
    return Path(configured) if configured else REPO.parent / "shared" / "corpus"


def corpus_dir(kind: str) -> Path:
    """The folder of one corpus (``warp``, ``kubeconfig``, ``platform``), or a skip."""
    folder = corpus_root() / kind
    if not (folder / "INDEX.md").is_file():
        pytest.skip(
            f"the conformance corpus is absent ({folder} has no INDEX.md): set ZTCTL_CORPUS "
            "to the corpus folder to run these tests"
        )
    return folder


_CELL_FILE = re.compile(r"[\w./@+-]+\.(?:txt|yaml|yml|json|xml)")


def index_rows(kind: str) -> dict[str, list[str]]:
    """``file name -> the other cells`` of every table row of ``kind/INDEX.md``.

    A first cell may name several files (``a.yaml / b.yaml``); each gets the row.
    """
    text = (corpus_dir(kind) / "INDEX.md").read_text(encoding="utf-8")
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not cells or cells[0] == "file":
            continue
        for name in _CELL_FILE.findall(cells[0]):
            rows[name] = cells[1:]
    return rows


def files_on_disk(kind: str) -> set[str]:
    """Every sample file of one corpus (relative names; INDEX.md excluded)."""
    folder = corpus_dir(kind)
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "INDEX.md"
    }


def sample(kind: str, name: str) -> Path:
    path = corpus_dir(kind) / name
    if not path.is_file():
        pytest.fail(f"{kind}/{name} is in the test table but not in the corpus")
    return path
