"""File-system primitives: private directories, atomic replace, append-and-fsync, and
bounded reads.

Everything that writes a file ztctl owns goes through here, so that a crash or a SIGKILL
leaves either the old or the new content, never a torn file, and private files are never
readable by others, not even for an instant. Every file whose path comes from a catalog or
a kubeconfig is read through :func:`read_regular_file`: regular files only, with a size cap,
so ``/dev/zero``, ``/dev/urandom`` or a FIFO cannot make ztctl read forever or hang.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
# Caps for files named by a catalog or kubeconfig (PEM bundles, keys, tokens, kubeconfigs).
MAX_PEM_BYTES = 1024 * 1024
MAX_KUBECONFIG_BYTES = 64 * 1024 * 1024


class NotRegularFile(OSError):
    """The path is a device, FIFO, socket or directory: ztctl reads regular files only."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"{path} is {what}, not a regular file")
        self.path = path
        self.what = what


class TooLarge(OSError):
    """The file is larger than the cap for its kind."""

    def __init__(self, path: Path, limit: int) -> None:
        super().__init__(f"{path} is larger than {_size(limit)}")
        self.path = path
        self.limit = limit


class ShortWrite(OSError):
    """Fewer bytes reached the file than were written (a full disk, a quota)."""


def _size(limit: int) -> str:
    if limit >= 1024 * 1024 and limit % (1024 * 1024) == 0:
        return f"{limit // (1024 * 1024)} MiB"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"


def kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_regular_file(path: Path | str, limit: int) -> bytes:
    """The bytes of ``path`` (symlinks followed), which must be a regular file of at most
    ``limit`` bytes.

    Opened with ``O_NONBLOCK`` so a FIFO cannot block the open, then checked with ``fstat``
    on the open descriptor (no check-then-open race); a file that grows past ``limit``
    while being read is refused too. Raises :class:`NotRegularFile`, :class:`TooLarge`, or
    the ``OSError`` of the open (``FileNotFoundError``, ``PermissionError``, ...).
    """
    return open_regular(path, limit)[0]


def open_regular(path: Path | str, limit: int) -> tuple[bytes, os.stat_result]:
    """:func:`read_regular_file`, with the ``fstat`` of what was read."""
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(path, kind_of(st.st_mode))
        if st.st_size > limit:
            raise TooLarge(path, limit)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1024 * 1024, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise TooLarge(path, limit)
        return b"".join(chunks), st
    finally:
        os.close(fd)


def read_regular_text(path: Path | str, limit: int) -> str:
    """:func:`read_regular_file` decoded as UTF-8 (``UnicodeDecodeError`` on bad bytes)."""
    return read_regular_file(path, limit).decode("utf-8")


def make_dirs(path: Path, mode: int = PRIVATE_DIR_MODE) -> None:
    """``mkdir -p`` where every directory created gets ``mode`` whatever the umask.

    ``Path.mkdir(parents=True)`` gives the parents it creates 0777 & ~umask, which is 0777
    under ``umask 000``; here each new directory is created with ``mode`` and then chmod-ed
    to it (the umask can only remove bits). Existing directories are left alone.
    """
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=mode)
        except FileExistsError:
            continue
        os.chmod(directory, mode)


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700; tighten it if it exists and is looser."""
    make_dirs(path, PRIVATE_DIR_MODE)
    mode = path.stat().st_mode
    if not stat.S_ISDIR(mode):  # a file or a FIFO there: never chmod it
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
    current = stat.S_IMODE(mode)
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
    else 0600) and the existing file's owner and group (so ``sudo ztctl`` writing through a
    symlink to another user's file leaves it theirs), and renamed over the target; then the
    directory is fsynced. ``path`` must already be the final target: callers resolve
    symlinks first when they mean to follow them.
    """
    directory = path.parent
    owner: tuple[int, int] | None = None
    try:
        st = path.stat()
    except FileNotFoundError:
        if mode is None:
            mode = PRIVATE_FILE_MODE
    else:
        if mode is None:
            mode = stat.S_IMODE(st.st_mode)
        owner = (st.st_uid, st.st_gid)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _keep_owner(tmp, owner)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(directory)


def _keep_owner(tmp: Path, owner: tuple[int, int] | None) -> None:
    """Give ``tmp`` the replaced file's owner and group when they differ from ours.

    Only root can give a file away; anyone may set a group they belong to. When that is
    not allowed the rename would change who owns the file, so the write is refused instead
    (a ``PermissionError`` naming the owner).
    """
    if owner is None or not hasattr(os, "chown"):
        return
    current = os.stat(tmp)
    if (current.st_uid, current.st_gid) == owner:
        return
    try:
        os.chown(tmp, owner[0], owner[1])
    except PermissionError:
        raise PermissionError(
            f"the file belongs to uid {owner[0]} gid {owner[1]} and cannot be given back to "
            "them after the write; run as that user"
        ) from None


def append_line_durably(path: Path, line: str) -> None:
    """Append one line to ``path`` (created 0600, tightened to 0600 if looser), flushed and
    fsynced before returning.

    A short write (a full disk) raises :class:`ShortWrite` after cutting the file back to
    its previous length, so the next line does not get glued onto a torn one; the caller
    decides whether the operation that needed the line may go on.
    """
    # O_NONBLOCK: a FIFO put where the log should be fails the open (no reader) or the
    # check below, instead of blocking the command for ever.
    flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
        created = True
    except FileExistsError:
        fd = os.open(path, flags)
        created = False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(path, kind_of(st.st_mode))
        # A new file is exactly 0600 whatever the umask (0277 would make it 0400, and the
        # next append would fail); an existing one is tightened, never loosened.
        if created or stat.S_IMODE(st.st_mode) & 0o077:
            os.fchmod(fd, PRIVATE_FILE_MODE)
        payload = (line.rstrip("\n") + "\n").encode("utf-8")
        start = st.st_size
        written = 0
        try:
            while written < len(payload):
                count = os.write(fd, payload[written:])
                if count <= 0:
                    break
                written += count
        except OSError as exc:
            _truncate_back(fd, start, written)
            raise ShortWrite(
                exc.errno, f"wrote {written} of {len(payload)} bytes: {exc.strerror or exc}"
            ) from None
        if written < len(payload):
            _truncate_back(fd, start, written)
            raise ShortWrite(f"wrote {written} of {len(payload)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)


def _truncate_back(fd: int, start: int, written: int) -> None:
    """Drop a partial line (best effort: a concurrent appender may have written after it)."""
    if written:
        with contextlib.suppress(OSError):
            if os.fstat(fd).st_size == start + written:
                os.ftruncate(fd, start)
