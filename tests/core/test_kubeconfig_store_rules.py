"""Writing kubeconfig files: client-go's lock, the one backup, the atomic replace (real files).

Rules: the lock is ``<file>.lock`` made with O_EXCL and mode 0, taken for every file in
sorted order and always removed; a held lock is waited for within the budget, then refused
with exit code 1 and the `rm` that clears a stale one; a write goes through symlinks to the
target, keeps the previous content as ``<target>.ztctl.bak`` (0600) and the file's mode.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import threading
import time
from pathlib import Path

import pytest

from ztctl.core.kubeconfig import store
from ztctl.core.kubeconfig.store import (
    _age,
    _cannot_lock,
    backup_path,
    check_unchanged,
    lock_path,
    locked,
    signature,
    write_file,
)
from ztctl.errors import EXIT_FAILED, EXIT_INVALID_INPUT, InvalidInput, OperationFailed


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_lock_and_backup_names(tmp_path: Path) -> None:
    config = tmp_path / "config"
    assert lock_path(config) == tmp_path / "config.lock"
    assert backup_path(config) == tmp_path / "config.ztctl.bak"
    real = tmp_path / "dotfiles" / "kube.yaml"
    real.parent.mkdir()
    real.write_text("x")
    config.symlink_to(real)
    assert lock_path(config) == tmp_path / "config.lock"  # the lock is next to the link
    assert backup_path(config) == real.parent / "kube.yaml.ztctl.bak"  # the backup is not


# (age of the lock file in seconds, how the message says it)
AGES = [
    (0, ", created 0 s ago"),
    (5, ", created 5 s ago"),
    (119, ", created 119 s ago"),
    (120, ", created 2 min ago"),
    (121, ", created 2 min ago"),
    (7100, ", created 118 min ago"),
    (7200, ", created 2.0 h ago"),
    (7300, ", created 2.0 h ago"),
    (8101, ", created 2.3 h ago"),  # 2.2503 h: tenths of an hour, rounded
    (36000, ", created 10.0 h ago"),
]


@pytest.mark.parametrize(("seconds", "text"), AGES)
def test_lock_age(tmp_path: Path, seconds: int, text: str) -> None:
    lock = tmp_path / "config.lock"
    lock.write_text("")
    then = time.time() - seconds
    os.utime(lock, (then, then))
    assert _age(lock) == text


def test_lock_age_of_a_vanished_lock(tmp_path: Path) -> None:
    assert _age(tmp_path / "gone.lock") == ""


def test_locks_are_exclusive_mode_0_and_removed(tmp_path: Path) -> None:
    b, a = tmp_path / "b" / "config", tmp_path / "a" / "config"
    with locked([b, a, b]):
        for path in (a, b):
            assert lock_path(path).exists() and mode(lock_path(path)) == 0
        with pytest.raises(OperationFailed), locked([a], timeout=0.05):  # a second writer
            pass  # pragma: no cover
        assert lock_path(a).exists()  # the failed writer did not remove ours
    assert not lock_path(a).exists() and not lock_path(b).exists()


def test_locks_are_removed_when_the_writer_fails(tmp_path: Path) -> None:
    config = tmp_path / "config"
    with pytest.raises(RuntimeError), locked([config]):
        raise RuntimeError("boom")
    assert not lock_path(config).exists()


def test_a_held_lock_is_refused_within_the_budget(tmp_path: Path) -> None:
    config = tmp_path / "config"
    lock_path(config).write_text("")
    os.utime(lock_path(config), (time.time() - 30, time.time() - 30))
    started = time.monotonic()
    with pytest.raises(OperationFailed) as caught, locked([config], timeout=0.3):
        pass  # pragma: no cover
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 1.0
    error = caught.value
    assert error.exit_code == EXIT_FAILED
    assert error.message == (
        f"kubeconfig {config} is locked: {lock_path(config)} exists, created 30 s ago "
        "(kubectl or ztctl is writing it, or a writer was killed)"
    )
    assert f"`rm {lock_path(config)}`" in error.fix
    assert lock_path(config).exists()  # someone else's lock is never removed


def test_a_lock_released_meanwhile_is_taken_soon(tmp_path: Path) -> None:
    config = tmp_path / "config"
    lock_path(config).write_text("")
    threading.Timer(0.1, lock_path(config).unlink).start()
    started = time.monotonic()
    with locked([config], timeout=2.0):
        waited = time.monotonic() - started
        assert lock_path(config).exists()
    assert not lock_path(config).exists()
    assert waited < 0.45  # retried with a short backoff, not once a second


def test_locks_in_new_directories(tmp_path: Path) -> None:
    config = tmp_path / "new" / "kube" / "config"
    with locked([config]):
        assert lock_path(config).exists()
    assert mode(tmp_path / "new" / "kube") == 0o700  # the directory that holds it


def test_a_lock_that_cannot_be_created_is_invalid_input(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = blocker / "config"  # its directory is a file
    with pytest.raises(InvalidInput) as caught, locked([config]):
        pass  # pragma: no cover
    assert caught.value.exit_code == EXIT_INVALID_INPUT
    assert caught.value.message == (
        f"cannot lock kubeconfig {config}: creating {lock_path(config)} failed: Not a directory"
    )
    assert caught.value.fix == f"check {blocker}; nothing was written"


def test_a_lock_directory_replaced_by_a_file_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock exists (EEXIST) and, before it is waited for, its directory became a file:
    refused at once, naming the directory (waiting would never end)."""
    kube = tmp_path / "kube"
    kube.mkdir()
    config = kube / "config"
    real_open = os.open

    def racing_open(path: object, flags: int, *args: object, **kwargs: object) -> int:
        if str(path) == str(lock_path(config)):
            kube.rmdir()
            kube.write_text("")
            raise FileExistsError(errno.EEXIST, "File exists")
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store.os, "open", racing_open)
    with pytest.raises(InvalidInput) as caught, locked([config], timeout=5):
        pass  # pragma: no cover
    monkeypatch.undo()
    assert (caught.value.message, caught.value.fix) == (
        f"cannot lock kubeconfig {config}: creating {lock_path(config)} failed: "
        f"{kube} is not a directory",
        f"check {kube}; nothing was written",
    )


