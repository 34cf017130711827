"""Every child whose output ztctl reads is read with a cap (hostile finding 3): a tool that
prints without end (`exec cat /dev/zero`) is stopped with a clear message, in bounded time
and memory, never read whole into memory."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ztctl.adapters.procs import OUTPUT_LIMIT, OutputTooLarge, run_capped


def test_a_normal_answer_is_read_whole_with_its_exit_code() -> None:
    done = run_capped(["sh", "-c", "printf out; printf err >&2; exit 3"], timeout=10)
    assert (done.returncode, done.out, done.err) == (3, "out", "err")
    fed = run_capped(["cat"], timeout=10, input=b"x" * 300_000)  # more than a pipe holds
    assert fed.stdout == b"x" * 300_000


@pytest.mark.parametrize(
    ("script", "stream"),
    [("exec cat /dev/zero", "stdout"), ("exec cat /dev/zero >&2", "stderr")],
)
def test_a_flood_is_stopped_at_the_cap(script: str, stream: str) -> None:
    started = time.monotonic()
    with pytest.raises(OutputTooLarge) as caught:
        run_capped(["sh", "-c", script], timeout=30, limit=64 * 1024)
    assert caught.value.stream == stream
    assert f"printed more than 64 KiB on {stream}" in str(caught.value)
    assert time.monotonic() - started < 10


def test_one_byte_over_the_cap_stops_it_at_once() -> None:
    with pytest.raises(OutputTooLarge):  # not a timeout: it is stopped, not waited for
        run_capped(["sh", "-c", "head -c 4097 /dev/zero; sleep 30"], timeout=5, limit=4096)


def test_exactly_the_cap_is_still_an_answer() -> None:
    done = run_capped(["head", "-c", "4096", "/dev/zero"], timeout=10, limit=4096)
    assert len(done.stdout) == 4096


def test_a_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        run_capped(["sh", "-c", f"sleep 60 & echo $! > {marker}; wait"], timeout=0.5)
    assert time.monotonic() - started < 5
    pid = int(marker.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


# --- Whole commands with a stand-in that never stops printing, under a memory limit ---

MEMORY_LIMIT = 1536 * 1024 * 1024  # far below what reading /dev/zero to the timeout takes


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.fixture
def spew(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("spew", "kubectl", "cloudflared"):
        tool = bin_dir / name
        tool.write_text("#!/bin/sh\nexec cat /dev/zero\n")
        tool.chmod(0o755)
    return bin_dir


def _ztctl(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "ztctl", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
        preexec_fn=_limited,  # the memory limit applies to the child only
    )
    return run, time.monotonic() - started


def _assert_bounded(run: subprocess.CompletedProcess[str], seconds: float) -> str:
    output = run.stdout + run.stderr
    assert "MemoryError" not in output and "internal error" not in output, output
    assert seconds < 30, output
    return output


@pytest.fixture
def spew_env(lab: Any, spew: Path, tmp_path: Path) -> dict[str, str]:
    return {
        **lab.env,
        "PATH": f"{spew}{os.pathsep}{lab.env.get('PATH', '')}",
        "ZTCTL_WARP_CLI": str(spew / "spew"),
        "ZTCTL_CLOUDFLARED": str(spew / "cloudflared"),
        "ZTCTL_STATE_DIR": str(tmp_path / "state"),
    }


def test_status_stops_a_flooding_warp_cli(spew_env: dict[str, str]) -> None:
    run, seconds = _ztctl(spew_env, "status")
    output = _assert_bounded(run, seconds)
    assert f"printed more than {OUTPUT_LIMIT // 1024} KiB on stdout" in output


def test_doctor_reports_a_flooding_warp_cli_as_its_problem(spew_env: dict[str, str]) -> None:
    run, seconds = _ztctl(spew_env, "doctor", "lab")
    output = _assert_bounded(run, seconds)
    assert run.returncode == 1
    assert "FAIL  warp.cli" in output and "printed more than 1024 KiB on stdout" in output


def test_version_names_the_tools_that_flood(spew_env: dict[str, str]) -> None:
    run, seconds = _ztctl(spew_env, "version")
    output = _assert_bounded(run, seconds)
    assert run.returncode == 0
    for tool in ("warp-cli", "cloudflared", "kubectl"):
        line = next(line for line in output.splitlines() if line.startswith(tool))
        assert "unknown (printed over 1024 KiB on stdout: stopped)" in line, output


def test_login_stops_a_flooding_warp_cli(spew_env: dict[str, str]) -> None:
    run, seconds = _ztctl(spew_env, "login")
    output = _assert_bounded(run, seconds)
    assert run.returncode != 0
    assert "printed more than 1024 KiB on stdout" in output


def test_no_child_output_is_read_any_other_way() -> None:
    """``run_capped`` is the one way ztctl reads a child's output (the lab, a simulation,
    aside): no ``capture_output``, ``communicate()`` or ``check_output`` elsewhere."""
    package = Path(__file__).resolve().parents[2] / "ztctl"
    readers = ("capture_output", ".communicate(", "check_output(", "subprocess.run(")
    found = [
        f"{path.relative_to(package)}: {reader}"
        for path in sorted(package.rglob("*.py"))
        if "lab" not in path.relative_to(package).parts
        for reader in readers
        if reader in path.read_text(encoding="utf-8")
    ]
    assert found == []
