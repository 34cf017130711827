"""Fixtures of the break-glass tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def route_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A real process standing in for an ssh tunnel: its command line carries the marker."""
    control = str(tmp_path / "ssh.ctl")
    marker = f"ControlPath={control}"
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", marker],
        start_new_session=True,
    )
    try:
        yield proc, control
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
