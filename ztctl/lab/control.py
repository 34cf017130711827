"""Start, stop, inspect and change a lab: the logic behind ``ztctl lab up|down|status|set``.

``up`` generates the PKI, writes the default (healthy) state, installs the stand-in
binaries' wrappers in ``DIR/bin``, starts ``python -m ztctl.lab.serve`` detached (its own
session, output appended to ``DIR/lab.log``), waits until it has written ``DIR/lab.json``
and its ports answer, then writes ``config.toml``, ``catalog.yaml`` and ``kubeconfig``.
``down`` stops exactly the process ``lab.json`` names, after checking that it really is
this lab's serve process. Nothing here prints: results are frozen dataclasses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ztctl.adapters.fs import atomic_write, ensure_private_dir
from ztctl.adapters.procs import process_command
from ztctl.core.suggest import did_you_mean
from ztctl.errors import OperationFailed, UsageError
from ztctl.lab import BASTION_SOURCE, LAB_HOST
from ztctl.lab import state as lab_state
from ztctl.lab.env import LabInfo, LabPaths, read_lab_file

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
SERVE_MODULE = "ztctl.lab.serve"
LAB_DIR_ENV = "ZTCTL_LAB_DIR"

# Stand-in binaries installed in DIR/bin when their module exists: name -> module.
STAND_INS = {"warp-cli": "ztctl.lab.warpcli", "cloudflared": "ztctl.lab.cloudflared"}

# Processes this Python process started, so `down` can reap them (no zombies in tests).
_children: dict[int, subprocess.Popen[bytes]] = {}


def default_lab_dir(env: dict[str, str] | None = None) -> Path:
    """``$ZTCTL_LAB_DIR``, else ``<user state dir>/lab`` (not under ZTCTL_STATE_DIR on purpose:
    the export lines point that at the lab itself)."""
    environ = os.environ if env is None else env
    if environ.get(LAB_DIR_ENV):
        return Path(environ[LAB_DIR_ENV]).expanduser()
    import platformdirs

    return platformdirs.user_state_path("ztctl") / "lab"


@dataclass(frozen=True)
class UpResult:
    info: LabInfo
    stale_pid: int | None  # a dead lab's pid whose lab.json was cleaned up
    stand_ins: tuple[str, ...]  # installed in DIR/bin


@dataclass(frozen=True)
class DownResult:
    dir: Path
    pid: int | None  # the process stopped (None: nothing was running)
    stale: bool  # lab.json named a process that was gone or not ours
    killed: bool  # needed SIGKILL after the grace period


@dataclass(frozen=True)
class StatusResult:
    dir: Path
    running: bool
    info: LabInfo | None
    state: dict[str, Any]


@dataclass(frozen=True)
class Change:
    key: str
    value: str


@dataclass(frozen=True)
class SetResult:
    dir: Path
    changes: tuple[Change, ...]
    state: dict[str, Any]


# -- process inspection ------------------------------------------------------------------


def is_lab_process(pid: int, lab_dir: Path) -> bool:
    """Whether ``pid`` is alive and is the serve process of ``lab_dir``."""
    if pid <= 0:
        return False
    cmdline = process_command(pid)
    return cmdline is not None and SERVE_MODULE in cmdline and str(lab_dir) in cmdline


def running_lab(lab_dir: Path) -> LabInfo | None:
    paths = LabPaths.of(lab_dir)
    info = read_lab_file(paths)
    if info is not None and is_lab_process(info.pid, paths.root):
        return info
    return None


def _port_answers(port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((LAB_HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


# -- up / down -----------------------------------------------------------------------------


def up(lab_dir: Path, *, timeout: float = START_TIMEOUT_S) -> UpResult:
    paths = LabPaths.of(lab_dir)
    if paths.root.exists() and not paths.root.is_dir():
        raise UsageError(
            f"lab directory {paths.root} is a file", "choose another directory with --dir"
        )
    ensure_private_dir(paths.root)
    stale_pid = _clean_stale(paths)
    _check_bastion_source()

    from ztctl.lab.pki import ensure_pki, select_client_cert

    pki = ensure_pki(paths.root)
    select_client_cert(pki, "valid")
    with lab_state.update(paths.root) as current:
        _reset_state(current, lab_state.LabState())
    ensure_private_dir(paths.state_dir)
    paths.kube_cache.mkdir(exist_ok=True, mode=0o700)
    stand_ins = install_stand_ins(paths)
    from ztctl.lab.cfapi import ensure_token

    ensure_token(paths.root)

    info = _start(paths, timeout)
    from ztctl.lab.env import write_catalog, write_config, write_kubeconfig

    write_config(info)
    write_catalog(info)
    write_kubeconfig(info)
    return UpResult(info=info, stale_pid=stale_pid, stand_ins=stand_ins)


def _check_bastion_source() -> None:
    """The bastion connects out from a second loopback address; it must exist here."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind((BASTION_SOURCE, 0))
    except OSError as exc:
        raise OperationFailed(
            f"cannot use the loopback address {BASTION_SOURCE} for the lab bastion: {exc.strerror}",
            f"add it to loopback (macOS: sudo ifconfig lo0 alias {BASTION_SOURCE} up)",
        ) from None
    finally:
        probe.close()