@pytest.mark.parametrize(
    ("denied", "fix"),
    [
        (
            True,
            "kubectl needs write access to /k too: make it writable, or leave /k/config out of "
            "KUBECONFIG; nothing was written",
        ),
        (False, "check /k; nothing was written"),
    ],
)
def test_cannot_lock_messages(denied: bool, fix: str) -> None:
    config = Path("/k/config")
    error = _cannot_lock(config, lock_path(config), "Permission denied", denied=denied)
    assert error.message == (
        "cannot lock kubeconfig /k/config: creating /k/config.lock failed: Permission denied"
    )
    assert error.fix == fix and error.exit_code == EXIT_INVALID_INPUT
    assert _cannot_lock(config, lock_path(config), "x").fix == "check /k; nothing was written"


def test_signature_and_unchanged(tmp_path: Path) -> None:
    config = tmp_path / "config"
    assert signature(config) is None
    check_unchanged(config, None)
    config.write_text("a")
    first = signature(config)
    assert first is not None and first[1] == 1
    check_unchanged(config, first)
    with pytest.raises(OperationFailed) as caught:
        check_unchanged(config, None)
    assert caught.value.message == (
        f"kubeconfig {config} changed while ztctl was updating it "
        "(a tool that does not take kubectl's lock wrote it)"
    )
    assert caught.value.fix == "run the command again"
    config.write_text("ab")
    with pytest.raises(OperationFailed):
        check_unchanged(config, first)


