"""Opening and closing break-glass routes: an existing proxy, an ``ssh -D`` tunnel, a VPN.

- **proxy**: nothing to open; :func:`check_proxy` proves the proxy accepts a connection and
  speaks its protocol (a SOCKS5 greeting, or an HTTP answer).
- **ssh**: :func:`open_ssh` runs ``ssh -N -f -D 127.0.0.1:<free port>`` to the bastion with
  host-key checking on (``StrictHostKeyChecking=yes``: an unknown or changed host key is a
  refusal, never a prompt) and ``ExitOnForwardFailure=yes``. ``-f`` makes ssh authenticate
  in the foreground — so an on-call engineer can type a key passphrase or touch a security
  key on the terminal — and go to the background only once the SOCKS port listens. Without
  a terminal (``--no-input``) ``BatchMode=yes`` makes it fail fast instead of waiting for a
  prompt nobody sees. A control socket (``ControlMaster``) in the session directory names
  the background process (``-O check``) and ends it (``-O exit``).
- **vpn**: :func:`run_vpn_command` runs the catalog's ``up``/``down`` commands (which
  interface the route to each address leaves by is asked with :mod:`ztctl.adapters.routes`).

Process helpers (:func:`process_command`, :func:`terminate`) guard every signal with a
check of the process's command line, so a recycled pid is never killed. Nothing here
prints; failures are :class:`RouteError` with a sentence and a fix.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ztctl.adapters.procs import OutputTooLarge, process_command, run_capped

LOOPBACK = "127.0.0.1"
SSH_READY_TIMEOUT_S = 10.0
# The foreground part of ssh (connect + authenticate): a person may be typing a passphrase.
SSH_AUTH_TIMEOUT_INTERACTIVE_S = 180.0
SSH_AUTH_TIMEOUT_BATCH_S = 30.0
VPN_TIMEOUT_S = 120.0
# AF_UNIX paths are limited to 104 (macOS) / 108 (Linux) bytes, and ssh adds a 17-byte
# random suffix while it creates the socket.
_MAX_CONTROL_PATH = 90


class RouteError(Exception):
    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


# --------------------------------------------------------------------------------------
# Ports and proxies
# --------------------------------------------------------------------------------------


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the caller's listener may still lose a race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def port_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, timeout: float) -> bool:
    """Poll until ``host:port`` accepts a connection, at most ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        if port_answers(host, port, timeout=min(1.0, max(timeout, 0.05))):
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.05)


def check_proxy(url: str, timeout: float = 3.0) -> None:
    """Prove the proxy at ``url`` accepts a connection and speaks SOCKS5 or HTTP."""
    from ztctl.adapters.socks import ProxyError, parse_proxy_url, recv_exact

    try:
        spec = parse_proxy_url(url)
    except ValueError as exc:
        raise RouteError(str(exc), "fix breakGlass.proxy in the catalog") from None
    fix = (
        f"check that the break-glass proxy {spec.display} is running and reachable from "
        "this laptop (ask the platform team for the bastion's status)"
    )
    try:
        sock = socket.create_connection((spec.host, spec.port), timeout=timeout)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RouteError(
            f"the break-glass proxy {spec.display} does not accept connections: {reason}", fix
        ) from None
    try:
        sock.settimeout(timeout)
        if spec.scheme in ("socks5", "socks5h"):
            methods = b"\x00\x02" if spec.username is not None else b"\x00"
            sock.sendall(b"\x05" + bytes([len(methods)]) + methods)
            reply = recv_exact(sock, 2)
            if len(reply) != 2 or reply[0] != 5:
                raise ProxyError("it did not answer the SOCKS5 greeting")
        elif spec.scheme == "http":
            sock.sendall(b"OPTIONS * HTTP/1.1\r\nHost: ztctl\r\nConnection: close\r\n\r\n")
            if not recv_exact(sock, 5).startswith(b"HTTP/"):
                raise ProxyError("it did not answer like an HTTP proxy")
    except (OSError, ProxyError) as exc:
        detail = exc.message if isinstance(exc, ProxyError) else (exc.strerror or str(exc))
        raise RouteError(
            f"the break-glass proxy {spec.display} does not work: {detail}", fix
        ) from None
    finally:
        with contextlib.suppress(OSError):
            sock.close()


