"""Break-glass sessions as they are stored: reading and listing them, cheaply.

A session is one JSON file, ``<state>/break-glass/<cluster>.json`` (0600, in a 0700
directory), next to the session directory ``<state>/break-glass/<cluster>/`` that holds the
overlay kubeconfig and the route's logs. One session per cluster at a time.

For ``probe``, ``doctor``, ``use-cluster`` and ``status``: :func:`has_route`,
:func:`active_session`, :func:`session_proxy` and :func:`hint`. This module imports the
standard library only (``hint`` borrows :mod:`ztctl.core.duration`, and reading a session
file the bounded reader of :mod:`ztctl.adapters.fs`, when they run), takes no
lock and has no side effects, so fast commands can read sessions without paying for the
rest of break-glass. Writing, locking and auditing sessions: :mod:`.store`.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ztctl.core.model import Cluster

SESSIONS_DIR = "break-glass"
ENV_CLUSTER = "ZTCTL_BREAK_GLASS"  # set for the child: the cluster, for shell prompts
ENV_EXPIRES = "ZTCTL_BREAK_GLASS_EXPIRES"  # RFC 3339 deadline, for shell prompts

STATE_OPENING = "opening"
STATE_ACTIVE = "active"

# No session lasts longer than this, whatever the catalog or the session file says.
MAX_SESSION_S = 7 * 86400
# The route must be open and proven within this time, or the watchdog closes it.
OPENING_ALLOWANCE_S = 300


def _route_dict(kind: str, display: str, **fields: Any) -> dict[str, Any]:
    """The stored shape of every route kind: all keys, unused ones empty."""
    out: dict[str, Any] = {
        "kind": kind,
        "display": display,
        "proxyUrl": None,
        "pid": None,
        "marker": None,
        "controlPath": None,
        "host": None,
        "down": [],
        "interface": None,
    }
    out.update(fields)
    return out


@dataclass(frozen=True)
class ProxyState:
    """A catalog proxy: nothing to open or close (no credentials in here)."""

    display: str  # "proxy socks5://127.0.0.1:1080"
    proxy_url: str | None = None  # the catalog's URL with any password redacted
    kind: ClassVar[str] = "proxy"

    def to_dict(self) -> dict[str, Any]:
        return _route_dict(self.kind, self.display, proxyUrl=self.proxy_url)


@dataclass(frozen=True)
class SshState:
    """An ``ssh -D`` tunnel: its local SOCKS port and what ends the background ssh."""

    display: str  # "ssh oncall@bastion:22"
    proxy_url: str | None = None  # the local SOCKS port clients dial
    pid: int | None = None  # the background ssh process
    marker: str | None = None  # on the process's command line (guards against pid reuse)
    control_path: str | None = None  # ssh -S
    host: str | None = None  # the bastion
    kind: ClassVar[str] = "ssh"

    def to_dict(self) -> dict[str, Any]:
        return _route_dict(
            self.kind,
            self.display,
            proxyUrl=self.proxy_url,
            pid=self.pid,
            marker=self.marker,
            controlPath=self.control_path,
            host=self.host,
        )


@dataclass(frozen=True)
class VpnState:
    """A VPN the OS routes. What closes it is the catalog's ``down`` command, looked up when
    it is needed (:mod:`.trusted`), never a command stored here."""

    display: str  # "vpn oob"
    interface: str | None = None
    kind: ClassVar[str] = "vpn"
    proxy_url: ClassVar[None] = None  # the OS routes it

    def to_dict(self) -> dict[str, Any]:
        return _route_dict(self.kind, self.display, interface=self.interface)


@dataclass(frozen=True)
class UnknownState:
    """A route kind this ztctl does not know (a newer ztctl wrote it, or the file was
    edited): shown as it is, nothing to check or close."""

    kind: str
    display: str
    proxy_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _route_dict(self.kind, self.display, proxyUrl=self.proxy_url)


# How the session's route is reached and torn down (no credentials in here).
RouteState = ProxyState | SshState | VpnState | UnknownState


def route_from_dict(data: Any) -> RouteState:
    """The stored route; :class:`ValueError` when it is not an object of text fields."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValueError(f"its route is {_json_kind(data)}, not an object")
    kind = _text(data, "kind", "route.") or ""
    display = _text(data, "display", "route.") or ""
    proxy_url = _text(data, "proxyUrl", "route.")
    if kind == ProxyState.kind:
        return ProxyState(display, proxy_url)
    if kind == SshState.kind:
        return SshState(
            display,
            proxy_url,
            pid=_int_or_none(data.get("pid")),
            marker=_text(data, "marker", "route."),
            control_path=_text(data, "controlPath", "route."),
            host=_text(data, "host", "route."),
        )
    if kind == VpnState.kind:  # a stored "down" (older ztctl, or edited) is ignored
        return VpnState(display, interface=_text(data, "interface", "route."))
    return UnknownState(kind, display, proxy_url)


