"""Opening a break-glass session: ``start``.

``start`` checks the reason and TTL (:mod:`.policy`), finds the user's own kubeconfig entry
(:func:`find_entry`), probes the Zero Trust path, writes the session (state ``opening``)
and starts the watchdog *before* the route opens, opens the route, proves the API server
answers over it, writes the overlay (:mod:`.overlay`) and marks the session ``active``.
A start that fails closes what it opened (:func:`.lifecycle.close_route`).

This and :mod:`.lifecycle` are the only break-glass modules that import
:mod:`ztctl.core.probe` (probe must not import break-glass back).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ztctl.adapters.fs import ensure_private_dir
from ztctl.core.breakglass.overlay import OVERLAY_NAME, KubeEntry, overlay_document, write_overlay
from ztctl.core.breakglass.policy import resolve_ttl, validate_reason
from ztctl.core.breakglass.processes import (
    spawn_watchdog,
)
from ztctl.core.breakglass.session import (
    OPENING_ALLOWANCE_S,
    STATE_ACTIVE,
    STATE_OPENING,
    ProxyState,
    RouteState,
    Session,
    SshState,
    StrayFile,
    VpnState,
    read_session,
    read_session_or_stray,
    rfc3339,
    session_file,
)
from ztctl.core.breakglass.store import (
    AuditFailed,
    locked,
    record,
    remove_session,
    write_session,
)
from ztctl.core.breakglass.trusted import CatalogRoutes
from ztctl.core.duration import format_duration
from ztctl.core.model import ProxyRoute, SshRoute, VpnRoute
from ztctl.errors import (
    EXIT_UNREACHABLE,
    OperationFailed,
    Unreachable,
    ZtctlError,
    error_for,
)
from ztctl.problems import ANSWERED_KINDS

if TYPE_CHECKING:
    from ztctl.core.kubeconfig.model import Kubeconfig
    from ztctl.core.model import Cluster
    from ztctl.core.probe import ProbeOptions, ProbeResult, RoutePath, Target
from ztctl.core.breakglass.lifecycle import (
    Ended,
    Progress,
    Teardown,
    close_route,
    reap,
    source_or_none,
)


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
    catalog_names: tuple[str, ...] = ()  # a context named after another of them is not ours
    catalog_source: str | None = None  # --catalog: the watchdog reads route commands from it


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


def start(request: StartRequest, on_progress: Progress | None = None) -> StartResult:
    """Open the break-glass route of ``request.cluster`` (see the module docstring)."""
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

    with locked(request.state_dir, cluster.name) as got:
        if not got:
            raise OperationFailed(
                f"another ztctl is opening or closing the break-glass route of {cluster.name}",
                "wait for it to finish, then run `ztctl break-glass status`",
            )
        _refuse_open_session(request.state_dir, cluster.name)
        opening = _Opening.prepare(request, env, say)
        session = opening.open_session(reason, ttl)
        session, verified = opening.open_and_prove(session, ttl)
    return StartResult(
        session=session,
        zero_trust=opening.zero_trust,
        verified=verified,
        expired=expired,
        warnings=tuple(opening.warnings),
    )


def _refuse_open_session(state_dir: Path, cluster: str) -> None:
    existing = read_session_or_stray(state_dir, cluster)
    if isinstance(existing, StrayFile):  # it may stand for a route that is still open
        raise OperationFailed(
            f"{existing.message}; a break-glass route of {cluster} may still be open",
            existing.fix,
        )
    if existing is not None:
        left = format_duration(existing.remaining())
        raise OperationFailed(
            f"a break-glass session for {cluster} is already open "
            f"({existing.route.display}, {left} left, started by {existing.user}: "
            f"{existing.reason!r})",
            f"use it: `ztctl break-glass exec {cluster} -- kubectl ...`; or end it "
            f"first: `ztctl break-glass end {cluster}`",
        )


@dataclass
class _Opening:
    """What ``start`` knows once the Zero Trust path was probed (the lock is held)."""

    request: StartRequest
    env: Mapping[str, str]
    say: Progress
    entry: KubeEntry
    target: Target
    options: ProbeOptions
    zero_trust: ProbeResult
    warnings: list[str]

    @property
    def zt_state(self) -> str:
        zt = self.zero_trust
        return "ok" if zt.ok else (zt.problem.kind if zt.problem else "failed")

    @classmethod
    def prepare(cls, request: StartRequest, env: Mapping[str, str], say: Progress) -> _Opening:
        """Find the user's entry and probe the Zero Trust path: a healthy one refuses."""
        from ztctl.core import probe as probe_mod
        from ztctl.core.kubeconfig.model import load_kubeconfig

        cluster = request.cluster
        kubeconfig = load_kubeconfig(request.kubeconfig, env)
        entry = find_entry(cluster, kubeconfig, request.catalog_names)
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
        return cls(request, env, say, entry, target, options, zt, warnings)

    def open_session(self, reason: str, ttl: int) -> Session:
        """Write the session (state ``opening``) and start its watchdog."""
        from ztctl.core.audit import os_user

        request = self.request
        cluster = request.cluster
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
            server=self.target.server,
            forced=request.force,
            zt_path=self.zt_state,
            entries=tuple(e.name for e in self.entry.shadowed),
            starter_pid=os.getpid(),
            path=session_file(request.state_dir, cluster.name),
        )
        remove_session(session)  # leftovers of a session that ended badly
        # the file first: a session directory without its file means the file was deleted
        # while the route may be open (`status` and `end` report it)
        write_session(session)
        ensure_private_dir(session.dir)
        watchdog = spawn_watchdog(request.state_dir, session, self.env, source_or_none(self.routes))
        session = replace(session, watchdog_pid=watchdog)
        write_session(session)
        return session

    @property
    def routes(self) -> CatalogRoutes:
        request = self.request
        return CatalogRoutes.of(
            request.cluster, request.state_dir, self.env, source=request.catalog_source
        )

    def open_and_prove(self, session: Session, ttl: int) -> tuple[Session, ProbeResult]:
        """Audit the attempt, open the route, prove the API server answers over it, write
        the overlay, audit the start and only then mark the session active; on any failure
        close everything again (and audit that)."""
        from ztctl.core import probe as probe_mod

        request = self.request
        cluster = request.cluster
        try:
            self._record_attempt(session, ttl)
        except AuditFailed as exc:  # fail closed: nothing runs that cannot be audited
            _abandon(session, request.state_dir, self.env, self.routes, opened=False)
            raise AuditFailed(
                f"{exc.message}; the break-glass route of {cluster.name} was not opened", exc.fix
            ) from None
        try:
            session, path, overlay_proxy = _open_route(
                session, cluster, self.target, request, self.say
            )
            write_session(session)
            self.say(f"checking that the API server answers over {session.route.display} ...")
            verified = probe_mod.probe(self.target, path, self.options)
            problem = verified.problem
            if problem is not None and verified.reached and problem.kind in ANSWERED_KINDS:
                # The route and the credentials work; the API server itself is unwell, which
                # is exactly when someone may need to get in.
                self.warnings.append(f"over the break-glass route: {problem.message}")
            elif problem is not None:
                raise error_for(
                    problem.exit_code,
                    f"the API server of {cluster.name} does not answer over the break-glass "
                    f"route ({session.route.display}): {problem.message}",
                    problem.fix,
                )
            overlay = session.dir / OVERLAY_NAME
            document = overlay_document(self.entry, overlay_proxy, session.id, cluster.name)
            write_overlay(overlay, document)
            now = time.time()
            session = replace(
                session,
                started=now,
                deadline=now + ttl,
                kube_user=verified.user,
                overlay=str(overlay),
            )
            # Fail closed: the session becomes active only once its start event is durable.
            self._record_start(session, ttl, verified)
            session = replace(session, state=STATE_ACTIVE, starter_pid=None)
            write_session(session)
        except AuditFailed as exc:
            _abandon(session, request.state_dir, self.env, self.routes, say=self.say, error=exc)
            raise AuditFailed(
                f"{exc.message}; the break-glass route of {cluster.name} was closed again and "
                "no session is open",
                exc.fix,
            ) from None
        except BaseException as exc:
            _abandon(session, request.state_dir, self.env, self.routes, say=self.say, error=exc)
            raise
        return session, verified

    def _record_attempt(self, session: Session, ttl: int) -> None:
        """``break-glass.route-open``: before anything is opened or run, what will be."""
        from ztctl.adapters.routes_bg import redact_argv

        fields: dict[str, Any] = {}
        bg = self.request.cluster.break_glass
        if bg is not None and isinstance(bg.route, VpnRoute):
            fields["command"] = redact_argv(bg.route.up)
        record(
            self.request.state_dir,
            "break-glass.route-open",
            session,
            ttlSeconds=ttl,
            forced=self.request.force,
            ztPath=self.zt_state,
            server=self.target.server,
            **fields,
        )

    def _record_start(self, session: Session, ttl: int, verified: ProbeResult) -> None:
        record(
            self.request.state_dir,
            "break-glass.start",
            session,
            ttlSeconds=ttl,
            deadline=rfc3339(session.deadline),
            forced=self.request.force,
            ztPath=self.zt_state,
            server=self.target.server,
            kubeUser=verified.user,
        )


