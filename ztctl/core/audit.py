"""The audit log (docs/configuration.md): ``<state>/audit.jsonl``, one JSON object per line.

Append-only, flushed and fsynced per event, in a 0700 directory, the file 0600. Each
event has ``ts`` (RFC 3339, UTC), ``event``, ``user`` (the OS user, unless the caller
passes another ``user``) and the caller's fields. Never pass a secret.

Fail closed: when an event cannot be written whole (a full disk, a read-only or foreign
file), :func:`record` raises :class:`AuditWriteFailed` and leaves no torn line behind; the
operation that needed the event must not go on. Readers skip a torn line (a crash between
the write and the fsync of another program version) and recover an event glued onto one.
"""

from __future__ import annotations

import errno
import getpass
import json
import os
import stat
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from ztctl.adapters.fs import NotRegularFile, append_line_durably, ensure_private_dir, kind_of
from ztctl.errors import OperationFailed

AUDIT_FILE = "audit.jsonl"


class AuditWriteFailed(OperationFailed, OSError):
    """The event did not reach the audit log whole; the operation must not go on.

    Also an ``OSError``, so callers that treat the audit as best effort keep working; those
    that must fail closed (break-glass) let it propagate (exit 1).
    """


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record(state_dir: Path, event: str, **fields: Any) -> dict[str, Any]:
    """Append one event durably and return it."""
    ts = now_rfc3339()
    entry: dict[str, Any] = {"ts": ts, "event": event, "user": os_user()}
    entry.update(fields)
    entry["ts"], entry["event"] = ts, event  # a caller cannot back-date or rename an event
    path = state_dir / AUDIT_FILE
    try:
        ensure_private_dir(state_dir)
        append_line_durably(path, json.dumps(entry, ensure_ascii=False, default=str))
    except OSError as exc:
        not_a_log = _not_a_log(path)
        if not_a_log is not None:
            raise AuditWriteFailed(
                f"cannot record {event} in the audit log {path}: it {not_a_log}",
                f"remove it (rm -r {path}; ztctl starts a new log there), then run the "
                "command again; nothing that needs the audit trail was done",
            ) from exc
        reason = exc.strerror or str(exc)
        raise AuditWriteFailed(
            f"cannot record {event} in the audit log {path}: {reason}",
            f"free space on that disk or make {path} writable by you (mode 0600), then run "
            "the command again; nothing that needs the audit trail was done",
        ) from exc
    return entry


def _not_a_log(path: Path) -> str | None:
    """What is at ``path`` when it can never be the log (a directory, a FIFO, a symlink to
    nothing, ...); ``None`` when it is a regular file or nothing (then the disk, the
    permissions or the directory are the problem)."""
    try:
        link = os.lstat(path)
    except OSError:
        return None
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"is a symlink to {os.readlink(path)}, which does not exist"
    except OSError as exc:  # a loop is never a log; a permission problem has the usual fix
        looped = stat.S_ISLNK(link.st_mode) and exc.errno == errno.ELOOP
        return "is a symlink loop" if looped else None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not a regular file"
    return f"is {kind_of(mode)}, not a regular file"


# An event is a few hundred bytes; a longer line is not an event of ours and is skipped
# without being held in memory whole.
MAX_EVENT_BYTES = 64 * 1024


def read_events(state_dir: Path, event: str | None = None) -> Iterator[dict[str, Any]]:
    """The recorded events, oldest first (a torn last line, if any, is skipped).

    The log must be a regular file (a FIFO put in its place is never waited on); lines
    over :data:`MAX_EVENT_BYTES` are skipped.
    """
    path = state_dir / AUDIT_FILE
    try:
        handle = _open_log(path)
    except FileNotFoundError:
        return
    with handle:
        for line in _lines(handle):
            item = _parse_line(line)
            if isinstance(item, dict) and (event is None or item.get("event") == event):
                yield item


def _open_log(path: Path) -> IO[str]:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, kind_of(mode))
        return open(fd, encoding="utf-8", errors="replace")  # owns fd from here
    except BaseException:
        os.close(fd)
        raise


def _lines(handle: IO[str]) -> Iterator[str]:
    while True:
        line = handle.readline(MAX_EVENT_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_EVENT_BYTES and not line.endswith("\n"):
            while line and not line.endswith("\n"):  # skip the rest of the long line
                line = handle.readline(MAX_EVENT_BYTES)
            continue
        yield line


_EVENT_START = '{"ts": '


def _parse_line(line: str) -> Any:
    """One event; a torn line gives None, or the whole event an older writer glued onto it."""
    try:
        return json.loads(line)
    except ValueError:
        pass
    start = line.rfind(_EVENT_START)
    if start > 0:
        try:
            return json.loads(line[start:])
        except ValueError:
            return None
    return None