def test_a_new_file_is_private_and_has_no_backup(tmp_path: Path) -> None:
    config = tmp_path / "new" / "kube" / "config"
    target, backup = write_file(config, b"new", None)
    assert (target, backup) == (config, None)
    assert config.read_bytes() == b"new" and mode(config) == 0o600
    assert mode(config.parent) == 0o700
    assert sorted(p.name for p in config.parent.iterdir()) == ["config"]


@pytest.mark.parametrize("file_mode", [0o600, 0o644, 0o640])
def test_a_rewrite_keeps_the_mode_and_one_private_backup(tmp_path: Path, file_mode: int) -> None:
    config = tmp_path / "config"
    config.write_bytes(b"old")
    config.chmod(file_mode)
    old_inode = config.stat().st_ino
    target, backup = write_file(config, b"new", b"old")
    assert target == config and backup == tmp_path / "config.ztctl.bak"
    assert backup.stat().st_ino == old_inode  # the old file itself, not a second copy
    assert config.read_bytes() == b"new" and mode(config) == file_mode
    assert backup.read_bytes() == b"old" and mode(backup) == 0o600
    write_file(config, b"newer", b"new")
    assert backup.read_bytes() == b"new"  # one backup: the previous content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config", "config.ztctl.bak"]


def test_a_write_through_a_symlink_replaces_the_target(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "kube.yaml"
    real.parent.mkdir()
    real.write_bytes(b"old")
    config = tmp_path / "config"
    config.symlink_to(real)
    target, backup = write_file(config, b"new", b"old")
    assert target == real and config.is_symlink()
    assert real.read_bytes() == b"new"
    assert backup == real.parent / "kube.yaml.ztctl.bak" and backup.read_bytes() == b"old"


def test_a_failed_write_leaves_the_file_and_no_litter(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OperationFailed) as caught:
        write_file(blocker / "config", b"new", None)
    assert caught.value.message == f"cannot write kubeconfig {blocker / 'config'}: Not a directory"
    assert caught.value.fix == (
        f"check that {blocker} is writable and the disk is not full; the file is unchanged"
    )
    assert blocker.read_text() == ""


@pytest.mark.parametrize("previous", [b"old", b""])
def test_without_hard_links_the_backup_is_a_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, previous: bytes
) -> None:
    """File systems without hard links (some network and FUSE mounts)."""

    def no_link(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_link)
    config = tmp_path / "config"
    config.write_bytes(previous)
    (tmp_path / "config.ztctl.bak").write_bytes(b"older")
    (tmp_path / "config.ztctl.bak").chmod(0o644)  # a backup left readable by an old version
    _target, backup = write_file(config, b"new", previous)
    assert config.read_bytes() == b"new"
    assert backup is not None and backup.read_bytes() == previous and mode(backup) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config", "config.ztctl.bak"]


def test_a_write_that_fails_late_leaves_the_file_and_removes_its_staging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(path: Path, data: bytes, *, mode: int | None = None) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "atomic_write", disk_full)
    config = tmp_path / "config"
    config.write_bytes(b"old")
    with pytest.raises(OperationFailed) as caught:
        write_file(config, b"new", b"old")
    assert caught.value.message == f"cannot write kubeconfig {config}: No space left on device"
    assert config.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]  # no staged hard link


class Clock:
    """A stand-in for the store's clock: sleeping advances it; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert len(self.sleeps) < 100, "retrying without end"
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


class Jitter:
    """The store's random jitter, at its low end, checking the range asked for."""

    def uniform(self, low: float, high: float) -> float:
        assert (low, high) == (0.5, 1.0)
        return low


def test_a_held_lock_is_retried_with_doubling_capped_backoff_until_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(store, "time", clock)
    monkeypatch.setattr(store, "random", Jitter())
    config = tmp_path / "config"
    lock_path(config).write_text("")
    with pytest.raises(OperationFailed), locked([config], timeout=1.0):
        pass  # pragma: no cover
    # half of 10 ms, doubling, capped at half of 250 ms; the last sleep ends at the deadline
    assert clock.sleeps[:7] == [0.005, 0.01, 0.02, 0.04, 0.08, 0.125, 0.125]
    assert round(sum(clock.sleeps), 6) == 1.0
    assert 0 < clock.sleeps[-1] <= 0.125