# --------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------


def process_matches(pid: int | None, marker: str | None) -> bool:
    """Whether ``pid`` is alive and its command line contains ``marker`` (not a reused pid)."""
    if not pid:
        return False
    command = process_command(pid)
    if command is None:
        return False
    return marker is None or marker in command


def terminate(pid: int | None, marker: str | None, *, grace: float = 3.0, sig: int = 0) -> bool:
    """Stop ``pid`` if it is still the process ``marker`` names: ``sig`` (default SIGTERM),
    then SIGKILL after ``grace`` seconds. True when it is gone (or was never there)."""
    if not process_matches(pid, marker):
        return True
    assert pid is not None
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig or signal.SIGTERM)
    if _wait_gone(pid, grace):
        return True
    if process_matches(pid, marker):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return _wait_gone(pid, 2.0)


def _wait_gone(pid: int, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while True:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
        if process_command(pid) is None:
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.05)


# --------------------------------------------------------------------------------------
# ssh -D
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SshTunnel:
    """A running ``ssh -D``: its local SOCKS5 URL, pid and control socket."""

    proxy_url: str  # socks5://127.0.0.1:PORT
    port: int
    pid: int | None
    control_path: str
    command: tuple[str, ...]

    @property
    def marker(self) -> str:
        """A string only this ssh process has on its command line."""
        return f"ControlPath={self.control_path}"


def control_path_for(session_dir: Path, session_id: str) -> str:
    """The ssh control socket: in the session directory, or /tmp if that path is too long."""
    path = str(session_dir / "ssh.ctl")
    if len(path.encode()) <= _MAX_CONTROL_PATH:
        return path
    import tempfile

    return os.path.join(tempfile.gettempdir(), f"ztctl-bg-{session_id[-12:]}.ctl")


def ssh_command(
    host: str,
    *,
    port: int,
    local_port: int,
    control_path: str,
    user: str | None = None,
    identity_file: Path | None = None,
    batch: bool = False,
    ssh: str = "ssh",
) -> list[str]:
    """The ``ssh`` command line of a break-glass tunnel (see the module docstring)."""
    command = [
        ssh,
        "-N",
        "-f",
        "-D",
        f"{LOOPBACK}:{local_port}",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "ControlMaster=yes",
        "-o",
        f"ControlPath={control_path}",
        "-o",
        "ControlPersist=no",
        "-o",
        "ServerAliveInterval=15",
        "-o",
        "ServerAliveCountMax=3",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "ForwardAgent=no",
        "-o",
        "ForwardX11=no",
        "-o",
        f"BatchMode={'yes' if batch else 'no'}",
        "-p",
        str(port),
    ]
    if user:
        command += ["-l", user]
    if identity_file is not None:
        command += ["-i", str(identity_file.expanduser()), "-o", "IdentitiesOnly=yes"]
    command += ["--", host]
    return command


def open_ssh(
    host: str,
    *,
    port: int = 22,
    user: str | None = None,
    identity_file: Path | None = None,
    control_path: str,
    log_file: Path,
    interactive: bool,
    env: Mapping[str, str] | None = None,
    ssh: str = "ssh",
) -> SshTunnel:
    """Start the tunnel and wait until its SOCKS port answers; :class:`RouteError` if not.

    ``interactive``: ssh may prompt on the terminal (passphrase, security-key touch);
    otherwise ``BatchMode=yes`` and stdin from /dev/null.
    """
    with contextlib.suppress(FileNotFoundError):
        os.unlink(control_path)  # a stale socket from a killed run
    last_error = ""
    for _attempt in range(2):  # a second try only when the free port was taken meanwhile
        local_port = free_loopback_port()
        command = ssh_command(
            host,
            port=port,
            local_port=local_port,
            control_path=control_path,
            user=user,
            identity_file=identity_file,
            batch=not interactive,
            ssh=ssh,
        )
        timeout = SSH_AUTH_TIMEOUT_INTERACTIVE_S if interactive else SSH_AUTH_TIMEOUT_BATCH_S
        code = _run_foreground(command, log_file, interactive=interactive, env=env, timeout=timeout)
        if code == 0:
            break
        last_error = _tail(log_file)
        if not _port_taken(last_error):
            raise _ssh_failed(host, port, code, last_error)
    else:
        raise _ssh_failed(host, port, 255, last_error)
    pid = ssh_master_pid(control_path, host, env=env, ssh=ssh)
    tunnel = SshTunnel(
        proxy_url=f"socks5://{LOOPBACK}:{local_port}",
        port=local_port,
        pid=pid,
        control_path=control_path,
        command=tuple(command),
    )
    if not wait_port(LOOPBACK, local_port, SSH_READY_TIMEOUT_S):
        close_ssh(tunnel.pid, control_path, host, env=env, ssh=ssh)
        raise RouteError(
            f"ssh to {host} started but its SOCKS port {LOOPBACK}:{local_port} does not answer",
            f"see {log_file}",
        )
    return tunnel


