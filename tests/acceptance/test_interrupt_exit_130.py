"""Acceptance: Ctrl-C (SIGINT) ends a running command with exit code 130.

Two commands that run long enough to be interrupted in the middle of real work:
``ztctl probe --count`` between samples, and ``ztctl doctor`` while the WARP client hangs.
The signal is sent only once the process is demonstrably inside that work (a sample line on
stderr; a warp-cli child process), never after a fixed sleep.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ZTCTL = [sys.executable, "-m", "ztctl"]

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="needs /proc to find child processes"
)


def env_for(lab: Any, tmp_path: Path) -> dict[str, str]:
    kubeconfig = tmp_path / "kubeconfig"
    shutil.copyfile(lab.kubeconfig, kubeconfig)
    env = {**lab.env, "ZTCTL_STATE_DIR": str(tmp_path / "state"), "KUBECONFIG": str(kubeconfig)}
    env.pop("NO_COLOR", None)
    return env


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def wait_for(condition: Any, what: str, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def test_sigint_during_probe_count_exits_130(lab: Any, tmp_path: Path) -> None:
    stderr_path = tmp_path / "stderr"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [*ZTCTL, "probe", "lab", "--count", "10000", "--interval", "0.2"],
            env=env_for(lab, tmp_path),
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        try:
            # the first sample line: the loop is running
            wait_for(lambda: b"1/10000" in stderr_path.read_bytes(), "the first probe sample")
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130, stderr_path.read_text(errors="replace")
    assert b"Traceback" not in stderr_path.read_bytes()
    assert b"interrupted" in stderr_path.read_bytes()


def test_sigint_during_doctor_with_a_hung_warp_cli_exits_130(lab: Any, tmp_path: Path) -> None:
    lab.set_many("warp.hang=on")
    proc = subprocess.Popen(
        [*ZTCTL, "doctor", "lab", "--timeout", "20"],
        env=env_for(lab, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    hung: list[int] = []
    try:
        seen: dict[int, float] = {}

        def warp_cli_is_hung() -> bool:
            # a warp-cli child still there 0.5 s after we first saw it: the hung call
            # (quick calls such as `--version` come and go)
            now = time.monotonic()
            for child in children(proc.pid):
                if "warpcli" in cmdline(child):
                    seen.setdefault(child, now)
            hung[:] = [c for c, t in seen.items() if now - t >= 0.5 and "warpcli" in cmdline(c)]
            return bool(hung)

        wait_for(warp_cli_is_hung, "doctor to be waiting on the hung warp-cli")
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        # What ztctl killed may take the kernel a moment to tear down: wait until it is gone,
        # for a few seconds at most.
        gone_by = time.monotonic() + 5
        while True:
            leftover = [pid for pid in _warp_cli_processes(lab.dir) if _alive(pid)]
            if not leftover or time.monotonic() > gone_by:
                break
            time.sleep(0.05)
        # never leak them from a test: these are processes this test caused
        for pid in leftover:
            os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 130, err.decode(errors="replace")
    assert b"Traceback" not in err
    assert b"interrupted" in err
    # ztctl started the hung warp-cli in its own session (so a timeout can kill its group):
    # Ctrl-C does not reach it, so ztctl must end it on the way out.
    assert leftover == [], "the hung warp-cli outlived the interrupted doctor"


def _warp_cli_processes(lab_dir: Path) -> list[int]:
    """Every stand-in warp-cli process of this lab (whoever its parent is now)."""
    marker = f"ztctl.lab.warpcli --lab-dir {lab_dir}"
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and marker in cmdline(int(e))]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_sigint_under_json_still_prints_one_json_document(lab: Any, tmp_path: Path) -> None:
    import json

    stderr_path = tmp_path / "stderr"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [*ZTCTL, "probe", "lab", "--count", "10000", "--interval", "0.2", "--json"],
            env=env_for(lab, tmp_path),
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        try:
            wait_for(lambda: b"1/10000" in stderr_path.read_bytes(), "the first probe sample")
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130
    document = json.loads(out)
    assert document["schemaVersion"] == 1
    assert document["error"]["code"] == 130
    assert document["error"]["kind"] == "interrupted"
