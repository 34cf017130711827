"""A state directory the user cannot use (second hostile tryout, N1) and a relative one (N7).

After `sudo ztctl …` the state directory (or a file in it) belongs to root; a mode 0500 or
0000 directory; a read-only file system. Every command that reads or writes the state ends
with exit 3 naming the path, what is wrong (whose it is, its mode, read-only) and the fix, in
a real subprocess against the lab. Before the fix: `internal error: PermissionError` or
`OSError: [Errno 30]`, exit 1.

The tests run as root here, where permission bits do not stop anyone: the command then runs
under `setpriv` with every capability dropped (still uid 0, so the lab's files stay readable,
but a directory's bits apply to it as to anyone). As another user the bits apply already.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.support.access import ztctl_argv
from tests.support.keyring_backend import BACKEND, ENV_DIR

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions and mounts")

COMMANDS: dict[str, list[str]] = {
    "status": ["status"],
    "logout": ["logout"],
    "break-glass status": ["break-glass", "status"],
    "use-cluster": ["use-cluster", "lab", "--no-probe"],
    "login": ["login", "--no-input"],
}

DROP_CAPS = ["setpriv", "--bounding-set=-all", "--inh-caps=-all"]


@cache
def _unprivileged() -> list[str] | None:
    """The argv prefix that makes permission bits apply, or None when there is none."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    ran = subprocess.run([*DROP_CAPS, "true"], capture_output=True, check=False, timeout=30)
    return DROP_CAPS if ran.returncode == 0 else None


def _need_unprivileged() -> list[str]:
    prefix = _unprivileged()
    if prefix is None:
        pytest.skip("running as root without setpriv able to drop capabilities")
    return prefix


@pytest.fixture
def run(lab: Any, tmp_path: Path) -> Iterator[Any]:
    keyring = tmp_path / "keyring"
    keyring.mkdir()
    kubeconfig = tmp_path / "kubeconfig"

    def _run(
        state: Path, command: str, prefix: list[str], **extra: str
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **lab.env,
            "ZTCTL_STATE_DIR": str(state),
            "KUBECONFIG": str(kubeconfig),
            "PYTHON_KEYRING_BACKEND": BACKEND,
            ENV_DIR: str(keyring),
            "PYTHONPATH": str(REPO),
            "ZTCTL_NO_INPUT": "1",
            **extra,
        }
        return subprocess.run(
            [*prefix, *ztctl_argv(), *COMMANDS[command]],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
            cwd=tmp_path,
        )

    _run.kubeconfig = kubeconfig  # type: ignore[attr-defined]
    yield _run


def _refused(result: subprocess.CompletedProcess[str], *said: str) -> None:
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "internal error" not in result.stderr
    for text in said:
        assert text in result.stderr, result.stderr


@pytest.mark.parametrize("mode", [0o500, 0o000])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_state_dir_without_write_permission_is_exit_3_with_chmod(
    run: Any, tmp_path: Path, command: str, mode: int
) -> None:
    prefix = _need_unprivileged()
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    state.chmod(mode)
    try:
        result = run(state, command, prefix)
    finally:
        state.chmod(0o700)
    _refused(
        result,
        f"error: state directory {state} has mode {mode:04o}, which does not let you use it",
        f"fix: chmod u+rwx {state}, or point ZTCTL_STATE_DIR at a directory of yours",
    )
    assert not run.kubeconfig.exists()
    assert list(state.iterdir()) == []


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_state_dir_of_another_user_names_the_owner_and_chown(
    run: Any, tmp_path: Path, command: str
) -> None:
    prefix = _need_unprivileged()
    if os.geteuid() != 0:
        pytest.skip("giving a directory to another user needs root")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.chown(state, 65534, 65534)
    owner = f"{pwd.getpwuid(65534).pw_name} (uid 65534)"
    me = pwd.getpwuid(os.geteuid()).pw_name
    result = run(state, command, prefix)
    _refused(
        result,
        f"error: state directory {state} belongs to {owner}, not to you ({me})",
        f'fix: sudo chown -R "$USER" {state} (`sudo ztctl` likely created it), or point '
        "ZTCTL_STATE_DIR at a directory of yours",
    )
    assert not run.kubeconfig.exists()


