"""Break-glass sessions: the out-of-band route to a cluster, with a reason, an expiry, an audit.

A session is one JSON file, ``<state>/break-glass/<cluster>.json`` (0600, in a 0700
directory), next to the session directory ``<state>/break-glass/<cluster>/`` that holds the
overlay kubeconfig and the route's logs. One session per cluster at a time.

The life of a session:

1. ``start``: the reason is checked (:func:`validate_reason`), the TTL capped by the
   catalog's ``maxTtl`` (:func:`resolve_ttl`), the user's own kubeconfig entry for the
   cluster found, and the Zero Trust path probed — a healthy path refuses the start unless
   ``force``. The session file is written (state ``opening``) and a detached watchdog
   started *before* the route opens, so a ztctl killed half-way still has its route closed.
   Then the route opens (a proxy is only checked; ``ssh -D`` and VPNs are started), the
   probe proves over it that the API server answers with the same server URL, CA and
   credentials, the overlay kubeconfig is written and the session becomes ``active`` with
   ``deadline = now + ttl``; ``break-glass.start`` goes to the audit log.
2. ``exec``/``shell``: the child gets ``KUBECONFIG=<overlay>:<the user's own list>``. The
   overlay holds a complete copy of the cluster entry (client-go takes the *whole* entry
   from the first file that names it) plus ``proxy-url``, so kubectl and every client-go
   tool take the route while the user's files stay byte-identical. ``ZTCTL_BREAK_GLASS``
   names the cluster for shell prompts. Each run is audited with the command name only.
3. The end: ``end`` (audited ``break-glass.end``), or the deadline: the watchdog
   (:mod:`ztctl.core.watchdog`) — or any break-glass command that finds an expired session
   (:func:`reap`) — closes the route, deletes the overlay and records ``break-glass.expire``.

For ``probe``, ``doctor`` and ``use-cluster``: :func:`has_route`, :func:`active_session`,
:func:`session_proxy` and :func:`hint` (cheap: stdlib only, no locking, no side effects).

Nothing here prints; progress reaches the caller through ``on_progress``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ztctl.adapters.fs import atomic_write, ensure_private_dir
from ztctl.core.duration import format_duration, parse_duration
from ztctl.core.errors import (
    EXIT_AUTH_NEEDED,
    EXIT_INVALID_INPUT,
    EXIT_UNREACHABLE,
    AuthNeeded,
    InvalidInput,
    OperationFailed,
    Unreachable,
    UsageError,
    ZtctlError,
)

if TYPE_CHECKING:
    from ztctl.core.kubeconfig.model import Entry, Kubeconfig
    from ztctl.core.model import Cluster
    from ztctl.core.probe import ProbeResult, RoutePath, Target

SESSIONS_DIR = "break-glass"
ENV_CLUSTER = "ZTCTL_BREAK_GLASS"  # set for the child: the cluster, for shell prompts
ENV_EXPIRES = "ZTCTL_BREAK_GLASS_EXPIRES"  # RFC 3339 deadline, for shell prompts
DEFAULT_TTL_S = 3600  # without --ttl: one hour, or maxTtl when that is shorter
# The route must be open and proven within this time, or the watchdog closes it.
OPENING_ALLOWANCE_S = 300
# A child still running at the deadline gets this long after SIGTERM/SIGHUP.
CHILD_GRACE_S = 5.0
LOCK_TIMEOUT_S = 60.0
OVERLAY_NAME = "kubeconfig"
OVERLAY_EXTENSION = "ztctl-break-glass"
MAX_REASON = 500

STATE_OPENING = "opening"
STATE_ACTIVE = "active"


# --------------------------------------------------------------------------------------
# Sessions
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteState:
    """How the session's route is reached and torn down (no credentials in here)."""

    kind: str  # proxy | ssh | vpn
    display: str  # "proxy socks5://127.0.0.1:1080", "ssh oncall@bastion:22", "vpn oob"
    proxy_url: str | None = None  # what clients dial (ssh: the local SOCKS port); no secrets
    pid: int | None = None  # ssh: the background ssh process
    marker: str | None = None  # on the process's command line (guards against pid reuse)
    control_path: str | None = None  # ssh -S
    host: str | None = None  # ssh: the bastion
    down: tuple[str, ...] = ()  # vpn: the command that closes it
    interface: str | None = None  # vpn

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "display": self.display,
            "proxyUrl": self.proxy_url,
            "pid": self.pid,
            "marker": self.marker,
            "controlPath": self.control_path,
            "host": self.host,
            "down": list(self.down),
            "interface": self.interface,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RouteState:
        return cls(
            kind=str(data.get("kind") or ""),
            display=str(data.get("display") or ""),
            proxy_url=data.get("proxyUrl") or None,
            pid=_int_or_none(data.get("pid")),
            marker=data.get("marker") or None,
            control_path=data.get("controlPath") or None,
            host=data.get("host") or None,
            down=tuple(str(x) for x in data.get("down") or ()),
            interface=data.get("interface") or None,
        )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Session:
    id: str
    cluster: str
    state: str  # opening | active
    reason: str
    user: str
    started: float  # epoch seconds (opening: when start began; active: when it was proven)
    deadline: float  # epoch seconds
    ttl_s: int
    route: RouteState
    server: str = ""
    forced: bool = False
    zt_path: str = ""  # what the Zero Trust probe found at start: ok | <problem kind>
    kube_user: str | None = None  # who the API server said we are, over the route
    overlay: str | None = None  # the overlay kubeconfig
    entries: tuple[str, ...] = ()  # kubeconfig cluster entries the overlay shadows
    watchdog_pid: int | None = None
    starter_pid: int | None = None  # the ztctl that is opening it (state opening)
    path: Path = field(default=Path(), compare=False)  # the session file (not stored)

    def remaining(self, now: float | None = None) -> float:
        return self.deadline - (time.time() if now is None else now)

    def expired(self, now: float | None = None) -> bool:
        return self.remaining(now) <= 0

    @property
    def dir(self) -> Path:
        return self.path.with_suffix("")

    @property
    def watchdog_marker(self) -> str:
        return f"--session {self.id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "id": self.id,
            "cluster": self.cluster,
            "state": self.state,
            "reason": self.reason,
            "user": self.user,
            "started": self.started,
            "deadline": self.deadline,
            "ttlSeconds": self.ttl_s,
            "route": self.route.to_dict(),
            "server": self.server,
            "forced": self.forced,
            "ztPath": self.zt_path,
            "kubeUser": self.kube_user,
            "overlay": self.overlay,
            "entries": list(self.entries),
            "watchdogPid": self.watchdog_pid,
            "starterPid": self.starter_pid,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Path) -> Session:
        return cls(
            id=str(data["id"]),
            cluster=str(data["cluster"]),
            state=str(data.get("state") or STATE_OPENING),
            reason=str(data.get("reason") or ""),
            user=str(data.get("user") or ""),
            started=float(data["started"]),
            deadline=float(data["deadline"]),
            ttl_s=int(data.get("ttlSeconds") or 0),
            route=RouteState.from_dict(data.get("route") or {}),
            server=str(data.get("server") or ""),
            forced=bool(data.get("forced")),
            zt_path=str(data.get("ztPath") or ""),
            kube_user=data.get("kubeUser") or None,
            overlay=data.get("overlay") or None,
            entries=tuple(str(x) for x in data.get("entries") or ()),
            watchdog_pid=_int_or_none(data.get("watchdogPid")),
            starter_pid=_int_or_none(data.get("starterPid")),
            path=path,
        )

    def view(self, now: float | None = None) -> dict[str, Any]:
        """The public JSON shape (``status --json``, ``start --json``)."""
        now = time.time() if now is None else now
        return {
            "id": self.id,
            "cluster": self.cluster,
            "state": self.state,
            "reason": self.reason,
            "user": self.user,
            "route": self.route.display,
            "routeKind": self.route.kind,
            "proxy": self.route.proxy_url,
            "started": rfc3339(self.started),
            "deadline": rfc3339(self.deadline),
            "ttlSeconds": self.ttl_s,
            "remainingSeconds": max(0, round(self.remaining(now))),
            "server": self.server,
            "forced": self.forced,
            "kubeUser": self.kube_user,
            "overlay": self.overlay,
        }