def _reset_state(current: lab_state.LabState, fresh: lab_state.LabState) -> None:
    """Make ``current`` equal to ``fresh``, section by section (sections added later too)."""
    for section in dataclasses.fields(lab_state.LabState):
        setattr(current, section.name, getattr(fresh, section.name))


def _clean_stale(paths: LabPaths) -> int | None:
    info = read_lab_file(paths)
    if info is None:
        with contextlib.suppress(FileNotFoundError):
            paths.lab_file.unlink()  # unreadable: nothing can use it
        return None
    if is_lab_process(info.pid, paths.root):
        raise OperationFailed(
            f"a lab is already running in {paths.root} (pid {info.pid})",
            f"stop it first: ztctl lab down --dir {shlex.quote(str(paths.root))}",
        )
    with contextlib.suppress(FileNotFoundError):
        paths.lab_file.unlink()
    return info.pid


def _start(paths: LabPaths, timeout: float) -> LabInfo:
    command = [sys.executable, "-m", SERVE_MODULE, "--dir", str(paths.root)]
    with open(paths.log, "ab") as log:
        os.chmod(paths.log, 0o600)
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            cwd=paths.root,
        )
    _children[proc.pid] = proc
    deadline = time.monotonic() + timeout
    while True:
        info = read_lab_file(paths)
        if info is not None and info.pid == proc.pid:
            break
        if proc.poll() is not None:
            _children.pop(proc.pid, None)
            code = proc.returncode
            raise OperationFailed(
                f"the lab in {paths.root} failed to start (exit {code}): {_log_tail(paths)}",
                f"see {paths.log}",
            )
        if time.monotonic() > deadline:
            _stop_pid(proc.pid, STOP_TIMEOUT_S)
            raise OperationFailed(
                f"the lab in {paths.root} did not become ready within {timeout:g}s",
                f"see {paths.log}",
            )
        time.sleep(0.02)
    ports = [info.api_port, info.bastion_port] + ([info.edge_port] if info.edge_port else [])
    ports += [info.cfapi_port] if info.cfapi_port else []
    for port in ports:
        if not _port_answers(port):
            _stop_pid(proc.pid, STOP_TIMEOUT_S)
            raise OperationFailed(
                f"the lab in {paths.root} started but port {port} does not answer",
                f"see {paths.log}",
            )
    return info


def _log_tail(paths: LabPaths, lines: int = 3) -> str:
    try:
        text = paths.log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return " | ".join(text[-lines:]) or "empty log"


def down(lab_dir: Path, *, timeout: float = STOP_TIMEOUT_S) -> DownResult:
    paths = LabPaths.of(lab_dir)
    info = read_lab_file(paths)
    if info is None:
        return DownResult(paths.root, None, stale=False, killed=False)
    if not is_lab_process(info.pid, paths.root):
        with contextlib.suppress(FileNotFoundError):
            paths.lab_file.unlink()
        _reap(info.pid)
        return DownResult(paths.root, None, stale=True, killed=False)
    killed = _stop_pid(info.pid, timeout)
    with contextlib.suppress(FileNotFoundError):
        paths.lab_file.unlink()
    return DownResult(paths.root, info.pid, stale=False, killed=killed)


def _alive(pid: int) -> bool:
    _reap(pid)
    return process_command(pid) is not None


