"""docs/commands.md and completions/ are generated: fail when they are stale."""

from __future__ import annotations

from ztctl.cli.docgen import ROOT, stale_files


def test_generated_docs_and_completions_are_fresh() -> None:
    stale = [str(p.relative_to(ROOT)) for p in stale_files()]
    assert stale == [], f"regenerate with `python -m ztctl.cli.docgen`: {stale}"


def test_the_man_page_is_generated_and_renders() -> None:
    """docs/man/ztctl.1 is in the staleness check above, and is a man page man can read."""
    import shutil
    import subprocess

    from ztctl.cli.docgen import MAN_PAGE, expected_files
    from ztctl.cli.main import COMMANDS

    assert MAN_PAGE in expected_files()
    text = MAN_PAGE.read_text(encoding="utf-8")
    assert text.startswith(".TH ZTCTL 1 ")
    for name in COMMANDS:
        assert f"\\fBztctl {name}" in text or f".SS {name}" in text.replace("\\-", "-"), name
    if shutil.which("man") is None:
        return
    rendered = subprocess.run(
        ["man", "-l", str(MAN_PAGE)],
        capture_output=True,
        text=True,
        env={"MANWIDTH": "100", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert rendered.returncode == 0, rendered.stderr
    assert "use-cluster" in rendered.stdout and "EXIT STATUS" in rendered.stdout
