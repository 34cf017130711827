"""Reach a Kubernetes API server the way kubectl would, and show where the time goes.

The probe uses the cluster's own server URL, CA and credentials (client certificate,
bearer token or an exec plugin run per the client-go protocol), dials a catalog address
(directly — the Zero Trust path — or through the break-glass proxy), and times each phase
on a raw socket: DNS, TCP connect, proxy handshake, TLS handshake, first byte, total. On one
kept-alive HTTP/1.1 connection it then asks ``/readyz``, ``/version`` and a
``SelfSubjectReview`` (who am I).

Verification is never turned off for anything that carries a request. When the chain does
not verify, a second handshake without verification reads the presented chain *only* to
name its issuer (Cloudflare Gateway's TLS inspection, or something else); that connection is
closed without sending a byte of HTTP.

Public API (used by ``probe``, ``doctor``, ``use-cluster --probe`` and ``break-glass``):

- :class:`Target` and the builders :func:`target_from_cluster`, :func:`target_from_kubeconfig`.
- :func:`probe` (one route, optional samples) and :func:`probe_cluster` (``--route``
  semantics, including ``auto``), returning a frozen :class:`ProbeResult`.
- :class:`RoutePath` / :func:`zero_trust_path` / :func:`break_glass_path` to pick the route.

Nothing here prints; progress of ``--count`` reaches the caller through ``on_sample``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from ztctl import __version__
from ztctl.core.errors import (
    EXIT_AUTH_NEEDED,
    EXIT_FAILED,
    EXIT_INVALID_INPUT,
    EXIT_OK,
    EXIT_UNREACHABLE,
)

if TYPE_CHECKING:
    from ztctl.adapters.execcred import ExecConfig, PluginCredential
    from ztctl.adapters.tlsinfo import CertSummary
    from ztctl.core.model import BreakGlass, Catalog, Cluster

_T = TypeVar("_T")

ROUTES = ("auto", "zero-trust", "break-glass")
READYZ = "/readyz"
VERSION = "/version"
SELF_SUBJECT_REVIEW = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
_SSR_BODY = json.dumps(
    {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    separators=(",", ":"),
).encode()
USER_AGENT = f"ztctl/{__version__} (probe)"
_MAX_BODY = 1 << 20


# --------------------------------------------------------------------------------------
# What to probe
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Everything needed to reach one API server as kubectl would.

    Credentials: any of client certificate (files or PEM data), bearer token (value or
    file), or an exec plugin (whose result replaces the static ones, as in client-go).
    ``ca_pem=None`` means the system trust store (a kubeconfig without a CA).
    """

    name: str
    server: str  # https URL
    addresses: tuple[str, ...] = ()  # the catalog's addresses ("" = none known)
    ca_pem: bytes | None = field(default=None, repr=False)
    tls_server_name: str | None = None
    client_certificate: Path | None = None
    client_key: Path | None = None
    client_certificate_pem: bytes | None = field(default=None, repr=False)
    client_key_pem: bytes | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    exec: ExecConfig | None = None
    proxy_url: str | None = None  # the kubeconfig's proxy-url (zero-trust route only)
    break_glass: BreakGlass | None = None  # the catalog's out-of-band route
    source: str = "catalog"  # catalog | kubeconfig

    @property
    def host(self) -> str:
        return urlsplit(self.server).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.server).port or 443

    @property
    def sni(self) -> str:
        return self.tls_server_name or self.host

    @property
    def authority(self) -> str:
        """The Host header: ``host`` or ``host:port`` (as Go writes it)."""
        parts = urlsplit(self.server)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        if parts.port in (None, 443):
            return netloc.rsplit(":", 1)[0] if parts.port else netloc
        return netloc

    @property
    def credential_kind(self) -> str:
        if self.exec is not None:
            return "exec"
        if self.client_certificate is not None or self.client_certificate_pem is not None:
            return "clientCertificate"
        if self.token is not None or self.token_file is not None:
            return "token"
        return "none"


def target_from_cluster(cluster: Cluster, *, ztctl_command: Sequence[str] | None = None) -> Target:
    """A target from the catalog alone: its CA and credentials, as ``use-cluster`` writes them.

    An ``accessToken`` cluster gets the exec entry ``use-cluster`` writes
    (``ztctl credential NAME``), run as ``ztctl_command`` (default: this interpreter).
    """
    from ztctl.core import model

    creds = cluster.credentials
    cert = key = None
    exec_config = None
    if isinstance(creds, model.ClientCertificate):
        cert, key = creds.certificate.expanduser(), creds.key.expanduser()
    elif isinstance(creds, model.ExecCredential):
        from ztctl.adapters.execcred import ExecConfig

        exec_config = ExecConfig(command=creds.command, args=creds.args, env=creds.env)
    elif isinstance(creds, model.AccessToken):
        import sys

        from ztctl.adapters.execcred import ExecConfig

        command = list(ztctl_command or [sys.executable, "-m", "ztctl"])
        exec_config = ExecConfig(
            command=command[0],
            args=(*command[1:], "credential", cluster.name),
            interactive_mode="Never",
        )
    return Target(
        name=cluster.name,
        server=cluster.server,
        addresses=tuple(cluster.addresses),
        ca_pem=_catalog_ca(cluster),
        client_certificate=cert,
        client_key=key,
        exec=exec_config,
        break_glass=cluster.break_glass,
        source="catalog",
    )


def _catalog_ca(cluster: Cluster) -> bytes | None:
    try:
        return cluster.ca_pem()
    except (OSError, ValueError, AssertionError):
        return None  # reported as a problem when the TLS context is built


def target_from_kubeconfig(
    name: str,
    cluster_entry: Mapping[str, Any],
    user_entry: Mapping[str, Any],
    *,
    catalog_cluster: Cluster | None = None,
    base_dir: Path | None = None,
) -> Target:
    """A target from a kubeconfig ``cluster`` and ``user`` (the inner mappings, kubectl keys).

    Relative paths resolve against ``base_dir`` (the defining file's directory; the
    kubeconfig loader normally resolved them already). Catalog addresses and the break-glass
    route come from ``catalog_cluster`` when the entry is one of the catalog's clusters.
    """
    import base64

    base = base_dir or Path.cwd()

    def path(value: Any) -> Path | None:
        if not value:
            return None
        p = Path(str(value))
        return p if p.is_absolute() else base / p

    def data(value: Any) -> bytes | None:
        if not value:
            return None
        return base64.b64decode(str(value))

    ca_pem = data(cluster_entry.get("certificate-authority-data"))
    if ca_pem is None and cluster_entry.get("certificate-authority"):
        ca_file = path(cluster_entry.get("certificate-authority"))
        assert ca_file is not None
        try:
            ca_pem = ca_file.read_bytes()
        except OSError:
            ca_pem = b""  # unreadable: reported when the TLS context is built
    exec_config = None
    raw_exec = user_entry.get("exec")
    if isinstance(raw_exec, Mapping) and raw_exec.get("command"):
        from ztctl.adapters.execcred import ExecConfig

        env_pairs = tuple(
            (str(item.get("name")), str(item.get("value", "")))
            for item in (raw_exec.get("env") or [])
            if isinstance(item, Mapping) and item.get("name")
        )
        command = str(raw_exec["command"])
        if os.sep in command and not os.path.isabs(command):
            command = str(base / command)
        exec_config = ExecConfig(
            command=command,
            args=tuple(str(a) for a in (raw_exec.get("args") or [])),
            env=env_pairs,
            api_version=str(raw_exec.get("apiVersion") or "client.authentication.k8s.io/v1"),
            interactive_mode=raw_exec.get("interactiveMode") or None,
            provide_cluster_info=bool(raw_exec.get("provideClusterInfo")),
            install_hint=raw_exec.get("installHint") or None,
        )
    return Target(
        name=name,
        server=str(cluster_entry.get("server") or ""),
        addresses=tuple(catalog_cluster.addresses) if catalog_cluster else (),
        ca_pem=ca_pem,
        tls_server_name=cluster_entry.get("tls-server-name") or None,
        client_certificate=path(user_entry.get("client-certificate")),
        client_key=path(user_entry.get("client-key")),
        client_certificate_pem=data(user_entry.get("client-certificate-data")),
        client_key_pem=data(user_entry.get("client-key-data")),
        token=user_entry.get("token") or None,
        token_file=path(user_entry.get("tokenFile")),
        exec=exec_config,
        proxy_url=cluster_entry.get("proxy-url") or None,
        break_glass=catalog_cluster.break_glass if catalog_cluster else None,
        source="kubeconfig",
    )