def _abandon(
    session: Session,
    state_dir: Path,
    env: Mapping[str, str],
    routes: CatalogRoutes,
    *,
    say: Progress | None = None,
    error: BaseException | None = None,
    opened: bool = True,
) -> None:
    """Undo a start that failed half-way: close the route, delete the files, stop the
    watchdog; ``opened``: something may have been opened, record ``break-glass.route-failed``
    (with what tearing it down did)."""
    from ztctl.adapters.routes_bg import terminate

    teardown = Teardown()
    if opened:
        # The file may know more than the caller (an ssh control socket written by
        # _open_route before it failed).
        on_disk = read_session(state_dir, session.cluster)
        current = on_disk if on_disk is not None and on_disk.id == session.id else session
        teardown = close_route(current, routes, env, say)
    remove_session(session)
    if session.watchdog_pid:
        terminate(session.watchdog_pid, session.watchdog_marker, grace=1.0)
    if not opened:
        return
    fields: dict[str, Any] = {"error": _describe(error)}
    if teardown.command:
        fields["downCommand"] = teardown.command
    if teardown.problem:
        fields["teardownProblem"] = teardown.problem
    try:
        record(state_dir, "break-glass.route-failed", session, **fields)
    except AuditFailed as exc:
        if say is not None and not isinstance(error, AuditFailed):
            say(f"warning: {exc.message}")