def test_locks_are_taken_in_the_order_of_the_path_strings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[str] = []
    acquire = store._acquire

    def recording(path: Path, deadline: float) -> Path:
        taken.append(str(path.relative_to(tmp_path)))
        return acquire(path, deadline)

    monkeypatch.setattr(store, "_acquire", recording)
    paths = [tmp_path / "a" / "b", tmp_path / "a-b", tmp_path / "a" / "b"]
    with locked(paths):
        pass
    assert taken == ["a-b", "a/b"]  # as strings: '-' sorts before '/'


def test_sigterm_while_holding_the_locks_removes_them(tmp_path: Path) -> None:
    config = tmp_path / "config"
    reached_outside: list[int] = []

    def outside(signum: int, frame: object) -> None:  # the handler before the write
        reached_outside.append(signum)

    previous = signal.signal(signal.SIGTERM, outside)
    try:
        with pytest.raises(OperationFailed) as caught, locked([config]):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # pragma: no cover - the signal arrives first
        assert (caught.value.message, caught.value.fix) == (
            "terminated while writing kubeconfig",
            "run it again",
        )
        assert not lock_path(config).exists()
        assert reached_outside == []  # the write's own handler took it
        assert signal.getsignal(signal.SIGTERM) is outside  # and the old one is back
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_locks_from_another_thread_leave_signals_alone(tmp_path: Path) -> None:
    config = tmp_path / "config"
    before = signal.getsignal(signal.SIGTERM)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with locked([config]):
                assert lock_path(config).exists()
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    thread.join(10)
    assert errors == [] and not lock_path(config).exists()
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_lock_someone_removed_meanwhile_is_no_error(tmp_path: Path) -> None:
    config = tmp_path / "config"
    with locked([config]):
        lock_path(config).unlink()


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        (errno.ENAMETOOLONG, "check {parent}; nothing was written"),
        (
            errno.EACCES,
            "kubectl needs write access to {parent} too: make it writable, or leave {path} "
            "out of KUBECONFIG; nothing was written",
        ),
        (
            errno.EROFS,
            "kubectl needs write access to {parent} too: make it writable, or leave {path} "
            "out of KUBECONFIG; nothing was written",
        ),
    ],
)
def test_a_lock_the_system_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: int, fix: str
) -> None:
    real_open = os.open

    def refusing(path: object, *args: object, **kwargs: object) -> int:
        if str(path).endswith(".lock"):
            raise OSError(error, os.strerror(error))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refusing)
    config = tmp_path / "config"
    with pytest.raises(InvalidInput) as caught, locked([config]):
        pass  # pragma: no cover
    assert caught.value.message == (
        f"cannot lock kubeconfig {config}: creating {lock_path(config)} failed: "
        f"{os.strerror(error)}"
    )
    assert caught.value.fix == fix.format(parent=tmp_path, path=config)


def test_a_really_long_name_cannot_be_locked(tmp_path: Path) -> None:
    config = tmp_path / ("k" * 255)  # the file name is allowed; with `.lock` it is too long
    with pytest.raises(InvalidInput) as caught, locked([config]):
        pass  # pragma: no cover
    assert caught.value.message.endswith("failed: File name too long")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (119.4, ", created 119 s ago"),
        (120.0, ", created 2 min ago"),
        (7199.0, ", created 120 min ago"),
        (7200.0, ", created 2.0 h ago"),
    ],
)
def test_lock_age_boundaries_on_a_stand_in_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seconds: float, text: str
) -> None:
    lock = tmp_path / "config.lock"
    lock.write_text("")
    clock = Clock()
    clock.now = lock.lstat().st_mtime + seconds
    monkeypatch.setattr(store, "time", clock)
    assert _age(lock) == text
