"""The processes a session depends on: its watchdog, its route's process, its starter.

The watchdog itself (what it does once started) is :mod:`ztctl.core.watchdog`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from ztctl.adapters.fs import ensure_private_dir
from ztctl.core.breakglass.session import Session


def spawn_watchdog(state_dir: Path, session: Session, env: Mapping[str, str] | None) -> int:
    """Start the detached watchdog for ``session`` (own session, no terminal); its pid."""
    log = session.dir / "watchdog.log"
    ensure_private_dir(session.dir)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ztctl.core.watchdog",
                "--state-dir",
                str(state_dir),
                "--cluster",
                session.cluster,
                "--session",
                session.id,
            ],
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


def watchdog_alive(session: Session) -> bool:
    from ztctl.adapters.routes_bg import process_matches

    return process_matches(session.watchdog_pid, session.watchdog_marker)


def route_alive(session: Session) -> bool | None:
    """ssh: whether the tunnel process runs; None where there is no process to look at."""
    from ztctl.adapters.routes_bg import process_matches

    if session.route.kind != "ssh":
        return None
    return process_matches(session.route.pid, session.route.marker)


def starter_alive(session: Session) -> bool:
    from ztctl.adapters.procs import process_command

    if session.starter_pid is None:
        return False
    return process_command(session.starter_pid) is not None