# --------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutePath:
    """How to get bytes to the API server on one route."""

    route: str  # zero-trust | break-glass
    proxy: str | None = None  # proxy URL (may carry credentials: never display as is)
    label: str = "over WARP"  # for messages: "over WARP", "through socks5://127.0.0.2:1080"
    available: bool = True
    reason: str = ""  # why not available
    fix: str = ""

    @property
    def proxy_display(self) -> str | None:
        if not self.proxy:
            return None
        from ztctl.adapters import socks

        return socks.redact_url(self.proxy)


def zero_trust_path(target: Target, env: Mapping[str, str] | None = None) -> RoutePath:
    """The direct route, with kubectl's proxy choice (``proxy-url``, else the environment)."""
    environ = os.environ if env is None else env
    if target.proxy_url is None and not (environ.get("HTTPS_PROXY") or environ.get("https_proxy")):
        return RoutePath("zero-trust")  # the common case: no proxy adapter to import
    from ztctl.adapters import socks

    proxy = target.proxy_url or socks.proxy_from_environment(target.host, target.port, environ)
    if not proxy:
        return RoutePath("zero-trust")
    return RoutePath("zero-trust", proxy=proxy, label=f"through {socks.redact_url(proxy)}")


def break_glass_path(
    target: Target, session_proxy: str | None = None, *, session_open: bool = False
) -> RoutePath:
    """The out-of-band route: an open session's local proxy (``ssh -D``), the catalog's
    proxy, or — for an open VPN session (``session_open``) — the OS route through it."""
    from ztctl.adapters import socks

    if session_proxy:
        return RoutePath(
            "break-glass", proxy=session_proxy, label=f"through {socks.redact_url(session_proxy)}"
        )
    bg = target.break_glass
    start = f"ztctl break-glass start {target.name} --reason '...'"
    if bg is None:
        return RoutePath(
            "break-glass",
            available=False,
            reason=f"cluster {target.name} has no break-glass route in the catalog",
            fix="ask the platform team to add breakGlass to the catalog entry",
        )
    kind = getattr(bg.route, "kind", "")
    if kind == "proxy":
        url = bg.route.url  # type: ignore[union-attr]
        return RoutePath("break-glass", proxy=url, label=f"through {socks.redact_url(url)}")
    if kind == "vpn" and session_open:
        interface = getattr(bg.route, "interface", "")
        return RoutePath("break-glass", label=f"over the break-glass VPN ({interface})")
    return RoutePath(
        "break-glass",
        available=False,
        reason=f"the {kind} break-glass route of {target.name} is not open",
        fix=f"open it with `{start}`",
    )


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # no __eq__/__hash__: halves class creation
class Timings:
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    first_byte_ms: float | None = None
    total_ms: float | None = None  # DNS start to the end of the /readyz response
    proxy_ms: float | None = None  # proxy handshake (break-glass / proxy-url)
    credential_ms: float | None = None  # exec plugin run (before DNS; not in total)

    def to_dict(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {
            "dnsMs": _r(self.dns_ms),
            "connectMs": _r(self.connect_ms),
            "tlsMs": _r(self.tls_ms),
            "firstByteMs": _r(self.first_byte_ms),
            "totalMs": _r(self.total_ms),
        }
        if self.proxy_ms is not None:
            out["proxyMs"] = _r(self.proxy_ms)
        if self.credential_ms is not None:
            out["credentialMs"] = _r(self.credential_ms)
        return out


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass(frozen=True, eq=False)
class CertificateInfo:
    issuer: str | None
    not_after: str | None  # RFC 3339
    subject: str | None = None
    verified: bool = False
    inspected_by: str | None = None  # Gateway CA name when TLS inspection was detected

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "issuer": self.issuer,
            "notAfter": self.not_after,
            "subject": self.subject,
            "verified": self.verified,
        }
        if self.inspected_by:
            out["inspectedBy"] = self.inspected_by
        return out


@dataclass(frozen=True, eq=False)
class Problem:
    """Why the probe did not end ready: a kind, one sentence, and the fix."""

    kind: str
    message: str
    fix: str
    exit_code: int
    phase: str = ""  # dns | connect | proxy | tls | http | credentials | route

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.exit_code,
            "kind": self.kind,
            "phase": self.phase,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(frozen=True, eq=False)
class SampleStats:
    count: int
    lost: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    min_ms: float | None = None

    @classmethod
    def of(cls, values: Sequence[float], lost: int) -> SampleStats:
        ordered = sorted(values)
        return cls(
            count=len(values) + lost,
            lost=lost,
            p50_ms=percentile(ordered, 50),
            p90_ms=percentile(ordered, 90),
            p99_ms=percentile(ordered, 99),
            max_ms=ordered[-1] if ordered else None,
            min_ms=ordered[0] if ordered else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "lost": self.lost,
            "p50Ms": _r(self.p50_ms),
            "p90Ms": _r(self.p90_ms),
            "p99Ms": _r(self.p99_ms),
            "maxMs": _r(self.max_ms),
            "minMs": _r(self.min_ms),
        }


def percentile(ordered: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True, eq=False)
class Samples:
    """``--count``: N requests on the kept-alive connection, then N full fresh-connection probes.

    The contract's top-level figures are the kept-alive ones (the per-request cost kubectl
    pays once connected); ``fresh`` adds DNS, TCP and TLS each time.
    """

    keep_alive: SampleStats
    fresh: SampleStats
    interval_s: float
    reconnects: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = self.keep_alive.to_dict()
        out["intervalS"] = self.interval_s
        out["reconnects"] = self.reconnects
        out["keepAlive"] = self.keep_alive.to_dict()
        out["fresh"] = self.fresh.to_dict()
        return out


@dataclass(frozen=True, eq=False)
class SampleEvent:
    """One sample, for a live line: ``kind`` is keep-alive or fresh; ``ms`` None when lost."""

    index: int  # 1-based
    count: int
    kind: str
    ms: float | None
    error: str | None = None


@dataclass(frozen=True, eq=False)
class DnsInfo:
    host: str
    addresses: tuple[str, ...] = ()
    error: str | None = None
    matches_catalog: bool | None = None  # None: no catalog addresses, or not resolved here

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "addresses": list(self.addresses),
            "error": self.error,
            "matchesCatalog": self.matches_catalog,
        }


