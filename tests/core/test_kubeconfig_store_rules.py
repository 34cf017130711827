"""Writing kubeconfig files: client-go's lock, the one backup, the atomic replace (real files).

Rules: the lock is ``<file>.lock`` made with O_EXCL and mode 0, taken for every file in
sorted order and always removed; a held lock is waited for within the budget, then refused
with exit code 1 and the `rm` that clears a stale one; a write goes through symlinks to the
target, keeps the previous content as ``<target>.ztctl.bak`` (0600) and the file's mode.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from ztctl.core.errors import EXIT_FAILED, EXIT_INVALID_INPUT, InvalidInput, OperationFailed
from ztctl.core.kubeconfig.store import (
    _age,
    backup_path,
    check_unchanged,
    lock_path,
    locked,
    signature,
    write_file,
)


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
    (121, ", created 2 min ago"),
    (7100, ", created 118 min ago"),
    (7300, ", created 2.0 h ago"),
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


def test_a_lock_released_meanwhile_is_taken(tmp_path: Path) -> None:
    config = tmp_path / "config"
    lock_path(config).write_text("")
    threading.Timer(0.2, lock_path(config).unlink).start()
    with locked([config], timeout=2.0):
        assert lock_path(config).exists()
    assert not lock_path(config).exists()


def test_a_lock_that_cannot_be_created_is_invalid_input(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = blocker / "config"  # its directory is a file
    with pytest.raises(InvalidInput) as caught, locked([config]):
        pass  # pragma: no cover
    assert caught.value.exit_code == EXIT_INVALID_INPUT
    assert caught.value.message.startswith(f"cannot lock kubeconfig {config}: creating ")
    assert "nothing was written" in caught.value.fix


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
    assert "changed while ztctl was updating it" in caught.value.message
    config.write_text("ab")
    with pytest.raises(OperationFailed):
        check_unchanged(config, first)


def test_a_new_file_is_private_and_has_no_backup(tmp_path: Path) -> None:
    config = tmp_path / "new" / "config"
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
    target, backup = write_file(config, b"new", b"old")
    assert target == config and backup == tmp_path / "config.ztctl.bak"
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
    assert caught.value.message.startswith(f"cannot write kubeconfig {blocker / 'config'}: ")
    assert "the file is unchanged" in caught.value.fix
    assert blocker.read_text() == ""
