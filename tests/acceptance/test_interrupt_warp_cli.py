"""Ctrl-C of `ztctl status` or `ztctl login` while warp-cli hangs must not
leave that warp-cli running (ztctl starts it in a session of its own so a timeout can kill
its group, which also keeps the terminal's Ctrl-C from reaching it)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.test_interrupt_exit_130 import (
    ZTCTL,
    _alive,
    _warp_cli_processes,
    children,
    cmdline,
    env_for,
    wait_for,
)

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="needs /proc to find child processes"
)


@pytest.mark.parametrize("argv", [["status"], ["status", "--json"], ["login", "--no-browser"]])
def test_sigint_with_a_hung_warp_cli_leaves_no_warp_cli(
    lab: Any, tmp_path: Path, argv: list[str]
) -> None:
    lab.set_many("warp.hang=on")
    proc = subprocess.Popen(
        [*ZTCTL, *argv],
        env=env_for(lab, tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    leftover: list[int] = []
    try:
        seen: dict[int, float] = {}

        def warp_cli_is_hung() -> bool:
            now = time.monotonic()
            for child in children(proc.pid):
                if "warpcli" in cmdline(child):
                    seen.setdefault(child, now)
            return any(now - t >= 0.3 and "warpcli" in cmdline(c) for c, t in seen.items())

        wait_for(warp_cli_is_hung, f"`ztctl {' '.join(argv)}` to wait on the hung warp-cli")
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        time.sleep(0.2)
        leftover = [pid for pid in _warp_cli_processes(lab.dir) if _alive(pid)]
        for pid in leftover:  # never leak what this test caused
            os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 130, err.decode(errors="replace")
    assert b"Traceback" not in err
    assert leftover == [], "the hung warp-cli outlived the interrupted command"
