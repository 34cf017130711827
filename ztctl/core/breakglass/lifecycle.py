"""The end of a break-glass session, and what every command asks: end, expire, reap, status.

The end is ``end``, or the deadline: the watchdog or any break-glass command (:func:`reap`)
closes the route (:func:`close_route`), deletes the overlay and records
``break-glass.expire``. Opening a session is :mod:`.opening`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ztctl.adapters.fs import ensure_private_dir
from ztctl.core.breakglass.processes import (
    route_alive,
    spawn_watchdog,
    starter_alive,
    watchdog_alive,
)
from ztctl.core.breakglass.session import (
    GONE_WHY,
    STATE_ACTIVE,
    STATE_OPENING,
    Session,
    SshState,
    StrayFile,
    VpnState,
    list_sessions,
    list_strays,
    read_session,
    read_session_or_stray,
    rfc3339,
    session_file,
    sessions_dir,
)
from ztctl.core.breakglass.store import (
    LOCK_TIMEOUT_S,
    AuditFailed,
    locked,
    record,
    remove_session,
    write_session,
)
from ztctl.core.breakglass.trusted import CatalogRoutes
from ztctl.core.model import VpnRoute
from ztctl.errors import (
    OperationFailed,
    ZtctlError,
)

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Teardown:
    """How closing a route went."""

    problem: str | None = None  # the route may still be open: why
    command: str | None = None  # the catalog command that ran (shell-quoted, redacted)


def close_route(
    session: Session,
    routes: CatalogRoutes,
    env: Mapping[str, str] | None = None,
    say: Progress | None = None,
) -> Teardown:
    """Close the session's route. A VPN's ``down`` command is the catalog's (``routes``),
    never one from the session file; it is shown through ``say`` before it runs."""
    from ztctl.adapters import routes_bg

    match session.route:
        case SshState(pid=pid, marker=marker, control_path=control_path, host=host):
            if control_path and host:
                gone = routes_bg.close_ssh(pid, control_path, host, env=env)
            else:
                gone = routes_bg.terminate(pid, marker)
            return Teardown(None if gone else f"the ssh tunnel (pid {pid}) did not stop")
        case VpnState(interface=interface):
            down, problem = _catalog_down(session, routes, interface)
            if down is None:
                return Teardown(problem)
            shown = routes_bg.shown_command(down)
            if say is not None:
                say(f"running the catalog's VPN down command for {session.cluster}: {shown}")
            try:
                ensure_private_dir(session.dir)  # its log's home (it may have been deleted)
                routes_bg.run_vpn_command(
                    down, log_file=session.dir / "vpn.log", interactive=False, env=env
                )
            except routes_bg.RouteError as exc:
                return Teardown(exc.message, shown)
            except OSError as exc:
                return Teardown(f"the VPN's down command could not run: {exc}", shown)
            return Teardown(None, shown)
        case _:
            return Teardown()


def _catalog_down(
    session: Session, routes: CatalogRoutes, interface: str | None
) -> tuple[tuple[str, ...] | None, str | None]:
    """The catalog's ``down`` for the session's VPN, or None and why ztctl cannot run one."""
    cluster = session.cluster
    yourself = f"close {session.route.display} yourself"
    try:
        bg = routes.break_glass(cluster)
    except Exception as exc:  # an unreadable catalog must not stop the session's end
        why = exc.message if isinstance(exc, ZtctlError) else f"{type(exc).__name__}: {exc}"
        return None, (
            f"the catalog cannot be read ({why[:300]}), so ztctl cannot run the VPN's down "
            f"command; {yourself}"
        )
    route = bg.route if bg is not None else None
    if not isinstance(route, VpnRoute):
        return None, (
            f"the catalog no longer gives {cluster} a VPN route, so ztctl cannot run its "
            f"down command; {yourself}"
        )
    if interface and route.interface != interface:
        return None, (
            f"the catalog's VPN route of {cluster} is now for interface {route.interface}, not "
            f"{interface}, which this session brought up; {yourself}"
        )
    return route.down, None


def _finish(
    state_dir: Path,
    session: Session,
    event: str,
    *,
    routes: CatalogRoutes,
    env: Mapping[str, str] | None,
    stop_watchdog: bool,
    say: Progress | None = None,
    keep_file: bool = False,
    **fields: Any,
) -> Ended:
    """Close the route, audit ``event``, delete the files. The caller holds the lock.

    The session file goes last: once it is gone, the event is in the audit log (or
    :attr:`Ended.audit` says why not)."""
    teardown = close_route(session, routes, env, say)
    problem = teardown.problem
    now = time.time()
    extra = {k: v for k, v in fields.items() if v is not None}
    if problem:
        extra["teardownProblem"] = problem
    if teardown.command:
        extra["downCommand"] = teardown.command
    lost = None
    try:
        record(
            state_dir,
            event,
            session,
            started=rfc3339(session.started),
            deadline=rfc3339(session.deadline),
            durationSeconds=round(max(0.0, now - session.started), 1),
            **extra,
        )
    except AuditFailed as exc:
        # The route is closed all the same (never left open because the disk is full);
        # the caller reports the lost event with a non-zero exit.
        lost = exc.message
    finally:
        if keep_file:  # the file is another session's now: only this one's directory goes
            import shutil

            shutil.rmtree(session.dir, ignore_errors=True)
        else:
            remove_session(session)
        if stop_watchdog and session.watchdog_pid and session.watchdog_pid != os.getpid():
            from ztctl.adapters.routes_bg import terminate

            terminate(session.watchdog_pid, session.watchdog_marker, grace=1.0)
    return Ended(session=session, event=event, problem=problem, at=now, audit=lost)


@dataclass(frozen=True)
class Ended:
    session: Session
    event: str  # break-glass.end | break-glass.expire
    problem: str | None  # the route may still be open (e.g. the VPN down command failed)
    at: float
    audit: str | None = None  # the event could not be written to the audit log: why

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.session.cluster,
            "id": self.session.id,
            "event": self.event,
            "route": self.session.route.display,
            "at": rfc3339(self.at),
            "problem": self.problem,
            "auditError": self.audit,
        }


def expire(
    state_dir: Path,
    cluster: str,
    session_id: str | None = None,
    *,
    by: str,
    env: Mapping[str, str] | None = None,
    wait: float | None = LOCK_TIMEOUT_S,
    routes: CatalogRoutes | None = None,
) -> Ended | None:
    """End the session of ``cluster`` if it is past its deadline (or was abandoned while
    opening); records ``break-glass.expire``. None when there was nothing to expire."""
    routes = routes or CatalogRoutes(state_dir, env)
    with locked(state_dir, cluster, wait=wait) as got:
        if not got:
            return None
        session = routes.cap(read_session(state_dir, cluster))
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
            routes=routes,
            env=env,
            stop_watchdog=by != "watchdog",
            by=by,
            why=why,
        )


def expire_known(state_dir: Path, known: Session, routes: CatalogRoutes) -> Ended | None:
    """The watchdog's end of its session at the deadline, or at once when its start was
    abandoned: from ``known``, the watchdog's own copy of the session, since the file may
    have been deleted, cut off or edited meanwhile. Records ``break-glass.expire`` (with
    ``sessionFile`` saying what became of the file when it was not intact).

    None when there was nothing to do: the lock is busy, the session is not due after all
    (the file shows the start finished), or it was already ended (audited)."""
    with locked(state_dir, known.cluster) as got:
        if not got:
            return None
        on_disk = read_session_or_stray(state_dir, known.cluster)
        ours = isinstance(on_disk, Session) and on_disk.id == known.id
        if ours:
            assert isinstance(on_disk, Session)
            known = follow(known, routes.cap(on_disk)) or known
        elif session_closed(state_dir, known.id):
            return None
        else:  # the start may have finished (and its starter exited) after our last look
            known = promoted(known, state_dir)
        abandoned = known.state == STATE_OPENING and not starter_alive(known)
        if not known.expired() and not abandoned:
            return None
        return _finish(
            state_dir,
            known,
            "break-glass.expire",
            routes=routes,
            env=None,
            stop_watchdog=False,
            keep_file=isinstance(on_disk, Session) and not ours,
            by="watchdog",
            why="start interrupted" if abandoned and not known.expired() else "ttl",
            sessionFile=None if ours else file_fate(on_disk),
        )


def follow(known: Session | None, found: Session | None) -> Session | None:
    """The watchdog's copy of its session, updated from the file just read (``found``, the
    same session). While it opens, the file is the truth (the route's facts and the
    deadline are filled in). Once active, the copy is fixed: the route that was opened is
    the one to close, and an edited file may bring the deadline forward, never back."""
    if known is None or known.state != STATE_ACTIVE or found is None:
        return found or known
    return replace(known, deadline=found.deadline) if found.deadline < known.deadline else known


def file_fate(on_disk: Session | StrayFile | None) -> str:
    """What became of a session file, for the audit log and the watchdog's log."""
    if on_disk is None:
        return "missing"
    if isinstance(on_disk, StrayFile):
        return f"damaged: {on_disk.why}"
    return f"replaced by session {on_disk.id}"


