"""File-system primitives: private directories, atomic replace, append-and-fsync.

Everything that writes a file ztctl owns goes through here, so that a crash or a SIGKILL
leaves either the old or the new content, never a torn file, and private files are never
readable by others, not even for an instant.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700; tighten it if it exists and is looser."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        path.chmod(PRIVATE_DIR_MODE)
    return path


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` atomically.

    The temporary file lives in the same directory (so the rename cannot cross file
    systems), is created 0600, fsynced, given ``mode`` (default: the existing file's mode,
    else 0600) and renamed over the target; then the directory is fsynced. ``path`` must
    already be the final target: callers resolve symlinks first when they mean to follow
    them.
    """
    directory = path.parent
    if mode is None:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = PRIVATE_FILE_MODE
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(directory)


def append_line_durably(path: Path, line: str) -> None:
    """Append one line to ``path`` (created 0600), flushed and fsynced before returning."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    try:
        payload = (line.rstrip("\n") + "\n").encode("utf-8")
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)
