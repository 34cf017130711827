"""Files under hostile conditions (issue 15): bounded reads of devices and FIFOs, a FIFO as
kubeconfig, short audit writes on a full disk, torn audit lines, a loose audit.jsonl,
kubeconfig ownership under sudo, and new directories under umask 000."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ztctl.adapters import fs
from ztctl.core import audit
from ztctl.errors import InvalidInput

FIXED_LIMIT = 1024


def test_read_regular_file_reads_a_small_file(tmp_path: Path) -> None:
    path = tmp_path / "ca.pem"
    path.write_bytes(b"x" * FIXED_LIMIT)
    assert fs.read_regular_file(path, FIXED_LIMIT) == b"x" * FIXED_LIMIT


def test_read_regular_file_refuses_a_file_over_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "ca.pem"
    path.write_bytes(b"x" * (FIXED_LIMIT + 1))
    with pytest.raises(fs.TooLarge):
        fs.read_regular_file(path, FIXED_LIMIT)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_read_regular_file_refuses_devices(device: str) -> None:
    with pytest.raises(fs.NotRegularFile) as info:
        fs.read_regular_file(device, FIXED_LIMIT)
    assert info.value.what == "a character device"


def _raised_without_blocking(fifo: Path, read: Callable[[], object]) -> BaseException:
    """What ``read()`` raised; fails the test (and unblocks the reader) if it blocks."""
    result: list[BaseException] = []

    def run() -> None:
        try:
            read()
        except BaseException as exc:  # handed to the test thread
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(5)
    if thread.is_alive():  # unblock the reader so the test process can exit
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        thread.join(5)
        pytest.fail("reading a FIFO blocked")
    assert result, "reading a FIFO succeeded"
    return result[0]


def test_read_regular_file_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    raised = _raised_without_blocking(fifo, lambda: fs.read_regular_file(fifo, FIXED_LIMIT))
    assert isinstance(raised, fs.NotRegularFile)


def test_read_regular_file_follows_a_symlink_to_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"ok")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert fs.read_regular_file(tmp_path / "link", FIXED_LIMIT) == b"ok"


def test_a_fifo_as_kubeconfig_is_invalid_input_not_a_hang(tmp_path: Path) -> None:
    from ztctl.core.kubeconfig.files import read_file

    fifo = tmp_path / "config"
    os.mkfifo(fifo)
    raised = _raised_without_blocking(fifo, lambda: read_file(fifo))
    assert isinstance(raised, InvalidInput) and "FIFO" in raised.message


def test_a_fifo_as_kubeconfig_makes_use_cluster_exit_3(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "apiVersion: ztctl/v1\nkind: ClusterCatalog\nteam: acme\nclusters:\n"
        "  - name: lab\n    server: https://127.0.0.1:6443\n    addresses: [127.0.0.1]\n"
        "    certificateAuthorityData: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n"
        "    credentials: {accessToken: {app: https://lab.example}}\n"
    )
    fifo = tmp_path / "kubeconfig"
    os.mkfifo(fifo)
    env = {
        **os.environ,
        "ZTCTL_CONFIG": str(tmp_path / "none.toml"),
        "ZTCTL_STATE_DIR": str(tmp_path / "state"),
        "KUBECONFIG": str(fifo),
    }
    run = subprocess.run(
        [sys.executable, "-m", "ztctl", "--catalog", str(catalog), "use-cluster", "lab"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert run.returncode == 3, run.stderr
    assert "FIFO" in run.stderr


# -- the audit log ------------------------------------------------------------------------


def _full_disk(monkeypatch: pytest.MonkeyPatch, allowed: int) -> None:
    """os.write that stores at most ``allowed`` bytes per call, then fails with ENOSPC."""
    import errno

    real_write = os.write
    state = {"calls": 0}

    def write(fd: int, data: bytes) -> int:
        state["calls"] += 1
        if state["calls"] == 1 and allowed:
            return real_write(fd, bytes(data)[:allowed])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fs.os, "write", write)


def test_a_short_audit_write_fails_closed_and_leaves_no_torn_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit.record(tmp_path, "first", cluster="a")
    before = (tmp_path / audit.AUDIT_FILE).read_bytes()
    with monkeypatch.context() as patch:
        _full_disk(patch, allowed=7)
        with pytest.raises(audit.AuditWriteFailed) as info:
            audit.record(tmp_path, "second", cluster="b")
    assert info.value.exit_code == 1 and "audit" in info.value.message and info.value.fix
    assert (tmp_path / audit.AUDIT_FILE).read_bytes() == before
    audit.record(tmp_path, "third", cluster="c")
    assert [e["event"] for e in audit.read_events(tmp_path)] == ["first", "third"]


def test_a_write_that_stores_nothing_is_a_failure_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def write(fd: int, data: bytes) -> int:
        return 0

    monkeypatch.setattr(fs.os, "write", write)
    with pytest.raises(audit.AuditWriteFailed):
        audit.record(tmp_path, "x")


def test_an_unwritable_audit_log_is_a_typed_failure(tmp_path: Path) -> None:
    (tmp_path / audit.AUDIT_FILE).mkdir()  # not even root can append to a directory
    with pytest.raises(audit.AuditWriteFailed):
        audit.record(tmp_path, "x")


def test_readers_skip_a_torn_line_and_recover_an_event_glued_onto_it(tmp_path: Path) -> None:
    good = json.dumps({"ts": "2026-01-01T00:00:00Z", "event": "a", "user": "u"})
    glued = json.dumps({"ts": "2026-01-01T00:00:01Z", "event": "b", "user": "u"})
    torn = '{"ts": "2026-01-01T00:00:00Z", "event": "bro'
    (tmp_path / audit.AUDIT_FILE).write_text(f"{good}\n{torn}{glued}\n{torn}", encoding="utf-8")
    assert [e["event"] for e in audit.read_events(tmp_path)] == ["a", "b"]


def test_a_loose_audit_log_is_tightened_to_0600(tmp_path: Path) -> None:
    path = tmp_path / audit.AUDIT_FILE
    path.write_text("")
    path.chmod(0o644)
    audit.record(tmp_path, "x")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- kubeconfig ownership and new directories --------------------------------------------

OTHER_UID, OTHER_GID = 4242, 4343


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
def test_a_write_through_a_symlink_keeps_the_targets_owner_and_group(tmp_path: Path) -> None:
    from ztctl.core.kubeconfig.store import write_file

    home = tmp_path / "alice"
    home.mkdir()
    target = home / "config"
    target.write_text("apiVersion: v1\nkind: Config\n")
    target.chmod(0o600)
    os.chown(target, OTHER_UID, OTHER_GID)
    link = tmp_path / "root-kubeconfig"
    link.symlink_to(target)
    written, _backup = write_file(link, b"apiVersion: v1\nkind: Config\nclusters: []\n", b"")
    st = target.stat()
    assert written == target
    assert (st.st_uid, st.st_gid) == (OTHER_UID, OTHER_GID)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert target.read_bytes().endswith(b"clusters: []\n")


def test_atomic_write_refuses_to_change_the_owner_when_it_cannot_keep_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"old")
    real_stat = os.stat

    def stat_as_other(p: object, *args: object, **kwargs: object) -> os.stat_result:
        st = real_stat(p, *args, **kwargs)  # type: ignore[arg-type]
        if Path(str(p)) == path:
            fields = list(st)
            fields[4], fields[5] = OTHER_UID, OTHER_GID
            return os.stat_result(fields)
        return st

    def no_chown(*_args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(Path, "stat", lambda self, **kw: stat_as_other(self, **kw))
    monkeypatch.setattr(fs.os, "chown", no_chown)
    with pytest.raises(PermissionError, match="uid 4242"):
        fs.atomic_write(path, b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_new_kubeconfig_directories_are_0700_even_under_umask_000(tmp_path: Path) -> None:
    from ztctl.core.kubeconfig.store import write_file

    previous = os.umask(0)
    try:
        path = tmp_path / "home" / ".kube" / "config"
        write_file(path, b"apiVersion: v1\nkind: Config\n", None)
    finally:
        os.umask(previous)
    for directory in (tmp_path / "home", tmp_path / "home" / ".kube"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_private_state_directories_are_0700_under_umask_000(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        fs.ensure_private_dir(tmp_path / "a" / "b" / "state")
    finally:
        os.umask(previous)
    for part in ("a", "a/b", "a/b/state"):
        assert stat.S_IMODE((tmp_path / part).stat().st_mode) == 0o700, part