def restore_file(state_dir: Path, known: Session) -> str | None:
    """Put the watchdog's copy of its session back when the file is missing or damaged, so
    that ``status`` and ``end`` see the route that is still open. Returns what happened,
    "was missing; wrote it back" (None: nothing to do, or the lock is busy). Never
    overwrites another session's file, never waits for the lock, never restores a session
    that was ended."""
    with locked(state_dir, known.cluster, wait=0) as got:
        if not got:
            return None
        on_disk = read_session_or_stray(state_dir, known.cluster)
        if isinstance(on_disk, Session) or session_closed(state_dir, known.id):
            return None
        try:
            write_session(known)
        except OSError as exc:  # a directory where the file was, a read-only directory...
            return f"was {file_fate(on_disk)}; cannot write it back: {exc.strerror or exc}"
        return f"was {file_fate(on_disk)}; wrote it back"


# How much of the audit log's end ``audit_trail`` reads (an event is a few hundred bytes).
AUDIT_TAIL_BYTES = 1024 * 1024
_CLOSING_EVENTS = ("break-glass.end", "break-glass.expire", "break-glass.route-failed")


def session_closed(state_dir: Path, session_id: str) -> bool:
    """Whether the audit log records the end of session ``session_id``. An unreadable log
    counts as "not closed": the watchdog then closes the route again at its deadline, the
    safe side."""
    return any(e.get("event") in _CLOSING_EVENTS for e in audit_trail(state_dir, session_id))