def _reap(pid: int) -> None:
    proc = _children.get(pid)
    if proc is not None and proc.poll() is not None:
        _children.pop(pid, None)


def _stop_pid(pid: int, timeout: float) -> bool:
    """SIGTERM ``pid``, wait, SIGKILL it if needed. Returns whether SIGKILL was needed."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if _wait_gone(pid, timeout):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_gone(pid, timeout)
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def status(lab_dir: Path) -> StatusResult:
    paths = LabPaths.of(lab_dir)
    info = running_lab(paths.root)
    current = lab_state.load(paths.root) if paths.state_file.exists() else lab_state.LabState()
    return StatusResult(paths.root, info is not None, info, current.to_dict())


# -- stand-in binaries -------------------------------------------------------------------


def install_stand_ins(paths: LabPaths) -> tuple[str, ...]:
    """Write ``DIR/bin/<name>`` wrappers for the stand-ins whose modules exist."""
    paths.bin.mkdir(exist_ok=True, mode=0o755)
    installed = []
    for name, module in STAND_INS.items():
        target = paths.bin / name
        if importlib.util.find_spec(module) is None:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            continue
        script = (
            "#!/bin/sh\n"
            f"# {name} stand-in of the ztctl lab in {paths.root} (written by `ztctl lab up`).\n"
            f"exec {shlex.quote(sys.executable)} -m {module} "
            f'--lab-dir {shlex.quote(str(paths.root))} "$@"\n'
        )
        atomic_write(target, script.encode("utf-8"), mode=0o755)
        installed.append(name)
    return tuple(installed)


# -- lab set -----------------------------------------------------------------------------

_TRUE = ("true", "on", "yes", "1")
_FALSE = ("false", "off", "no", "0")


def _parse_bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("expected on/off (or true/false)")


def _parse_choice(choices: Iterable[str]) -> Callable[[str], str]:
    options = tuple(choices)

    def parse(value: str) -> str:
        if value in options:
            return value
        raise ValueError(f"expected one of {', '.join(options)}{did_you_mean(value, options)}")

    return parse


def _parse_duration_ms(value: str) -> int:
    text = value.strip().lower()
    factor = 1
    if text.endswith("ms"):
        text = text[:-2]
    elif text.endswith("s"):
        text, factor = text[:-1], 1000
    try:
        amount = float(text)
    except ValueError:
        raise ValueError("expected a duration such as 250ms or 1.5s") from None
    if not 0 <= amount * factor <= 60_000:
        raise ValueError("expected a duration between 0 and 60s")
    return round(amount * factor)


def _parse_seconds(value: str) -> int:
    text = value.strip().lower()
    factor = 1
    for suffix, f in (("s", 1), ("m", 60), ("h", 3600)):
        if text.endswith(suffix):
            text, factor = text[:-1], f
            break
    try:
        amount = int(text) * factor
    except ValueError:
        raise ValueError("expected whole seconds such as 300, -90 or 5m") from None
    if abs(amount) > 366 * 86400:
        raise ValueError("expected at most a year either way")
    return amount


def _parse_team(value: str) -> str | None:
    if value.lower() in ("", "none"):
        return None
    if not value.replace("-", "").replace("_", "").isalnum():
        raise ValueError("expected a team name (letters, digits, '-') or 'none'")
    return value


def _posture_rules() -> tuple[str, ...] | None:
    """The rule types of the edge's device profile (``disk_encryption``...), if it has one."""
    try:
        from ztctl.lab import edge
    except ImportError:
        return None
    rules = getattr(edge, "POSTURE_RULES", None)
    if not rules:
        return None
    return tuple(str(rule[0]) if isinstance(rule, tuple) else str(rule) for rule in rules)


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _parse_posture(value: str) -> list[str]:
    if value.strip().lower() in ("", "none"):
        return []
    names = [n.strip() for n in value.split(",") if n.strip()]
    known = _posture_rules()
    for name in names:
        if known is not None and _norm(name) not in {_norm(k) for k in known}:
            raise ValueError(f"unknown posture rule {name!r}{did_you_mean(name, known)}")
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"bad posture rule name {name!r}")
    return names


SPLIT_PRESETS = ("default", "exclude-cluster", "include-cluster", "include-other")