@dataclass(frozen=True, eq=False)
class ProbeResult:
    cluster: str
    route: str  # zero-trust | break-glass
    server: str
    address: str | None  # the IP (or name, through a proxy) actually dialled
    port: int
    address_in_catalog: bool | None
    timings: Timings
    dns: DnsInfo | None = None
    via: str | None = None  # proxy URL without credentials
    readyz: str | None = None  # the /readyz body ("ok"), None when not reached
    readyz_status: int | None = None
    version: str | None = None  # gitVersion
    user: str | None = None
    groups: tuple[str, ...] = ()
    certificate: CertificateInfo | None = None
    credential: str = "none"  # clientCertificate | token | exec | none
    problem: Problem | None = None
    warnings: tuple[str, ...] = ()
    samples: Samples | None = None
    break_glass: ProbeResult | None = None  # auto: the break-glass check after a failure
    break_glass_note: str | None = None  # auto: why break-glass was not probed

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.problem is None else self.problem.exit_code

    @property
    def reached(self) -> bool:
        """The API server answered HTTP on this route (even if not ready or 401)."""
        return self.readyz_status is not None

    def to_dict(self) -> dict[str, Any]:
        """Contract §7, plus extra keys."""
        out: dict[str, Any] = {
            "schemaVersion": 1,
            "cluster": self.cluster,
            "route": self.route,
            "ok": self.ok,
            "server": self.server,
            "address": self.address,
            "timings": self.timings.to_dict(),
            "readyz": self.readyz,
            "version": self.version,
            "user": self.user,
            "certificate": (
                self.certificate.to_dict()
                if self.certificate
                else {"issuer": None, "notAfter": None}
            ),
        }
        if self.samples is not None:
            out["samples"] = self.samples.to_dict()
        out["port"] = self.port
        out["addressInCatalog"] = self.address_in_catalog
        out["via"] = self.via
        out["dns"] = self.dns.to_dict() if self.dns else None
        out["readyzStatus"] = self.readyz_status
        out["groups"] = list(self.groups)
        out["credential"] = self.credential
        out["warnings"] = list(self.warnings)
        if self.problem is not None:
            out["error"] = self.problem.to_dict()
        if self.break_glass is not None:
            bg = self.break_glass.to_dict()
            bg.pop("schemaVersion", None)
            out["breakGlass"] = bg
        elif self.break_glass_note:
            out["breakGlass"] = {"ok": None, "note": self.break_glass_note}
        return out


# --------------------------------------------------------------------------------------
# Options and failures
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ProbeOptions:
    timeout: float = 3.0  # bounds one probe (and each sample)
    count: int = 0  # 0: a single probe, no samples
    interval: float = 1.0
    allow_interactive: bool = True  # False under --no-input: exec plugins get no stdin
    env: Mapping[str, str] | None = None  # None: os.environ
    on_sample: Callable[[SampleEvent], None] | None = None


