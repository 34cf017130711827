"""Writing kubeconfig files the way kubectl expects, and more safely than kubectl does.

- client-go's lock: ``<file>.lock`` created with ``O_CREAT|O_EXCL`` and mode 0, for every
  file of the precedence list, in sorted order, removed afterwards. kubectl fails at once
  when a lock exists; ztctl retries with backoff for about two seconds first.
- The write: resolve symlinks to the final target, keep one backup of the previous content
  (``<target>.ztctl.bak``, mode 0600), then an atomic replace (temporary file in the same
  directory, fsync, rename, fsync of the directory) that keeps the file's mode (0600 for a
  new file). A SIGKILL at any moment leaves the old or the new file, never a torn one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

from ztctl.adapters.fs import PRIVATE_FILE_MODE, atomic_write, make_dirs
from ztctl.errors import InvalidInput, OperationFailed

LOCK_SUFFIX = ".lock"
BACKUP_SUFFIX = ".ztctl.bak"
LOCK_TIMEOUT_S = 2.0
NEW_DIR_MODE = 0o700


def lock_path(path: Path) -> Path:
    return Path(str(path) + LOCK_SUFFIX)


def backup_path(path: Path) -> Path:
    """Where the previous content of ``path`` is kept (next to the symlink's target)."""
    target = Path(os.path.realpath(path))
    return target.with_name(target.name + BACKUP_SUFFIX)


def _age(path: Path) -> str:
    try:
        seconds = max(0.0, time.time() - path.lstat().st_mtime)
    except OSError:
        return ""
    if seconds < 120:
        return f", created {seconds:.0f} s ago"
    if seconds < 7200:
        return f", created {seconds / 60:.0f} min ago"
    return f", created {seconds / 3600:.1f} h ago"


def _acquire(path: Path, deadline: float) -> Path:
    lock = lock_path(path)
    delay = 0.01
    while True:
        try:
            make_dirs(lock.parent, NEW_DIR_MODE)
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0)
        except FileExistsError:
            if not lock.parent.is_dir():  # mkdir met a file where the directory should be
                raise _cannot_lock(path, lock, f"{lock.parent} is not a directory") from None
            now = time.monotonic()
            if now >= deadline:
                raise OperationFailed(
                    f"kubeconfig {path} is locked: {lock} exists{_age(lock)} "
                    "(kubectl or ztctl is writing it, or a writer was killed)",
                    f"retry in a moment; if no kubectl or ztctl is running, the lock is stale: "
                    f"remove it with `rm {lock}`",
                ) from None
            time.sleep(min(delay * random.uniform(0.5, 1.0), max(0.0, deadline - now)))
            delay = min(delay * 2, 0.25)
            continue
        except OSError as exc:
            denied = exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
            raise _cannot_lock(path, lock, exc.strerror or str(exc), denied=denied) from None
        os.close(fd)
        return lock


def _cannot_lock(path: Path, lock: Path, reason: str, *, denied: bool = False) -> InvalidInput:
    if denied:
        return InvalidInput(
            f"cannot lock kubeconfig {path}: creating {lock} failed: {reason}",
            f"kubectl needs write access to {lock.parent} too: make it writable, or "
            f"leave {path} out of KUBECONFIG; nothing was written",
        )
    return InvalidInput(
        f"cannot lock kubeconfig {path}: creating {lock} failed: {reason}",
        f"check {lock.parent}; nothing was written",
    )


class _Terminated(BaseException):
    pass


@contextlib.contextmanager
def locked(paths: Sequence[Path], timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold client-go's lock on every file of ``paths`` (taken in sorted order).

    While held, SIGTERM raises instead of killing the process, so the locks are removed.
    """
    held: list[Path] = []
    previous = None
    on_main = threading.current_thread() is threading.main_thread()
    if on_main:

        def _raise(signum: int, frame: FrameType | None) -> None:
            raise _Terminated

        previous = signal.signal(signal.SIGTERM, _raise)
    try:
        deadline = time.monotonic() + timeout
        for path in sorted(set(paths), key=str):
            held.append(_acquire(path, deadline))
        yield
    except _Terminated:
        raise OperationFailed("terminated while writing kubeconfig", "run it again") from None
    finally:
        for lock in reversed(held):
            with contextlib.suppress(FileNotFoundError):
                os.remove(lock)
        if on_main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


def signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def check_unchanged(path: Path, expected: tuple[int, int, int] | None) -> None:
    """Refuse to write when a writer that ignores the lock changed the file meanwhile."""
    if signature(path) != expected:
        raise OperationFailed(
            f"kubeconfig {path} changed while ztctl was updating it "
            "(a tool that does not take kubectl's lock wrote it)",
            "run the command again",
        )


def write_file(path: Path, content: bytes, previous: bytes | None) -> tuple[Path, Path | None]:
    """Replace ``path`` (through symlinks) with ``content``; returns (target, backup).

    ``previous`` is the content read earlier (``None``: the file did not exist); it becomes
    the one backup. Where the file system allows, the backup is the old file itself (a hard
    link taken before the rename, so no second copy is written or fsynced); else a copy.
    """
    target = Path(os.path.realpath(path))
    backup = target.with_name(target.name + BACKUP_SUFFIX) if previous is not None else None
    staged: Path | None = None
    try:
        make_dirs(target.parent, NEW_DIR_MODE)
        if backup is not None:
            staged = _link_old(target)
            if staged is None:
                atomic_write(backup, previous or b"", mode=PRIVATE_FILE_MODE)
        atomic_write(target, content)
        if staged is not None and backup is not None:
            os.chmod(staged, PRIVATE_FILE_MODE)
            os.replace(staged, backup)
            staged = None
    except OSError as exc:
        raise OperationFailed(
            f"cannot write kubeconfig {target}: {exc.strerror or exc}",
            f"check that {target.parent} is writable and the disk is not full; "
            f"the file is unchanged",
        ) from None
    finally:
        if staged is not None:
            with contextlib.suppress(OSError):
                os.unlink(staged)
    return target, backup


def _link_old(target: Path) -> Path | None:
    """A second name for the current file, to become the backup after the replace."""
    staged = target.with_name(f".{target.name}{BACKUP_SUFFIX}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(staged)
    try:
        os.link(target, staged)
    except OSError:
        return None
    return staged