def _apply_split(warp: lab_state.WarpState, preset: str) -> None:
    warp.cli_split = []
    if preset == "default":
        warp.split_mode, warp.split = "exclude", list(lab_state.DEFAULT_EXCLUDES)
    elif preset == "exclude-cluster":  # the cluster's range excluded from the tunnel
        warp.split_mode, warp.split = "exclude", [*lab_state.DEFAULT_EXCLUDES, "127.0.0.0/8"]
    elif preset == "include-cluster":
        warp.split_mode, warp.split = "include", ["127.0.0.0/8"]
    else:  # include-other: include mode, but not for the cluster
        warp.split_mode, warp.split = "include", ["10.0.0.0/8"]


def _faults(attr: str) -> Callable[[lab_state.LabState, Any], None]:
    return lambda s, v: setattr(s.faults, attr, v)


def _warp(attr: str) -> Callable[[lab_state.LabState, Any], None]:
    return lambda s, v: setattr(s.warp, attr, v)


def _cf(attr: str) -> Callable[[lab_state.LabState, Any], None]:
    def apply(s: lab_state.LabState, v: Any) -> None:
        setattr(s.cloudflare, attr, v)
        cf = s.cloudflare
        if attr in ("tunnel", "connectors", "device"):
            broken = cf.tunnel != "healthy" or cf.connectors <= 0 or cf.device != "active"
            cf.down_since = (cf.down_since or time.time()) if broken else 0.0

    return apply


def _parse_count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise ValueError("expected a whole number") from None
    if not 0 <= count <= 10:
        raise ValueError("expected 0 to 10")
    return count