def _run_foreground(
    command: Sequence[str],
    log_file: Path,
    *,
    interactive: bool,
    env: Mapping[str, str] | None,
    timeout: float,
) -> int:
    # stderr goes to a file, never a pipe: the backgrounded ssh keeps it open, and a pipe
    # would make us wait for it until the tunnel ends. Prompts use /dev/tty directly.
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(
            list(command),
            stdin=None if interactive else subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            env=dict(env) if env is not None else None,
            close_fds=True,
        )
    except FileNotFoundError:
        raise RouteError(
            f"{command[0]} is not installed or not on PATH",
            "install the OpenSSH client (ssh) for this break-glass route",
        ) from None
    finally:
        os.close(fd)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RouteError(
            f"ssh to the bastion did not finish connecting within {timeout:g}s",
            f"check the bastion's address and your network; see {log_file}",
        ) from None
    except KeyboardInterrupt:
        proc.kill()
        proc.wait()
        raise


def _port_taken(log: str) -> bool:
    return "Address already in use" in log or "cannot listen to port" in log


def _ssh_failed(host: str, port: int, code: int, log: str) -> RouteError:
    lowered = log.lower()
    if "host key verification failed" in lowered or "remote host identification" in lowered:
        # known_hosts names a non-default port as [host]:port, and ssh-keyscan needs -p.
        scan = f"ssh-keyscan {host}" if port == 22 else f"ssh-keyscan -p {port} {host}"
        entry = host if port == 22 else f"[{host}]:{port}"
        fix = (
            f"the bastion's host key is unknown or changed: verify its fingerprint with the "
            f"platform team and add it to ~/.ssh/known_hosts as {entry} (ztctl never skips "
            f"this check); `{scan}` shows what it presents"
        )
    elif "permission denied" in lowered:
        fix = (
            "the bastion refused your key: load it with `ssh-add` (needed with --no-input), "
            "or check breakGlass.ssh.user and identityFile in the catalog"
        )
    else:
        verbose = f"ssh -v {host}" if port == 22 else f"ssh -v -p {port} {host}"
        fix = f"run `{verbose}` to see why, or ask the platform team about the bastion"
    detail = f": {log}" if log else ""
    return RouteError(f"ssh to the bastion {host} failed (exit {code}){detail}", fix)


_TAIL_BYTES = 16 * 1024


def _tail(path: Path, lines: int = 3) -> str:
    """The last ``lines`` non-empty lines of a route's log, read from its last 16 KiB only
    (a chatty ``ssh -v`` or VPN client can write megabytes)."""
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - _TAIL_BYTES))
            text = handle.read(_TAIL_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return ""
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:])


_MASTER_PID = re.compile(r"Master running \(pid=(\d+)\)")


def ssh_master_pid(
    control_path: str,
    host: str,
    *,
    env: Mapping[str, str] | None = None,
    ssh: str = "ssh",
) -> int | None:
    """The pid of the background ssh behind ``control_path`` (``ssh -O check``), or None."""
    try:
        result = run_capped(
            [ssh, "-o", f"ControlPath={control_path}", "-O", "check", "--", host],
            timeout=5,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired, OutputTooLarge):
        return None
    found = _MASTER_PID.search(result.err + result.out)
    return int(found.group(1)) if found else None


