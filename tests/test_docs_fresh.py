"""docs/commands.md and completions/ are generated: fail when they are stale."""

from __future__ import annotations

from ztctl.cli.docgen import ROOT, stale_files


def test_generated_docs_and_completions_are_fresh() -> None:
    stale = [str(p.relative_to(ROOT)) for p in stale_files()]
    assert stale == [], f"regenerate with `python -m ztctl.cli.docgen`: {stale}"