def _parse_page_size(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise ValueError("expected a whole number") from None
    if not 1 <= count <= 1000:
        raise ValueError("expected 1 to 1000")
    return count


def _parse_permissions(value: str) -> list[str]:
    if value.strip().lower() in ("", "none"):
        return []
    names = [n.strip() for n in value.split(",") if n.strip()]
    for name in names:
        if name not in lab_state.CF_PERMISSIONS:
            hint = did_you_mean(name, lab_state.CF_PERMISSIONS)
            raise ValueError(
                f"unknown permission {name!r}{hint}: {', '.join(lab_state.CF_PERMISSIONS)}"
            )
    return names


@dataclass(frozen=True)
class _Key:
    parse: Callable[[str], Any]
    apply: Callable[[lab_state.LabState, Any], None]
    help: str


SET_KEYS: dict[str, _Key] = {
    "zt-path": _Key(
        _parse_choice(lab_state.PATH_STATES), _faults("zt_path"), "up | blackhole | reset"
    ),
    "inspection": _Key(_parse_bool, _faults("tls_inspection"), "on | off (Gateway TLS inspection)"),
    "api": _Key(
        lambda v: _parse_choice(("ready", "notready"))(v) == "ready",
        _faults("api_ready"),
        "ready | notready",
    ),
    "latency": _Key(_parse_duration_ms, _faults("latency_ms"), "added latency, e.g. 250ms"),
    "client-cert": _Key(
        _parse_choice(lab_state.CLIENT_CERT_STATES),
        _faults("client_cert"),
        "valid | expired | notyet",
    ),
    "clock-skew": _Key(_parse_seconds, _faults("clock_skew_s"), "seconds added to server Date"),
    "gateway": _Key(_parse_bool, _faults("gateway"), "on | off (trace gateway=)"),
    "posture.fail": _Key(_parse_posture, _faults("posture_fail"), "failing posture rules, or none"),
    "warp.daemon": _Key(_parse_bool, _warp("daemon"), "on | off"),
    "warp.hang": _Key(_parse_bool, _warp("hang"), "on | off (warp-cli never answers)"),
    "warp.tos": _Key(_parse_bool, _warp("tos_accepted"), "on | off (Terms of Service accepted)"),
    "warp.registered": _Key(_parse_bool, _warp("registered"), "true | false"),
    "warp.connected": _Key(_parse_bool, _warp("connected"), "true | false"),
    "warp.team": _Key(_parse_team, _warp("team"), "team name, or none"),
    "warp.mode": _Key(_parse_choice(lab_state.MODES), _warp("mode"), "|".join(lab_state.MODES)),
    "warp.era": _Key(_parse_choice(lab_state.ERAS), _warp("era"), "|".join(lab_state.ERAS)),
    "warp.split": _Key(
        _parse_choice(SPLIT_PRESETS), lambda s, v: _apply_split(s.warp, v), "|".join(SPLIT_PRESETS)
    ),
    # The Cloudflare API stand-in (ztctl/lab/cfapi.py): the server-side faults.
    "cf.api": _Key(
        _parse_choice(lab_state.CF_API_MODES), _cf("api"), "|".join(lab_state.CF_API_MODES)
    ),
    "cf.latency": _Key(_parse_duration_ms, _cf("latency_ms"), "added to every API answer"),
    "cf.route": _Key(
        _parse_choice(lab_state.CF_ROUTE_STATES), _cf("route"), "|".join(lab_state.CF_ROUTE_STATES)
    ),
    "cf.tunnel": _Key(
        _parse_choice(lab_state.CF_TUNNEL_STATES),
        _cf("tunnel"),
        "|".join(lab_state.CF_TUNNEL_STATES),
    ),
    "cf.connectors": _Key(_parse_count, _cf("connectors"), "cloudflared replicas up, 0-10"),
    "cf.device": _Key(
        _parse_choice(lab_state.CF_DEVICE_STATES),
        _cf("device"),
        "|".join(lab_state.CF_DEVICE_STATES),
    ),
    "cf.proxy": _Key(_parse_bool, _cf("proxy"), "on | off (Gateway TCP proxy)"),
    "cf.inspection": _Key(
        _parse_choice(lab_state.CF_INSPECTION_STATES),
        _cf("inspection"),
        "|".join(lab_state.CF_INSPECTION_STATES),
    ),
    "cf.token": _Key(
        _parse_choice(lab_state.CF_TOKEN_KINDS), _cf("token"), "|".join(lab_state.CF_TOKEN_KINDS)
    ),
    "cf.lacks": _Key(_parse_permissions, _cf("lacks"), "permissions the token lacks, or none"),
    "cf.page-size": _Key(_parse_page_size, _cf("page_size"), "items per API page, 1-1000"),
}
RESET = "reset"


def set_values(lab_dir: Path, assignments: list[str]) -> SetResult:
    """Apply ``KEY=VALUE`` assignments (or ``reset``) to the lab state, all or nothing."""
    paths = LabPaths.of(lab_dir)
    if not paths.state_file.exists() and not paths.lab_file.exists():
        raise UsageError(
            f"no lab in {paths.root}",
            f"start one: ztctl lab up --dir {shlex.quote(str(paths.root))}",
        )
    if not assignments:
        raise UsageError(
            "nothing to set", f"give KEY=VALUE pairs; keys: {', '.join(SET_KEYS)}, reset"
        )
    parsed: list[tuple[str, str, Any]] = []
    problems: list[str] = []
    for item in assignments:
        if item == RESET:
            parsed.append((RESET, "", None))
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep:
            hint = did_you_mean(item, [*SET_KEYS, RESET])
            problems.append(f"{item!r} is not KEY=VALUE{hint}")
            continue
        spec = SET_KEYS.get(key)
        if spec is None:
            problems.append(f"unknown key {key!r}{did_you_mean(key, SET_KEYS)}")
            continue
        try:
            parsed.append((key, value.strip(), spec.parse(value.strip())))
        except ValueError as exc:
            problems.append(f"bad value for {key}: {value!r}: {exc}")
    if problems:
        raise UsageError(
            problems[0]
            if len(problems) == 1
            else f"{len(problems)} bad assignments; nothing was changed",
            f"keys: {', '.join(SET_KEYS)}, reset (see `ztctl lab set --help`)",
            details=problems if len(problems) > 1 else None,
        )

    from ztctl.lab.pki import pki_for, select_client_cert

    with lab_state.update(paths.root) as current:
        for key, _raw, value in parsed:
            if key == RESET:
                _reset_state(current, lab_state.LabState(team=current.team))
            else:
                SET_KEYS[key].apply(current, value)
        pki = pki_for(paths.root)
        if pki.client_variant(current.faults.client_cert)[0].exists():
            select_client_cert(pki, current.faults.client_cert)
        result = current.to_dict()
    changes = tuple(Change(key, raw if key != RESET else "") for key, raw, _ in parsed)
    return SetResult(paths.root, changes, result)
