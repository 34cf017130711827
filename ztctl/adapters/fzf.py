"""Pick one line with fzf, as kubectx does when fzf is on PATH."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence

from ztctl.adapters.procs import OutputTooLarge, run_capped


def available(env: Mapping[str, str]) -> str | None:
    """fzf's path, unless missing or turned off (ZTCTL_IGNORE_FZF, like KUBECTX_IGNORE_FZF)."""
    if env.get("ZTCTL_IGNORE_FZF") or env.get("KUBECTX_IGNORE_FZF"):
        return None
    return shutil.which("fzf", path=env.get("PATH"))


def pick(fzf: str, lines: Sequence[str], prompt: str, header: str) -> str | None:
    """The line chosen in fzf (drawn on the terminal), or ``None`` when cancelled."""
    try:
        done = run_capped(
            [fzf, "--no-multi", "--ansi", f"--prompt={prompt}", f"--header={header}"],
            input=("\n".join(lines) + "\n").encode(),
            capture_stderr=False,
            new_session=False,  # it draws on the terminal and waits for the person
            timeout=None,
        )
    except (OSError, OutputTooLarge):
        return None
    chosen = done.out.strip("\n")
    return chosen if done.returncode == 0 and chosen else None
