"""Short commands and live processes: every child whose output ztctl reads is read with a
cap (:func:`run_capped`); is this pid still the process we started, or a reused one?"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The most ztctl reads of one stream of a child (warp-cli, cloudflared, kubectl, an exec
# plugin, route tools...): their real answers are a few KiB; a child that prints more (a
# broken or hostile tool: `exec cat /dev/zero`) is killed rather than read into memory.
OUTPUT_LIMIT = 1024 * 1024


class OutputTooLarge(Exception):
    """A child printed more than ``limit`` bytes on ``stream``; it was killed."""

    def __init__(self, argv: Sequence[str], stream: str, limit: int) -> None:
        self.program = os.path.basename(argv[0]) if argv else "?"
        self.stream = stream
        self.limit = limit
        super().__init__(
            f"{self.program} printed more than {limit // 1024} KiB on {stream} "
            "(killed: that is not an answer ztctl can read)"
        )


@dataclass(frozen=True)
class Captured:
    """What a finished child printed (each stream at most :data:`OUTPUT_LIMIT` bytes)."""

    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace")


def run_capped(
    argv: Sequence[str],
    *,
    timeout: float | None,
    env: Mapping[str, str] | None = None,
    stdin: Any = subprocess.DEVNULL,
    input: bytes | None = None,
    capture_stderr: bool = True,
    new_session: bool = True,
    limit: int = OUTPUT_LIMIT,
) -> Captured:
    """Run ``argv`` and read its stdout (and stderr unless ``capture_stderr`` is False: it
    then goes to the user) as it comes, at most ``limit`` bytes each.

    ``new_session`` starts it in a session of its own, so a timeout or the cap kills its
    whole process group (leave it False for a child that must use the terminal). Raises
    ``OSError`` when it cannot start, ``subprocess.TimeoutExpired`` when it outlives
    ``timeout`` and :class:`OutputTooLarge` past the cap; in both cases it was killed.
    """
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if input is not None else stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if capture_stderr else None,
        env=dict(env) if env is not None else None,
        start_new_session=new_session,
    )
    streams = _Streams({"stdout": proc.stdout, "stderr": proc.stderr}, limit)
    threads = streams.threads
    if input is not None:
        threads.append(threading.Thread(target=_feed, args=(proc, input), daemon=True))
    for thread in threads:
        thread.start()
    guard = killed_on_exit(proc) if new_session else contextlib.nullcontext()
    try:
        with guard:
            deadline = None if timeout is None else time.monotonic() + timeout
            finished = streams.settled.wait(timeout)
            if streams.over:
                raise OutputTooLarge(argv, streams.over[0], limit)
            if not finished:
                raise subprocess.TimeoutExpired(list(argv), timeout or 0)
            rest = None if deadline is None else max(0.0, deadline - time.monotonic())
            proc.wait(timeout=rest)
    except BaseException:  # the cap, the deadline, or Ctrl-C: leave nothing running
        _kill(proc, group=new_session)
        raise
    finally:
        for thread in threads:
            thread.join(timeout=1.0)
        for pipe in (proc.stdout, proc.stderr, proc.stdin):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
    return Captured(proc.returncode, streams.read("stdout"), streams.read("stderr"))


class _Streams:
    """A child's pipes, each read on a thread of its own, at most ``limit`` bytes each."""

    def __init__(self, pipes: Mapping[str, Any], limit: int) -> None:
        self.limit = limit
        self.buffers = {name: bytearray() for name, pipe in pipes.items() if pipe is not None}
        self.over: list[str] = []  # the stream(s) that went over the cap
        self.settled = threading.Event()  # every stream ended, or one went over the cap
        self._left = len(self.buffers)
        self._lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._drain, args=(name, pipe.fileno()), daemon=True)
            for name, pipe in pipes.items()
            if pipe is not None
        ]

    def _drain(self, name: str, fd: int) -> None:
        buffer = self.buffers[name]
        try:
            while chunk := os.read(fd, 65536):
                if len(buffer) + len(chunk) > self.limit:
                    buffer += chunk[: self.limit - len(buffer)]
                    with self._lock:
                        self.over.append(name)
                    break
                buffer += chunk
        except OSError:
            pass
        finally:
            with self._lock:
                self._left -= 1
                if self.over or not self._left:
                    self.settled.set()

    def read(self, name: str) -> bytes:
        return bytes(self.buffers.get(name, b""))


def _feed(proc: subprocess.Popen[bytes], data: bytes) -> None:
    assert proc.stdin is not None
    with contextlib.suppress(OSError):  # BrokenPipeError: it stopped reading
        proc.stdin.write(data)
        proc.stdin.close()


def _kill(proc: subprocess.Popen[Any], *, group: bool) -> None:
    if group:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        proc.kill()
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        proc.wait(timeout=1.0)


def process_command(pid: int) -> str | None:
    """The command line of live process ``pid`` (space-joined), or ``None``."""
    if pid <= 0:
        return None
    proc = Path(f"/proc/{pid}")
    if Path("/proc/self/stat").exists():
        try:
            stat = (proc / "stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return None  # exited, not yet reaped
            raw = (proc / "cmdline").read_bytes()
        except (OSError, IndexError):
            return None
        return raw.replace(b"\0", b" ").decode(errors="replace").strip()
    try:  # macOS and other systems without /proc
        out = run_capped(["ps", "-o", "stat=,command=", "-p", str(pid)], timeout=5).out.strip()
    except (OSError, subprocess.TimeoutExpired, OutputTooLarge):
        return None
    if not out or out.startswith("Z"):
        return None
    return out.split(None, 1)[1] if " " in out else out


# Children started in a session of their own (so a timeout can kill their whole group) do
# not get the terminal's Ctrl-C. If ztctl exits while one still runs (interrupted, or a
# worker thread abandoned at exit), this kills its group, so nothing ztctl started outlives
# it: a hung warp-cli must not linger after `ztctl doctor` is interrupted.
_live_groups: set[int] = set()
_live_lock = threading.Lock()
_registered = False


@contextlib.contextmanager
def killed_on_exit(proc: subprocess.Popen[Any]) -> Iterator[None]:
    """While in this block, kill ``proc``'s process group if ztctl exits."""
    global _registered
    with _live_lock:
        if not _registered:
            atexit.register(_kill_live_groups)
            _registered = True
        _live_groups.add(proc.pid)
    try:
        yield
    finally:
        with _live_lock:
            _live_groups.discard(proc.pid)


def _kill_live_groups() -> None:
    with _live_lock:
        groups = list(_live_groups)
        _live_groups.clear()
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def run_output(argv: list[str], timeout: float) -> str | None:
    """stdout and stderr of a short command, or None when it is missing, fails to start,
    outlives ``timeout`` or prints more than :data:`OUTPUT_LIMIT` (no stdin: it can never
    wait for a person)."""
    if shutil.which(argv[0]) is None and not os.path.exists(argv[0]):
        return None
    try:
        proc = run_capped(argv, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired, OutputTooLarge):
        return None
    return f"{proc.out}{proc.err}"


def kubectl_client_version(kubectl: str, timeout: float) -> Any:
    """``kubectl version --client``'s gitVersion (None when it names none), ``"unknown"``
    when it does not answer with JSON."""
    try:
        proc = run_capped([kubectl, "version", "--client", "-o", "json"], timeout=timeout)
        return json.loads(proc.stdout).get("clientVersion", {}).get("gitVersion")
    except (OSError, subprocess.TimeoutExpired, OutputTooLarge, ValueError, AttributeError):
        return "unknown"
