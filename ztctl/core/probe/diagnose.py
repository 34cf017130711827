"""Failure → :class:`Problem`: the one home of every probe fix text.

Each function takes facts (the target, the route, a typed wire error or an HTTP status) and
returns the Problem the user sees: a kind, one sentence, the fix and the exit code. Nothing
here dials; the table is tested directly (``tests/core/test_probe_diagnose.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ztctl.adapters.wire import errors as wire
from ztctl.core.probe.result import CertificateInfo, DnsInfo, Problem
from ztctl.errors import (
    EXIT_AUTH_NEEDED,
    EXIT_FAILED,
    EXIT_INVALID_INPUT,
    EXIT_UNREACHABLE,
)
from ztctl.problems import FailureKind as Kind
from ztctl.problems import Phase

if TYPE_CHECKING:
    from ztctl.core.probe.routes import RoutePath
    from ztctl.core.probe.target import Target

# Alerts a server sends about *our* certificate (TLS 1.2 in the handshake, 1.3 on first read).
CLIENT_CERT_ALERTS = (
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_REQUIRED",
    "BAD_CERTIFICATE",
    "CERTIFICATE_REVOKED",
    "CERTIFICATE_UNKNOWN",
    "UNSUPPORTED_CERTIFICATE",
    "UNKNOWN_CA",
)
X509_V_ERR_HOSTNAME_MISMATCH = 62
X509_V_ERR_CERT_HAS_EXPIRED = 10


def hostport(host: str | None, port: int) -> str:
    host = host or "?"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- fix texts shared with doctor ---------------------------------------------------------


def tls_inspection_fix(addresses: str) -> str:
    """What to do about Gateway TLS inspection of ``addresses`` (probe and doctor)."""
    return (
        "ask the Zero Trust admins for a Gateway HTTP policy with the action Do Not Inspect "
        f"for {addresses} (the API server needs its own certificate end to end, and client "
        "certificates cannot pass inspection); ztctl never turns verification off"
    )


def break_glass_hint(target: Target) -> str:
    return (
        f"; if Zero Trust is down, `ztctl break-glass start {target.name} --reason '...'` "
        "opens the out-of-band route"
    )


def inspection_hint(target: Target) -> str:
    return f"; meanwhile `ztctl probe {target.name} --route break-glass` shows the other route"


def credential_fix(target: Target) -> str:
    kind = target.credential_kind
    if kind == "clientCertificate":
        if target.client_certificate:
            where = str(target.client_certificate)
            check = f"openssl x509 -enddate -noout -in {where}"
        else:  # inline data: a command that can run as printed
            where = "the kubeconfig's client-certificate-data"
            check = (
                f"kubectl config view --raw --minify --context {target.name} "
                "-o jsonpath='{.users[0].user.client-certificate-data}' "
                "| base64 -d | openssl x509 -enddate -noout"
            )
        return (
            f"renew the client certificate ({where}) — check its expiry with `{check}` — "
            f"then run `ztctl use-cluster {target.name}`"
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


def credential_phrase(target: Target) -> str:
    return {
        "clientCertificate": "the client certificate",
        "token": "the bearer token",
        "exec": f"the credential from {target.exec.command if target.exec else 'the exec plugin'}",
        "none": "a request without credentials",
    }[target.credential_kind]


# --- route and path -----------------------------------------------------------------------


def with_stale_hint(target: Target, problem: Problem | None) -> Problem | None:
    """A failure on a stale kubeconfig entry (ztctl's, no longer the catalog's): the first
    fix is to refresh it, whatever the failure (the old server, CA or plugin may be why)."""
    if problem is None or not target.stale:
        return problem
    from dataclasses import replace

    from ztctl.core.entries import stale_hint

    hint = stale_hint(target.name, target.stale)
    if hint in problem.fix:
        return problem
    return replace(
        problem, fix=f"{hint}; if that does not help: {problem.fix}" if problem.fix else hint
    )


def no_route(path: RoutePath) -> Problem:
    return Problem(Kind.NO_ROUTE, path.reason, path.fix, EXIT_UNREACHABLE, Phase.ROUTE)


def unreachable(target: Target, path: RoutePath, kind: Kind, phase: Phase, message: str) -> Problem:
    """The path failed (timeout, refused, reset...): the fix depends on the route."""
    if path.route == "zero-trust" and not path.proxy:
        fix = f"run `ztctl doctor {target.name}`"
        if target.break_glass is not None:
            fix += break_glass_hint(target)
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


def dns_warnings(target: Target, dns: DnsInfo) -> list[str]:
    """What kubectl would trip over even when the catalog address still answers."""
    if dns.error and target.addresses:
        return [
            f"{target.host} does not resolve ({dns.error}); kubectl needs it to — "
            "check Local Domain Fallback or a Gateway resolver policy for the name"
        ]
    if dns.matches_catalog is False:
        return [
            f"{target.host} resolves to {', '.join(dns.addresses)}, not to the catalog's "
            f"{', '.join(target.addresses)}; kubectl would dial those"
        ]
    return []


def dial_failure(
    target: Target, path: RoutePath, error: wire.WireError, seconds: float, address: str | None
) -> Problem:
    """A failed dial (DNS, TCP, proxy, TLS) as the user's Problem; ``address`` is the one
    dialled (None: not known yet), ``seconds`` the budget."""
    label = path.label
    where = hostport(address or target.host, target.port)
    if isinstance(error, wire.InvalidProxyUrl):
        return Problem(Kind.PROXY, str(error), "fix the proxy URL", EXIT_INVALID_INPUT, Phase.PROXY)
    if isinstance(error, wire.NoAddress) and error.proxy:
        return Problem(
            Kind.PROXY,
            f"proxy host {error.host} does not resolve: {error.error}",
            "fix the proxy URL",
            EXIT_UNREACHABLE,
            Phase.DNS,
        )
    if isinstance(error, wire.NoAddress):
        return Problem(
            Kind.DNS,
            f"{error.host} does not resolve: {error.error}",
            "check the server name, Local Domain Fallback or the Gateway resolver "
            f"policy for it; then run `ztctl doctor {target.name}`",
            EXIT_UNREACHABLE,
            Phase.DNS,
        )
    if isinstance(error, wire.ConnectFailed):
        at = hostport(error.address, error.port)
        message = {
            "timeout": f"no answer from {at} within {seconds:g}s {label} (TCP connect timed out)",
            "refused": f"{at} refused the connection {label}",
        }.get(error.kind, f"cannot connect to {at} {label}: {error.reason}")
        return unreachable(target, path, Kind(error.kind), Phase.CONNECT, message)
    if isinstance(error, wire.ProxyFailed):
        message = {
            "timeout": f"the proxy {error.display} did not answer within {seconds:g}s",
            "proxy": f"{error.reason} ({error.display})",
        }.get(error.kind, f"the proxy {error.display} dropped the connection: {error.reason}")
        return unreachable(target, path, Kind(error.kind), Phase.PROXY, message)
    if isinstance(error, wire.HandshakeLost):
        kind, message = {
            "timeout": (
                Kind.TIMEOUT,
                f"no answer from {where} within {seconds:g}s {label} "
                "(the connection opened, but the TLS handshake got no reply)",
            ),
            "reset": (Kind.RESET, f"{where} reset the connection during the TLS handshake {label}"),
        }.get(
            error.kind,
            (Kind.RESET, f"the TLS handshake with {where} failed {label}: {error.reason}"),
        )
        return unreachable(target, path, kind, Phase.TLS, message)
    if isinstance(error, wire.TlsAlert):
        return tls_alert(target, path, where, error, Phase.TLS)
    if isinstance(error, wire.CertificateRejected):
        return untrusted(target, path, address, error)[0]
    return Problem(
        Kind.FAILED, str(error), f"run `ztctl doctor {target.name}`", EXIT_FAILED, Phase.NONE
    )


def exchange_failure(
    target: Target,
    path: RoutePath,
    error: wire.WireError,
    seconds: float,
    where: str,
    what: str,
) -> Problem:
    """A failed HTTP exchange; ``what`` is the request (``GET /readyz``)."""
    label = path.label
    if isinstance(error, wire.TlsAlert):
        return tls_alert(target, path, where, error, Phase.HTTP)
    kind = error.kind if isinstance(error, wire.ExchangeFailed) else "protocol"
    reason = error.reason if isinstance(error, wire.ExchangeFailed) else str(error)
    if kind == "timeout":
        message = f"the API server at {where} did not answer {what} within {seconds:g}s {label}"
        return unreachable(target, path, Kind.TIMEOUT, Phase.HTTP, message)
    if kind == "closed":
        return unreachable(
            target, path, Kind.RESET, Phase.HTTP, f"{where} closed the connection on {what} {label}"
        )
    if kind == "reset":
        message = f"{where} reset the connection on {what} {label}: {reason}"
        return unreachable(target, path, Kind.RESET, Phase.HTTP, message)
    return Problem(
        Kind.PROTOCOL,
        f"{where} did not answer like a Kubernetes API server: {reason}",
        f"check that {target.server} is the API server; run `ztctl doctor {target.name}`",
        EXIT_FAILED,
        Phase.HTTP,
    )


# --- TLS ----------------------------------------------------------------------------------


def tls_alert(
    target: Target, path: RoutePath, where: str, error: wire.TlsAlert, phase: Phase
) -> Problem:
    if any(alert in error.alert for alert in CLIENT_CERT_ALERTS):
        what = error.alert.lower().replace("_", " ")
        return Problem(
            Kind.CLIENT_CERTIFICATE_REJECTED,
            f"{where} rejected the client certificate of cluster {target.name} ({what})",
            credential_fix(target),
            EXIT_AUTH_NEEDED,
            phase,
        )
    return Problem(
        Kind.TLS_FAILED,
        f"the TLS handshake with {where} failed {path.label}: {error.reason}",
        f"run `ztctl doctor {target.name}`",
        EXIT_UNREACHABLE,
        phase,
    )


def untrusted(
    target: Target, path: RoutePath, address: str | None, error: wire.CertificateRejected
) -> tuple[Problem, CertificateInfo]:
    """Name what was presented instead of a chain from the cluster CA (never bypass it)."""
    from ztctl.adapters import tlsinfo

    where = hostport(address or target.host, target.port)
    leaf = error.chain[0] if error.chain else None
    inspected = tlsinfo.gateway_inspection_name(error.chain)
    certificate = CertificateInfo(
        issuer=leaf.issuer if leaf else None,
        not_after=leaf.not_after if leaf else None,
        subject=leaf.subject if leaf else None,
        verified=False,
        inspected_by=inspected,
    )
    if inspected:
        addresses = ", ".join(target.addresses) or (address or target.host)
        fix = tls_inspection_fix(addresses)
        if path.route == "zero-trust" and target.break_glass is not None:
            fix += inspection_hint(target)
        message = (
            f"TLS inspection by Cloudflare Gateway: {where} presented a certificate issued by "
            f"{inspected!r}, not by the cluster CA"
        )
        return Problem(Kind.TLS_INSPECTION, message, fix, EXIT_UNREACHABLE, Phase.TLS), certificate
    issuer = f" issued by {leaf.issuer!r}" if leaf else ""
    if error.verify_code == X509_V_ERR_HOSTNAME_MISMATCH:
        problem = Problem(
            Kind.TLS_HOSTNAME,
            f"the certificate of {where} is not valid for {target.sni}: {error.verify_message}",
            "check the server URL (or tls-server-name) against the certificate's names",
            EXIT_UNREACHABLE,
            Phase.TLS,
        )
    elif error.verify_code == X509_V_ERR_CERT_HAS_EXPIRED:
        problem = Problem(
            Kind.TLS_EXPIRED,
            f"the certificate of {where}{issuer} has expired"
            + (f" ({leaf.not_after})" if leaf and leaf.not_after else ""),
            "the cluster's serving certificate must be renewed (tell the platform team); "
            "also check the laptop clock",
            EXIT_UNREACHABLE,
            Phase.TLS,
        )
    else:
        problem = Problem(
            Kind.TLS_UNTRUSTED,
            f"the certificate of {where}{issuer} does not verify against the CA of cluster "
            f"{target.name}: {error.verify_message}",
            "a middlebox may be intercepting TLS (a Do Not Inspect policy fixes Gateway "
            "inspection), or the catalog's certificateAuthority is outdated",
            EXIT_UNREACHABLE,
            Phase.TLS,
        )
    return problem, certificate


# --- credentials --------------------------------------------------------------------------


def exec_plugin_failed(kind: str, message: str, fix: str) -> Problem:
    code = EXIT_INVALID_INPUT if kind == "config" else EXIT_AUTH_NEEDED
    return Problem(
        Kind.CREDENTIALS, f"getting credentials: {message}", fix, code, Phase.CREDENTIALS
    )


def token_file_unreadable(target: Target, reason: str) -> Problem:
    return Problem(
        Kind.CREDENTIALS,
        f"cannot read tokenFile {target.token_file}: {reason}",
        "fix the path in the kubeconfig user entry, or run `ztctl login`",
        EXIT_INVALID_INPUT,
        Phase.CREDENTIALS,
    )


def context_failure(target: Target, error: wire.WireError, where: str) -> Problem:
    """The CA or the client certificate cannot be loaded (``where``: the files, or data)."""
    name = target.name
    if isinstance(error, wire.ClientCertMissing):
        return Problem(
            Kind.CREDENTIALS,
            f"client certificate file {error.filename} of cluster {name} does not exist",
            "get the certificate from the platform team (the catalog names the path) "
            "or fix the path",
            EXIT_AUTH_NEEDED,
            Phase.CREDENTIALS,
        )
    if isinstance(error, wire.ClientCertInvalid):
        return Problem(
            Kind.CREDENTIALS,
            f"cannot load the client certificate and key of cluster {name} "
            f"({where}): {error.reason}",
            "check that the key matches the certificate and both are PEM",
            EXIT_INVALID_INPUT,
            Phase.CREDENTIALS,
        )
    return Problem(
        Kind.INVALID_CA,
        f"the CA of cluster {name} is missing or not PEM certificates",
        "fix certificateAuthority in the catalog (or certificate-authority in "
        f"the kubeconfig) and run `ztctl use-cluster {name}`",
        EXIT_INVALID_INPUT,
        Phase.CREDENTIALS,
    )


# --- HTTP answers -------------------------------------------------------------------------


def failing_checks(body: bytes) -> tuple[str, list[str]]:
    """The body as text and the ``[-]`` lines of a verbose /readyz."""
    text = body.decode("utf-8", "replace").strip()
    return text, [line[3:].strip() for line in text.splitlines() if line.startswith("[-]")]


def readyz(target: Target, status: int, body: bytes) -> Problem | None:
    """GET /readyz answered ``status``: None when ready."""
    name = target.name
    if status == 200:
        return None
    if status == 401:
        return Problem(
            Kind.UNAUTHENTICATED,
            f"the API server of {name} answered 401 Unauthorized to {credential_phrase(target)}",
            credential_fix(target),
            EXIT_AUTH_NEEDED,
            Phase.HTTP,
        )
    text, failing = failing_checks(body)
    detail = f": {', '.join(failing)}" if failing else (f": {text[:120]}" if text else "")
    if status == 403:
        return Problem(
            Kind.FORBIDDEN,
            f"the API server of {name} answered 403 Forbidden to GET /readyz{detail}",
            "ask the platform team for read access to /readyz (system:public-info-viewer)",
            EXIT_FAILED,
            Phase.HTTP,
        )
    return Problem(
        Kind.NOT_READY,
        f"the API server of {name} answered but is not ready (GET /readyz: {status}){detail}",
        f"the cluster itself is unhealthy: tell the platform team; "
        f"`kubectl get --raw '/readyz?verbose' --context {name}` lists the checks",
        EXIT_FAILED,
        Phase.HTTP,
    )


def identity_rejected(target: Target) -> Problem:
    """Ready, but the SelfSubjectReview got 401."""
    return Problem(
        Kind.UNAUTHENTICATED,
        f"the API server of {target.name} is ready but answered 401 Unauthorized to "
        f"{credential_phrase(target)}",
        credential_fix(target),
        EXIT_AUTH_NEEDED,
        Phase.HTTP,
    )


def anonymous(target: Target) -> Problem:
    """The server answered, as system:anonymous: the credential was ignored."""
    return Problem(
        Kind.UNAUTHENTICATED,
        f"the API server of {target.name} sees you as system:anonymous: "
        f"{credential_phrase(target)} was not accepted",
        credential_fix(target),
        EXIT_AUTH_NEEDED,
        Phase.HTTP,
    )