def rfc3339(ts: float) -> str:
    when = datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")
    return when.replace("+00:00", "Z")


def sessions_dir(state_dir: Path) -> Path:
    return Path(state_dir) / SESSIONS_DIR


def session_file(state_dir: Path, cluster: str) -> Path:
    return sessions_dir(state_dir) / f"{cluster}.json"


def read_session(state_dir: Path, cluster: str) -> Session | None:
    return _read(session_file(state_dir, cluster))


def _read(path: Path) -> Session | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Session.from_dict(data, path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable: reported by `status` as a stray file


def list_sessions(state_dir: Path) -> list[Session]:
    """Every session file in the state directory (expired ones included), by cluster."""
    directory = sessions_dir(state_dir)
    try:
        names = sorted(p for p in directory.iterdir() if p.suffix == ".json")
    except FileNotFoundError:
        return []
    found = []
    for path in names:
        session = _read(path)
        if session is not None:
            found.append(session)
    return found


def _write(session: Session) -> None:
    ensure_private_dir(session.path.parent)
    data = json.dumps(session.to_dict(), indent=2, sort_keys=True).encode("utf-8")
    atomic_write(session.path, data + b"\n", mode=0o600)


def _remove(session: Session) -> None:
    import shutil

    with contextlib.suppress(FileNotFoundError):
        session.path.unlink()
    shutil.rmtree(session.dir, ignore_errors=True)


@contextlib.contextmanager
def _locked(
    state_dir: Path, cluster: str, *, wait: float | None = LOCK_TIMEOUT_S
) -> Iterator[bool]:
    """An exclusive lock per cluster (``flock``); yields False when ``wait`` seconds ran out
    (``0``: one try; ``None``: wait as long as it takes)."""
    directory = ensure_private_dir(sessions_dir(state_dir))
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: one ztctl at a time
        yield True
        return
    # A leading dot: cluster names start with a letter or digit, so no session is named so.
    fd = os.open(directory / f".{cluster}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        give_up = time.monotonic() + (wait or 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                got = True
                break
            except BlockingIOError:
                if wait is not None and time.monotonic() >= give_up:
                    got = False
                    break
                time.sleep(0.05)
        try:
            yield got
        finally:
            if got:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------
# For probe, doctor, use-cluster, status
# --------------------------------------------------------------------------------------


def has_route(cluster: Cluster) -> bool:
    """Whether the catalog gives ``cluster`` an out-of-band route."""
    return cluster.break_glass is not None


def active_session(state_dir: Path, cluster: str, now: float | None = None) -> Session | None:
    """The open, unexpired session for ``cluster``, or None (read-only, no locking)."""
    session = read_session(state_dir, cluster)
    if session is None or session.state != STATE_ACTIVE or session.expired(now):
        return None
    return session


def session_proxy(session: Session | None) -> str | None:
    """The proxy an open session's route is dialled through, for :func:`probe.break_glass_path`.

    ``None`` for a catalog proxy (the catalog's own URL, credentials included, is used)
    and for a VPN (no proxy: the OS routes it).
    """
    if session is None or session.route.kind != "ssh":
        return None
    return session.route.proxy_url


def hint(state_dir: Path, cluster: Cluster) -> str | None:
    """One sentence for a failing Zero Trust path: how to use break-glass, or None."""
    session = active_session(state_dir, cluster.name)
    if session is not None:
        left = format_duration(session.remaining())
        return (
            f"a break-glass session for {cluster.name} is open ({session.route.display}, "
            f"{left} left): run `ztctl break-glass exec {cluster.name} -- kubectl ...` "
            f"or `ztctl break-glass shell {cluster.name}`"
        )
    if has_route(cluster):
        return (
            f"if Zero Trust itself is down, open the out-of-band route: "
            f"`ztctl break-glass start {cluster.name} --reason '...'`"
        )
    return None


# --------------------------------------------------------------------------------------
# Reason and TTL
# --------------------------------------------------------------------------------------

_PLACEHOLDER_TEXT = """
    a an the to of for and or on in is it me my we i x y z
    test tests testing tested try trying asdf asd qwe qwer qwerty zxcv hjkl jkl
    foo bar baz qux xxx xx yyy zzz abc aaa na n/a none nothing null nil todo tbd tba fixme
    reason why because reasons justification placeholder example sample dummy
    break glass break-glass breakglass bg emergency urgent incident issue problem outage
    access need needed needs want please pls fix fixing debug debugging check checking work
    working stuff things thing whatever idk dunno temp tmp lol ok okay yes no hi hello
    lorem ipsum dolor k8s kube kubectl cluster prod
"""
_PLACEHOLDERS = frozenset(_PLACEHOLDER_TEXT.split())
_WORD = re.compile(r"[^\W_]+(?:[-'/.][^\W_]+)*", re.UNICODE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _mash(word: str) -> bool:
    """``aaaa``, ``asdfasdf``, ``jjjj``: keyboard noise, not a word."""
    lowered = word.lower()
    if len(set(lowered)) == 1:
        return True
    for size in range(1, len(lowered) // 2 + 1):
        unit = lowered[:size]
        if len(lowered) % size == 0 and unit * (len(lowered) // size) == lowered:
            return unit in _PLACEHOLDERS or len(unit) <= 2
    return lowered.startswith(("asdf", "qwer", "zxcv", "hjkl"))


def validate_reason(text: str | None) -> str:
    """The reason, whitespace-normalised, or :class:`UsageError` saying what a good one is.

    A reason names what is broken and why the route is needed: at least 10 characters and
    two different words that are neither placeholders ("test", "asdf", "n/a", "emergency",
    "incident"...) nor keyboard noise. A ticket number helps: "INC-4711 WARP connector down,
    restarting cloudflared in kube-system".
    """
    example = "e.g. --reason 'INC-4711: Zero Trust tunnel down, restart cloudflared'"
    raw = text or ""
    if _CONTROL.search(raw):
        raise UsageError(
            "the break-glass reason contains control characters",
            f"write it on one line of plain text, {example}",
        )
    reason = " ".join(raw.split())
    if not reason:
        raise UsageError(
            "break-glass needs a reason: what is broken and why you need the out-of-band route",
            f"pass --reason, {example}",
        )
    if len(reason) > MAX_REASON:
        raise UsageError(
            f"the break-glass reason is {len(reason)} characters long (at most {MAX_REASON})",
            "keep it to a sentence and link the incident ticket for the details",
        )
    words = [w.lower() for w in _WORD.findall(reason)]
    meaningful = {w for w in words if w not in _PLACEHOLDERS and not _mash(w)}
    if len(reason) < 10 or len(meaningful) < 2 or not any(len(w) >= 3 for w in meaningful):
        raise UsageError(
            f"the break-glass reason {reason!r} does not say what is broken or why; it goes to "
            "the audit log for whoever reviews this access",
            f"say what is broken and why you need the route, {example}",
        )
    return reason


def resolve_ttl(text: str | None, max_ttl_s: int, cluster: str) -> int:
    """Seconds for ``--ttl`` (default: one hour or ``maxTtl`` when shorter).

    A TTL over the catalog's ``maxTtl`` is refused, not silently shortened: whoever asked
    for 8 hours should know the route closes after 4.
    """
    if text is None or not text.strip():
        return min(DEFAULT_TTL_S, max_ttl_s)
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"invalid --ttl: {exc}", "write it like 30m, 1h or 1h30m") from None
    if seconds > max_ttl_s:
        limit = format_duration(max_ttl_s)
        raise UsageError(
            f"--ttl {text.strip()} is longer than the break-glass limit of {cluster} "
            f"(maxTtl {limit})",
            f"ask for {limit} or less; when it runs out, start a new session with a new reason",
        )
    return seconds


# --------------------------------------------------------------------------------------
# The user's kubeconfig entry, and the overlay
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KubeEntry:
    """The user's own kubeconfig entry for the cluster (what break-glass routes)."""

    cluster: Entry
    user: Entry
    context: str | None
    shadowed: tuple[Entry, ...]  # every cluster entry the overlay routes (cluster first)
    files: tuple[Path, ...]  # the precedence list it was read from


def find_entry(cluster: Cluster, kubeconfig: Kubeconfig) -> KubeEntry:
    """The context named like the cluster (as ``use-cluster`` writes it), else the cluster
    and user entries named so, else a context whose cluster points at the same API server."""
    from ztctl.core.kubeconfig.model import server_matches

    name = cluster.name
    context: str | None = None
    ctx, cl, us = kubeconfig.context_entries(name) if name in kubeconfig.contexts else (None,) * 3
    if ctx is not None:
        context = name
    if cl is None and name in kubeconfig.clusters:
        cl, us = kubeconfig.clusters[name], kubeconfig.users.get(name)
    if cl is None:
        order = [kubeconfig.current_context] if kubeconfig.current_context else []
        order += [c for c in kubeconfig.contexts if c != kubeconfig.current_context]
        for candidate in order:
            _c, entry, user = kubeconfig.context_entries(candidate)
            if entry is not None and server_matches(entry.body, cluster) is not None:
                context, cl, us = candidate, entry, user
                break
    files = ", ".join(str(p) for p in kubeconfig.paths)
    if cl is None:
        raise OperationFailed(
            f"cluster {name} is not in your kubeconfig ({files}); break-glass routes your own "
            "entry and never writes one",
            f"run `ztctl use-cluster {name} --no-probe` first, then start break-glass again",
        )
    if us is None:
        raise OperationFailed(
            f"the kubeconfig entry for {name} has no user (credentials) to go with cluster "
            f"{cl.name!r} ({files})",
            f"run `ztctl use-cluster {name} --no-probe` to write the complete entry",
        )
    shadowed = [cl] + [
        e
        for e in kubeconfig.clusters.values()
        if e.name != cl.name and server_matches(e.body, cluster) is not None
    ]
    return KubeEntry(cl, us, context, tuple(shadowed), tuple(kubeconfig.paths))


def overlay_document(
    entry: KubeEntry, proxy_url: str | None, session_id: str, cluster: str
) -> dict[str, Any]:
    """A kubeconfig with complete copies of the shadowed cluster entries plus ``proxy-url``.

    No users, contexts or current-context: those keep coming from the user's files.
    """
    clusters = []
    for shadow in entry.shadowed:
        body = dict(shadow.resolved())  # relative CA paths made absolute: new directory
        if proxy_url:
            body["proxy-url"] = proxy_url
        extensions = [
            e
            for e in body.get("extensions") or []
            if not (isinstance(e, dict) and e.get("name") == OVERLAY_EXTENSION)
        ]
        extensions.append(
            {"name": OVERLAY_EXTENSION, "extension": {"session": session_id, "cluster": cluster}}
        )
        body["extensions"] = extensions
        clusters.append({"name": shadow.name, "cluster": body})
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": [],
        "contexts": [],
        "preferences": {},
    }


def write_overlay(path: Path, document: Mapping[str, Any]) -> None:
    """JSON is YAML, and typed exactly as kubectl reads it (no YAML 1.1 surprises)."""
    ensure_private_dir(path.parent)
    atomic_write(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"), mode=0o600)


def child_kubeconfig(
    overlay: str, state_dir: Path, kubeconfig: str | None, env: Mapping[str, str]
) -> str:
    """``KUBECONFIG`` for the child: the overlay, then the user's own list (``--kubeconfig``,
    else ``KUBECONFIG``, else ``~/.kube/config``) without overlays of other sessions."""
    from ztctl.core.kubeconfig.files import precedence

    root = os.path.abspath(sessions_dir(state_dir))
    paths = [overlay]
    for path in precedence(kubeconfig, env).paths:
        text = str(path)
        if text == overlay or text.startswith(root + os.sep):
            continue  # started from inside a break-glass shell
        paths.append(text)
    return os.pathsep.join(paths)


# --------------------------------------------------------------------------------------
# Audit
# --------------------------------------------------------------------------------------


def _audit(state_dir: Path, event: str, session: Session, **fields: Any) -> None:
    from ztctl.core import audit

    audit.record(
        state_dir,
        event,
        cluster=session.cluster,
        user=session.user,
        reason=session.reason,
        route=session.route.display,
        session=session.id,
        **fields,
    )


# --------------------------------------------------------------------------------------
# Watchdog
# --------------------------------------------------------------------------------------


def spawn_watchdog(state_dir: Path, session: Session, env: Mapping[str, str] | None) -> int:
    """Start the detached watchdog for ``session`` (own session, no terminal); its pid."""
    log = session.dir / "watchdog.log"
    ensure_private_dir(session.dir)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ztctl.core.watchdog",
                "--state-dir",
                str(state_dir),
                "--cluster",
                session.cluster,
                "--session",
                session.id,
            ],
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
            close_fds=True,
            cwd="/",
        )
    finally:
        os.close(fd)
    return proc.pid


def watchdog_alive(session: Session) -> bool:
    from ztctl.adapters.routes_bg import process_matches

    return process_matches(session.watchdog_pid, session.watchdog_marker)


def route_alive(session: Session) -> bool | None:
    """ssh: whether the tunnel process runs; None where there is no process to look at."""
    from ztctl.adapters.routes_bg import process_matches

    if session.route.kind != "ssh":
        return None
    return process_matches(session.route.pid, session.route.marker)


# --------------------------------------------------------------------------------------
# Tearing down
# --------------------------------------------------------------------------------------


def close_route(session: Session, env: Mapping[str, str] | None = None) -> str | None:
    """Close the session's route; a problem sentence when it may still be open, else None."""
    from ztctl.adapters import routes_bg

    route = session.route
    if route.kind == "ssh":
        if route.control_path and route.host:
            gone = routes_bg.close_ssh(route.pid, route.control_path, route.host, env=env)
        else:
            gone = routes_bg.terminate(route.pid, route.marker)
        return None if gone else f"the ssh tunnel (pid {route.pid}) did not stop"
    if route.kind == "vpn" and route.down:
        try:
            routes_bg.run_vpn_command(
                route.down, log_file=session.dir / "vpn.log", interactive=False, env=env
            )
        except routes_bg.RouteError as exc:
            return exc.message
    return None


def _finish(
    state_dir: Path,
    session: Session,
    event: str,
    *,
    env: Mapping[str, str] | None,
    stop_watchdog: bool,
    **fields: Any,
) -> Ended:
    """Close the route, delete the files, audit ``event``. The caller holds the lock."""
    problem = close_route(session, env)
    _remove(session)
    if stop_watchdog and session.watchdog_pid and session.watchdog_pid != os.getpid():
        from ztctl.adapters.routes_bg import terminate

        terminate(session.watchdog_pid, session.watchdog_marker, grace=1.0)
    now = time.time()
    extra = {k: v for k, v in fields.items() if v is not None}
    if problem:
        extra["teardownProblem"] = problem
    _audit(
        state_dir,
        event,
        session,
        started=rfc3339(session.started),
        deadline=rfc3339(session.deadline),
        durationSeconds=round(max(0.0, now - session.started), 1),
        **extra,
    )
    return Ended(session=session, event=event, problem=problem, at=now)


@dataclass(frozen=True)
class Ended:
    session: Session
    event: str  # break-glass.end | break-glass.expire
    problem: str | None  # the route may still be open (e.g. the VPN down command failed)
    at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.session.cluster,
            "id": self.session.id,
            "event": self.event,
            "route": self.session.route.display,
            "at": rfc3339(self.at),
            "problem": self.problem,
        }


def expire(
    state_dir: Path,
    cluster: str,
    session_id: str | None = None,
    *,
    by: str,
    env: Mapping[str, str] | None = None,
    wait: float | None = LOCK_TIMEOUT_S,
) -> Ended | None:
    """End the session of ``cluster`` if it is past its deadline (or was abandoned while
    opening); records ``break-glass.expire``. None when there was nothing to expire."""
    with _locked(state_dir, cluster, wait=wait) as got:
        if not got:
            return None
        session = read_session(state_dir, cluster)
        if session is None or (session_id is not None and session.id != session_id):
            return None
        abandoned = session.state == STATE_OPENING and not starter_alive(session)
        if not session.expired() and not abandoned:
            return None
        why = "start interrupted" if abandoned and not session.expired() else "ttl"
        return _finish(
            state_dir,
            session,
            "break-glass.expire",
            env=env,
            stop_watchdog=by != "watchdog",
            by=by,
            why=why,
        )


def starter_alive(session: Session) -> bool:
    from ztctl.adapters.procs import process_command

    if session.starter_pid is None:
        return False
    return process_command(session.starter_pid) is not None


def reap(state_dir: Path, env: Mapping[str, str] | None = None) -> list[Ended]:
    """Expire every session past its deadline; restart a watchdog that died. Never blocks
    on a session another ztctl is busy with."""
    ended = []
    for session in list_sessions(state_dir):
        if session.expired() or (session.state == STATE_OPENING and not starter_alive(session)):
            done = expire(state_dir, session.cluster, session.id, by="ztctl", env=env, wait=0)
            if done is not None:
                ended.append(done)
        elif session.state == STATE_ACTIVE and not watchdog_alive(session):
            with _locked(state_dir, session.cluster, wait=0) as got:
                current = read_session(state_dir, session.cluster) if got else None
                if current is not None and current.id == session.id:
                    pid = spawn_watchdog(state_dir, current, env)
                    _write(replace(current, watchdog_pid=pid))
    return ended


def end(
    state_dir: Path,
    clusters: Sequence[str] | None,
    *,
    by: str,
    env: Mapping[str, str] | None = None,
) -> EndResult:
    """End the sessions of ``clusters`` (None: all). Records ``break-glass.end``."""
    expired = reap(state_dir, env)
    names = [s.cluster for s in list_sessions(state_dir)] if clusters is None else list(clusters)
    ended: list[Ended] = []
    missing: list[str] = []
    for name in names:
        with _locked(state_dir, name) as got:
            if not got:
                raise OperationFailed(
                    f"the break-glass session for {name} is busy (another ztctl is opening or "
                    "closing it)",
                    f"wait a moment and run `ztctl break-glass end {name}` again",
                )
            session = read_session(state_dir, name)
            if session is None:
                missing.append(name)
                continue
            ended.append(
                _finish(state_dir, session, "break-glass.end", env=env, stop_watchdog=True, by=by)
            )
    return EndResult(ended=tuple(ended), expired=tuple(expired), missing=tuple(missing))


@dataclass(frozen=True)
class EndResult:
    ended: tuple[Ended, ...]
    expired: tuple[Ended, ...]  # reaped on the way: already past their deadline
    missing: tuple[str, ...]  # asked for, but no session was open

    def to_dict(self) -> dict[str, Any]:
        return {
            "ended": [e.to_dict() for e in self.ended],
            "expired": [e.to_dict() for e in self.expired],
            "notOpen": list(self.missing),
        }


# --------------------------------------------------------------------------------------
# Status
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionStatus:
    session: Session
    route_alive: bool | None
    watchdog_alive: bool

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        out = self.session.view(now)
        out["routeAlive"] = self.route_alive
        out["watchdogAlive"] = self.watchdog_alive
        return out


@dataclass(frozen=True)
class StatusResult:
    sessions: tuple[SessionStatus, ...]
    expired: tuple[Ended, ...]
    now: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "sessions": [s.to_dict(self.now) for s in self.sessions],
            "expired": [e.to_dict() for e in self.expired],
        }


