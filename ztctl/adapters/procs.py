"""Live processes: is this pid still the process we started, or a reused one?"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def process_command(pid: int) -> str | None:
    """The command line of live process ``pid`` (space-joined), or ``None``."""
    if pid <= 0:
        return None
    proc = Path(f"/proc/{pid}")
    if Path("/proc/self/stat").exists():
        try:
            stat = (proc / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return None  # exited, not yet reaped
            raw = (proc / "cmdline").read_bytes()
        except (OSError, IndexError):
            return None
        return raw.replace(b"\0", b" ").decode(errors="replace").strip()
    try:  # macOS and other systems without /proc
        out = subprocess.run(
            ["ps", "-o", "stat=,command=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    if not out or out.startswith("Z"):
        return None
    return out.split(None, 1)[1] if " " in out else out


# Children started in a session of their own (so a timeout can kill their whole group) do
# not get the terminal's Ctrl-C. If ztctl exits while one still runs (interrupted, or a
# worker thread abandoned at exit), this kills its group, so nothing ztctl started outlives
# it: a hung warp-cli must not linger after `ztctl doctor` is interrupted.
_live_groups: set[int] = set()
_live_lock = threading.Lock()
_registered = False


@contextlib.contextmanager
def killed_on_exit(proc: subprocess.Popen[Any]) -> Iterator[None]:
    """While in this block, kill ``proc``'s process group if ztctl exits."""
    global _registered
    with _live_lock:
        if not _registered:
            atexit.register(_kill_live_groups)
            _registered = True
        _live_groups.add(proc.pid)
    try:
        yield
    finally:
        with _live_lock:
            _live_groups.discard(proc.pid)


def _kill_live_groups() -> None:
    with _live_lock:
        groups = list(_live_groups)
        _live_groups.clear()
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def run_output(argv: list[str], timeout: float) -> str | None:
    """stdout and stderr of a short command, or None when it is missing, fails to start or
    outlives ``timeout`` (no stdin: it can never wait for a person)."""
    if shutil.which(argv[0]) is None and not os.path.exists(argv[0]):
        return None
    try:
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return f"{proc.stdout}{proc.stderr}"


def kubectl_client_version(kubectl: str, timeout: float) -> Any:
    """``kubectl version --client``'s gitVersion (None when it names none), ``"unknown"``
    when it does not answer with JSON."""
    try:
        proc = subprocess.run(
            [kubectl, "version", "--client", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        return json.loads(proc.stdout).get("clientVersion", {}).get("gitVersion")
    except (OSError, subprocess.TimeoutExpired, ValueError, AttributeError):
        return "unknown"