class _Fail(Exception):
    """Internal: ends a probe with a Problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.perf_counter() + seconds

    def remaining(self) -> float:
        return self.end - time.perf_counter()


# --------------------------------------------------------------------------------------
# Credentials (cached per run like client-go's in-memory cache)
# --------------------------------------------------------------------------------------


class _Credentials:
    def __init__(self, target: Target, options: ProbeOptions) -> None:
        self.target = target
        self.options = options
        self.plugin: PluginCredential | None = None
        self.context: ssl.SSLContext | None = None
        self.token: str | None = None
        self.exec_ms: float | None = None
        self.refreshed_after_401 = False

    def prepare(self, deadline: _Deadline) -> None:
        """Run the exec plugin if needed (or expired), read token files, build the context."""
        t = self.target
        if t.exec is not None and (self.plugin is None or self.plugin.expired()):
            self._run_plugin(deadline)
            self.context = None
        if self.context is None:
            self.context = self._build_context()
        self.token = self._token()

    def refresh_after_401(self, deadline: _Deadline) -> bool:
        """client-go re-runs the plugin once after a 401; False when nothing to refresh."""
        if self.target.exec is None or self.refreshed_after_401:
            return False
        self.refreshed_after_401 = True
        self._run_plugin(deadline)
        self.context = self._build_context()
        self.token = self._token()
        return True

    def _run_plugin(self, deadline: _Deadline) -> None:
        from ztctl.adapters.execcred import ExecPluginError, run_exec_plugin

        t = self.target
        assert t.exec is not None
        started = time.perf_counter()
        try:
            self.plugin = run_exec_plugin(
                t.exec,
                cluster=_exec_cluster_info(t),
                timeout=max(deadline.remaining(), 0.05),
                allow_interactive=self.options.allow_interactive,
                base_env=self.options.env,
            )
        except ExecPluginError as exc:
            code = EXIT_INVALID_INPUT if exc.kind == "config" else EXIT_AUTH_NEEDED
            raise _Fail(
                Problem(
                    "credentials",
                    f"getting credentials: {exc.message}",
                    exc.fix,
                    code,
                    "credentials",
                )
            ) from None
        finally:
            self.exec_ms = (time.perf_counter() - started) * 1000.0

    def _token(self) -> str | None:
        if self.plugin is not None and self.plugin.token:
            return self.plugin.token
        t = self.target
        if t.token_file is not None:
            try:
                text = t.token_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise _Fail(
                    Problem(
                        "credentials",
                        f"cannot read tokenFile {t.token_file}: {exc.strerror or exc}",
                        "fix the path in the kubeconfig user entry, or run `ztctl login`",
                        EXIT_INVALID_INPUT,
                        "credentials",
                    )
                ) from None
            if text:
                return text
        return t.token

    def _build_context(self) -> ssl.SSLContext:
        t = self.target
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies and checks the host name
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["http/1.1"])
        if t.ca_pem is None:
            ctx.load_default_certs()
        else:
            try:
                ctx.load_verify_locations(cadata=t.ca_pem.decode("ascii", "strict"))
            except (ssl.SSLError, ValueError, UnicodeDecodeError):
                raise _Fail(
                    Problem(
                        "invalid-ca",
                        f"the CA of cluster {t.name} is missing or not PEM certificates",
                        "fix certificateAuthority in the catalog (or certificate-authority in "
                        "the kubeconfig) and run `ztctl use-cluster " + t.name + "`",
                        EXIT_INVALID_INPUT,
                        "credentials",
                    )
                ) from None
        cert_pem, key_pem = t.client_certificate_pem, t.client_key_pem
        if self.plugin is not None and self.plugin.client_certificate_pem:
            cert_pem, key_pem = self.plugin.client_certificate_pem, self.plugin.client_key_pem
            cert_file = key_file = None
        else:
            cert_file, key_file = t.client_certificate, t.client_key
        try:
            if cert_pem is not None and key_pem is not None:
                load_chain_from_memory(ctx, cert_pem, key_pem)
            elif cert_file is not None:
                ctx.load_cert_chain(str(cert_file), str(key_file or cert_file))
        except FileNotFoundError as exc:
            missing = exc.filename or cert_file
            raise _Fail(
                Problem(
                    "credentials",
                    f"client certificate file {missing} of cluster {t.name} does not exist",
                    "get the certificate from the platform team (the catalog names the path) "
                    "or fix the path",
                    EXIT_AUTH_NEEDED,
                    "credentials",
                )
            ) from None
        except (ssl.SSLError, OSError, ValueError) as exc:
            where = f"{cert_file} / {key_file}" if cert_file else "the credential data"
            raise _Fail(
                Problem(
                    "credentials",
                    f"cannot load the client certificate and key of cluster {t.name} "
                    f"({where}): {_ssl_reason(exc)}",
                    "check that the key matches the certificate and both are PEM",
                    EXIT_INVALID_INPUT,
                    "credentials",
                )
            ) from None
        return ctx


def load_chain_from_memory(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """``load_cert_chain`` wants paths: use memory files (never a key on disk) where possible."""
    memfd = getattr(os, "memfd_create", None)
    if memfd is not None:
        fds: list[int] = []
        try:
            for name, data in (("ztctl-cert", cert_pem), ("ztctl-key", key_pem)):
                fd = memfd(name, getattr(os, "MFD_CLOEXEC", 0))
                fds.append(fd)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            ctx.load_cert_chain(f"/proc/self/fd/{fds[0]}", f"/proc/self/fd/{fds[1]}")
            return
        except OSError:
            pass  # no /proc: fall back to a private temporary directory
        finally:
            for fd in fds:
                os.close(fd)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ztctl-") as tmp:  # 0700
        cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        for p, data in ((cert_path, cert_pem), (key_path, key_pem)):
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        ctx.load_cert_chain(str(cert_path), str(key_path))


_load_chain_from_memory = load_chain_from_memory  # the name doctor's credential check imports


def _exec_cluster_info(t: Target) -> dict[str, Any]:
    info: dict[str, Any] = {"server": t.server}
    if t.tls_server_name:
        info["tls-server-name"] = t.tls_server_name
    if t.ca_pem:
        import base64

        info["certificate-authority-data"] = base64.b64encode(t.ca_pem).decode()
    if t.proxy_url:
        info["proxy-url"] = t.proxy_url
    return info


def _ssl_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason).lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


# --------------------------------------------------------------------------------------
# The wire: one connection, timed phases, HTTP/1.1
# --------------------------------------------------------------------------------------


class _Response:
    """One HTTP response (a plain class: the module is on the start-up path)."""

    __slots__ = ("body", "done", "first_byte", "headers", "status")

    def __init__(
        self, status: int, headers: dict[str, str], body: bytes, first_byte: float, done: float
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.first_byte = first_byte  # perf_counter when the first byte arrived
        self.done = done


class _Connection:
    """A verified TLS connection to the API server, speaking HTTP/1.1 with keep-alive."""

    def __init__(self, sock: ssl.SSLSocket, authority: str, where: str) -> None:
        self.sock = sock
        self.authority = authority
        self.where = where  # host:port dialled, for messages
        self.buffer = bytearray()
        self.closed = False

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()

    def _encode(self, method: str, path: str, token: str | None, body: bytes | None) -> bytes:
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.authority}",
            f"User-Agent: {USER_AGENT}",
            "Accept: application/json, */*",
        ]
        if token:
            lines.append(f"Authorization: Bearer {token}")
        if body is not None:
            lines.append("Content-Type: application/json")
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")

    def send(
        self,
        requests: Sequence[tuple[str, str, bytes | None]],
        deadline: _Deadline,
        *,
        token: str | None,
    ) -> float:
        """Write one or more (pipelined) requests; returns the perf_counter when sending began.

        Pipelining follows RFC 9112 §9.3.2: only a last request may be non-idempotent.
        """
        payload = b"".join(self._encode(m, p, token, b) for m, p, b in requests)
        _settimeout(self.sock, deadline)
        started = time.perf_counter()
        self.sock.sendall(payload)
        return started

    def read(self, deadline: _Deadline) -> _Response:
        """The next response on the connection."""
        return self._read_response(deadline, head_only=False)

    def request(
        self,
        method: str,
        path: str,
        deadline: _Deadline,
        *,
        token: str | None,
        body: bytes | None = None,
    ) -> tuple[_Response, float]:
        """Send one request; returns the response and the perf_counter when sending began."""
        started = self.send([(method, path, body)], deadline, token=token)
        return self._read_response(deadline, head_only=method == "HEAD"), started

    def _fill(self, deadline: _Deadline) -> float:
        _settimeout(self.sock, deadline)
        chunk = self.sock.recv(65536)
        now = time.perf_counter()
        if not chunk:
            raise ConnectionResetError(errno.ECONNRESET, "the server closed the connection")
        self.buffer += chunk
        return now

    def _read_response(self, deadline: _Deadline, *, head_only: bool) -> _Response:
        first_byte = time.perf_counter() if self.buffer else None
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buffer) > 65536:
                raise _ProtocolError("response headers too large")
            got = self._fill(deadline)
            if first_byte is None:
                first_byte = got
        assert first_byte is not None
        head = bytes(self.buffer[:end]).decode("latin-1")
        del self.buffer[: end + 4]
        status_line, *header_lines = head.split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise _ProtocolError(f"not an HTTP/1.1 response: {status_line[:60]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if head_only or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked(deadline)
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise _ProtocolError("invalid Content-Length") from None
            if length > _MAX_BODY:
                raise _ProtocolError("response body too large")
            while len(self.buffer) < length:
                self._fill(deadline)
            body = bytes(self.buffer[:length])
            del self.buffer[:length]
        else:  # until close
            with contextlib.suppress(ConnectionResetError):
                while len(self.buffer) <= _MAX_BODY:
                    self._fill(deadline)
            body = bytes(self.buffer)
            self.buffer.clear()
            self.closed = True
        if headers.get("connection", "").lower() == "close":
            self.closed = True
        return _Response(status, headers, body, first_byte, time.perf_counter())

    def _read_chunked(self, deadline: _Deadline) -> bytes:
        body = bytearray()
        while True:
            while (eol := self.buffer.find(b"\r\n")) < 0:
                self._fill(deadline)
            size_text = bytes(self.buffer[:eol]).split(b";", 1)[0].strip()
            del self.buffer[: eol + 2]
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _ProtocolError("malformed chunked encoding") from None
            if size == 0:
                while (eol := self.buffer.find(b"\r\n")) != 0:  # trailers, then CRLF
                    if eol > 0:
                        del self.buffer[: eol + 2]
                        continue
                    self._fill(deadline)
                del self.buffer[:2]
                return bytes(body)
            while len(self.buffer) < size + 2:
                self._fill(deadline)
            body += self.buffer[:size]
            del self.buffer[: size + 2]
            if len(body) > _MAX_BODY:
                raise _ProtocolError("response body too large")


class _ProtocolError(Exception):
    pass


class _Timeout(Exception):
    pass


def _settimeout(sock: socket.socket, deadline: _Deadline) -> None:
    remaining = deadline.remaining()
    if remaining <= 0:
        raise _Timeout()
    sock.settimeout(remaining)


class _Dial:
    """What one connection attempt learned (mutable while dialling)."""

    def __init__(self) -> None:
        self.dns: DnsInfo | None = None
        self.address: str | None = None
        self.address_in_catalog: bool | None = None
        self.dns_ms: float | None = None
        self.connect_ms: float | None = None
        self.proxy_ms: float | None = None
        self.tls_ms: float | None = None
        self.certificate: CertificateInfo | None = None
        self.warnings: list[str] = []


def _resolve(host: str, port: int, deadline: _Deadline) -> tuple[list[str], str | None]:
    """getaddrinfo, bounded by the deadline (it cannot be interrupted, so it runs aside)."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return [host], None
    except OSError:
        pass
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            # ASCII as bytes: a str makes getaddrinfo import the idna codec (~1 ms).
            name: str | bytes = host.encode("ascii") if host.isascii() else host
            infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
            seen: list[str] = []
            for info in infos:
                addr = str(info[4][0])
                if addr not in seen:
                    seen.append(addr)
            box["addresses"] = seen
        except OSError as exc:
            box["error"] = str(getattr(exc, "strerror", None) or exc)

    thread = threading.Thread(target=work, name="ztctl-dns", daemon=True)
    thread.start()
    thread.join(max(deadline.remaining(), 0))
    if thread.is_alive():
        return [], f"no DNS answer within {deadline.seconds:g}s"
    if "error" in box:
        return [], str(box["error"])
    return list(box["addresses"]), None


