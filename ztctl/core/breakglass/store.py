"""Changing session files: writing, removing, the per-cluster lock, and the audit record.

Reading them is :mod:`.session` (stdlib only); everything that writes goes through here.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ztctl.adapters.fs import atomic_write, ensure_private_dir
from ztctl.core.breakglass.session import Session, sessions_dir
from ztctl.errors import OperationFailed, ZtctlError

LOCK_TIMEOUT_S = 60.0


def write_session(session: Session) -> None:
    ensure_private_dir(session.path.parent)
    data = json.dumps(session.to_dict(), indent=2, sort_keys=True).encode("utf-8")
    atomic_write(session.path, data + b"\n", mode=0o600)


def remove_session(session: Session) -> None:
    import shutil

    # The directory first: while the session file exists, its files may too.
    shutil.rmtree(session.dir, ignore_errors=True)
    # Not a file (a directory or worse put there by hand): left for `status` to list.
    with contextlib.suppress(OSError):
        session.path.unlink()


@contextlib.contextmanager
def locked(state_dir: Path, cluster: str, *, wait: float | None = LOCK_TIMEOUT_S) -> Iterator[bool]:
    """An exclusive lock per cluster (``flock``); yields False when ``wait`` seconds ran out
    (``0``: one try; ``None``: wait as long as it takes)."""
    directory = ensure_private_dir(sessions_dir(state_dir))
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: one ztctl at a time
        yield True
        return
    # A leading dot: cluster names start with a letter or digit, so no session is named so.
    fd = os.open(directory / f".{cluster}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        give_up = time.monotonic() + (wait or 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                got = True
                break
            except BlockingIOError:
                if wait is not None and time.monotonic() >= give_up:
                    got = False
                    break
                time.sleep(0.05)
        try:
            yield got
        finally:
            if got:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class AuditFailed(OperationFailed):
    """The audit log could not be written (exit 1). Break-glass fails closed: what needed
    the event is not done (``start`` closes the route again, ``exec`` runs nothing), except
    closing a route, which is never left open because the disk is full."""


def record(state_dir: Path, event: str, session: Session, **fields: Any) -> None:
    """Append a ``break-glass.*`` event durably; :class:`AuditFailed` when it is not.

    Any exception from the write counts as a failure (full disk, short write, a directory
    or an unwritable file where ``audit.jsonl`` should be, a bad file descriptor...).
    """
    from ztctl.core import audit as audit_log

    try:
        audit_log.record(
            state_dir,
            event,
            cluster=session.cluster,
            user=session.user,
            reason=session.reason,
            route=session.route.display,
            session=session.id,
            **fields,
        )
    except Exception as exc:
        raise audit_failed(state_dir, event, exc) from None


def audit_failed(state_dir: Path, event: str, exc: BaseException) -> AuditFailed:
    from ztctl.core.audit import AUDIT_FILE

    path = Path(state_dir) / AUDIT_FILE
    if isinstance(exc, ZtctlError) and exc.__cause__ is not None:
        exc = exc.__cause__  # core.audit's own error: say what the OS said, once
    if isinstance(exc, OSError) and exc.strerror:
        why = exc.strerror
    else:
        why = f"{type(exc).__name__}: {exc}"[:200]
    return AuditFailed(
        f"cannot write {event} to the audit log {path}: {why}",
        f"free disk space and make sure {path} is a regular file you can write (0600) in a "
        "directory you own, then run the command again",
    )
