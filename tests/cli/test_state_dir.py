"""A state directory that can never be one (hostile-user finding 9).

`ZTCTL_STATE_DIR` (or the platform's state directory) pointing at a file, a FIFO, a dangling
symlink, a symlink loop or below a file: every command that needs it ends with exit 3, the
path, what is wrong and the fix, in a real subprocess against the lab. Before the fix they
ended in `internal error: NotADirectoryError` (exit 1), and `use-cluster` wrote the kubeconfig
with no audit record. Nothing is written anywhere, and the bad path is left as it was.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.access import ztctl_argv
from tests.support.keyring_backend import BACKEND, ENV_DIR

REPO = Path(__file__).resolve().parents[2]
REASON = "INC-9 state directory test: the zero trust path is down"

COMMANDS: dict[str, list[str]] = {
    "status": ["status"],
    "status --json": ["status", "--json"],
    "logout": ["logout"],
    "login": ["login"],
    "break-glass status": ["break-glass", "status"],
    "break-glass end": ["break-glass", "end", "--all"],
    "break-glass start": ["break-glass", "start", "lab", "--force", "--reason", REASON],
    "use-cluster": ["use-cluster", "lab", "--no-probe"],
    "credential": ["credential", "lab-sso"],
}


def _file(path: Path) -> str:
    path.write_text("not a directory\n")
    return "is a file, not a directory"


def _fifo(path: Path) -> str:
    os.mkfifo(path)
    return "is a FIFO (named pipe), not a directory"


def _dangling(path: Path) -> str:
    path.symlink_to(path.parent / "gone" / "state")
    return f"is a symlink to {path.parent / 'gone' / 'state'}, which does not exist"


def _loop(path: Path) -> str:
    path.symlink_to(path.name)
    return "is a symlink loop"


def _under_a_file(path: Path) -> str:
    path.write_text("x")
    return "has a part that is not a directory"


# name -> (make the bad path, the sub-path given as the state directory)
BAD: dict[str, tuple[Callable[[Path], str], str]] = {
    "file": (_file, ""),
    "fifo": (_fifo, ""),
    "dangling symlink": (_dangling, ""),
    "symlink loop": (_loop, ""),
    "below a file": (_under_a_file, "sub"),
}


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and symlinks as on POSIX")
@pytest.mark.parametrize("bad", list(BAD))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_state_dir_that_cannot_be_one_is_exit_3_with_the_fix(
    lab: Any, tmp_path: Path, bad: str, command: str
) -> None:
    make, below = BAD[bad]
    target = tmp_path / "state"
    said = make(target)
    state = target / below if below else target
    before = os.lstat(target)
    kubeconfig = tmp_path / "kubeconfig"
    keyring = tmp_path / "keyring"
    keyring.mkdir()
    env = {
        "ZTCTL_STATE_DIR": str(state),
        "KUBECONFIG": str(kubeconfig),
        "PYTHON_KEYRING_BACKEND": BACKEND,
        ENV_DIR: str(keyring),
        "PYTHONPATH": str(REPO),
        "ZTCTL_NO_INPUT": "1",
    }
    result = lab.run([*ztctl_argv(), *COMMANDS[command]], env=env, input="")
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "internal error" not in result.stderr + result.stdout
    text = result.stdout if command.endswith("--json") else result.stderr
    assert f"state directory {state}" in text and said in text
    assert "point ZTCTL_STATE_DIR at a directory" in text
    assert not kubeconfig.exists()  # use-cluster wrote nothing without its audit record
    after = os.lstat(target)
    assert (after.st_mode, after.st_size) == (before.st_mode, before.st_size)  # untouched
    assert stat.S_IMODE(after.st_mode) == stat.S_IMODE(before.st_mode)


def test_the_platform_state_dir_as_a_file_names_the_fix(lab: Any, tmp_path: Path) -> None:
    (tmp_path / "ztctl").write_text("x")
    env = {"XDG_STATE_HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "kubeconfig")}
    # the lab's environment without its ZTCTL_STATE_DIR, to reach the platform's directory
    run_env = {k: v for k, v in lab.env.items() if k != "ZTCTL_STATE_DIR"}
    result = subprocess.run(
        [*ztctl_argv(), "status"],
        env={**run_env, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3, result.stderr
    assert f"state directory {tmp_path / 'ztctl'} is a file, not a directory" in result.stderr
    assert "move it out of the way (ztctl creates the directory), or set ZTCTL_STATE_DIR" in (
        result.stderr
    )