def _dial(
    target: Target,
    path: RoutePath,
    creds: _Credentials,
    deadline: _Deadline,
    info: _Dial,
) -> _Connection:
    """DNS, TCP, proxy and TLS, each timed into ``info``; raises _Fail on any failure."""
    proxy = None
    if path.proxy:
        from ztctl.adapters import socks

        try:
            proxy = socks.parse_proxy_url(path.proxy)
        except ValueError as exc:
            raise _Fail(
                Problem("proxy", str(exc), "fix the proxy URL", EXIT_INVALID_INPUT, "proxy")
            ) from None

    # DNS: the server name on the direct route; the proxy's name through a proxy (the proxy
    # resolves the server name, as kubectl's dialer leaves it to the proxy).
    started = time.perf_counter()
    if proxy is None:
        resolved, error = _resolve(target.host, target.port, deadline)
        info.dns_ms = (time.perf_counter() - started) * 1000.0
        matches = None
        if target.addresses and resolved:
            matches = bool(set(resolved) & set(target.addresses))
        info.dns = DnsInfo(target.host, tuple(resolved), error, matches)
        if error and target.addresses:
            info.warnings.append(
                f"{target.host} does not resolve ({error}); kubectl needs it to — "
                "check Local Domain Fallback or a Gateway resolver policy for the name"
            )
        elif matches is False:
            info.warnings.append(
                f"{target.host} resolves to {', '.join(resolved)}, not to the catalog's "
                f"{', '.join(target.addresses)}; kubectl would dial those"
            )
        if target.addresses:
            candidates = [a for a in resolved if a in target.addresses]
            candidates += [a for a in target.addresses if a not in candidates]
        else:
            candidates = resolved
        if not candidates:
            raise _Fail(
                Problem(
                    "dns",
                    f"{target.host} does not resolve: {error}",
                    "check the server name, Local Domain Fallback or the Gateway resolver "
                    f"policy for it; then run `ztctl doctor {target.name}`",
                    EXIT_UNREACHABLE,
                    "dns",
                )
            )
        dial_port = target.port
    else:
        resolved, error = _resolve(proxy.host, proxy.port, deadline)
        info.dns_ms = (time.perf_counter() - started) * 1000.0
        if not resolved:
            raise _Fail(
                Problem(
                    "proxy",
                    f"proxy host {proxy.host} does not resolve: {error}",
                    "fix the proxy URL",
                    EXIT_UNREACHABLE,
                    "dns",
                )
            )
        candidates = resolved
        dial_port = proxy.port

    # TCP: every candidate in order, within the deadline.
    sock: socket.socket | None = None
    last_error: Problem | None = None
    for address in candidates:
        if proxy is None:  # the address tried last is the one a failure is about
            info.address = address
            info.address_in_catalog = address in target.addresses if target.addresses else None
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        attempt = socket.socket(family, socket.SOCK_STREAM)
        started = time.perf_counter()
        try:
            _settimeout(attempt, deadline)
            attempt.connect((address, dial_port))
        except (TimeoutError, _Timeout):
            attempt.close()
            last_error = _unreachable(
                target,
                path,
                address,
                dial_port,
                "timeout",
                "connect",
                f"no answer from {_hostport(address, dial_port)} within {deadline.seconds:g}s "
                f"{path.label} (TCP connect timed out)",
            )
            continue
        except OSError as exc:
            attempt.close()
            kind = "refused" if isinstance(exc, ConnectionRefusedError) else "unreachable"
            what = "refused the connection" if kind == "refused" else (exc.strerror or str(exc))
            last_error = _unreachable(
                target,
                path,
                address,
                dial_port,
                kind,
                "connect",
                f"{_hostport(address, dial_port)} {what} {path.label}"
                if kind == "refused"
                else f"cannot connect to {_hostport(address, dial_port)} {path.label}: {what}",
            )
            continue
        info.connect_ms = (time.perf_counter() - started) * 1000.0
        sock = attempt
        break
    if sock is None:
        assert last_error is not None
        raise _Fail(last_error)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    try:
        if proxy is not None:
            # kubectl (client-go) hands the host name to the proxy, for socks5 and socks5h.
            info.address = target.host
            # The proxy resolves a name; only an IP in the URL can be checked here.
            info.address_in_catalog = (
                target.host in target.addresses
                if target.addresses and _is_ip(target.host)
                else None
            )
            started = time.perf_counter()
            try:
                _settimeout(sock, deadline)
                socks.open_tunnel(sock, proxy, target.host, target.port)
            except (TimeoutError, _Timeout):
                raise _Fail(
                    _unreachable(
                        target,
                        path,
                        proxy.host,
                        proxy.port,
                        "timeout",
                        "proxy",
                        f"the proxy {proxy.display} did not answer within {deadline.seconds:g}s",
                    )
                ) from None
            except socks.ProxyError as exc:
                raise _Fail(
                    _unreachable(
                        target,
                        path,
                        proxy.host,
                        proxy.port,
                        "proxy",
                        "proxy",
                        f"{exc.message} ({proxy.display})",
                    )
                ) from None
            except OSError as exc:
                raise _Fail(
                    _unreachable(
                        target,
                        path,
                        proxy.host,
                        proxy.port,
                        "reset",
                        "proxy",
                        f"the proxy {proxy.display} dropped the connection: {exc.strerror or exc}",
                    )
                ) from None
            info.proxy_ms = (time.perf_counter() - started) * 1000.0
        return _handshake(target, path, creds, sock, deadline, info)
    except BaseException:
        with contextlib.suppress(OSError):
            sock.close()
        raise


def _handshake(
    target: Target,
    path: RoutePath,
    creds: _Credentials,
    sock: socket.socket,
    deadline: _Deadline,
    info: _Dial,
) -> _Connection:
    from ztctl.adapters import tlsinfo

    assert creds.context is not None
    where = _hostport(info.address or target.host, target.port)

    def _handshake_lost(kind: str, message: str) -> _Fail:
        return _Fail(_unreachable(target, path, info.address, target.port, kind, "tls", message))

    started = time.perf_counter()
    tls: ssl.SSLSocket | socket.socket = sock
    try:
        _settimeout(sock, deadline)
        # wrap_socket may already read (and see a reset) when the peer is gone.
        tls = creds.context.wrap_socket(
            sock, server_hostname=_sni(target), do_handshake_on_connect=False
        )
        _settimeout(tls, deadline)
        tls.do_handshake()
    except ssl.SSLCertVerificationError as exc:
        tls.close()
        raise _Fail(_untrusted(target, path, deadline, info, exc)) from None
    except (TimeoutError, _Timeout):
        tls.close()
        raise _handshake_lost(
            "timeout",
            f"no answer from {where} within {deadline.seconds:g}s {path.label} "
            "(the connection opened, but the TLS handshake got no reply)",
        ) from None
    except (ssl.SSLEOFError, ConnectionResetError, BrokenPipeError, ssl.SSLZeroReturnError):
        tls.close()
        raise _handshake_lost(
            "reset", f"{where} reset the connection during the TLS handshake {path.label}"
        ) from None
    except ssl.SSLError as exc:
        tls.close()
        raise _Fail(_tls_alert(target, path, where, exc, "tls")) from None
    except OSError as exc:
        tls.close()
        raise _handshake_lost(
            "reset",
            f"the TLS handshake with {where} failed {path.label}: {exc.strerror or exc}",
        ) from None
    info.tls_ms = (time.perf_counter() - started) * 1000.0
    assert isinstance(tls, ssl.SSLSocket)
    peer = tls.getpeercert()
    if peer:
        summary = tlsinfo.summarize_info(peer)
        info.certificate = CertificateInfo(
            issuer=summary.issuer,
            not_after=summary.not_after,
            subject=summary.subject,
            verified=True,
        )
    return _Connection(tls, target.authority, where)