def promoted(known: Session, state_dir: Path) -> Session:
    """``known`` as the starter left it, when the watchdog's copy is still the ``opening``
    one and the file is gone before it saw the last write: the audit log's
    ``break-glass.start`` for the session gives its deadline (the session became active
    only after that event was written). Unchanged when there is no such event."""
    if known.state != STATE_OPENING:
        return known
    from datetime import datetime

    for event in audit_trail(state_dir, known.id):
        if event.get("event") != "break-glass.start":
            continue
        try:
            deadline = datetime.fromisoformat(str(event["deadline"])).timestamp()
        except (KeyError, ValueError, OverflowError):
            continue
        deadline = min(deadline, known.deadline)
        user = event.get("kubeUser")
        return replace(
            known,
            state=STATE_ACTIVE,
            started=deadline - known.ttl_s,
            deadline=deadline,
            starter_pid=None,
            kube_user=user if isinstance(user, str) else None,
            overlay=str(known.dir / "kubeconfig"),
        )
    return known


def audit_trail(state_dir: Path, session_id: str) -> list[dict[str, Any]]:
    """The audit events of session ``session_id``, read bounded: the last MiB of the log
    (a session's events are among the last written when its watchdog asks), a regular file
    only; none when it cannot be read."""
    import json
    import stat

    from ztctl.core.audit import AUDIT_FILE

    path = Path(state_dir) / AUDIT_FILE
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return []
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return []
        os.lseek(fd, max(0, st.st_size - AUDIT_TAIL_BYTES), os.SEEK_SET)
        tail = os.read(fd, AUDIT_TAIL_BYTES)
    except OSError:
        return []
    finally:
        os.close(fd)
    needle = json.dumps(session_id).encode()
    found = []
    for line in tail.splitlines():
        if needle not in line:
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and item.get("session") == session_id:
            found.append(item)
    return found


def reap(
    state_dir: Path,
    env: Mapping[str, str] | None = None,
    routes: CatalogRoutes | None = None,
) -> list[Ended]:
    """Expire every session past its deadline; restart a watchdog that died. Never blocks
    on a session another ztctl is busy with."""
    sessions = list_sessions(state_dir)
    if not sessions:
        return []
    routes = routes or CatalogRoutes(state_dir, env)
    ended = []
    for found in sessions:
        session = routes.cap(found)
        assert session is not None
        if session.expired() or (session.state == STATE_OPENING and not starter_alive(session)):
            done = expire(
                state_dir, session.cluster, session.id, by="ztctl", env=env, wait=0, routes=routes
            )
            if done is not None:
                ended.append(done)
        elif session.state == STATE_ACTIVE and not watchdog_alive(session):
            with locked(state_dir, session.cluster, wait=0) as got:
                current = read_session(state_dir, session.cluster) if got else None
                if current is not None and current.id == session.id:
                    pid = spawn_watchdog(state_dir, current, env, source_or_none(routes))
                    write_session(replace(current, watchdog_pid=pid))
    return ended


def source_or_none(routes: CatalogRoutes) -> str | None:
    try:
        return routes.source()
    except Exception:  # an unreadable config: the watchdog finds out for itself
        return None