def _describe(error: BaseException | None) -> str:
    """A failure in one bounded line, for the audit log (no traceback, no secrets)."""
    if error is None:
        return "failed"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    named = f"{type(error).__name__}: {error}"
    return (error.message if isinstance(error, ZtctlError) else named)[:500]


def _planned_route(cluster: Cluster) -> RouteState:
    from ztctl.adapters.socks import redact_url

    assert cluster.break_glass is not None
    match cluster.break_glass.route:
        case ProxyRoute(url=url):
            shown = redact_url(url)
            return ProxyState(f"proxy {shown}", proxy_url=shown)
        case SshRoute(host=host, user=user, port=port):
            login = f"{user}@" if user else ""
            return SshState(f"ssh {login}{host}:{port}", host=host)
        case VpnRoute(interface=interface):
            return VpnState(f"vpn {interface}", interface=interface)


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
    try:
        match cluster.break_glass.route:
            case ProxyRoute(url=url):
                say(f"checking the break-glass proxy {session.route.proxy_url} ...")
                routes_bg.check_proxy(url, timeout=request.timeout)
                label = f"through {session.route.proxy_url}"
                return session, RoutePath("break-glass", proxy=url, label=label), url
            case SshRoute() as ssh:
                session, proxy_url = _open_ssh(session, ssh, request, env, say)
                path = RoutePath("break-glass", proxy=proxy_url, label=f"through {proxy_url}")
                return session, path, proxy_url
            case VpnRoute(up=up, interface=interface):
                say(
                    f"bringing up {session.route.display}: running the catalog's VPN up "
                    f"command for {cluster.name}: {routes_bg.shown_command(up)}"
                )
                routes_bg.run_vpn_command(
                    up,
                    log_file=session.dir / "vpn.log",
                    interactive=request.interactive,
                    env=env,
                )
                _check_vpn_routes(cluster, interface)
                # The OS routes it: kubectl connects as usual (its own proxy-url or environment).
                direct = zero_trust_path(target, env)
                path = replace(direct, route="break-glass", label=f"over {session.route.display}")
                return session, path, None
    except routes_bg.RouteError as exc:
        raise error_for(EXIT_UNREACHABLE, exc.message, exc.fix) from None


def _open_ssh(
    session: Session,
    route: SshRoute,
    request: StartRequest,
    env: Mapping[str, str],
    say: Progress,
) -> tuple[Session, str]:
    """Start ``ssh -D``; the session now names its process, and the local SOCKS URL."""
    from ztctl.adapters import routes_bg

    planned = session.route
    assert isinstance(planned, SshState)  # _planned_route made it from the same catalog route
    control = routes_bg.control_path_for(session.dir, session.id)
    planned = replace(planned, control_path=control, marker=f"ControlPath={control}")
    session = replace(session, route=planned)
    write_session(session)  # the watchdog can close it from here on
    say(f"opening {session.route.display} (ssh -D) ...")
    tunnel = routes_bg.open_ssh(
        route.host,
        port=route.port,
        user=route.user,
        identity_file=route.identity_file,
        control_path=control,
        log_file=session.dir / "ssh.log",
        interactive=request.interactive,
        env=env,
    )
    session = replace(
        session,
        route=replace(planned, proxy_url=tunnel.proxy_url, pid=tunnel.pid),
    )
    return session, tunnel.proxy_url


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


# Exec and shell


def find_entry(
    cluster: Cluster, kubeconfig: Kubeconfig, catalog_names: Sequence[str] = ()
) -> KubeEntry:
    """The user's own kubeconfig entry for ``cluster``: the context probe and doctor pick
    for it (ztctl's own entry for the cluster first, the current context first among
    equals, then one named like the cluster, then any other on the same API server that is
    not named after another catalog cluster), else the cluster and user entries named like
    the cluster."""
    # ONE RANKING: the context that stands for a cluster is decided in one place, shared
    # with probe and doctor.
    from ztctl.core.contexts import context_for
    from ztctl.core.kubeconfig.model import server_matches

    name = cluster.name
    context = context_for(cluster, kubeconfig, catalog_names)
    cl = us = None
    if context is not None:
        _ctx, cl, us = kubeconfig.context_entries(context)
    elif name in kubeconfig.clusters:
        cl, us = kubeconfig.clusters[name], kubeconfig.users.get(name)
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