def _untrusted(
    target: Target,
    path: RoutePath,
    deadline: _Deadline,
    info: _Dial,
    exc: ssl.SSLCertVerificationError,
) -> Problem:
    """Name what was presented instead of a chain from the cluster CA (never bypass it)."""
    from ztctl.adapters import tlsinfo

    where = _hostport(info.address or target.host, target.port)
    chain = _unverified_chain(target, path, deadline, info)
    leaf = chain[0] if chain else None
    inspected = tlsinfo.gateway_inspection_name(chain)
    info.certificate = CertificateInfo(
        issuer=leaf.issuer if leaf else None,
        not_after=leaf.not_after if leaf else None,
        subject=leaf.subject if leaf else None,
        verified=False,
        inspected_by=inspected,
    )
    addresses = ", ".join(target.addresses) or (info.address or target.host)
    if inspected:
        fix = (
            f"add a Gateway HTTP policy with action Do Not Inspect for {addresses} "
            "(ask your Zero Trust admin); ztctl never turns verification off"
        )
        if path.route == "zero-trust" and target.break_glass is not None:
            fix += _inspection_hint(target)
        return Problem(
            "tls-inspection",
            f"TLS inspection by Cloudflare Gateway: {where} presented a certificate issued by "
            f"{inspected!r}, not by the cluster CA",
            fix,
            EXIT_UNREACHABLE,
            "tls",
        )
    code = getattr(exc, "verify_code", 0)
    issuer = f" issued by {leaf.issuer!r}" if leaf else ""
    if code == 62:  # X509_V_ERR_HOSTNAME_MISMATCH
        return Problem(
            "tls-hostname",
            f"the certificate of {where} is not valid for {target.sni}: {exc.verify_message}",
            "check the server URL (or tls-server-name) against the certificate's names",
            EXIT_UNREACHABLE,
            "tls",
        )
    if code == 10:  # X509_V_ERR_CERT_HAS_EXPIRED
        return Problem(
            "tls-expired",
            f"the certificate of {where}{issuer} has expired"
            + (f" ({leaf.not_after})" if leaf and leaf.not_after else ""),
            "the cluster's serving certificate must be renewed (tell the platform team); "
            "also check the laptop clock",
            EXIT_UNREACHABLE,
            "tls",
        )
    return Problem(
        "tls-untrusted",
        f"the certificate of {where}{issuer} does not verify against the CA of cluster "
        f"{target.name}: {exc.verify_message}",
        "a middlebox may be intercepting TLS (a Do Not Inspect policy fixes Gateway "
        "inspection), or the catalog's certificateAuthority is outdated",
        EXIT_UNREACHABLE,
        "tls",
    )


def _unverified_chain(
    target: Target, path: RoutePath, deadline: _Deadline, info: _Dial
) -> list[CertSummary]:
    """A second handshake, verification off, only to read the presented chain; no request
    is ever sent on it. Empty when it cannot be read within the deadline."""
    from ztctl.adapters import socks, tlsinfo

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        sock = _raw_socket(target, path, deadline, info)
    except (OSError, _Timeout, socks.ProxyError, ValueError):
        return []
    try:
        tls = ctx.wrap_socket(sock, server_hostname=_sni(target), do_handshake_on_connect=False)
        with tls:
            _settimeout(tls, deadline)
            tls.do_handshake()
            return tlsinfo.presented_chain(tls)
    except (OSError, _Timeout, ValueError):
        return []
    finally:
        with contextlib.suppress(OSError):
            sock.close()


def _raw_socket(target: Target, path: RoutePath, deadline: _Deadline, info: _Dial) -> socket.socket:
    """A new TCP connection to the address already used (through the proxy if any)."""
    if path.proxy:
        from ztctl.adapters import socks

        proxy = socks.parse_proxy_url(path.proxy)
        sock = socket.create_connection((proxy.host, proxy.port), timeout=deadline.remaining())
        _settimeout(sock, deadline)
        socks.open_tunnel(sock, proxy, target.host, target.port)
        return sock
    address = info.address or target.host
    return socket.create_connection((address, target.port), timeout=max(deadline.remaining(), 0.01))


# Alerts a server sends about *our* certificate (TLS 1.2 in the handshake, 1.3 on first read).
_CLIENT_CERT_ALERTS = (
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_REQUIRED",
    "BAD_CERTIFICATE",
    "CERTIFICATE_REVOKED",
    "CERTIFICATE_UNKNOWN",
    "UNSUPPORTED_CERTIFICATE",
    "UNKNOWN_CA",
)


def _tls_alert(
    target: Target, path: RoutePath, where: str, exc: ssl.SSLError, phase: str
) -> Problem:
    reason = str(getattr(exc, "reason", "") or "")
    if any(alert in reason for alert in _CLIENT_CERT_ALERTS):
        what = reason.lower().replace("_", " ")
        return Problem(
            "client-certificate-rejected",
            f"{where} rejected the client certificate of cluster {target.name} ({what})",
            _credential_fix(target),
            EXIT_AUTH_NEEDED,
            phase,
        )
    return Problem(
        "tls-failed",
        f"the TLS handshake with {where} failed {path.label}: {_ssl_reason(exc)}",
        f"run `ztctl doctor {target.name}`",
        EXIT_UNREACHABLE,
        phase,
    )


def _credential_fix(target: Target) -> str:
    kind = target.credential_kind
    if kind == "clientCertificate":
        where = target.client_certificate or "the kubeconfig's client-certificate-data"
        return (
            f"renew the client certificate ({where}) — check its expiry with "
            f"`openssl x509 -enddate -noout -in {where}` — then run `ztctl use-cluster "
            f"{target.name}`"
        )
    if kind == "exec":
        assert target.exec is not None
        return f"log in again with the credential plugin ({target.exec.command}) or `ztctl login`"
    if kind == "token":
        return "the bearer token is invalid or expired: refresh it, or run `ztctl login`"
    return (
        f"the kubeconfig entry has no credentials: run `ztctl use-cluster {target.name}` "
        "(and `ztctl login`)"
    )


def _sni(target: Target) -> str | bytes:
    """The SNI / checked name; ASCII as bytes, which spares ssl the 6 ms ``idna`` codec import."""
    name = target.sni
    return name.encode("ascii") if name.isascii() else name


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def _hostport(host: str | None, port: int) -> str:
    host = host or "?"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _break_glass_hint(target: Target) -> str:
    return (
        f"; if Zero Trust is down, `ztctl break-glass start {target.name} --reason '...'` "
        "opens the out-of-band route"
    )