def end(
    state_dir: Path,
    clusters: Sequence[str] | None,
    *,
    by: str,
    env: Mapping[str, str] | None = None,
    routes: CatalogRoutes | None = None,
    on_progress: Progress | None = None,
) -> EndResult:
    """End the sessions of ``clusters`` (None: all). Records ``break-glass.end``.

    A session whose route cannot be closed (the catalog no longer has its VPN, say) is
    ended all the same; :attr:`Ended.problem` says what may still be open."""
    routes = routes or CatalogRoutes(state_dir, env)
    expired = reap(state_dir, env, routes)
    names = open_names(state_dir) if clusters is None else list(clusters)
    ended: list[Ended] = []
    missing: list[str] = []
    strays: list[StrayFile] = []
    for name in names:
        damaged = _damaged(state_dir, name)
        if damaged:
            _wait_for_watchdog(state_dir, name)
        with locked(state_dir, name) as got:
            if not got:
                raise OperationFailed(
                    f"the break-glass session for {name} is busy (another ztctl is opening or "
                    "closing it)",
                    f"wait a moment and run `ztctl break-glass end {name}` again",
                )
            session = read_session_or_stray(state_dir, name)
            if isinstance(session, StrayFile):
                strays.append(session)
                continue
            if session is None and damaged and (sessions_dir(state_dir) / name).is_dir():
                strays.append(StrayFile(name, session_file(state_dir, name), GONE_WHY))
                continue
            if session is None:
                missing.append(name)
                continue
            ended.append(
                _finish(
                    state_dir,
                    session,
                    "break-glass.end",
                    routes=routes,
                    env=env,
                    stop_watchdog=True,
                    say=on_progress,
                    by=by,
                )
            )
    return EndResult(
        ended=tuple(ended), expired=tuple(expired), missing=tuple(missing), strays=tuple(strays)
    )


# How often a watchdog looks at its session file once the session is active, and so how
# soon it writes a deleted or damaged one back; ``end`` waits a little longer than that.
WATCHDOG_POLL_S = 2.0
WRITE_BACK_WAIT_S = 2 * WATCHDOG_POLL_S + 1


def open_names(state_dir: Path) -> list[str]:
    """The clusters ``end --all`` ends: those with a session file, readable or not, or with
    a session directory whose file is gone (deleted by hand while the route was open: a
    stray too, see :func:`list_strays`)."""
    names = {s.cluster for s in list_sessions(state_dir)}
    names.update(s.cluster for s in list_strays(state_dir))
    return sorted(names)


def _damaged(state_dir: Path, cluster: str) -> bool:
    """The session file is damaged, or gone while its session directory is still there."""
    found = read_session_or_stray(state_dir, cluster)
    if isinstance(found, StrayFile):
        return True
    return found is None and (sessions_dir(state_dir) / cluster).is_dir()


def _wait_for_watchdog(state_dir: Path, cluster: str) -> None:
    """A damaged or deleted session file: give its watchdog (if one lives) the time to
    write back its copy of the session, so that ``end`` closes the route that copy names."""
    give_up = time.monotonic() + WRITE_BACK_WAIT_S
    while time.monotonic() < give_up:
        if isinstance(read_session_or_stray(state_dir, cluster), Session):
            return
        time.sleep(0.1)


@dataclass(frozen=True)
class EndResult:
    ended: tuple[Ended, ...]
    expired: tuple[Ended, ...]  # reaped on the way: already past their deadline
    missing: tuple[str, ...]  # asked for, but no session was open
    strays: tuple[StrayFile, ...] = ()  # damaged session files no watchdog wrote back

    def to_dict(self) -> dict[str, Any]:
        return {
            "ended": [e.to_dict() for e in self.ended],
            "expired": [e.to_dict() for e in self.expired],
            "notOpen": list(self.missing),
            "strays": [s.to_dict() for s in self.strays],
        }


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
    strays: tuple[StrayFile, ...] = ()  # session files that cannot be read

    def to_dict(self) -> dict[str, Any]:
        return {
            "sessions": [s.to_dict(self.now) for s in self.sessions],
            "expired": [e.to_dict() for e in self.expired],
            "strays": [s.to_dict() for s in self.strays],
        }


def status(
    state_dir: Path, env: Mapping[str, str] | None = None, routes: CatalogRoutes | None = None
) -> StatusResult:
    routes = routes or CatalogRoutes(state_dir, env)
    expired = reap(state_dir, env, routes)
    capped = [routes.cap(s) for s in list_sessions(state_dir)]
    rows = tuple(
        SessionStatus(s, route_alive(s), watchdog_alive(s)) for s in capped if s is not None
    )
    return StatusResult(
        sessions=rows,
        expired=tuple(expired),
        now=time.time(),
        strays=tuple(list_strays(state_dir)),
    )


Progress = Callable[[str], None]