def close_ssh(
    pid: int | None,
    control_path: str,
    host: str,
    *,
    env: Mapping[str, str] | None = None,
    ssh: str = "ssh",
) -> bool:
    """End the tunnel: ``ssh -O exit``, then signals to the recorded pid. True when gone."""
    marker = f"ControlPath={control_path}"
    if os.path.exists(control_path):
        with contextlib.suppress(OSError, subprocess.TimeoutExpired, OutputTooLarge):
            run_capped(
                [ssh, "-o", f"ControlPath={control_path}", "-O", "exit", "--", host],
                timeout=5,
                env=env,
            )
    gone = terminate(pid, marker)
    with contextlib.suppress(FileNotFoundError, OSError):
        os.unlink(control_path)
    return gone


# --------------------------------------------------------------------------------------
# VPN
# --------------------------------------------------------------------------------------


# Secrets a catalog may have put into a VPN command line: a URL's password, and the value of
# an option or assignment named like one ("--password=x", "--token x", "PSK=x").
_SECRET_WORDS = "pass|pwd|secret|token|key|auth|cred|otp|psk|api-?key"  # noqa: S105 - names
_SECRET_NAME = rf"(?:[\w.-]*[-_.])?(?:{_SECRET_WORDS})[\w.-]*"
# the password runs to the last '@' before the path (a raw '@' in it is the password's own)
_URL_PASSWORD = re.compile(r"(?P<keep>[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s]+@", re.IGNORECASE)
# the value, with the scheme word of an `Authorization: Bearer X` header
_ASSIGNED = re.compile(
    rf"(?P<keep>(?<![\w.-])-{{0,2}}{_SECRET_NAME}\s*[=:]\s*)(?:(?:bearer|basic)\s+)?[^\s'\";&|]+",
    re.IGNORECASE,
)
_SECRET_FLAG = re.compile(rf"-{{1,2}}{_SECRET_NAME}", re.IGNORECASE)
REDACTED = "***"


def redact_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` fit to print and audit: URL passwords and the values of options named like
    a secret (password, token, key, secret, auth, credential, otp, psk) become ``***``.

    Best effort: a secret passed any other way cannot be told from a harmless argument.
    """
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        hide_next = bool(_SECRET_FLAG.fullmatch(arg))
        shown = _URL_PASSWORD.sub(rf"\g<keep>{REDACTED}@", arg)
        out.append(_ASSIGNED.sub(rf"\g<keep>{REDACTED}", shown))
    return out


def shown_command(argv: Sequence[str]) -> str:
    """``argv`` shell-quoted, with secrets redacted (:func:`redact_argv`)."""
    return shlex.join(redact_argv(argv))


def run_vpn_command(
    command: Sequence[str],
    *,
    log_file: Path,
    interactive: bool,
    env: Mapping[str, str] | None = None,
    timeout: float = VPN_TIMEOUT_S,
) -> None:
    """Run the catalog's ``up`` or ``down`` command; :class:`RouteError` unless it exits 0.

    Its output goes to ``log_file`` (a daemon it starts may keep it open); with
    ``interactive`` it may prompt on the terminal (sudo, a one-time code).
    """
    shown = shown_command(command)
    try:
        code = _run_foreground(command, log_file, interactive=interactive, env=env, timeout=timeout)
    except RouteError as exc:
        if "not installed" in exc.message:
            raise RouteError(
                f"the VPN command `{shown}` cannot run: {command[0]} is not installed or not "
                "on PATH",
                "install the VPN client, or fix breakGlass.vpn in the catalog",
            ) from None
        raise RouteError(
            f"the VPN command `{shown}` did not finish within {timeout:g}s", exc.fix
        ) from None
    if code != 0:
        tail = _tail(log_file)
        raise RouteError(
            f"the VPN command `{shown}` failed (exit {code})" + (f": {tail}" if tail else ""),
            f"run `{shown}` yourself to see why; see {log_file}",
        )