def _inspection_hint(target: Target) -> str:
    return f"; meanwhile `ztctl probe {target.name} --route break-glass` shows the other route"


def _unreachable(
    target: Target,
    path: RoutePath,
    address: str | None,
    port: int,
    kind: str,
    phase: str,
    message: str,
) -> Problem:
    if path.route == "zero-trust" and not path.proxy:
        fix = f"run `ztctl doctor {target.name}`"
        if target.break_glass is not None:
            fix += _break_glass_hint(target)
    elif path.route == "zero-trust":
        fix = (
            f"check the proxy {path.proxy_display} (kubeconfig proxy-url or HTTPS_PROXY), "
            f"then run `ztctl doctor {target.name}`"
        )
    else:
        fix = (
            f"check the break-glass route {path.proxy_display or ''} (is the bastion up?) "
            "and tell the platform team"
        ).replace("  ", " ")
    return Problem(kind, message, fix, EXIT_UNREACHABLE, phase)


# --------------------------------------------------------------------------------------
# The probe
# --------------------------------------------------------------------------------------


class _Run:
    """One route of one probe run: credentials, the kept-alive connection, timings."""

    def __init__(self, target: Target, path: RoutePath, options: ProbeOptions) -> None:
        self.target = target
        self.path = path
        self.options = options
        self.creds = _Credentials(target, options)
        self.conn: _Connection | None = None
        self.reconnects = 0

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _request(
        self, method: str, url: str, deadline: _Deadline, body: bytes | None = None
    ) -> tuple[_Response, float]:
        conn = self.conn
        assert conn is not None
        return self._call(
            f"{method} {url}",
            deadline,
            lambda: conn.request(method, url, deadline, token=self.creds.token, body=body),
        )

    def _call(self, what: str, deadline: _Deadline, step: Callable[[], _T]) -> _T:
        """Run one wire step; map its failure to a Problem (``what``: e.g. ``GET /readyz``)."""
        assert self.conn is not None
        where = self.conn.where
        try:
            return step()
        except (TimeoutError, _Timeout):
            raise _Fail(
                _unreachable(
                    self.target,
                    self.path,
                    where,
                    self.target.port,
                    "timeout",
                    "http",
                    f"the API server at {where} did not answer {what} within "
                    f"{deadline.seconds:g}s {self.path.label}",
                )
            ) from None
        except ssl.SSLError as exc:
            if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
                raise _Fail(
                    _unreachable(
                        self.target,
                        self.path,
                        where,
                        self.target.port,
                        "reset",
                        "http",
                        f"{where} closed the connection on {what} {self.path.label}",
                    )
                ) from None
            raise _Fail(_tls_alert(self.target, self.path, where, exc, "http")) from None
        except OSError as exc:
            raise _Fail(
                _unreachable(
                    self.target,
                    self.path,
                    where,
                    self.target.port,
                    "reset",
                    "http",
                    f"{where} reset the connection on {what} {self.path.label}: "
                    f"{exc.strerror or exc}",
                )
            ) from None
        except _ProtocolError as exc:
            raise _Fail(
                Problem(
                    "protocol",
                    f"{where} did not answer like a Kubernetes API server: {exc}",
                    f"check that {self.target.server} is the API server; run "
                    f"`ztctl doctor {self.target.name}`",
                    EXIT_FAILED,
                    "http",
                )
            ) from None

    def once(self) -> ProbeResult:
        """The full probe: dial, /readyz, /version, SelfSubjectReview."""
        deadline = _Deadline(self.options.timeout)
        info = _Dial()
        outcome: dict[str, Any] = {}
        total_ms: float | None = None
        first_byte_ms: float | None = None
        problem: Problem | None = None
        try:
            self.creds.prepare(deadline)
            deadline = _Deadline(self.options.timeout)  # the plugin's time is not the path's
            started = time.perf_counter()
            self.conn = _dial(self.target, self.path, self.creds, deadline, info)
            response, sent = self._exchange(deadline)
            first_byte_ms = (response.first_byte - sent) * 1000.0
            total_ms = (response.done - started) * 1000.0
            if response.status == 401 and self.creds.refresh_after_401(deadline):
                self.close()
                self.conn = _dial(self.target, self.path, self.creds, deadline, info)
                response, sent = self._exchange(deadline)
            outcome["readyz_status"] = response.status
            outcome["readyz"] = _readyz_text(response)
            problem = self._judge_readyz(response)
            self._version_and_user(deadline, outcome)
            if problem is None:
                problem = outcome.pop("auth_problem", None)
        except _Fail as fail:
            problem = fail.problem
            self.close()
        if self.conn is not None and self.conn.closed:
            self.close()
        return ProbeResult(
            cluster=self.target.name,
            route=self.path.route,
            server=self.target.server,
            address=info.address,
            port=self.target.port,
            address_in_catalog=info.address_in_catalog,
            timings=Timings(
                dns_ms=info.dns_ms,
                connect_ms=info.connect_ms,
                tls_ms=info.tls_ms,
                first_byte_ms=first_byte_ms,
                total_ms=total_ms,
                proxy_ms=info.proxy_ms,
                credential_ms=self.creds.exec_ms,
            ),
            dns=info.dns,
            via=self.path.proxy_display,
            readyz=outcome.get("readyz"),
            readyz_status=outcome.get("readyz_status"),
            version=outcome.get("version"),
            user=outcome.get("user"),
            groups=tuple(outcome.get("groups", ())),
            certificate=info.certificate,
            credential=self.target.credential_kind,
            problem=problem,
            warnings=tuple(info.warnings),
        )

    def _judge_readyz(self, response: _Response) -> Problem | None:
        t = self.target
        if response.status == 200:
            return None
        if response.status == 401:
            return Problem(
                "unauthenticated",
                f"the API server of {t.name} answered 401 Unauthorized to {_credential_phrase(t)}",
                _credential_fix(t),
                EXIT_AUTH_NEEDED,
                "http",
            )
        text = response.body.decode("utf-8", "replace").strip()
        failing = [line[3:].strip() for line in text.splitlines() if line.startswith("[-]")]
        detail = f": {', '.join(failing)}" if failing else (f": {text[:120]}" if text else "")
        if response.status == 403:
            return Problem(
                "forbidden",
                f"the API server of {t.name} answered 403 Forbidden to GET /readyz{detail}",
                "ask the platform team for read access to /readyz (system:public-info-viewer)",
                EXIT_FAILED,
                "http",
            )
        return Problem(
            "not-ready",
            f"the API server of {t.name} answered but is not ready "
            f"(GET /readyz: {response.status}){detail}",
            f"the cluster itself is unhealthy: tell the platform team; "
            f"`kubectl get --raw '/readyz?verbose' --context {t.name}` lists the checks",
            EXIT_FAILED,
            "http",
        )

    def _exchange(self, deadline: _Deadline) -> tuple[_Response, float]:
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

    def _version_and_user(self, deadline: _Deadline, outcome: dict[str, Any]) -> None:
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
        t = self.target
        if response.status == 401:
            outcome["auth_problem"] = Problem(
                "unauthenticated",
                f"the API server of {t.name} is ready but answered 401 Unauthorized to "
                f"{_credential_phrase(t)}",
                _credential_fix(t),
                EXIT_AUTH_NEEDED,
                "http",
            )
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
                outcome["auth_problem"] = Problem(
                    "unauthenticated",
                    f"the API server of {t.name} sees you as system:anonymous: "
                    f"{_credential_phrase(t)} was not accepted",
                    _credential_fix(t),
                    EXIT_AUTH_NEEDED,
                    "http",
                )

    # --- samples -------------------------------------------------------------------------

    def sample_keep_alive(self) -> float:
        """One GET /readyz on the kept-alive connection (reconnecting first if it broke)."""
        deadline = _Deadline(self.options.timeout)
        if self.conn is None:
            self.creds.prepare(deadline)
            self.conn = _dial(self.target, self.path, self.creds, deadline, _Dial())
            deadline = _Deadline(self.options.timeout)
            self.reconnects += 1
        try:
            response, sent = self._request("GET", READYZ, deadline)
        except _Fail:
            self.close()
            raise
        if self.conn is not None and self.conn.closed:
            self.close()
        return (response.done - sent) * 1000.0

    def sample_fresh(self) -> float:
        """A full probe of /readyz on a new connection: DNS to the end of the response."""
        deadline = _Deadline(self.options.timeout)
        self.creds.prepare(deadline)
        deadline = _Deadline(self.options.timeout)
        started = time.perf_counter()
        conn = _dial(self.target, self.path, self.creds, deadline, _Dial())
        saved, self.conn = self.conn, conn
        try:
            response, _ = self._request("GET", READYZ, deadline)
        finally:
            conn.close()
            self.conn = saved
        return (response.done - started) * 1000.0