# what inside the state directory belongs to another user -> the commands that touch it
INSIDE = {
    "break-glass": ["status", "break-glass status"],
    "tokens.json": ["logout"],
}


@pytest.mark.parametrize(
    ("inside", "command"), [(name, c) for name, cs in INSIDE.items() for c in cs]
)
def test_a_file_in_the_state_dir_of_another_user_is_exit_3_naming_it(
    run: Any, tmp_path: Path, inside: str, command: str
) -> None:
    prefix = _need_unprivileged()
    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    path = state / inside
    if inside == "tokens.json":
        path.write_text('{"clusters": ["lab"]}\n')
        path.chmod(0o600)
    else:
        path.mkdir(mode=0o700)
    os.chown(path, 65534, 65534)
    owner = f"{pwd.getpwuid(65534).pw_name} (uid 65534)"
    result = run(state, command, prefix)
    _refused(
        result,
        f"error: {path} (in the state directory) belongs to {owner}",
        f'fix: sudo chown -R "$USER" {state} (`sudo ztctl` likely created it)',
    )


def test_a_missing_state_dir_under_an_unwritable_parent_names_the_parent(
    run: Any, tmp_path: Path
) -> None:
    prefix = _need_unprivileged()
    parent = tmp_path / "parent"
    parent.mkdir(mode=0o500)
    try:
        result = run(parent / "state", "logout", prefix)
    finally:
        parent.chmod(0o700)
    _refused(
        result,
        f"error: cannot create state directory {parent / 'state'}: {parent} has mode 0500",
        f"fix: chmod u+rwx {parent}",
    )
    assert not (parent / "state").exists()


@cache
def _mount_prefix() -> list[str] | None:
    """``unshare`` argv mounting a read-only tmpfs on $1 then running the rest, or None."""
    if shutil.which("unshare") is None:
        return None
    base = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    script = 'mount -t tmpfs -o ro tmpfs "$1" && shift && exec "$@"'
    prefix = [*base, "sh", "-c", script, "sh"]
    probe = Path(os.environ.get("TMPDIR", "/tmp"))
    ran = subprocess.run(
        [*prefix, str(probe), "true"], capture_output=True, check=False, timeout=30
    )
    return prefix if ran.returncode == 0 else None


@pytest.mark.parametrize("below", ["", "new"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_state_dir_on_a_read_only_file_system_is_exit_3(
    run: Any, tmp_path: Path, command: str, below: str
) -> None:
    mount = _mount_prefix()
    if mount is None:
        pytest.skip("no private mount namespace here (`unshare -m`/`-rm` refused)")
    mounted = tmp_path / "state"
    mounted.mkdir(mode=0o700)
    state = mounted / below if below else mounted
    result = run(state, command, [*mount, str(mounted)])
    where = (
        f"state directory {state}"
        if not below
        else (f"cannot create state directory {state}: {mounted}")
    )
    _refused(
        result,
        f"error: {where} is on a read-only file system",
        "fix: remount it read-write, or point ZTCTL_STATE_DIR at a directory of yours",
    )


@pytest.mark.parametrize("variable", ["ZTCTL_STATE_DIR", "ZTCTL_CONFIG"])
@pytest.mark.parametrize("value", ["rel/state", " ", "./x", "~user-that-does-not-exist/x"])
def test_a_relative_or_blank_path_variable_is_refused(
    run: Any, tmp_path: Path, variable: str, value: str
) -> None:
    state = tmp_path / "state"
    result = run(state, "status", [], **{variable: value})
    _refused(
        result,
        f"error: {variable}={value!r} is not an absolute path",
        f"fix: set {variable} to an absolute path (e.g. ",
        "or unset it for the default",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keyring"]  # nothing created