def status(state_dir: Path, env: Mapping[str, str] | None = None) -> StatusResult:
    expired = reap(state_dir, env)
    rows = tuple(
        SessionStatus(s, route_alive(s), watchdog_alive(s)) for s in list_sessions(state_dir)
    )
    return StatusResult(sessions=rows, expired=tuple(expired), now=time.time())


# --------------------------------------------------------------------------------------
# Start
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StartRequest:
    cluster: Cluster
    reason: str | None
    state_dir: Path
    ttl: str | None = None
    force: bool = False
    kubeconfig: str | None = None  # --kubeconfig
    env: Mapping[str, str] | None = None
    interactive: bool = False  # ssh / vpn may prompt on the terminal
    timeout: float = 3.0  # per probe


@dataclass(frozen=True)
class StartResult:
    session: Session
    zero_trust: ProbeResult
    verified: ProbeResult
    expired: tuple[Ended, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        def brief(result: ProbeResult) -> dict[str, Any]:
            return {
                "route": result.route,
                "ok": result.ok,
                "via": result.via,
                "readyz": result.readyz,
                "version": result.version,
                "user": result.user,
                "totalMs": result.timings.to_dict().get("totalMs"),
                "error": result.problem.to_dict() if result.problem else None,
            }

        return {
            "session": self.session.view(),
            "zeroTrust": brief(self.zero_trust),
            "verified": brief(self.verified),
            "warnings": list(self.warnings),
        }


Progress = Callable[[str], None]
# Probe outcomes over the route that still prove it: the API server answered over TLS with
# our CA and did not reject the credentials; it is just not ready, or /readyz is forbidden.
_STILL_USABLE = ("not-ready", "forbidden")


def _error_for(code: int, message: str, fix: str) -> ZtctlError:
    kinds: dict[int, type[ZtctlError]] = {
        EXIT_UNREACHABLE: Unreachable,
        EXIT_AUTH_NEEDED: AuthNeeded,
        EXIT_INVALID_INPUT: InvalidInput,
    }
    return kinds.get(code, OperationFailed)(message, fix)


def start(request: StartRequest, on_progress: Progress | None = None) -> StartResult:
    """Open the break-glass route of ``request.cluster`` (see the module docstring)."""
    from ztctl.core import probe as probe_mod
    from ztctl.core.kubeconfig.model import load_kubeconfig

    say = on_progress or (lambda _m: None)
    cluster = request.cluster
    env = request.env if request.env is not None else os.environ
    bg = cluster.break_glass
    if bg is None:
        raise OperationFailed(
            f"cluster {cluster.name} has no break-glass route in the catalog",
            "ask the platform team to add breakGlass (proxy, ssh or vpn) to its catalog entry",
        )
    reason = validate_reason(request.reason)
    ttl = resolve_ttl(request.ttl, bg.max_ttl_s, cluster.name)
    expired = tuple(reap(request.state_dir, env))

    with _locked(request.state_dir, cluster.name) as got:
        if not got:
            raise OperationFailed(
                f"another ztctl is opening or closing the break-glass route of {cluster.name}",
                "wait for it to finish, then run `ztctl break-glass status`",
            )
        existing = read_session(request.state_dir, cluster.name)
        if existing is not None:
            left = format_duration(existing.remaining())
            raise OperationFailed(
                f"a break-glass session for {cluster.name} is already open "
                f"({existing.route.display}, {left} left, started by {existing.user}: "
                f"{existing.reason!r})",
                f"use it: `ztctl break-glass exec {cluster.name} -- kubectl ...`; or end it "
                f"first: `ztctl break-glass end {cluster.name}`",
            )

        kubeconfig = load_kubeconfig(request.kubeconfig, env)
        entry = find_entry(cluster, kubeconfig)
        target = probe_mod.target_from_kubeconfig(
            cluster.name,
            entry.cluster.resolved(),
            entry.user.resolved(),
            catalog_cluster=cluster,
            base_dir=entry.cluster.origin.parent,
        )
        warnings = []
        if target.server.rstrip("/") != cluster.server.rstrip("/"):
            warnings.append(
                f"your kubeconfig entry {entry.cluster.name!r} points at {target.server}, the "
                f"catalog at {cluster.server}; break-glass routes your entry"
            )
        options = probe_mod.ProbeOptions(
            timeout=request.timeout, allow_interactive=request.interactive, env=env
        )

        say(f"probing the Zero Trust path to {cluster.name} ...")
        zt = probe_mod.probe(target, probe_mod.zero_trust_path(target, env), options)
        if zt.reached and not request.force:
            answered = f"GET /readyz answered {zt.readyz_status}"
            if zt.timings.total_ms is not None:
                answered += f" in {zt.timings.total_ms:.0f} ms"
            raise OperationFailed(
                f"the Zero Trust path to {cluster.name} is healthy ({answered}): break-glass is "
                "for when it is down",
                "use kubectl as usual; to open the out-of-band route anyway (a drill, or Zero "
                "Trust works for you but not for the cluster's users), add --force",
            )
        zt_state = "ok" if zt.ok else (zt.problem.kind if zt.problem else "failed")

        from ztctl.core.audit import os_user

        user = os_user()
        now = time.time()
        session = Session(
            id=f"bg-{secrets.token_hex(6)}",
            cluster=cluster.name,
            state=STATE_OPENING,
            reason=reason,
            user=user,
            started=now,
            deadline=now + ttl + OPENING_ALLOWANCE_S,
            ttl_s=ttl,
            route=_planned_route(cluster),
            server=target.server,
            forced=request.force,
            zt_path=zt_state,
            entries=tuple(e.name for e in entry.shadowed),
            starter_pid=os.getpid(),
            path=session_file(request.state_dir, cluster.name),
        )
        _remove(session)  # leftovers of a session that ended badly
        ensure_private_dir(session.dir)
        _write(session)
        session = replace(session, watchdog_pid=spawn_watchdog(request.state_dir, session, env))
        _write(session)
        try:
            session, path, overlay_proxy = _open_route(session, cluster, target, request, say)
            _write(session)
            say(f"checking that the API server answers over {session.route.display} ...")
            verified = probe_mod.probe(target, path, options)
            problem = verified.problem
            if problem is not None and verified.reached and problem.kind in _STILL_USABLE:
                # The route and the credentials work; the API server itself is unwell, which
                # is exactly when someone may need to get in.
                warnings.append(f"over the break-glass route: {problem.message}")
            elif problem is not None:
                raise _error_for(
                    problem.exit_code,
                    f"the API server of {cluster.name} does not answer over the break-glass "
                    f"route ({session.route.display}): {problem.message}",
                    problem.fix,
                )
            overlay = session.dir / OVERLAY_NAME
            write_overlay(overlay, overlay_document(entry, overlay_proxy, session.id, cluster.name))
            now = time.time()
            session = replace(
                session,
                state=STATE_ACTIVE,
                started=now,
                deadline=now + ttl,
                kube_user=verified.user,
                overlay=str(overlay),
                starter_pid=None,
            )
            _write(session)
        except BaseException:
            # The file may know more than this frame (an ssh control socket written by
            # _open_route before it failed).
            on_disk = read_session(request.state_dir, cluster.name)
            close_route(
                on_disk if on_disk is not None and on_disk.id == session.id else session, env
            )
            _remove(session)
            from ztctl.adapters.routes_bg import terminate

            if session.watchdog_pid:
                terminate(session.watchdog_pid, session.watchdog_marker, grace=1.0)
            raise
        _audit(
            request.state_dir,
            "break-glass.start",
            session,
            ttlSeconds=ttl,
            deadline=rfc3339(session.deadline),
            forced=request.force,
            ztPath=zt_state,
            server=target.server,
            kubeUser=verified.user,
        )
    return StartResult(
        session=session,
        zero_trust=zt,
        verified=verified,
        expired=expired,
        warnings=tuple(warnings),
    )


def _planned_route(cluster: Cluster) -> RouteState:
    from ztctl.adapters.socks import redact_url

    assert cluster.break_glass is not None
    route = cluster.break_glass.route
    if route.kind == "proxy":
        url = route.url  # type: ignore[union-attr]
        shown = redact_url(url)
        return RouteState("proxy", f"proxy {shown}", proxy_url=shown)
    if route.kind == "ssh":
        user = f"{route.user}@" if route.user else ""  # type: ignore[union-attr]
        host = route.host  # type: ignore[union-attr]
        return RouteState("ssh", f"ssh {user}{host}:{route.port}", host=host)  # type: ignore[union-attr]
    return RouteState(
        "vpn",
        f"vpn {route.interface}",  # type: ignore[union-attr]
        down=tuple(route.down),  # type: ignore[union-attr]
        interface=route.interface,  # type: ignore[union-attr]
    )


def _open_route(
    session: Session,
    cluster: Cluster,
    target: Target,
    request: StartRequest,
    say: Progress,
) -> tuple[Session, RoutePath, str | None]:
    """Open (or check) the route. Returns the session with what tears the route down, the
    path to probe it on, and the ``proxy-url`` for the overlay (None: the OS routes it)."""
    from ztctl.adapters import routes_bg
    from ztctl.core.probe import RoutePath, zero_trust_path

    env = request.env if request.env is not None else os.environ

    assert cluster.break_glass is not None
    route = cluster.break_glass.route
    try:
        if route.kind == "proxy":
            url = route.url  # type: ignore[union-attr]
            say(f"checking the break-glass proxy {session.route.proxy_url} ...")
            routes_bg.check_proxy(url, timeout=request.timeout)
            path = RoutePath("break-glass", proxy=url, label=f"through {session.route.proxy_url}")
            return session, path, url
        if route.kind == "ssh":
            control = routes_bg.control_path_for(session.dir, session.id)
            session = replace(
                session,
                route=replace(session.route, control_path=control, marker=f"ControlPath={control}"),
            )
            _write(session)  # the watchdog can close it from here on
            say(f"opening {session.route.display} (ssh -D) ...")
            tunnel = routes_bg.open_ssh(
                route.host,  # type: ignore[union-attr]
                port=route.port,  # type: ignore[union-attr]
                user=route.user,  # type: ignore[union-attr]
                identity_file=route.identity_file,  # type: ignore[union-attr]
                control_path=control,
                log_file=session.dir / "ssh.log",
                interactive=request.interactive,
                env=env,
            )
            session = replace(
                session,
                route=replace(session.route, proxy_url=tunnel.proxy_url, pid=tunnel.pid),
            )
            path = RoutePath(
                "break-glass", proxy=tunnel.proxy_url, label=f"through {tunnel.proxy_url}"
            )
            return session, path, tunnel.proxy_url
        # vpn
        say(f"bringing up {session.route.display} ...")
        routes_bg.run_vpn_command(
            route.up,  # type: ignore[union-attr]
            log_file=session.dir / "vpn.log",
            interactive=request.interactive,
            env=env,
        )
        _check_vpn_routes(cluster, route.interface)  # type: ignore[union-attr]
        # The OS routes it: kubectl connects as usual (its own proxy-url or environment).
        direct = zero_trust_path(target, env)
        path = replace(direct, route="break-glass", label=f"over {session.route.display}")
        return session, path, None
    except routes_bg.RouteError as exc:
        raise Unreachable(exc.message, exc.fix) from None


def _check_vpn_routes(cluster: Cluster, interface: str) -> None:
    from ztctl.adapters import routes

    wrong = []
    for address in cluster.addresses:
        try:
            found = routes.route_get(address)
        except (routes.RouteUnavailable, ValueError) as exc:
            message = exc.message if isinstance(exc, routes.RouteUnavailable) else str(exc)
            wrong.append(f"{address}: cannot tell ({message})")
            continue
        if not routes.interface_matches(found.interface, interface):
            wrong.append(f"{address} leaves by {found.interface or 'no interface'}")
    if wrong:
        raise Unreachable(
            f"the break-glass VPN is up but the route to {cluster.name} does not go through "
            f"{interface}: " + "; ".join(wrong),
            "check the VPN's routes (AllowedIPs / pushed routes) for the catalog addresses; "
            "ztctl ran its down command",
        )


# --------------------------------------------------------------------------------------
# Exec and shell
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExecPlan:
    session: Session
    argv: tuple[str, ...]
    env: dict[str, str]
    shell: bool


def prepare_exec(
    state_dir: Path,
    cluster: str,
    argv: Sequence[str],
    *,
    kubeconfig: str | None = None,
    env: Mapping[str, str] | None = None,
    as_shell: bool = False,
) -> ExecPlan:
    """Check the session, build the child's environment, record ``break-glass.exec``."""
    environ = dict(os.environ if env is None else env)
    reap(state_dir, environ)
    session = read_session(state_dir, cluster)
    if session is None or session.state != STATE_ACTIVE or session.expired():
        start_fix = f"start one: `ztctl break-glass start {cluster} --reason '...'`"
        last = _last_event(state_dir, cluster)
        if session is None and last is not None and last.get("event") == "break-glass.expire":
            raise OperationFailed(
                f"the break-glass session for {cluster} expired at {last.get('deadline')} and "
                "its route is closed",
                f"if Zero Trust is still down, {start_fix}",
            )
        if session is not None and session.state == STATE_OPENING:
            raise OperationFailed(
                f"the break-glass route of {cluster} is still being opened", "wait a moment"
            )
        raise OperationFailed(f"no break-glass session is open for {cluster}", start_fix)
    alive = route_alive(session)
    if alive is False:
        raise Unreachable(
            f"the route of the break-glass session for {cluster} is gone "
            f"({session.route.display} is no longer running)",
            f"run `ztctl break-glass end {cluster}` and start it again",
        )
    if not session.overlay or not Path(session.overlay).is_file():
        raise OperationFailed(
            f"the overlay kubeconfig of the break-glass session for {cluster} is missing",
            f"run `ztctl break-glass end {cluster}` and start it again",
        )
    if not argv:
        raise UsageError("no command to run", f"ztctl break-glass exec {cluster} -- kubectl ...")
    child_env = dict(environ)
    child_env["KUBECONFIG"] = child_kubeconfig(session.overlay, state_dir, kubeconfig, environ)
    child_env[ENV_CLUSTER] = cluster
    child_env[ENV_EXPIRES] = rfc3339(session.deadline)
    _audit(
        state_dir,
        "break-glass.exec",
        session,
        command=os.path.basename(argv[0]),  # never the arguments: they may hold secrets
        mode="shell" if as_shell else "exec",
    )
    return ExecPlan(session=session, argv=tuple(argv), env=child_env, shell=as_shell)


def _last_event(state_dir: Path, cluster: str) -> dict[str, Any] | None:
    """The last ``break-glass.*`` audit event of ``cluster`` (why a session is gone)."""
    from ztctl.core.audit import read_events

    last = None
    for item in read_events(state_dir):
        if item.get("cluster") == cluster and str(item.get("event", "")).startswith("break-glass."):
            last = item
    return last


@dataclass(frozen=True)
class ExecOutcome:
    code: int
    expired: bool  # stopped at the session's deadline


def run_child(plan: ExecPlan) -> ExecOutcome:
    """Run the child in the foreground until it exits or the session's deadline passes.

    Like a shell, ztctl ignores Ctrl-C while the child runs (the child gets it). At the
    deadline the child gets SIGTERM (a shell: SIGHUP, which interactive shells obey), then
    SIGKILL after a grace period. The exit code is the child's; killed by signal N: 128+N.
    """
    try:
        proc = subprocess.Popen(list(plan.argv), env=plan.env)
    except FileNotFoundError:
        raise OperationFailed(
            f"command not found: {plan.argv[0]}",
            "check the name, or give its full path",
        ) from None
    except PermissionError:
        raise OperationFailed(
            f"cannot run {plan.argv[0]}: permission denied", "check that it is executable"
        ) from None
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)

    def forward(signum: int, _frame: object) -> None:
        # `kill ztctl` or a closed terminal must reach the child too: an orphan would
        # outlive the session's deadline with nobody to stop it.
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    forwarded = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGHUP)}
    expired = False
    code = 0
    try:
        while True:
            remaining = plan.session.remaining()
            try:
                code = proc.wait(timeout=max(0.0, min(remaining, 60.0)))
                break
            except subprocess.TimeoutExpired:
                if plan.session.remaining() > 0:
                    continue
                expired = True
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGHUP if plan.shell else signal.SIGTERM)
                try:
                    code = proc.wait(timeout=CHILD_GRACE_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    code = proc.wait()
                break
    finally:
        signal.signal(signal.SIGINT, previous)
        for sig, handler in forwarded.items():
            signal.signal(sig, handler)
    if code < 0:
        code = 128 - code
    return ExecOutcome(code=code, expired=expired)


def default_shell(env: Mapping[str, str]) -> str:
    return env.get("SHELL") or ("/bin/zsh" if sys.platform == "darwin" else "/bin/sh")