def _readyz_text(response: _Response) -> str:
    """``ok`` when ready; otherwise the status and what failed, in one short line."""
    text = response.body.decode("utf-8", "replace").strip()
    if response.status == 200:
        return text[:200]
    failing = [line[3:].strip() for line in text.splitlines() if line.startswith("[-]")]
    if failing:
        return f"{response.status}: " + ", ".join(failing)[:300]
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        message = json.loads(text).get("message")
        if message:
            return f"{response.status}: {str(message)[:200]}"
    first = text.splitlines()[0][:200] if text else ""
    return f"{response.status}: {first}" if first else str(response.status)


def _credential_phrase(t: Target) -> str:
    return {
        "clientCertificate": "the client certificate",
        "token": "the bearer token",
        "exec": f"the credential from {t.exec.command if t.exec else 'the exec plugin'}",
        "none": "a request without credentials",
    }[t.credential_kind]


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
            except _Fail as fail:
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
        problem=Problem("no-route", path.reason, path.fix, EXIT_UNREACHABLE, "route"),
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
    work. The result keeps the Zero Trust outcome and exit code.
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
        result.problem.fix.replace(_break_glass_hint(target), "")
        .replace(_inspection_hint(target), "")
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


# --------------------------------------------------------------------------------------
# Which cluster, from which source
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedTarget:
    """What ``ztctl probe [NAME]`` probes, and where it came from."""

    target: Target
    context: str | None  # the kubeconfig context used; None: the catalog alone
    session_proxy: str | None = None  # an open ssh break-glass session's local SOCKS URL
    session_open: bool = False  # an open break-glass session (any route kind)


def resolve_target(
    catalog: Catalog,
    name: str | None,
    *,
    kubeconfig: str | None = None,
    env: Mapping[str, str] | None = None,
    state_dir: Path | None = None,
) -> ResolvedTarget:
    """The target kubectl would use for catalog cluster NAME (default: the one the current
    context reaches, else the catalog's only cluster).

    The kubeconfig entry wins (its server, CA, credentials, proxy-url), chosen like
    ``doctor`` does: the current context if it reaches the cluster, then ztctl's entry, then
    a context named like it, then any context whose server is the cluster's. Without one,
    the catalog's own CA and credentials (what ``use-cluster`` would write). A NAME that is
    only a kubeconfig context is probed from the kubeconfig alone (no catalog addresses).
    """
    from ztctl.core.errors import InvalidInput, UsageError
    from ztctl.core.kubeconfig import load_kubeconfig
    from ztctl.core.suggest import did_you_mean

    kc = load_kubeconfig(kubeconfig, env)
    if name is None:
        cluster = kc.catalog_cluster(catalog)
        if cluster is None and len(catalog.clusters) == 1:
            cluster = catalog.clusters[0]
        if cluster is None:
            where = (
                f"the current context {kc.current_context!r} does not reach a catalog cluster"
                if kc.current_context
                else "there is no current context"
            )
            raise UsageError(
                f"which cluster? {where}; the catalog lists {', '.join(catalog.names) or 'none'}",
                "name one: `ztctl probe NAME` (`ztctl clusters` lists them)",
            )
    else:
        cluster = catalog.get(name)
        if cluster is None:
            _ctx, cluster_entry, user_entry = kc.context_entries(name)
            if cluster_entry is not None:
                return ResolvedTarget(
                    target_from_kubeconfig(
                        name,
                        cluster_entry.resolved(),
                        user_entry.resolved() if user_entry is not None else {},
                    ),
                    context=name,
                )
            names = [*catalog.names, *(c for c in kc.contexts if c not in catalog.names)]
            raise InvalidInput(
                f"no cluster named {name!r} in the catalog or the kubeconfig"
                f"{did_you_mean(name, names)}",
                "run `ztctl clusters` to list the catalog's clusters",
            )
    context = _context_for(kc, cluster, catalog.names)
    if context is None:
        target = target_from_cluster(cluster)
    else:
        _ctx, cluster_entry, user_entry = kc.context_entries(context)
        assert cluster_entry is not None
        target = target_from_kubeconfig(
            cluster.name,
            cluster_entry.resolved(),
            user_entry.resolved() if user_entry is not None else {},
            catalog_cluster=cluster,
        )
    session_proxy, session_open = _break_glass_session(cluster, env, state_dir)
    return ResolvedTarget(target, context, session_proxy, session_open)


def _context_for(kc: Any, cluster: Cluster, catalog_names: Sequence[str]) -> str | None:
    """The kubeconfig context that stands for ``cluster`` (doctor's ranking), or None."""
    from ztctl.core.kubeconfig import server_matches

    best: tuple[int, str] | None = None
    for context in kc.contexts:
        ctx_entry, cluster_entry, _user = kc.context_entries(context)
        if ctx_entry is None or cluster_entry is None:
            continue
        current = 0 if context == kc.current_context else 1
        owners = {e.catalog_name for e in (ctx_entry, cluster_entry) if e.catalog_name}
        if owners:
            rank: int | None = current if cluster.name in owners else None
        elif server_matches(cluster_entry.body, cluster) is None:
            rank = None
        elif context == cluster.name:
            rank = 2 + current
        elif context in catalog_names or cluster_entry.name in catalog_names:
            rank = None  # named after another catalog cluster
        else:
            rank = 4 + current
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, context)
    return best[1] if best else None


def _break_glass_session(
    cluster: Cluster, env: Mapping[str, str] | None, state_dir: Path | None
) -> tuple[str | None, bool]:
    """An open break-glass session of an ssh or vpn route (a proxy route needs none)."""
    bg = cluster.break_glass
    if bg is None or getattr(bg.route, "kind", "") == "proxy":
        return None, False
    from ztctl.core import breakglass
    from ztctl.core.config import state_dir as default_state_dir

    session = breakglass.active_session(
        state_dir or default_state_dir(env or os.environ), cluster.name
    )
    return breakglass.session_proxy(session), session is not None
