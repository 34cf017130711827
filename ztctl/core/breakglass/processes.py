"""The processes a session depends on: its watchdog, its route's process, its starter.

The watchdog itself (what it does once started) is :mod:`ztctl.core.watchdog`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from ztctl.adapters.fs import ensure_private_dir
from ztctl.core.breakglass.session import Session, SshState


def spawn_watchdog(
    state_dir: Path,
    session: Session,
    env: Mapping[str, str] | None,
    catalog_source: str | None = None,
) -> int:
    """Start the detached watchdog for ``session`` (own session, no terminal); its pid.

    ``catalog_source``: the catalog it takes the route's ``down`` command and ``maxTtl``
    from (``ZTCTL_CATALOG`` in its environment; a path must be absolute)."""
    import os

    from ztctl.adapters.children import spawn_detached
    from ztctl.core.breakglass.trusted import ENV_CATALOG

    ensure_private_dir(session.dir)
    argv = [
        sys.executable,
        "-m",
        "ztctl.core.watchdog",
        "--state-dir",
        str(state_dir),
        "--cluster",
        session.cluster,
        "--session",
        session.id,
    ]
    child_env = dict(os.environ if env is None else env)
    if catalog_source:
        child_env[ENV_CATALOG] = catalog_source
    return spawn_detached(argv, log_file=session.dir / "watchdog.log", env=child_env)


def watchdog_alive(session: Session) -> bool:
    from ztctl.adapters.routes_bg import process_matches

    return process_matches(session.watchdog_pid, session.watchdog_marker)


def route_alive(session: Session) -> bool | None:
    """ssh: whether the tunnel process runs; None where there is no process to look at."""
    from ztctl.adapters.routes_bg import process_matches

    match session.route:
        case SshState(pid=pid, marker=marker):
            return process_matches(pid, marker)
        case _:
            return None


def starter_alive(session: Session) -> bool:
    from ztctl.adapters.procs import process_command

    if session.starter_pid is None:
        return False
    return process_command(session.starter_pid) is not None
