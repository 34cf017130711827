# ruff: noqa: E501  (table rows hold whole user-facing messages)
"""The probe's failure table, whole: for each failure the kind, phase, exit code, message and fix.

Rule: every failure the user sees names what failed and where (the address dialled, or the
server's host when none was dialled yet), the route it failed on, and one fix; the exit code is
the contract's (1 failed, 3 invalid input, 4 credentials, 5 unreachable). The fix of a path
failure depends on the route: over WARP ``ztctl doctor`` (plus the break-glass command when the
catalog has a break-glass route), through a proxy the proxy (shown without its password), on
break-glass the bastion. Pure: no lab, no sockets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ztctl.adapters.execcred import ExecConfig
from ztctl.adapters.tlsinfo import CertSummary
from ztctl.adapters.wire import errors as wire
from ztctl.core.model import BreakGlass, ProxyRoute, SshRoute, VpnRoute
from ztctl.core.probe import RoutePath, Target, diagnose
from ztctl.core.probe.result import CertificateInfo, DnsInfo, Problem

TARGET = Target(
    name="prod",
    server="https://api.prod.example:6443",
    addresses=("10.0.0.10",),
    token="t",
    break_glass=BreakGlass(ProxyRoute("socks5://127.0.0.2:1080")),
)
PLAIN = Target(name="dev", server="https://[fd00::1]:6443", client_certificate=Path("/k/dev.crt"))
DIRECT = RoutePath("zero-trust")
PROXIED = RoutePath("zero-trust", proxy="socks5://u:secret@proxy.example:1080", label="through x")
BREAK_GLASS = RoutePath("break-glass", proxy="socks5://127.0.0.2:1080", label="through y")
BREAK_GLASS_VPN = RoutePath("break-glass", label="over vpn")
GATEWAY = CertSummary(
    subject="CN=api.prod.example",
    issuer="CN=Gateway CA - Cloudflare Managed G1 abc",
    not_after="2027-01-01T00:00:00Z",
)
LEAF = CertSummary(subject="CN=api", issuer="CN=Other CA", not_after="2026-01-01T00:00:00Z")
ERRORS: dict[str, wire.WireError] = {
    "bad proxy url": wire.InvalidProxyUrl("proxy x: bad"),
    "no address": wire.NoAddress("api.prod.example", "Name or service not known", proxy=False),
    "proxy no address": wire.NoAddress("proxy.example", "nope", proxy=True),
    "connect timeout": wire.ConnectFailed("timeout", "10.0.0.10", 6443, "timed out"),
    "connect refused": wire.ConnectFailed("refused", "fd00::1", 6443, "refused"),
    "connect other": wire.ConnectFailed("unreachable", "10.0.0.10", 6443, "No route to host"),
    "proxy timeout": wire.ProxyFailed("timeout", "h", 1, "socks5://127.0.0.2:1080", "t"),
    "proxy refused": wire.ProxyFailed(
        "proxy", "h", 1, "socks5://127.0.0.2:1080", "refused by rule"
    ),
    "proxy dropped": wire.ProxyFailed("reset", "h", 1, "socks5://127.0.0.2:1080", "eof"),
    "handshake timeout": wire.HandshakeLost("timeout"),
    "handshake reset": wire.HandshakeLost("reset"),
    "handshake other": wire.HandshakeLost("eof", "unexpected eof"),
    "alert cert": wire.TlsAlert(
        "SSLV3_ALERT_CERTIFICATE_EXPIRED", "sslv3 alert certificate expired"
    ),
    "alert other": wire.TlsAlert("WRONG_VERSION_NUMBER", "wrong version number"),
    "inspection": wire.CertificateRejected(19, "self-signed certificate in chain", [GATEWAY]),
    "hostname": wire.CertificateRejected(62, "hostname mismatch", [LEAF]),
    "expired": wire.CertificateRejected(10, "certificate has expired", [LEAF]),
    "expired no chain": wire.CertificateRejected(10, "certificate has expired", []),
    "untrusted": wire.CertificateRejected(20, "unable to get local issuer", [LEAF]),
    "untrusted no chain": wire.CertificateRejected(20, "unable to get local issuer", []),
    "other": wire.WireError("weird"),
}

# (the failure, the address dialled (None: not known yet), kind, phase, exit code, message, fix)
DIAL = [
    ("bad proxy url", "10.0.0.10", "proxy", "proxy", 3, "proxy x: bad", "fix the proxy URL"),
    (
        "no address",
        "10.0.0.10",
        "dns",
        "dns",
        5,
        "api.prod.example does not resolve: Name or service not known",
        "check the server name, Local Domain Fallback or the Gateway resolver policy for it; then run `ztctl doctor prod`",
    ),
    (
        "proxy no address",
        "10.0.0.10",
        "proxy",
        "dns",
        5,
        "proxy host proxy.example does not resolve: nope",
        "fix the proxy URL",
    ),
    (
        "connect timeout",
        "10.0.0.10",
        "timeout",
        "connect",
        5,
        "no answer from 10.0.0.10:6443 within 2.5s over WARP (TCP connect timed out)",
        "run `ztctl doctor prod`; if Zero Trust is down, `ztctl break-glass start prod --reason '...'` opens the out-of-band route",
    ),
    (
        "connect refused",
        "10.0.0.10",
        "refused",
        "connect",
        5,
        "[fd00::1]:6443 refused the connection over WARP",
        "run `ztctl doctor prod`; if Zero Trust is down, `ztctl break-glass start prod --reason '...'` opens the out-of-band route",
    ),
    (
        "connect other",
        "10.0.0.10",
        "unreachable",
        "connect",
        5,
        "cannot connect to 10.0.0.10:6443 over WARP: No route to host",
        "run `ztctl doctor prod`; if Zero Trust is down, `ztctl break-glass start prod --reason '...'` opens the out-of-band route",
    ),
    (
        "proxy timeout",
        "10.0.0.10",
        "timeout",
        "proxy",
        5,
        "the proxy socks5://127.0.0.2:1080 did not answer within 2.5s",
        "run `ztctl doctor prod`; if Zero Trust is down, `ztctl break-glass start prod --reason '...'` opens the out-of-band route",
    ),
    (
        "proxy refused",
        "10.0.0.10",
        "proxy",
        "proxy",
        5,
        "refused by rule (socks5://127.0.0.2:1080)",
        "run `ztctl doctor prod`; if Zero Trust is down, `ztctl break-glass start prod --reason '...'` opens the out-of-band route",
    ),
    (
        "proxy dropped",
        "10.0.0.10",
        "reset",
        "proxy",
        5,
        "the proxy socks5://127.0.0.2:1080 dropped the connection: eof",
        "run `ztctl doctor prod`; if Zero Trust is down, `ztctl break-glass start prod --reason '...'` opens the out-of-band route",
    ),
    (
        "handshake timeout",
        "10.0.0.10",
        "timeout",
        "tls",
        5,
        "no answer from 10.0.0.10:6443 within 2.5s over WARP (the connection opened, but the TLS handshake got no reply)",
        "run `ztctl doctor prod`; if Zero Trust is down, `ztctl break-glass start prod --reason '...'` opens the out-of-band route",
    ),
    (
        "handshake timeout",
        None,
        "timeout",
        "tls",
        5,
        "no answer from api.prod.example:6443 within 2.5s over WARP (the connection opened, but the TLS handshake got no reply)",
        "run `ztctl doctor prod`; if Zero Trust is down, `ztctl break-glass start prod --reason '...'` opens the out-of-band route",
    ),
    (
        "handshake reset",
        "10.0.0.10",
        "reset",
        "tls",
        5,
        "10.0.0.10:6443 reset the connection during the TLS handshake over WARP",
        "run `ztctl doctor prod`; if Zero Trust is down, `ztctl break-glass start prod --reason '...'` opens the out-of-band route",
    ),
    (
        "handshake reset",
        None,
        "reset",
        "tls",
        5,
        "api.prod.example:6443 reset the connection during the TLS handshake over WARP",
        "run `ztctl doctor prod`; if Zero Trust is down, `ztctl break-glass start prod --reason '...'` opens the out-of-band route",
    ),
    (
        "handshake other",
        "10.0.0.10",
        "reset",
        "tls",
        5,
        "the TLS handshake with 10.0.0.10:6443 failed over WARP: unexpected eof",
        "run `ztctl doctor prod`; if Zero Trust is down, `ztctl break-glass start prod --reason '...'` opens the out-of-band route",
    ),
    (
        "handshake other",
        None,
        "reset",
        "tls",
        5,
        "the TLS handshake with api.prod.example:6443 failed over WARP: unexpected eof",
        "run `ztctl doctor prod`; if Zero Trust is down, `ztctl break-glass start prod --reason '...'` opens the out-of-band route",
    ),
    (
        "alert cert",
        "10.0.0.10",
        "client-certificate-rejected",
        "tls",
        4,
        "10.0.0.10:6443 rejected the client certificate of cluster prod (sslv3 alert certificate expired)",
        "the bearer token is invalid or expired: refresh it, or run `ztctl login`",
    ),
    (
        "alert other",
        "10.0.0.10",
        "tls-failed",
        "tls",
        5,
        "the TLS handshake with 10.0.0.10:6443 failed over WARP: wrong version number",
        "run `ztctl doctor prod`",
    ),
    (
        "inspection",
        "10.0.0.10",
        "tls-inspection",
        "tls",
        5,
        "TLS inspection by Cloudflare Gateway: 10.0.0.10:6443 presented a certificate issued by 'Gateway CA - Cloudflare Managed G1 abc', not by the cluster CA",
        "ask the Zero Trust admins for a Gateway HTTP policy with the action Do Not Inspect for 10.0.0.10 (the API server needs its own certificate end to end, and client certificates cannot pass inspection); ztctl never turns verification off; meanwhile `ztctl probe prod --route break-glass` shows the other route",
    ),
    (
        "inspection",
        None,
        "tls-inspection",
        "tls",
        5,
        "TLS inspection by Cloudflare Gateway: api.prod.example:6443 presented a certificate issued by 'Gateway CA - Cloudflare Managed G1 abc', not by the cluster CA",
        "ask the Zero Trust admins for a Gateway HTTP policy with the action Do Not Inspect for 10.0.0.10 (the API server needs its own certificate end to end, and client certificates cannot pass inspection); ztctl never turns verification off; meanwhile `ztctl probe prod --route break-glass` shows the other route",
    ),
    (
        "hostname",
        "10.0.0.10",
        "tls-hostname",
        "tls",
        5,
        "the certificate of 10.0.0.10:6443 is not valid for api.prod.example: hostname mismatch",
        "check the server URL (or tls-server-name) against the certificate's names",
    ),
    (
        "hostname",
        None,
        "tls-hostname",
        "tls",
        5,
        "the certificate of api.prod.example:6443 is not valid for api.prod.example: hostname mismatch",
        "check the server URL (or tls-server-name) against the certificate's names",
    ),
    (
        "expired",
        "10.0.0.10",
        "tls-expired",
        "tls",
        5,
        "the certificate of 10.0.0.10:6443 issued by 'CN=Other CA' has expired (2026-01-01T00:00:00Z)",
        "the cluster's serving certificate must be renewed (tell the platform team); also check the laptop clock",
    ),
    (
        "expired",
        None,
        "tls-expired",
        "tls",
        5,
        "the certificate of api.prod.example:6443 issued by 'CN=Other CA' has expired (2026-01-01T00:00:00Z)",
        "the cluster's serving certificate must be renewed (tell the platform team); also check the laptop clock",
    ),
    (
        "expired no chain",
        "10.0.0.10",
        "tls-expired",
        "tls",
        5,
        "the certificate of 10.0.0.10:6443 has expired",
        "the cluster's serving certificate must be renewed (tell the platform team); also check the laptop clock",
    ),
    (
        "untrusted",
        "10.0.0.10",
        "tls-untrusted",
        "tls",
        5,
        "the certificate of 10.0.0.10:6443 issued by 'CN=Other CA' does not verify against the CA of cluster prod: unable to get local issuer",
        "a middlebox may be intercepting TLS (a Do Not Inspect policy fixes Gateway inspection), or the catalog's certificateAuthority is outdated",
    ),
    (
        "untrusted",
        None,
        "tls-untrusted",
        "tls",
        5,
        "the certificate of api.prod.example:6443 issued by 'CN=Other CA' does not verify against the CA of cluster prod: unable to get local issuer",
        "a middlebox may be intercepting TLS (a Do Not Inspect policy fixes Gateway inspection), or the catalog's certificateAuthority is outdated",
    ),
    (
        "untrusted no chain",
        "10.0.0.10",
        "tls-untrusted",
        "tls",
        5,
        "the certificate of 10.0.0.10:6443 does not verify against the CA of cluster prod: unable to get local issuer",
        "a middlebox may be intercepting TLS (a Do Not Inspect policy fixes Gateway inspection), or the catalog's certificateAuthority is outdated",
    ),
    ("other", "10.0.0.10", "failed", "", 1, "weird", "run `ztctl doctor prod`"),
]
BY_ROUTE = [
    (
        TARGET,
        DIRECT,
        "connect timeout",
        "no answer from 10.0.0.10:6443 within 2.5s over WARP (TCP connect timed out)",
        "run `ztctl doctor prod`; if Zero Trust is down, `ztctl break-glass start prod --reason '...'` opens the out-of-band route",
    ),
    (
        TARGET,
        DIRECT,
        "inspection",
        "TLS inspection by Cloudflare Gateway: 10.0.0.10:6443 presented a certificate issued by 'Gateway CA - Cloudflare Managed G1 abc', not by the cluster CA",
        "ask the Zero Trust admins for a Gateway HTTP policy with the action Do Not Inspect for 10.0.0.10 (the API server needs its own certificate end to end, and client certificates cannot pass inspection); ztctl never turns verification off; meanwhile `ztctl probe prod --route break-glass` shows the other route",
    ),
    (
        TARGET,
        PROXIED,
        "connect timeout",
        "no answer from 10.0.0.10:6443 within 2.5s through x (TCP connect timed out)",
        "check the proxy socks5://proxy.example:1080 (kubeconfig proxy-url or HTTPS_PROXY), then run `ztctl doctor prod`",
    ),
    (
        TARGET,
        PROXIED,
        "inspection",
        "TLS inspection by Cloudflare Gateway: 10.0.0.10:6443 presented a certificate issued by 'Gateway CA - Cloudflare Managed G1 abc', not by the cluster CA",
        "ask the Zero Trust admins for a Gateway HTTP policy with the action Do Not Inspect for 10.0.0.10 (the API server needs its own certificate end to end, and client certificates cannot pass inspection); ztctl never turns verification off; meanwhile `ztctl probe prod --route break-glass` shows the other route",
    ),
    (
        TARGET,
        BREAK_GLASS,
        "connect timeout",
        "no answer from 10.0.0.10:6443 within 2.5s through y (TCP connect timed out)",
        "check the break-glass route socks5://127.0.0.2:1080 (is the bastion up?) and tell the platform team",
    ),
    (
        TARGET,
        BREAK_GLASS,
        "inspection",
        "TLS inspection by Cloudflare Gateway: 10.0.0.10:6443 presented a certificate issued by 'Gateway CA - Cloudflare Managed G1 abc', not by the cluster CA",
        "ask the Zero Trust admins for a Gateway HTTP policy with the action Do Not Inspect for 10.0.0.10 (the API server needs its own certificate end to end, and client certificates cannot pass inspection); ztctl never turns verification off",
    ),
    (
        TARGET,
        BREAK_GLASS_VPN,
        "connect timeout",
        "no answer from 10.0.0.10:6443 within 2.5s over vpn (TCP connect timed out)",
        "check the break-glass route (is the bastion up?) and tell the platform team",
    ),
    (
        TARGET,
        BREAK_GLASS_VPN,
        "inspection",
        "TLS inspection by Cloudflare Gateway: 10.0.0.10:6443 presented a certificate issued by 'Gateway CA - Cloudflare Managed G1 abc', not by the cluster CA",
        "ask the Zero Trust admins for a Gateway HTTP policy with the action Do Not Inspect for 10.0.0.10 (the API server needs its own certificate end to end, and client certificates cannot pass inspection); ztctl never turns verification off",
    ),
    (
        PLAIN,
        DIRECT,
        "connect timeout",
        "no answer from 10.0.0.10:6443 within 2.5s over WARP (TCP connect timed out)",
        "run `ztctl doctor dev`",
    ),
    (
        PLAIN,
        DIRECT,
        "inspection",
        "TLS inspection by Cloudflare Gateway: 10.0.0.10:6443 presented a certificate issued by 'Gateway CA - Cloudflare Managed G1 abc', not by the cluster CA",
        "ask the Zero Trust admins for a Gateway HTTP policy with the action Do Not Inspect for 10.0.0.10 (the API server needs its own certificate end to end, and client certificates cannot pass inspection); ztctl never turns verification off",
    ),
    (
        PLAIN,
        PROXIED,
        "connect timeout",
        "no answer from 10.0.0.10:6443 within 2.5s through x (TCP connect timed out)",
        "check the proxy socks5://proxy.example:1080 (kubeconfig proxy-url or HTTPS_PROXY), then run `ztctl doctor dev`",
    ),
    (
        PLAIN,
        PROXIED,
        "inspection",
        "TLS inspection by Cloudflare Gateway: 10.0.0.10:6443 presented a certificate issued by 'Gateway CA - Cloudflare Managed G1 abc', not by the cluster CA",
        "ask the Zero Trust admins for a Gateway HTTP policy with the action Do Not Inspect for 10.0.0.10 (the API server needs its own certificate end to end, and client certificates cannot pass inspection); ztctl never turns verification off",
    ),
    (
        PLAIN,
        BREAK_GLASS,
        "connect timeout",
        "no answer from 10.0.0.10:6443 within 2.5s through y (TCP connect timed out)",
        "check the break-glass route socks5://127.0.0.2:1080 (is the bastion up?) and tell the platform team",
    ),
    (
        PLAIN,
        BREAK_GLASS,
        "inspection",
        "TLS inspection by Cloudflare Gateway: 10.0.0.10:6443 presented a certificate issued by 'Gateway CA - Cloudflare Managed G1 abc', not by the cluster CA",
        "ask the Zero Trust admins for a Gateway HTTP policy with the action Do Not Inspect for 10.0.0.10 (the API server needs its own certificate end to end, and client certificates cannot pass inspection); ztctl never turns verification off",
    ),
    (
        PLAIN,
        BREAK_GLASS_VPN,
        "connect timeout",
        "no answer from 10.0.0.10:6443 within 2.5s over vpn (TCP connect timed out)",
        "check the break-glass route (is the bastion up?) and tell the platform team",
    ),
    (
        PLAIN,
        BREAK_GLASS_VPN,
        "inspection",
        "TLS inspection by Cloudflare Gateway: 10.0.0.10:6443 presented a certificate issued by 'Gateway CA - Cloudflare Managed G1 abc', not by the cluster CA",
        "ask the Zero Trust admins for a Gateway HTTP policy with the action Do Not Inspect for 10.0.0.10 (the API server needs its own certificate end to end, and client certificates cannot pass inspection); ztctl never turns verification off",
    ),
]
EXCHANGE = [
    (
        "timeout",
        "http",
        5,
        "the API server at 10.0.0.10:6443 did not answer GET /readyz within 2.5s through x",
        "check the proxy socks5://proxy.example:1080 (kubeconfig proxy-url or HTTPS_PROXY), then run `ztctl doctor prod`",
    ),
    (
        "reset",
        "http",
        5,
        "10.0.0.10:6443 closed the connection on GET /readyz through x",
        "check the proxy socks5://proxy.example:1080 (kubeconfig proxy-url or HTTPS_PROXY), then run `ztctl doctor prod`",
    ),
    (
        "reset",
        "http",
        5,
        "10.0.0.10:6443 reset the connection on GET /readyz through x: Connection reset by peer",
        "check the proxy socks5://proxy.example:1080 (kubeconfig proxy-url or HTTPS_PROXY), then run `ztctl doctor prod`",
    ),
    (
        "protocol",
        "http",
        1,
        "10.0.0.10:6443 did not answer like a Kubernetes API server: bad Content-Length",
        "check that https://api.prod.example:6443 is the API server; run `ztctl doctor prod`",
    ),
    (
        "protocol",
        "http",
        1,
        "10.0.0.10:6443 did not answer like a Kubernetes API server: garbled",
        "check that https://api.prod.example:6443 is the API server; run `ztctl doctor prod`",
    ),
    (
        "client-certificate-rejected",
        "http",
        4,
        "10.0.0.10:6443 rejected the client certificate of cluster prod (tlsv13 alert certificate required)",
        "the bearer token is invalid or expired: refresh it, or run `ztctl login`",
    ),
    (
        "tls-failed",
        "http",
        5,
        "the TLS handshake with 10.0.0.10:6443 failed through x: odd alert",
        "run `ztctl doctor prod`",
    ),
]
READYZ = [
    (200, b"", None, None, None, None),
    (
        401,
        b"",
        "unauthenticated",
        4,
        "the API server of prod answered 401 Unauthorized to the bearer token",
        "the bearer token is invalid or expired: refresh it, or run `ztctl login`",
    ),
    (
        403,
        b"",
        "forbidden",
        1,
        "the API server of prod answered 403 Forbidden to GET /readyz",
        "ask the platform team for read access to /readyz (system:public-info-viewer)",
    ),
    (
        403,
        b'forbidden: User "system:anonymous"',
        "forbidden",
        1,
        'the API server of prod answered 403 Forbidden to GET /readyz: forbidden: User "system:anonymous"',
        "ask the platform team for read access to /readyz (system:public-info-viewer)",
    ),
    (
        500,
        b"[+]ping ok\n[-]etcd failed\n[-]informer-sync failed\n",
        "not-ready",
        1,
        "the API server of prod answered but is not ready (GET /readyz: 500): etcd failed, informer-sync failed",
        "the cluster itself is unhealthy: tell the platform team; `kubectl get --raw '/readyz?verbose' --context prod` lists the checks",
    ),
    (
        503,
        b"x" * 200,
        "not-ready",
        1,
        "the API server of prod answered but is not ready (GET /readyz: 503): " + "x" * 120,
        "the cluster itself is unhealthy: tell the platform team; `kubectl get --raw '/readyz?verbose' --context prod` lists the checks",
    ),
    (
        500,
        b"  \n",
        "not-ready",
        1,
        "the API server of prod answered but is not ready (GET /readyz: 500)",
        "the cluster itself is unhealthy: tell the platform team; `kubectl get --raw '/readyz?verbose' --context prod` lists the checks",
    ),
]


@pytest.mark.parametrize(("error", "address", "kind", "phase", "code", "message", "fix"), DIAL)
def test_dial_failures(
    error: str, address: str | None, kind: str, phase: str, code: int, message: str, fix: str
) -> None:
    problem = diagnose.dial_failure(TARGET, DIRECT, ERRORS[error], 2.5, address)
    assert problem == Problem(kind, message, fix, code, phase)


@pytest.mark.parametrize(("target", "path", "error", "message", "fix"), BY_ROUTE)
def test_the_fix_depends_on_the_route(
    target: Target, path: RoutePath, error: str, message: str, fix: str
) -> None:
    problem = diagnose.dial_failure(target, path, ERRORS[error], 2.5, "10.0.0.10")
    assert (problem.message, problem.fix) == (message, fix)
    assert "secret" not in problem.message + problem.fix


EXCHANGE_ERRORS = [
    wire.ExchangeFailed("timeout"),
    wire.ExchangeFailed("closed"),
    wire.ExchangeFailed("reset", "Connection reset by peer"),
    wire.ExchangeFailed("protocol", "bad Content-Length"),
    wire.WireError("garbled"),
    wire.TlsAlert("TLSV13_ALERT_CERTIFICATE_REQUIRED", "certificate required"),
    wire.TlsAlert("X", "odd alert"),
]


@pytest.mark.parametrize("row", range(len(EXCHANGE)))
def test_exchange_failures(row: int) -> None:
    kind, phase, code, message, fix = EXCHANGE[row]
    problem = diagnose.exchange_failure(
        TARGET, PROXIED, EXCHANGE_ERRORS[row], 2.5, "10.0.0.10:6443", "GET /readyz"
    )
    assert problem == Problem(kind, message, fix, code, phase)


@pytest.mark.parametrize(("status", "body", "kind", "code", "message", "fix"), READYZ)
def test_readyz_answers(
    status: int,
    body: bytes,
    kind: str | None,
    code: int | None,
    message: str | None,
    fix: str | None,
) -> None:
    problem = diagnose.readyz(TARGET, status, body)
    if kind is None:
        assert problem is None
    else:
        assert problem == Problem(kind, message or "", fix or "", code or 0, "http")


EXEC = Target(name="stg", server="https://stg.example", exec=ExecConfig("kubelogin"))
NONE = Target(name="bare", server="https://bare.example:8443")

# (target, what its credential is called, the fix when it is refused)
CREDENTIALS = [
    (
        TARGET,
        "the bearer token",
        "the bearer token is invalid or expired: refresh it, or run `ztctl login`",
    ),
    (
        PLAIN,
        "the client certificate",
        "renew the client certificate (/k/dev.crt) — check its expiry with "
        "`openssl x509 -enddate -noout -in /k/dev.crt` — then run `ztctl use-cluster dev`",
    ),
    (
        EXEC,
        "the credential from kubelogin",
        "log in again with the credential plugin (kubelogin) or `ztctl login`",
    ),
    (
        NONE,
        "a request without credentials",
        "the kubeconfig entry has no credentials: run `ztctl use-cluster bare` (and `ztctl login`)",
    ),
]


@pytest.mark.parametrize(("target", "phrase", "fix"), CREDENTIALS)
def test_a_refused_credential(target: Target, phrase: str, fix: str) -> None:
    name = target.name
    assert diagnose.readyz(target, 401, b"") == Problem(
        "unauthenticated",
        f"the API server of {name} answered 401 Unauthorized to {phrase}",
        fix,
        4,
        "http",
    )
    assert diagnose.identity_rejected(target) == Problem(
        "unauthenticated",
        f"the API server of {name} is ready but answered 401 Unauthorized to {phrase}",
        fix,
        4,
        "http",
    )
    assert diagnose.anonymous(target) == Problem(
        "unauthenticated",
        f"the API server of {name} sees you as system:anonymous: {phrase} was not accepted",
        fix,
        4,
        "http",
    )


def test_credential_failures() -> None:
    assert diagnose.exec_plugin_failed("config", "boom", "do x") == Problem(
        "credentials", "getting credentials: boom", "do x", 3, "credentials"
    )
    assert diagnose.exec_plugin_failed("plugin", "boom", "do x") == Problem(
        "credentials", "getting credentials: boom", "do x", 4, "credentials"
    )
    token_file = Target(name="t", server="https://t.example", token_file=Path("/tok"))
    assert diagnose.token_file_unreadable(token_file, "gone") == Problem(
        "credentials",
        "cannot read tokenFile /tok: gone",
        "fix the path in the kubeconfig user entry, or run `ztctl login`",
        3,
        "credentials",
    )
    where = "/k/a.crt, /k/a.key"
    assert diagnose.context_failure(TARGET, wire.ClientCertMissing("/k/a.crt"), where) == Problem(
        "credentials",
        "client certificate file /k/a.crt of cluster prod does not exist",
        "get the certificate from the platform team (the catalog names the path) or fix the path",
        4,
        "credentials",
    )
    assert diagnose.context_failure(TARGET, wire.ClientCertInvalid("key mismatch"), where) == (
        Problem(
            "credentials",
            "cannot load the client certificate and key of cluster prod "
            "(/k/a.crt, /k/a.key): key mismatch",
            "check that the key matches the certificate and both are PEM",
            3,
            "credentials",
        )
    )
    assert diagnose.context_failure(TARGET, wire.WireError("ca"), where) == Problem(
        "invalid-ca",
        "the CA of cluster prod is missing or not PEM certificates",
        "fix certificateAuthority in the catalog (or certificate-authority in the kubeconfig) "
        "and run `ztctl use-cluster prod`",
        3,
        "credentials",
    )


def test_no_route() -> None:
    path = RoutePath("break-glass", available=False, reason="r", fix="f")
    assert diagnose.no_route(path) == Problem("no-route", "r", "f", 5, "route")


# (target, what DNS found, the warnings)
DNS = [
    (
        TARGET,
        DnsInfo("api.prod.example", error="NXDOMAIN"),
        [
            "api.prod.example does not resolve (NXDOMAIN); kubectl needs it to — "
            "check Local Domain Fallback or a Gateway resolver policy for the name"
        ],
    ),
    (
        TARGET,
        DnsInfo("api.prod.example", ("10.0.0.9", "10.0.0.8"), matches_catalog=False),
        [
            "api.prod.example resolves to 10.0.0.9, 10.0.0.8, not to the catalog's 10.0.0.10; "
            "kubectl would dial those"
        ],
    ),
    (TARGET, DnsInfo("api.prod.example", ("10.0.0.10",), matches_catalog=True), []),
    (TARGET, DnsInfo("api.prod.example", (), matches_catalog=None), []),
    (NONE, DnsInfo("bare.example", error="NXDOMAIN"), []),  # the dial failure says it
]


@pytest.mark.parametrize(("target", "dns", "warnings"), DNS)
def test_dns_warnings(target: Target, dns: DnsInfo, warnings: list[str]) -> None:
    assert diagnose.dns_warnings(target, dns) == warnings


@pytest.mark.parametrize(
    ("host", "port", "shown"),
    [("a.example", 443, "a.example:443"), ("fd00::1", 6443, "[fd00::1]:6443"), (None, 1, "?:1")],
)
def test_hostport(host: str | None, port: int, shown: str) -> None:
    assert diagnose.hostport(host, port) == shown


# -- the JSON of a probe (``ztctl probe --json``) and its exit code -------------------------


def test_timings_are_rounded_and_optional_phases_left_out() -> None:
    from ztctl.core.probe.result import Timings

    assert Timings().to_dict() == {
        "dnsMs": None,
        "connectMs": None,
        "tlsMs": None,
        "firstByteMs": None,
        "totalMs": None,
    }
    timings = Timings(1.234, 2.345, 3.456, 4.567, 11.606, proxy_ms=0.125, credential_ms=7.0)
    assert timings.to_dict() == {
        "dnsMs": 1.23,
        "connectMs": 2.35,
        "tlsMs": 3.46,
        "firstByteMs": 4.57,
        "totalMs": 11.61,
        "proxyMs": 0.12,
        "credentialMs": 7.0,
    }


def test_the_json_of_a_probe_that_failed() -> None:
    from ztctl.core.probe.result import (
        CertificateInfo,
        ProbeResult,
        Samples,
        SampleStats,
        Timings,
    )

    problem = Problem("forbidden", "m", "f", 1, "http")
    keep = SampleStats.of([2.0, 1.0], lost=1)
    fresh = SampleStats.of([9.0], lost=0)
    bg = ProbeResult("prod", "break-glass", "https://s", "h", 6443, None, Timings(), readyz="ok")
    result = ProbeResult(
        cluster="prod",
        route="zero-trust",
        server="https://api.prod.example:6443",
        address="10.0.0.10",
        port=6443,
        address_in_catalog=True,
        timings=Timings(total_ms=5.0),
        dns=DnsInfo("api.prod.example", ("10.0.0.10",), matches_catalog=True),
        via="socks5://proxy.example:1080",
        readyz=None,
        readyz_status=403,
        version="v1.31.0",
        user="alice",
        groups=("dev", "ops"),
        certificate=CertificateInfo("CN=CA", "2027-01-01T00:00:00Z", "CN=api", True, "G1"),
        credential="token",
        problem=problem,
        warnings=("w",),
        samples=Samples(keep, fresh, 0.5, reconnects=2),
        break_glass=bg,
    )
    assert (result.ok, result.exit_code, result.reached) == (False, 1, True)
    out = result.to_dict()
    assert out == {
        "schemaVersion": 1,
        "cluster": "prod",
        "route": "zero-trust",
        "ok": False,
        "server": "https://api.prod.example:6443",
        "address": "10.0.0.10",
        "timings": Timings(total_ms=5.0).to_dict(),
        "readyz": None,
        "version": "v1.31.0",
        "user": "alice",
        "certificate": {
            "issuer": "CN=CA",
            "notAfter": "2027-01-01T00:00:00Z",
            "subject": "CN=api",
            "verified": True,
            "inspectedBy": "G1",
        },
        "samples": {
            **keep.to_dict(),
            "intervalS": 0.5,
            "reconnects": 2,
            "keepAlive": keep.to_dict(),
            "fresh": fresh.to_dict(),
        },
        "port": 6443,
        "addressInCatalog": True,
        "via": "socks5://proxy.example:1080",
        "dns": {
            "host": "api.prod.example",
            "addresses": ["10.0.0.10"],
            "error": None,
            "matchesCatalog": True,
        },
        "readyzStatus": 403,
        "groups": ["dev", "ops"],
        "credential": "token",
        "warnings": ["w"],
        "error": {"code": 1, "kind": "forbidden", "phase": "http", "message": "m", "fix": "f"},
        "breakGlass": {k: v for k, v in bg.to_dict().items() if k != "schemaVersion"},
    }
    assert out["breakGlass"]["route"] == "break-glass" and "schemaVersion" not in out["breakGlass"]


def test_the_json_of_a_ready_probe() -> None:
    from ztctl.core.probe.result import ProbeResult, Timings

    result = ProbeResult(
        "prod", "zero-trust", "https://s", None, 443, None, Timings(), break_glass_note="n"
    )
    assert (result.ok, result.exit_code, result.reached) == (True, 0, False)
    out = result.to_dict()
    assert out["certificate"] == {"issuer": None, "notAfter": None}
    assert out["dns"] is None and "error" not in out and "samples" not in out
    assert out["breakGlass"] == {"ok": None, "note": "n"}
    assert out["groups"] == [] and out["warnings"] == [] and out["credential"] == "none"
    assert "breakGlass" not in ProbeResult("p", "r", "s", None, 1, None, Timings()).to_dict()
    certificate = CertificateInfo(None, None)
    assert certificate.to_dict() == {
        "issuer": None,
        "notAfter": None,
        "subject": None,
        "verified": False,
    }


def test_dns_warning_names_every_catalog_address() -> None:
    two = Target(name="p", server="https://a.example", addresses=("10.0.0.1", "10.0.0.2"))
    dns = DnsInfo("a.example", ("10.0.0.9",), matches_catalog=False)
    assert diagnose.dns_warnings(two, dns) == [
        "a.example resolves to 10.0.0.9, not to the catalog's 10.0.0.1, 10.0.0.2; "
        "kubectl would dial those"
    ]


def _with(route: object) -> Target:
    return Target(name="prod", server="https://a.example", break_glass=BreakGlass(route))  # type: ignore[arg-type]


START = "open it with `ztctl break-glass start prod --reason '...'`"

# (the route, how it is reached, with an open session's proxy / an open VPN session)
BREAK_GLASS_ROUTES = [
    (
        Target(name="prod", server="https://a.example"),
        None,
        False,
        RoutePath(
            "break-glass",
            available=False,
            reason="cluster prod has no break-glass route in the catalog",
            fix="ask the platform team to add breakGlass to the catalog entry",
        ),
    ),
    (
        Target(name="prod", server="https://a.example"),
        "socks5h://u:pw@127.0.0.1:4444",
        False,
        RoutePath(
            "break-glass",
            proxy="socks5h://u:pw@127.0.0.1:4444",
            label="through socks5h://127.0.0.1:4444",
        ),
    ),
    (
        _with(ProxyRoute("socks5://u:pw@10.9.9.9:1080")),
        None,
        False,
        RoutePath(
            "break-glass",
            proxy="socks5://u:pw@10.9.9.9:1080",
            label="through socks5://10.9.9.9:1080",
        ),
    ),
    (
        _with(VpnRoute(("up",), ("down",), "oob0")),
        None,
        True,
        RoutePath("break-glass", label="over the break-glass VPN (oob0)"),
    ),
    (
        _with(VpnRoute(("up",), ("down",), "oob0")),
        None,
        False,
        RoutePath(
            "break-glass",
            available=False,
            reason="the vpn break-glass route of prod is not open",
            fix=START,
        ),
    ),
    (
        _with(SshRoute("bastion")),
        None,
        True,
        RoutePath(
            "break-glass",
            available=False,
            reason="the ssh break-glass route of prod is not open",
            fix=START,
        ),
    ),
]


@pytest.mark.parametrize(("target", "session_proxy", "session_open", "path"), BREAK_GLASS_ROUTES)
def test_break_glass_routes(
    target: Target, session_proxy: str | None, session_open: bool, path: RoutePath
) -> None:
    from ztctl.core.probe.routes import break_glass_path

    assert break_glass_path(target, session_proxy, session_open=session_open) == path


# (the samples, p50, p90, p99): nearest rank at exactly 50, 90 and 99
SAMPLE_PERCENTILES = [
    ([2.0, 1.0], 1.0, 2.0, 2.0),
    ([float(v) for v in range(10, 0, -1)], 5.0, 9.0, 10.0),
    ([float(v) for v in range(100, 0, -1)], 50.0, 90.0, 99.0),
]


@pytest.mark.parametrize(("values", "p50", "p90", "p99"), SAMPLE_PERCENTILES)
def test_sample_percentiles(values: list[float], p50: float, p90: float, p99: float) -> None:
    from ztctl.core.probe.result import SampleStats

    stats = SampleStats.of(values, lost=0)
    assert (stats.p50_ms, stats.p90_ms, stats.p99_ms) == (p50, p90, p99)


def test_a_readyz_body_that_is_not_utf8_is_still_shown() -> None:
    problem = diagnose.readyz(TARGET, 500, b"\xff\n[-]etcd failed\n")
    assert problem is not None
    assert problem.message.endswith("(GET /readyz: 500): etcd failed")
    problem = diagnose.readyz(TARGET, 503, b"down \xff")
    assert problem is not None and problem.message.endswith("(GET /readyz: 503): down \ufffd")


HOST = Target(name="prod", server="https://k8s.acme.net:6443")

# (the kubeconfig's proxy-url, the environment, the route found)
ZERO_TRUST_ROUTES = [
    (None, {}, RoutePath("zero-trust")),
    (
        None,
        {"HTTPS_PROXY": "http://u:pw@proxy.acme.net:3128"},
        RoutePath(
            "zero-trust",
            proxy="http://u:pw@proxy.acme.net:3128",
            label="through http://proxy.acme.net:3128",
        ),
    ),
    (
        None,
        {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "k8s.acme.net:6443"},
        RoutePath("zero-trust"),
    ),
    (
        None,
        {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "k8s.acme.net:443"},
        RoutePath("zero-trust", proxy="http://p:3128", label="through http://p:3128"),
    ),
    (
        "socks5://127.0.0.1:1080",
        {},
        RoutePath(
            "zero-trust", proxy="socks5://127.0.0.1:1080", label="through socks5://127.0.0.1:1080"
        ),
    ),
]


@pytest.mark.parametrize(("proxy_url", "env", "path"), ZERO_TRUST_ROUTES)
def test_zero_trust_routes(proxy_url: str | None, env: dict[str, str], path: RoutePath) -> None:
    from dataclasses import replace

    from ztctl.core.probe.routes import zero_trust_path

    assert zero_trust_path(replace(HOST, proxy_url=proxy_url), env) == path


def test_the_zero_trust_route_reads_the_process_environment_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ztctl.core.probe.routes import zero_trust_path

    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://p:3128")
    assert zero_trust_path(HOST).proxy == "http://p:3128"


def test_percentile_of_many_samples() -> None:
    from ztctl.core.probe.result import percentile

    thousand = [float(v) for v in range(1, 1001)]
    assert [percentile(thousand, p) for p in (50, 90, 99)] == [500.0, 900.0, 990.0]


# (the chain presented, the certificate the probe reports)
UNTRUSTED_CERTIFICATES = [
    (
        wire.CertificateRejected(20, "x", [LEAF]),
        CertificateInfo("CN=Other CA", "2026-01-01T00:00:00Z", "CN=api", False, None),
    ),
    (wire.CertificateRejected(20, "x", []), CertificateInfo(None, None, None, False, None)),
    (
        wire.CertificateRejected(19, "x", [GATEWAY]),
        CertificateInfo(
            "CN=Gateway CA - Cloudflare Managed G1 abc",
            "2027-01-01T00:00:00Z",
            "CN=api.prod.example",
            False,
            "Gateway CA - Cloudflare Managed G1 abc",
        ),
    ),
]


@pytest.mark.parametrize(("error", "certificate"), UNTRUSTED_CERTIFICATES)
def test_the_certificate_of_an_untrusted_server(
    error: wire.CertificateRejected, certificate: CertificateInfo
) -> None:
    assert diagnose.untrusted(TARGET, DIRECT, "10.0.0.10", error)[1] == certificate


def test_the_inspection_fix_names_every_catalog_address() -> None:
    two = Target(name="p", server="https://a.example", addresses=("10.0.0.1", "10.0.0.2"))
    error = wire.CertificateRejected(19, "x", [GATEWAY])
    problem, _ = diagnose.untrusted(two, DIRECT, "10.0.0.1", error)
    assert problem.fix.startswith(diagnose.tls_inspection_fix("10.0.0.1, 10.0.0.2"))
    assert "Do Not Inspect for 10.0.0.1, 10.0.0.2 (" in problem.fix


def test_the_fix_for_a_client_certificate_given_as_data() -> None:
    pem = Target(name="pem", server="https://pem.example", client_certificate_pem=b"x")
    assert diagnose.credential_fix(pem).startswith(
        "renew the client certificate (the kubeconfig's client-certificate-data)"
    )
    # The expiry check it suggests runs as printed (no `-in <a phrase>`).
    assert "-in the kubeconfig" not in diagnose.credential_fix(pem)
    assert (
        "`kubectl config view --raw --minify --context pem -o jsonpath="
        "'{.users[0].user.client-certificate-data}' | base64 -d | openssl x509 -enddate -noout`"
    ) in diagnose.credential_fix(pem)
