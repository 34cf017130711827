"""Run a probe: dial, pipeline ``/readyz``, ``/version`` and the SelfSubjectReview on one
kept-alive connection, judge the answers; ``--count`` samples; ``--route auto`` fallback.

The wire (sockets, TLS, HTTP/1.1) is :mod:`ztctl.adapters.wire`; every failure it raises is
turned into the user's Problem by :mod:`ztctl.core.probe.diagnose`.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from ztctl.adapters.wire import errors as wire_errors
from ztctl.adapters.wire.dial import Deadline, DialSpec, Trace, dial
from ztctl.core.probe import diagnose
from ztctl.core.probe.credentials import Credentials, Failed
from ztctl.core.probe.result import (
    CertificateInfo,
    DnsInfo,
    ProbeResult,
    SampleEvent,
    Samples,
    SampleStats,
    Timings,
)
from ztctl.core.probe.routes import ROUTES, RoutePath, break_glass_path, zero_trust_path
from ztctl.errors import EXIT_UNREACHABLE

if TYPE_CHECKING:
    from ztctl.adapters.wire.http import Connection, Response
    from ztctl.core.probe.target import Target

_T = TypeVar("_T")

READYZ = "/readyz"
VERSION = "/version"
SELF_SUBJECT_REVIEW = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
_SSR_BODY = json.dumps(
    {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    separators=(",", ":"),
).encode()


@dataclass(frozen=True)
class ProbeOptions:
    timeout: float = 3.0  # bounds one probe (and each sample)
    count: int = 0  # 0: a single probe, no samples
    interval: float = 1.0
    allow_interactive: bool = True  # False under --no-input: exec plugins get no stdin
    env: Mapping[str, str] | None = None  # None: os.environ
    on_sample: Callable[[SampleEvent], None] | None = None


@dataclass
class _Dialled:
    """What one dial learned, as the result reports it."""

    trace: Trace
    certificate: CertificateInfo | None = None
    dns: DnsInfo | None = None
    address_in_catalog: bool | None = None
    warnings: tuple[str, ...] = ()


def _is_ip(host: str) -> bool:
    from ztctl.adapters.dns import is_ip

    return is_ip(host)


class _Run:
    """One route of one probe run: credentials, the kept-alive connection, timings."""

    def __init__(self, target: Target, path: RoutePath, options: ProbeOptions) -> None:
        self.target = target
        self.path = path
        self.options = options
        self.creds = Credentials(
            target, allow_interactive=options.allow_interactive, env=options.env
        )
        self.conn: Connection | None = None
        self.where = ""
        self.reconnects = 0

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # --- the wire, its failures as Problems --------------------------------------------

    def _dial(self, deadline: Deadline, found: _Dialled) -> Connection:
        """DNS, TCP, proxy and TLS into ``found``; raises Failed on any failure."""
        t = self.target
        assert self.creds.context is not None
        spec = DialSpec(
            host=t.host,
            port=t.port,
            sni=t.sni,
            authority=t.authority,
            context=self.creds.context,
            preferred=t.addresses,
            proxy=self.path.proxy,
        )
        trace = found.trace
        try:
            conn = dial(spec, deadline, trace)
        except wire_errors.CertificateRejected as exc:
            problem, found.certificate = diagnose.untrusted(t, self.path, trace.address, exc)
            raise Failed(problem) from None
        except wire_errors.WireError as exc:
            raise Failed(
                diagnose.dial_failure(t, self.path, exc, deadline.seconds, trace.address)
            ) from None
        finally:
            self._note(found)
        self.where = diagnose.hostport(trace.address or t.host, t.port)
        if trace.peer is not None:
            found.certificate = CertificateInfo(
                issuer=trace.peer.issuer,
                not_after=trace.peer.not_after,
                subject=trace.peer.subject,
                verified=True,
            )
        return conn

    def _note(self, found: _Dialled) -> None:
        """DNS facts, the catalog match and warnings from the trace (also after a failure)."""
        t, trace = self.target, found.trace
        if not trace.via_proxy and trace.dns is not None:
            resolved = trace.dns.addresses
            matches = bool(set(resolved) & set(t.addresses)) if t.addresses and resolved else None
            found.dns = DnsInfo(t.host, tuple(resolved), trace.dns.error, matches)
            found.warnings = tuple(diagnose.dns_warnings(t, found.dns))
        if trace.address is None or not t.addresses:
            found.address_in_catalog = None
        elif trace.via_proxy:  # the proxy resolves a name: only an IP can be checked here
            found.address_in_catalog = t.host in t.addresses if _is_ip(t.host) else None
        else:
            found.address_in_catalog = trace.address in t.addresses

    def _call(self, what: str, deadline: Deadline, step: Callable[[], _T]) -> _T:
        """Run one exchange step; its failure as a Problem (``what``: e.g. ``GET /readyz``)."""
        try:
            return step()
        except wire_errors.WireError as exc:
            raise Failed(
                diagnose.exchange_failure(
                    self.target, self.path, exc, deadline.seconds, self.where, what
                )
            ) from None

    def _request(self, deadline: Deadline) -> tuple[Response, float]:
        conn = self.conn
        assert conn is not None
        return self._call(
            f"GET {READYZ}",
            deadline,
            lambda: conn.request("GET", READYZ, deadline, token=self.creds.token),
        )

    # --- the probe -----------------------------------------------------------------------

    def once(self) -> ProbeResult:
        """The full probe: dial, /readyz, /version, SelfSubjectReview."""
        deadline = Deadline(self.options.timeout)
        found = _Dialled(Trace())
        outcome: dict[str, Any] = {}
        try:
            self.creds.prepare(deadline)
            deadline = Deadline(self.options.timeout)  # the plugin's time is not the path's
            self._ready(deadline, found, outcome)
            self._version_and_user(deadline, outcome)
            if outcome.get("problem") is None:
                outcome["problem"] = outcome.pop("auth_problem", None)
        except Failed as fail:
            outcome["problem"] = fail.problem
            self.close()
        if self.conn is not None and self.conn.closed:
            self.close()
        return self._result(found, outcome)

    def _ready(self, deadline: Deadline, found: _Dialled, outcome: dict[str, Any]) -> None:
        """Dial and read the /readyz answer (re-dialling once after a 401 for exec)."""
        started = time.perf_counter()
        self.conn = self._dial(deadline, found)
        response, sent = self._exchange(deadline)
        outcome["first_byte_ms"] = (response.first_byte - sent) * 1000.0
        outcome["total_ms"] = (response.done - started) * 1000.0
        if response.status == 401 and self.creds.refresh_after_401(deadline):
            self.close()
            self.conn = self._dial(deadline, found)
            response, sent = self._exchange(deadline)
        outcome["readyz_status"] = response.status
        outcome["readyz"] = _readyz_text(response)
        outcome["problem"] = diagnose.readyz(self.target, response.status, response.body)

    def _result(self, found: _Dialled, outcome: dict[str, Any]) -> ProbeResult:
        trace = found.trace
        return ProbeResult(
            cluster=self.target.name,
            route=self.path.route,
            server=self.target.server,
            address=trace.address,
            port=self.target.port,
            address_in_catalog=found.address_in_catalog,
            timings=Timings(
                dns_ms=trace.dns_ms,
                connect_ms=trace.connect_ms,
                tls_ms=trace.tls_ms,
                first_byte_ms=outcome.get("first_byte_ms"),
                total_ms=outcome.get("total_ms"),
                proxy_ms=trace.proxy_ms,
                credential_ms=self.creds.exec_ms,
            ),
            dns=found.dns,
            via=self.path.proxy_display,
            readyz=outcome.get("readyz"),
            readyz_status=outcome.get("readyz_status"),
            version=outcome.get("version"),
            user=outcome.get("user"),
            groups=tuple(outcome.get("groups", ())),
            certificate=found.certificate,
            credential=self.target.credential_kind,
            problem=diagnose.with_stale_hint(self.target, outcome.get("problem")),
            warnings=found.warnings,
        )

    def _exchange(self, deadline: Deadline) -> tuple[Response, float]:
        """Pipeline /readyz, /version and the SelfSubjectReview; read the /readyz answer.

        One round trip instead of three on a slow path; /readyz is first, so its timings
        are what a single request would see.
        """
        conn = self.conn
        assert conn is not None
        requests: list[tuple[str, str, bytes | None]] = [
            ("GET", READYZ, None),
            ("GET", VERSION, None),
            ("POST", SELF_SUBJECT_REVIEW, _SSR_BODY),  # the only non-idempotent one: last
        ]
        sent = self._call(
            f"GET {READYZ}", deadline, lambda: conn.send(requests, deadline, token=self.creds.token)
        )
        return self._call(f"GET {READYZ}", deadline, lambda: conn.read(deadline)), sent

    def _version_and_user(self, deadline: Deadline, outcome: dict[str, Any]) -> None:
        """Read the pipelined /version and SelfSubjectReview answers."""
        conn = self.conn
        if conn is None or conn.closed:
            return
        response = self._call(f"GET {VERSION}", deadline, lambda: conn.read(deadline))
        if response.status == 200:
            with contextlib.suppress(ValueError, AttributeError, KeyError, TypeError):
                outcome["version"] = str(json.loads(response.body)["gitVersion"])
        if conn.closed:
            return
        response = self._call(f"POST {SELF_SUBJECT_REVIEW}", deadline, lambda: conn.read(deadline))
        if response.status == 401:
            outcome["auth_problem"] = diagnose.identity_rejected(self.target)
            return
        if response.status in (200, 201):
            try:
                user_info = json.loads(response.body)["status"]["userInfo"]
            except (ValueError, KeyError, TypeError):
                return
            username = user_info.get("username")
            outcome["user"] = username
            outcome["groups"] = [str(g) for g in user_info.get("groups") or []]
            if username == "system:anonymous":
                outcome["auth_problem"] = diagnose.anonymous(self.target)

    # --- samples -------------------------------------------------------------------------

    def sample_keep_alive(self) -> float:
        """One GET /readyz on the kept-alive connection (reconnecting first if it broke)."""
        deadline = Deadline(self.options.timeout)
        if self.conn is None:
            self.creds.prepare(deadline)
            self.conn = self._dial(deadline, _Dialled(Trace()))
            deadline = Deadline(self.options.timeout)
            self.reconnects += 1
        try:
            response, sent = self._request(deadline)
        except Failed:
            self.close()
            raise
        if self.conn is not None and self.conn.closed:
            self.close()
        return (response.done - sent) * 1000.0

    def sample_fresh(self) -> float:
        """A full probe of /readyz on a new connection: DNS to the end of the response."""
        deadline = Deadline(self.options.timeout)
        self.creds.prepare(deadline)
        deadline = Deadline(self.options.timeout)
        started = time.perf_counter()
        saved, saved_where = self.conn, self.where
        conn = self._dial(deadline, _Dialled(Trace()))
        self.conn = conn
        try:
            response, _ = self._request(deadline)
        finally:
            conn.close()
            self.conn, self.where = saved, saved_where
        return (response.done - started) * 1000.0


def _readyz_text(response: Response) -> str:
    """``ok`` when ready; otherwise the status and what failed, in one short line."""
    text, failing = diagnose.failing_checks(response.body)
    if response.status == 200:
        return text[:200]
    if failing:
        return f"{response.status}: " + ", ".join(failing)[:300]
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        message = json.loads(text).get("message")
        if message:
            return f"{response.status}: {str(message)[:200]}"
    first = text.splitlines()[0][:200] if text else ""
    return f"{response.status}: {first}" if first else str(response.status)


def probe(target: Target, path: RoutePath, options: ProbeOptions | None = None) -> ProbeResult:
    """Probe ``target`` on one route; with ``options.count``, add samples."""
    options = options or ProbeOptions()
    if not path.available:
        return _no_route(target, path)
    run = _Run(target, path, options)
    try:
        result = run.once()
        if options.count > 0:
            result = replace(result, samples=_sample(run, options))
        return result
    finally:
        run.close()


def _sample(run: _Run, options: ProbeOptions) -> Samples:
    """Two series, one after the other: N requests on the kept-alive connection, then N
    probes on fresh connections, ``interval`` apart.

    Not interleaved on purpose: a fresh handshake between two kept-alive requests disturbs
    the server (new thread, TLS work) and inflates the per-request figure it is meant to show.
    """
    series: dict[str, tuple[list[float], int]] = {}
    count = options.count
    for kind, sample in (("keep-alive", run.sample_keep_alive), ("fresh", run.sample_fresh)):
        values: list[float] = []
        lost = 0
        for index in range(1, count + 1):
            if (index > 1 or kind == "fresh") and options.interval > 0:
                time.sleep(options.interval)
            ms: float | None = None
            error: str | None = None
            try:
                ms = sample()
            except Failed as fail:
                error = fail.problem.message
            if ms is None:
                lost += 1
            else:
                values.append(ms)
            if options.on_sample is not None:
                options.on_sample(SampleEvent(index, count, kind, ms, error))
        series[kind] = (values, lost)
    return Samples(
        keep_alive=SampleStats.of(*series["keep-alive"]),
        fresh=SampleStats.of(*series["fresh"]),
        interval_s=options.interval,
        reconnects=run.reconnects,
    )


def _no_route(target: Target, path: RoutePath) -> ProbeResult:
    return ProbeResult(
        cluster=target.name,
        route=path.route,
        server=target.server,
        address=None,
        port=target.port,
        address_in_catalog=None,
        timings=Timings(),
        credential=target.credential_kind,
        problem=diagnose.no_route(path),
    )


def probe_cluster(
    target: Target,
    *,
    route: str = "auto",
    options: ProbeOptions | None = None,
    session_proxy: str | None = None,
    session_open: bool = False,
) -> ProbeResult:
    """``ztctl probe`` semantics for ``--route auto|zero-trust|break-glass``.

    ``auto`` probes the Zero Trust path; when it is unreachable (exit 5) and the cluster has
    a break-glass route that can be probed (a proxy, or ``session_proxy`` of an open session),
    it probes that too (one probe, no samples) and says in the fix whether break-glass would
    work. The result keeps the Zero Trust outcome and exit code. The caller looks up the
    break-glass session (``session_proxy``, ``session_open``): the probe does not.
    """
    options = options or ProbeOptions()
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}")
    if route == "break-glass":
        return probe(
            target, break_glass_path(target, session_proxy, session_open=session_open), options
        )
    result = probe(target, zero_trust_path(target, options.env), options)
    if route == "zero-trust" or result.problem is None:
        return result
    if result.problem.exit_code != EXIT_UNREACHABLE or target.break_glass is None:
        return result
    bg_path = break_glass_path(target, session_proxy, session_open=session_open)
    start = f"ztctl break-glass start {target.name} --reason '...'"
    # The Zero Trust fix without its generic break-glass hint: the check below says more.
    primary = (
        result.problem.fix.replace(diagnose.break_glass_hint(target), "")
        .replace(diagnose.inspection_hint(target), "")
        .rstrip("; ")
    )
    if not bg_path.available:
        note = f"{bg_path.reason}; {bg_path.fix}" if bg_path.fix else bg_path.reason
        return replace(
            result,
            break_glass_note=note,
            problem=replace(result.problem, fix=f"{primary}; break-glass: {note}"),
        )
    bg = probe(target, bg_path, replace(options, count=0, on_sample=None))
    if bg.ok:
        fix = f"{primary}; the break-glass route works: if Zero Trust is down, run `{start}`"
    else:
        assert bg.problem is not None
        fix = f"{primary}; the break-glass route fails too: {bg.problem.message}"
    return replace(result, break_glass=bg, problem=replace(result.problem, fix=fix))