def _json_kind(value: Any) -> str:
    """What a JSON value is, in words: ``null``, ``a list``, ``a number``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, Mapping) else type(value).__name__


def _text(data: Mapping[str, Any], key: str, prefix: str = "") -> str | None:
    """A text field (None when absent, null or empty); :class:`ValueError` for another type."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"its field {prefix}{key} is {_json_kind(value)}, not text")
    return value


def _number(data: Mapping[str, Any], key: str) -> float:
    """A required number field; :class:`ValueError` when it is missing or not a number."""
    if key not in data:
        raise ValueError(f"its field {key} is missing")
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"its field {key} is {_json_kind(value)}, not a number")
    return float(value)


def _whole_seconds(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError, OverflowError):
        return 0


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

    def capped(self, max_ttl_s: int) -> Session:
        """This session with its deadline no later than ``started + max_ttl_s`` (at most 7
        days; plus the opening allowance while it opens): the catalog's ``maxTtl``."""
        limit = _latest_deadline(self.started, max_ttl_s, self.state)
        return self if self.deadline <= limit else replace(self, deadline=limit)

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
    def from_dict(cls, data: Mapping[str, Any], path: Path, now: float | None = None) -> Session:
        """The stored session, its deadline cut back to what the TTL rules allow: the file
        is the user's to edit and is not trusted for how long a route stays open."""
        if not isinstance(data, Mapping):
            raise ValueError(f"it holds {_json_kind(data)}, not a session object")
        session_id = _text(data, "id")
        cluster = _text(data, "cluster")
        if session_id is None or cluster is None:
            raise ValueError(f"its field {'id' if session_id is None else 'cluster'} is missing")
        entries = data.get("entries") or []
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise ValueError("its field entries is not a list of names")
        state = _text(data, "state") or STATE_OPENING
        ttl_s = _whole_seconds(data.get("ttlSeconds"))
        started, deadline = _bounded_times(
            _number(data, "started"), _number(data, "deadline"), ttl_s, state, now
        )
        return cls(
            id=session_id,
            cluster=cluster,
            state=state,
            reason=_text(data, "reason") or "",
            user=_text(data, "user") or "",
            started=started,
            deadline=deadline,
            ttl_s=max(0, min(ttl_s, MAX_SESSION_S)),
            route=route_from_dict(data.get("route")),
            server=_text(data, "server") or "",
            forced=data.get("forced") is True,
            zt_path=_text(data, "ztPath") or "",
            kube_user=_text(data, "kubeUser"),
            overlay=_text(data, "overlay"),
            entries=tuple(entries),
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


# A session that started more than this in the future was not written by this clock.
CLOCK_SKEW_S = 300


def _latest_deadline(started: float, ttl_s: int, state: str) -> float:
    allowance = 0 if state == STATE_ACTIVE else OPENING_ALLOWANCE_S
    return started + max(0, min(ttl_s, MAX_SESSION_S)) + allowance


def _bounded_times(
    started: float, deadline: float, ttl_s: int, state: str, now: float | None
) -> tuple[float, float]:
    """``(started, deadline)`` as far as they can be trusted: the deadline no later than
    ``started`` + the session's TTL (at most 7 days); a start that is not a time, or lies in
    the future, ends the session now."""
    now = time.time() if now is None else now
    if not (math.isfinite(started) and math.isfinite(deadline)):
        return now, now
    if started < 0 or started > now + CLOCK_SKEW_S:
        return now, now
    return started, min(deadline, _latest_deadline(started, ttl_s, state))


def rfc3339(ts: float) -> str:
    when = datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")
    return when.replace("+00:00", "Z")


def sessions_dir(state_dir: Path) -> Path:
    return Path(state_dir) / SESSIONS_DIR


def session_file(state_dir: Path, cluster: str) -> Path:
    return sessions_dir(state_dir) / f"{cluster}.json"


# A session file is a few hundred bytes; anything bigger, or not a regular file, is a
# stray file (reported by `status`), never read whole.
MAX_SESSION_BYTES = 64 * 1024


@dataclass(frozen=True)
class StrayFile:
    """A session file that is not a session ztctl can read: cut off, edited, binary, too
    big, not a regular file. It may stand for a route that is still open."""

    cluster: str  # from the file's name
    path: Path
    why: str  # "it is not JSON", "it holds null, not a session object", ...

    @property
    def message(self) -> str:
        return f"the break-glass session file {self.path} cannot be read: {self.why}"

    @property
    def fix(self) -> str:
        leftover = (
            f"remove the directory {self.path.with_suffix('')}"
            if self.why == GONE_WHY
            else "delete the file"
        )
        return (
            f"run `ztctl break-glass end {self.cluster}`: it closes the route if ztctl can tell "
            f"which one it was (its watchdog still knows it); otherwise close the route of "
            f"{self.cluster} yourself (a VPN: run the catalog's breakGlass.vpn.down command) "
            f"and {leftover}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "path": str(self.path),
            "problem": self.why,
            "message": self.message,
            "fix": self.fix,
        }


def read_session(state_dir: Path, cluster: str) -> Session | None:
    found = load_session(session_file(state_dir, cluster))
    return found if isinstance(found, Session) else None


def read_session_or_stray(state_dir: Path, cluster: str) -> Session | StrayFile | None:
    """The session of ``cluster``, its session file that cannot be read, or None (no file)."""
    return load_session(session_file(state_dir, cluster))


def load_session(path: Path) -> Session | StrayFile | None:
    """The session in ``path``; a :class:`StrayFile` saying why it cannot be read; None
    when there is no such file."""
    from ztctl.adapters.fs import NotRegularFile, TooLarge, read_regular_file

    try:
        raw = read_regular_file(path, MAX_SESSION_BYTES)
    except FileNotFoundError:
        return None
    except TooLarge:
        return StrayFile(path.stem, path, f"it is larger than {MAX_SESSION_BYTES // 1024} KiB")
    except NotRegularFile as exc:
        return StrayFile(path.stem, path, f"it is {exc.what}, not a regular file")
    except IsADirectoryError:
        return StrayFile(path.stem, path, "it is a directory, not a regular file")
    except OSError as exc:
        return StrayFile(path.stem, path, f"it cannot be read ({exc.strerror or exc})")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return StrayFile(path.stem, path, "it is not UTF-8 text")
    try:
        data = json.loads(text)
    except ValueError:
        why = "it is empty" if not text.strip() else "it is not JSON (cut off or edited?)"
        return StrayFile(path.stem, path, why)
    try:
        session = Session.from_dict(data, path)
    except (ValueError, KeyError, TypeError, OverflowError, AttributeError) as exc:
        return StrayFile(path.stem, path, str(exc) or type(exc).__name__)
    if session.cluster != path.stem:  # its lock, overlay and commands go by the file's name
        return StrayFile(
            path.stem, path, f"it names cluster {session.cluster!r}, not {path.stem!r}"
        )
    return session


def _session_paths(state_dir: Path) -> list[Path]:
    directory = sessions_dir(state_dir)
    try:
        return sorted(p for p in directory.iterdir() if p.suffix == ".json")
    except (FileNotFoundError, NotADirectoryError):
        return []


def list_sessions(state_dir: Path) -> list[Session]:
    """Every session file in the state directory (expired ones included), by cluster."""
    found = (load_session(path) for path in _session_paths(state_dir))
    return [s for s in found if isinstance(s, Session)]


GONE_WHY = "it is gone, but the session's directory is still there"


def list_strays(state_dir: Path) -> list[StrayFile]:
    """Every session file that cannot be read as a session (see :class:`StrayFile`), and
    every session directory whose file is gone (deleted while its route may be open; a
    session's file is written before its directory and removed after it)."""
    found = (load_session(path) for path in _session_paths(state_dir))
    strays = [s for s in found if isinstance(s, StrayFile)]
    directory = sessions_dir(state_dir)
    try:
        names = sorted(p.name for p in directory.iterdir() if p.suffix != ".json" and p.is_dir())
    except OSError:
        names = []
    for name in names:
        path = directory / f"{name}.json"
        if not name.startswith(".") and not os.path.lexists(path):
            strays.append(StrayFile(name, path, GONE_WHY))
    return strays


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
    if session is None:
        return None
    match session.route:
        case SshState(proxy_url=url):
            return url
        case _:
            return None


def hint(state_dir: Path, cluster: Cluster) -> str | None:
    """One sentence for a failing Zero Trust path: how to use break-glass, or None."""
    session = active_session(state_dir, cluster.name)
    if session is not None:
        from ztctl.core.duration import format_duration

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
