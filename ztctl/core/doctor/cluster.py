"""Per-cluster checks, layer by layer (docs/doctor.md): ``cluster.dns``, ``cluster.route``,
``cluster.credentials``, ``cluster.tcp``, ``cluster.tls``, ``cluster.api``, ``cluster.auth``.

The network layers come from one :func:`ztctl.core.probe.probe` per cluster on the Zero Trust
path, with the credentials kubectl would use (the kubeconfig entry when there is one, else
the catalog's), shared as a fact. When the credentials stop the probe (a missing file, an
exec plugin that fails) or the API server refuses them, the network layers are probed again
without credentials (``/readyz`` and ``/version`` are public on kube-apiserver), so a bad
credential does not hide whether the path and the server are fine.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ztctl.core.doctor.runner import (
    Check,
    Outcome,
    check_key,
    failed,
    passed,
    skipped,
    warned,
)
from ztctl.problems import PATH_KINDS, REJECTED_KINDS, Phase
from ztctl.problems import FailureKind as Kind

if TYPE_CHECKING:
    from ztctl.adapters.routes import RouteInfo, TunnelOwner
    from ztctl.core.doctor.context import DoctorContext
    from ztctl.core.model import Cluster
    from ztctl.core.probe import ProbeResult, Target

TITLES = {
    "cluster.dns": "Server name resolves to the catalog addresses",
    "cluster.route": "OS routes the addresses through WARP",
    "cluster.credentials": "Credentials present and valid",
    "cluster.tcp": "TCP connection to the API server",
    "cluster.tls": "TLS verifies against the cluster CA",
    "cluster.api": "API server ready (/readyz, /version)",
    "cluster.auth": "API server accepts the credentials",
}
CERT_WARN_DAYS = 7


def checks(ctx: DoctorContext, name: str) -> list[Check]:
    def make(check_id: str, fn: Any, after: tuple[str, ...] = ()) -> Check:
        return Check(
            check_id,
            TITLES[check_id],
            lambda: _stale_first(ctx, name, fn(ctx, name)),
            name,
            tuple(check_key(a, name) for a in after),
        )

    return [
        make("cluster.dns", check_dns),
        make("cluster.route", check_route),
        make("cluster.credentials", check_credentials),
        make("cluster.tcp", check_tcp),
        make("cluster.tls", check_tls, ("cluster.tcp",)),
        make("cluster.api", check_api, ("cluster.tls",)),
        make("cluster.auth", check_auth, ("cluster.api",)),
    ]


def _stale_first(ctx: DoctorContext, name: str, outcome: Outcome) -> Outcome:
    """A failure (or warning) on ztctl's kubeconfig entry that no longer matches the catalog:
    the first fix is to refresh the entry (``data.staleKubeconfig`` lists what changed)."""
    if outcome.status not in ("fail", "warn"):
        return outcome
    stale = ctx.target(name).stale
    if not stale:
        return outcome
    from ztctl.core.entries import stale_hint

    hint = stale_hint(name, stale)
    fix = outcome.fix
    if hint not in fix:
        fix = f"{hint}; if that does not help: {fix}" if fix else hint
    return replace(outcome, fix=fix, data={**outcome.data, "staleKubeconfig": list(stale)})


def break_glass_note(cluster: Cluster) -> str:
    """The fix sentence that names the out-of-band route, or "" without one."""
    if cluster.break_glass is None:
        return ""
    return (
        f"if you need {cluster.name} before that is fixed, the catalog has a break-glass route: "
        f"`ztctl break-glass start {cluster.name} --reason '...'`"
    )


def _with_break_glass(fix: str, cluster: Cluster) -> str:
    note = break_glass_note(cluster)
    return f"{fix}; {note}" if note else fix


# -- the shared probe -------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeFacts:
    main: ProbeResult  # with the credentials kubectl would use
    anonymous: ProbeResult | None = None  # without credentials, when those stopped `main`
    withheld: bool = False  # a catalog exec plugin was not run (cluster not in kubeconfig)

    @property
    def network(self) -> ProbeResult:
        """The result that got furthest along the path."""
        return self.anonymous if self.anonymous is not None else self.main


def _without_credentials(target: Target) -> Target:
    return replace(
        target,
        client_certificate=None,
        client_key=None,
        client_certificate_pem=None,
        client_key_pem=None,
        token=None,
        token_file=None,
        exec=None,
    )


def probe_fact(ctx: DoctorContext, name: str) -> ProbeFacts:
    def compute() -> ProbeFacts:
        from ztctl.core.probe import ProbeOptions, probe, zero_trust_path
        from ztctl.core.trust import may_run_catalog_plugin

        target = ctx.target(name)
        path = zero_trust_path(target, ctx.env)
        options = ProbeOptions(timeout=ctx.io_timeout, allow_interactive=False, env=ctx.env)
        if not may_run_catalog_plugin(ctx.cluster(name), target.source):
            # kubectl would not run this plugin (the cluster is not in kubeconfig): neither
            # does doctor. The path and the server are still checked, without credentials.
            return ProbeFacts(probe(_without_credentials(target), path, options), withheld=True)
        started = time.monotonic()
        main = probe(target, path, options)
        problem = main.problem
        credential_trouble = problem is not None and (
            problem.phase == Phase.CREDENTIALS or problem.kind in REJECTED_KINDS
        )
        remaining = ctx.io_timeout - (time.monotonic() - started)
        if not credential_trouble or remaining < 0.1:
            return ProbeFacts(main)
        anonymous = probe(_without_credentials(target), path, replace(options, timeout=remaining))
        return ProbeFacts(main, anonymous)

    return ctx.facts.get(f"probe@{name}", compute)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


# -- cluster.dns ----------------------------------------------------------------------


def dns_fact(ctx: DoctorContext, name: str) -> Any:
    from ztctl.adapters.dns import resolve

    cluster = ctx.cluster(name)
    target = ctx.target(name)
    return ctx.facts.get(
        f"dns@{name}", lambda: resolve(target.host or cluster.host, timeout=ctx.io_timeout)
    )


def local_domain_fallback_fix(host: str, suffix: str | None = None) -> str:
    domain = host.split(".", 1)[1] if "." in host else host
    where = (
        f"WARP sends names under `{suffix}` (a Local Domain Fallback entry) to this device's "
        "own resolver, which does not know it: "
        if suffix
        else ""
    )
    return (
        f"{where}if {host} is an internal name, the Zero Trust admins add a Local Domain "
        f"Fallback entry for `{domain}` pointing at the internal DNS server (whose address must "
        "be routed through the tunnel), or a Gateway resolver policy for it"
    )


def check_dns(ctx: DoctorContext, name: str) -> Outcome:
    from ztctl.adapters.dns import resolver_config

    cluster = ctx.cluster(name)
    resolution = dns_fact(ctx, name)
    expected = list(cluster.addresses)
    data: dict[str, Any] = {
        "host": resolution.host,
        "addresses": list(resolution.addresses),
        "catalog": expected,
        "ms": round(resolution.duration_ms, 1),
    }
    if resolution.literal:
        return passed(f"the server is the IP address {resolution.host}: nothing to resolve", data)
    if not resolution.ok:
        conf = resolver_config()
        data["nameservers"] = list(conf.nameservers)
        data["warpResolver"] = conf.warp_resolver  # None: resolv.conf names none
        catalog = f"; the catalog says {', '.join(expected)}" if expected else ""
        return failed(
            f"{resolution.host} does not resolve ({resolution.error}){catalog}",
            local_domain_fallback_fix(resolution.host),
            data,
        )
    found = set(resolution.addresses)
    wanted = set(expected)
    if not wanted:
        return passed(f"{resolution.host} → {', '.join(resolution.addresses)}", data)
    if not found & wanted:
        return failed(
            f"{resolution.host} resolves to {', '.join(resolution.addresses)}, not to the "
            f"catalog's {', '.join(expected)}: kubectl would dial the wrong address",
            "the name resolves outside the private network (public or stale record): "
            + local_domain_fallback_fix(resolution.host)
            + "; check /etc/hosts too",
            data,
        )
    extra = sorted(found - wanted)
    if extra:
        return warned(
            f"{resolution.host} resolves to {', '.join(resolution.addresses)}; "
            f"{', '.join(extra)} is not a catalog address, and kubectl may try it first",
            "check the DNS records of the name (and /etc/hosts)",
            data,
        )
    return passed(f"{resolution.host} → {', '.join(resolution.addresses)} (catalog)", data)


# -- cluster.route --------------------------------------------------------------------


def check_route(ctx: DoctorContext, name: str) -> Outcome:
    from ztctl.adapters.routes import (
        RouteUnavailable,
        interface_matches,
        interface_owner,
        is_utun,
        route_get,
    )
    from ztctl.core.probe import zero_trust_path

    cluster = ctx.cluster(name)
    target = ctx.target(name)
    path = zero_trust_path(target, ctx.env)
    if path.proxy:
        return skipped(
            f"kubectl reaches {name} through the proxy {path.proxy_display} (kubeconfig "
            "proxy-url or HTTPS_PROXY), so the route to the cluster address does not matter",
            {"proxy": path.proxy_display},
        )
    addresses = list(cluster.addresses)
    if not addresses:
        resolution = dns_fact(ctx, name)
        addresses = list(resolution.addresses)
    if not addresses:
        return skipped("no address to look up (the catalog lists none, and DNS gave none)")
    interface = ctx.warp.interface
    routes = []
    bad = []
    owners: dict[str, TunnelOwner] = {}  # macOS: whose utun each route leaves through
    for address in addresses:
        try:
            info = route_get(address, timeout=ctx.io_timeout)
        except RouteUnavailable as exc:
            return skipped(f"cannot read the routing table here: {exc.message}")
        except ValueError:
            continue
        routes.append(info)
        if interface == "utun" and info.interface is not None and is_utun(info.interface):
            if info.interface not in owners:
                owners[info.interface] = interface_owner(info.interface, timeout=ctx.io_timeout)
            if owners[info.interface].is_warp is False:
                bad.append(info)
        elif not interface_matches(info.interface, interface):
            bad.append(info)
    data: dict[str, Any] = {"interface": interface, "routes": [r.to_dict() for r in routes]}
    if owners:
        data["tunnels"] = {name: o.owner for name, o in owners.items()}
    if not routes:
        return skipped("no IP address to look up")
    unsure = [o for o in owners.values() if o.is_warp is None]
    if not bad and unsure:
        return warned(
            f"cannot tell whether the route leaves through WARP: {unsure[0].detail}",
            "check `warp-cli status` and `ifconfig`: WARP's tunnel has the address 172.16.0.2",
            data,
        )
    if not bad:
        listed = ", ".join(r.address for r in routes)
        return passed(f"{listed} → {interface} (the WARP interface)", data)
    return _off_warp(interface, bad, owners, data)


def _off_warp(
    interface: str, bad: list[RouteInfo], owners: dict[str, TunnelOwner], data: dict[str, Any]
) -> Outcome:
    """Some cluster addresses leave outside WARP: where each goes, and the likely why."""
    parts = []
    for info in bad:
        if info.interface is None:
            parts.append(f"{info.address} has no route ({info.error or 'unreachable'})")
        else:
            via = f" via {info.gateway}" if info.gateway else ""
            owner = owners.get(info.interface)
            whose = f" ({owner.detail})" if owner else ""
            parts.append(f"{info.address} leaves through {info.interface}{via}{whose}")
    local = [b for b in bad if b.directly_connected and b.kind != "local"]
    fix = (
        "WARP does not take these packets: warp.connected, warp.mode and warp.split-tunnel say "
        "why; if those pass, another route is more specific"
    )
    if local:
        fix = (
            f"{local[0].address} is on a network this device is directly attached to "
            f"({local[0].interface}): a home or office LAN (or another VPN) overlaps the "
            "cluster's range, and the local route wins over WARP — use another network, or ask "
            "the platform team for a non-overlapping range; " + fix
        )
    return failed(f"{'; '.join(parts)}, not through {interface} (WARP)", fix, data)


# -- cluster.credentials --------------------------------------------------------------


def _cert_dates(pem: bytes) -> tuple[datetime, datetime, str]:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pem)
    return cert.not_valid_before_utc, cert.not_valid_after_utc, cert.subject.rfc4514_string()


def _key_matches(cert: bytes | str, key: bytes | str) -> str | None:
    """None when the key belongs to the certificate, else why not (never shows key data)."""
    from ztctl.adapters.wire.tls import key_mismatch

    return key_mismatch(cert, key)


def _age(delta_s: float) -> str:
    delta_s = abs(delta_s)
    if delta_s >= 2 * 86400:
        return f"{delta_s / 86400:.0f} days"
    if delta_s >= 2 * 3600:
        return f"{delta_s / 3600:.0f} hours"
    if delta_s >= 120:
        return f"{delta_s / 60:.0f} minutes"
    return f"{delta_s:.0f} seconds"


def _renew_fix(name: str, where: str) -> str:
    return (
        f"get a renewed client certificate for {name} from the platform team (it goes to "
        f"{where}), then run `ztctl use-cluster {name}`"
    )


def _check_client_certificate(ctx: DoctorContext, name: str, target: Target) -> Outcome:
    data: dict[str, Any] = {"kind": "clientCertificate", "source": target.source}
    cert_pem: bytes | None = target.client_certificate_pem
    where = "the kubeconfig's client-certificate-data"
    if cert_pem is None and target.client_certificate is not None:
        where = str(target.client_certificate)
        data["certificate"] = where
        data["key"] = str(target.client_key) if target.client_key else None
        from ztctl.adapters.fs import MAX_PEM_BYTES, read_regular_file

        try:
            cert_pem = read_regular_file(target.client_certificate, MAX_PEM_BYTES)
        except FileNotFoundError:
            return failed(
                f"the client certificate {where} of {name} does not exist",
                _renew_fix(name, where),
                data,
            )
        except OSError as exc:
            return failed(
                f"cannot read the client certificate {where}: {exc.strerror or exc}",
                f"check the file's permissions (chmod 600 {where})",
                data,
            )
        key = target.client_key or target.client_certificate
        try:
            key_pem = read_regular_file(key, MAX_PEM_BYTES)
        except FileNotFoundError:
            return failed(
                f"the client key {key} of {name} does not exist",
                _renew_fix(name, str(key)),
                data,
            )
        except OSError as exc:
            return failed(
                f"cannot read the client key {key}: {exc.strerror or exc}",
                f"check the file (a regular PEM file, chmod 600 {key})",
                data,
            )
        mismatch = _key_matches(cert_pem, key_pem)
    else:
        assert cert_pem is not None
        if target.client_key_pem is None:
            return failed(
                f"the kubeconfig entry of {name} has a client certificate but no client key",
                f"run `ztctl use-cluster {name}`",
                data,
            )
        mismatch = _key_matches(cert_pem, target.client_key_pem)
    return _certificate_validity(name, cert_pem, where, mismatch, data)


def _certificate_validity(
    name: str, cert_pem: bytes, where: str, mismatch: str | None, data: dict[str, Any]
) -> Outcome:
    """The loaded client certificate: PEM, its key, its validity window against the clock."""
    try:
        not_before, not_after, subject = _cert_dates(cert_pem)
    except ValueError:
        return failed(
            f"the client certificate of {name} ({where}) is not a PEM certificate",
            _renew_fix(name, where),
            data,
        )
    data.update(
        {
            "subject": subject,
            "notBefore": not_before.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "notAfter": not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    if mismatch:
        return failed(f"{mismatch} ({where})", _renew_fix(name, where), data)
    now = datetime.now(timezone.utc)
    left = (not_after - now).total_seconds()
    data["expiresInSeconds"] = int(left)
    if left <= 0:
        return failed(
            f"the client certificate of {name} ({subject}) expired {_age(left)} ago "
            f"({data['notAfter']})",
            _renew_fix(name, where),
            data,
        )
    if (not_before - now).total_seconds() > 0:
        return failed(
            f"the client certificate of {name} is not valid before {data['notBefore']}",
            "check the laptop clock (device.clock); if it is right, the certificate was issued "
            "with a future start date: ask the platform team",
            data,
        )
    if left < CERT_WARN_DAYS * 86400:
        return warned(
            f"the client certificate of {name} ({subject}) expires in {_age(left)} "
            f"({data['notAfter']})",
            _renew_fix(name, where),
            data,
        )
    return passed(
        f"client certificate {subject}, key matches, valid for {_age(left)} "
        f"({data['notAfter'][:10]})",
        data,
    )


def _check_token(name: str, token: str | None, label: str, data: dict[str, Any]) -> Outcome:
    from ztctl.adapters.jwt import JwtDecodeError, access_claims

    if not token:
        return failed(f"the {label} of {name} is empty", f"run `ztctl use-cluster {name}`", data)
    try:
        claims = access_claims(token)
    except JwtDecodeError:
        return passed(f"a {label} (opaque: its expiry cannot be read here)", data)
    now = time.time()
    if claims.expires_at is not None:
        data["expiresAt"] = datetime.fromtimestamp(claims.expires_at, timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        left = claims.expires_at - now
        if left <= 0:
            return failed(
                f"the {label} of {name} expired {_age(left)} ago ({data['expiresAt']})",
                "get a fresh token: run `ztctl login`",
                data,
            )
        who = f" for {claims.identity}" if claims.identity else ""
        return passed(f"a {label}{who}, valid for {_age(left)}", data)
    return passed(f"a {label} (no expiry claim)", data)


def _which(command: str, env: Any) -> str | None:
    if os.sep in command:
        return command if os.access(command, os.X_OK) else None
    return shutil.which(command, path=env.get("PATH") if env else None)


def check_credentials(ctx: DoctorContext, name: str) -> Outcome:
    from ztctl.core import model

    cluster = ctx.cluster(name)
    target = ctx.target(name)
    kind = target.credential_kind
    data: dict[str, Any] = {"kind": kind, "source": target.source}
    if kind == "clientCertificate":
        return _check_client_certificate(ctx, name, target)
    if kind == "token":
        token = target.token
        if target.token_file is not None:
            data["tokenFile"] = str(target.token_file)
            from ztctl.adapters.fs import MAX_PEM_BYTES, read_regular_file

            try:
                token = (
                    read_regular_file(target.token_file, MAX_PEM_BYTES)
                    .decode("utf-8", "replace")
                    .strip()
                )
            except OSError as exc:
                return failed(
                    f"cannot read the tokenFile {target.token_file} of {name}: "
                    f"{exc.strerror or exc}",
                    "fix the path in the kubeconfig user entry, or run `ztctl login`",
                    data,
                )
        return _check_token(name, token, "bearer token", data)
    if kind == "exec":
        assert target.exec is not None
        command = target.exec.command
        data["command"] = command
        found = _which(command, ctx.env)
        if found is None:
            hint = f" ({target.exec.install_hint.strip()})" if target.exec.install_hint else ""
            return failed(
                f"the credential plugin {command!r} of {name} is not installed or not on PATH",
                f"install it{hint}, or run `ztctl use-cluster {name}` to rewrite the entry",
                data,
            )
        data["path"] = found
        if isinstance(cluster.credentials, model.AccessToken):
            return _check_access_token(ctx, name, data)
        from ztctl.core.trust import may_run_catalog_plugin

        if not may_run_catalog_plugin(cluster, target.source):
            return passed(
                f"exec plugin {command} ({found}); not run until {name} is in kubeconfig", data
            )
        return passed(f"exec plugin {command} ({found}); cluster.auth runs it", data)
    return failed(
        f"the kubeconfig entry of {name} has no credentials",
        f"run `ztctl use-cluster {name}`",
        data,
    )


def _check_access_token(ctx: DoctorContext, name: str, data: dict[str, Any]) -> Outcome:
    """An ``accessToken`` cluster: is there an Access token in the keyring, and is it fresh?"""
    from ztctl.core.doctor.device import default_token_source
    from ztctl.errors import ZtctlError

    source = ctx.token_source or default_token_source
    try:
        token, note = source(ctx, name)
    except ZtctlError as exc:
        return failed(
            f"the Cloudflare Access token of {name} cannot be read: {exc.message}", exc.fix, data
        )
    data["token"] = note
    if token is None:
        return failed(
            f"no Cloudflare Access token for {name}: {note}",
            f"run `ztctl login` (it stores the token `ztctl credential {name}` hands to kubectl)",
            data,
        )
    outcome = _check_token(name, token, "Cloudflare Access token", data)
    if outcome.status == "fail":
        return warned(
            outcome.summary,
            f"`ztctl credential {name}` refreshes it through cloudflared when it can; "
            "otherwise run `ztctl login`",
            data,
        )
    return outcome


# -- cluster.tcp / tls / api / auth -----------------------------------------------------


def _path_fix(ctx: DoctorContext, cluster: Cluster, address: str | None) -> str:
    where = address or ", ".join(cluster.addresses) or cluster.host
    return _with_break_glass(
        "if the warp.* checks pass, the Zero Trust path beyond this device is down: the "
        f"Cloudflare Tunnel (cloudflared) that serves the private route for {where}, that route "
        "itself, or a Gateway network policy — tell the platform team",
        cluster,
    )


def path_down_fix(cluster: Cluster, address: str | None) -> str:
    """The fix when every device check passed and the path still fails."""
    where = address or ", ".join(cluster.addresses) or cluster.host
    return _with_break_glass(
        "WARP on this device is healthy (every warp.* check and cluster.route pass), so the "
        "Zero Trust path beyond it is down: the Cloudflare Tunnel (cloudflared) that serves the "
        f"private route for {where}, that route itself, or a Gateway network policy — tell the "
        "platform team",
        cluster,
    )


def check_tcp(ctx: DoctorContext, name: str) -> Outcome:
    cluster = ctx.cluster(name)
    facts = probe_fact(ctx, name)
    result = facts.network
    problem = result.problem
    data: dict[str, Any] = {
        "address": result.address,
        "port": result.port,
        "via": result.via,
        "connectMs": result.timings.connect_ms,
    }
    if problem is not None and problem.phase == Phase.DNS:
        return Outcome(
            "skip",
            f"skipped: cluster.dns failed ({problem.message})",
            "",
            {**data, "skippedBecause": "cluster.dns", "rootSummary": problem.message},
        )
    if problem is not None and problem.phase in (Phase.CONNECT, Phase.PROXY, Phase.ROUTE):
        data["kind"] = str(problem.kind)
        if problem.phase == Phase.PROXY or result.via:
            fix = problem.fix
        elif problem.kind == Kind.REFUSED:
            fix = (
                f"the address answers, but nothing listens on port {result.port}: check the "
                "server URL in the catalog, and tell the platform team"
            )
        else:
            fix = _path_fix(ctx, cluster, result.address)
        return failed(problem.message, fix, data)
    if result.timings.connect_ms is None:
        return skipped("the probe did not get as far as a TCP connection", data)
    target = f"{result.address}:{result.port}"
    via = f" through {result.via}" if result.via else ""
    return passed(f"connected to {target}{via} in {_ms(result.timings.connect_ms)}", data)


def check_tls(ctx: DoctorContext, name: str) -> Outcome:
    cluster = ctx.cluster(name)
    facts = probe_fact(ctx, name)
    result = facts.network
    problem = result.problem
    cert = result.certificate
    data: dict[str, Any] = {"tlsMs": result.timings.tls_ms}
    if cert is not None:
        data["certificate"] = cert.to_dict()
    if problem is not None and problem.phase == Phase.TLS:
        data["kind"] = str(problem.kind)
        if problem.kind == Kind.CLIENT_CERTIFICATE_REJECTED:
            return passed(
                "the server's certificate verified; the server then rejected the client "
                "certificate (cluster.auth)",
                data,
            )
        if problem.kind == Kind.TLS_INSPECTION:
            from ztctl.core.probe import diagnose

            addresses = ", ".join(cluster.addresses) or cluster.host
            fix = _with_break_glass(diagnose.tls_inspection_fix(addresses), cluster)
            return failed(problem.message, fix, data)
        if problem.kind in PATH_KINDS:
            return failed(problem.message, _path_fix(ctx, cluster, result.address), data)
        return failed(problem.message, problem.fix, data)
    if cert is None or not cert.verified:
        return skipped("no TLS handshake was completed", data)
    expiry = f", expires {cert.not_after[:10]}" if cert.not_after else ""
    return passed(
        f"verified against the cluster CA (issuer {cert.issuer}{expiry}) in "
        f"{_ms(result.timings.tls_ms)}",
        data,
    )


def check_api(ctx: DoctorContext, name: str) -> Outcome:
    cluster = ctx.cluster(name)
    facts = probe_fact(ctx, name)
    result = facts.network
    problem = result.problem
    data: dict[str, Any] = {
        "readyz": result.readyz,
        "readyzStatus": result.readyz_status,
        "version": result.version,
        "firstByteMs": result.timings.first_byte_ms,
        "anonymous": facts.anonymous is not None,
    }
    if problem is not None and problem.phase == Phase.HTTP and problem.kind in PATH_KINDS:
        return failed(problem.message, _path_fix(ctx, cluster, result.address), data)
    if problem is not None and problem.kind == Kind.NOT_READY:
        return failed(problem.message, problem.fix, data)
    if problem is not None and problem.kind == Kind.PROTOCOL:
        return failed(problem.message, problem.fix, data)
    status = result.readyz_status
    if status is None:
        return skipped("the API server was not reached", data)
    if status in (401, 403):
        return warned(
            f"the API server answers, but refuses GET /readyz ({status}), so its readiness is "
            "unknown",
            "see cluster.auth",
            data,
        )
    version = f", {result.version}" if result.version else ""
    note = (
        " (asked without credentials: the API server refused yours, see cluster.auth)"
        if facts.anonymous is not None
        and facts.main.problem is not None
        and facts.main.problem.phase != Phase.CREDENTIALS
        else ""
    )
    return passed(f"/readyz {result.readyz or 'ok'}{version}{note}", data)


def check_auth(ctx: DoctorContext, name: str) -> Outcome:
    facts = probe_fact(ctx, name)
    main = facts.main
    problem = main.problem
    data: dict[str, Any] = {"user": main.user, "groups": list(main.groups)}
    if facts.withheld:
        from ztctl.core.trust import withheld_fix, withheld_reason

        return Outcome(
            "skip",
            f"skipped: {withheld_reason(name)}",
            withheld_fix(name),
            {**data, "withheld": True},
        )
    if problem is not None and problem.phase == Phase.CREDENTIALS:
        return Outcome(
            "skip",
            f"skipped: cluster.credentials failed ({problem.message})",
            "",
            {**data, "skippedBecause": "cluster.credentials", "rootSummary": problem.message},
        )
    if problem is not None and problem.kind in REJECTED_KINDS:
        return failed(problem.message, problem.fix, data)
    if problem is not None and problem.kind == Kind.FORBIDDEN:
        return warned(problem.message, problem.fix, data)
    if main.user:
        groups = f" (groups: {', '.join(main.groups)})" if main.groups else ""
        return passed(f"the API server knows you as {main.user}{groups}", data)
    if problem is not None:
        return skipped(f"not reached: {problem.message}", data)
    return passed(
        "authenticated (the API server does not answer SelfSubjectReview, so who you are is "
        "not shown)",
        data,
    )
