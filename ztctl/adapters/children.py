"""Child processes of break-glass: a detached background process, and a foreground child
stopped at a deadline.

No policy and no messages here: a command that cannot start raises the ``OSError``
(``FileNotFoundError``, ``PermissionError``) the OS gave.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def spawn_detached(argv: Sequence[str], *, log_file: Path, env: Mapping[str, str] | None) -> int:
    """Start ``argv`` in its own session (no terminal, stdio to ``log_file``, cwd ``/``);
    its pid. It outlives this process."""
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            close_fds=True,
            cwd="/",
        )
    finally:
        os.close(fd)
    return proc.pid


def run_until(
    argv: Sequence[str],
    env: Mapping[str, str],
    remaining: Callable[[], float],
    *,
    hangup: bool,
    grace: float,
) -> tuple[int, bool]:
    """Run ``argv`` in the foreground until it exits or ``remaining()`` reaches 0.

    Like a shell, Ctrl-C is ignored here while the child runs (the child gets it);
    SIGTERM and SIGHUP sent to this process are passed on to the child. When time runs out
    the child gets SIGTERM (``hangup``: SIGHUP, which interactive shells obey), then SIGKILL
    after ``grace`` seconds. Returns the exit code (killed by signal N: 128+N) and whether
    time ran out.
    """
    proc = subprocess.Popen(list(argv), env=dict(env))
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)

    def forward(signum: int, _frame: object) -> None:
        # `kill ztctl` or a closed terminal must reach the child too: an orphan would
        # outlive the session's deadline with nobody to stop it.
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    forwarded = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGHUP)}
    expired = False
    code = 0
    try:
        while True:
            try:
                code = proc.wait(timeout=max(0.0, min(remaining(), 60.0)))
                break
            except subprocess.TimeoutExpired:
                if remaining() > 0:
                    continue
                expired = True
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGHUP if hangup else signal.SIGTERM)
                try:
                    code = proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    code = proc.wait()
                break
    finally:
        signal.signal(signal.SIGINT, previous)
        for sig, handler in forwarded.items():
            signal.signal(sig, handler)
    if code < 0:
        code = 128 - code
    return code, expired
