"""The versions of the external tools ztctl drives: warp-cli, cloudflared, kubectl.

Each is asked once with a short timeout; a tool that is missing, hangs or answers
something unexpected is reported as not found rather than failing the caller.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from ztctl.adapters.procs import OutputTooLarge, run_capped

_VERSION = re.compile(r"v?(\d+(?:\.\d+)+(?:[-+.][0-9A-Za-z.]+)?)")
_MAX_OUTPUT = 64 * 1024


@dataclass(frozen=True)
class ToolVersion:
    name: str
    path: str | None  # where it was found on PATH (or as configured), None when missing
    version: str | None  # None when missing or unreadable
    problem: str | None = None  # why an installed tool's version is unknown, when known


def tool_version(name: str, program: str, args: list[str], timeout: float = 3.0) -> ToolVersion:
    """Run ``program args`` and read the first version number it prints."""
    path = shutil.which(program)
    if path is None:
        return ToolVersion(name, None, None)
    try:
        done = run_capped([path, *args], timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return ToolVersion(name, path, None)
    except OutputTooLarge as exc:
        return ToolVersion(
            name, path, None, f"printed over {exc.limit // 1024} KiB on {exc.stream}: stopped"
        )
    text = (done.stdout[:_MAX_OUTPUT] + b"\n" + done.stderr[:_MAX_OUTPUT]).decode(
        "utf-8", "replace"
    )
    return ToolVersion(name, path, parse_version(name, text))


def parse_version(name: str, text: str) -> str | None:
    """The version in a tool's ``--version`` text (kubectl's ``Client Version: v1.31.0``)."""
    if name == "kubectl":
        match = re.search(r"Client Version:\s*" + _VERSION.pattern, text)
        if match:
            return match.group(1)
    match = _VERSION.search(text)
    return match.group(1) if match else None
