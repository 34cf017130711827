"""Failure → Problem, the one home of the probe's fix texts, tested as a table (no lab)."""

from __future__ import annotations

import pytest

from ztctl.adapters.tlsinfo import CertSummary
from ztctl.adapters.wire import errors as wire
from ztctl.core.model import BreakGlass, ProxyRoute
from ztctl.core.probe import RoutePath, Target, diagnose

TARGET = Target(
    name="prod",
    server="https://api.prod.example:6443",
    addresses=("10.0.0.10",),
    token="t",
    break_glass=BreakGlass(ProxyRoute("socks5://127.0.0.2:1080")),
)
DIRECT = RoutePath("zero-trust")
PROXIED = RoutePath("zero-trust", proxy="socks5://u:secret@proxy.example:1080", label="through x")
BREAK_GLASS = RoutePath("break-glass", proxy="socks5://127.0.0.2:1080", label="through y")
GATEWAY = CertSummary(
    subject="CN=api.prod.example",
    issuer="CN=Gateway CA - Cloudflare Managed G1 abc",
    not_after="2027-01-01T00:00:00Z",
)


@pytest.mark.parametrize(
    ("error", "path", "kind", "phase", "code", "in_message", "in_fix"),
    [
        (wire.InvalidProxyUrl("proxy x: bad"), PROXIED, "proxy", "proxy", 3, "bad", "proxy URL"),
        (
            wire.NoAddress("api.prod.example", "Name or service not known", proxy=False),
            DIRECT,
            "dns",
            "dns",
            5,
            "does not resolve",
            "Local Domain Fallback",
        ),
        (
            wire.NoAddress("proxy.example", "nope", proxy=True),
            PROXIED,
            "proxy",
            "dns",
            5,
            "proxy host proxy.example",
            "fix the proxy URL",
        ),
        (
            wire.ConnectFailed("timeout", "10.0.0.10", 6443, "timed out"),
            DIRECT,
            "timeout",
            "connect",
            5,
            "within 3s over WARP",
            "ztctl break-glass start prod",
        ),
        (
            wire.ConnectFailed("refused", "10.0.0.10", 6443, "refused"),
            DIRECT,
            "refused",
            "connect",
            5,
            "refused the connection",
            "ztctl doctor prod",
        ),
        (
            wire.ConnectFailed("unreachable", "10.0.0.10", 6443, "No route to host"),
            PROXIED,
            "unreachable",
            "connect",
            5,
            "No route to host",
            "HTTPS_PROXY",
        ),
        (
            wire.ProxyFailed("proxy", "h", 1, "socks5://127.0.0.2:1080", "refused by rule"),
            BREAK_GLASS,
            "proxy",
            "proxy",
            5,
            "refused by rule",
            "is the bastion up?",
        ),
        (wire.HandshakeLost("timeout"), DIRECT, "timeout", "tls", 5, "TLS handshake got no", ""),
        (wire.HandshakeLost("reset"), DIRECT, "reset", "tls", 5, "reset the connection", ""),
        (
            wire.TlsAlert("SSLV3_ALERT_CERTIFICATE_EXPIRED", "sslv3 alert certificate expired"),
            DIRECT,
            "client-certificate-rejected",
            "tls",
            4,
            "rejected the client certificate",
            "bearer token",
        ),
        (
            wire.TlsAlert("WRONG_VERSION_NUMBER", "wrong version number"),
            DIRECT,
            "tls-failed",
            "tls",
            5,
            "wrong version number",
            "ztctl doctor prod",
        ),
        (
            wire.CertificateRejected(19, "self-signed certificate in chain", [GATEWAY]),
            DIRECT,
            "tls-inspection",
            "tls",
            5,
            "Gateway CA - Cloudflare Managed G1 abc",
            "Do Not Inspect for 10.0.0.10",
        ),
        (
            wire.CertificateRejected(62, "hostname mismatch", []),
            DIRECT,
            "tls-hostname",
            "tls",
            5,
            "not valid for api.prod.example",
            "tls-server-name",
        ),
        (
            wire.CertificateRejected(10, "certificate has expired", []),
            DIRECT,
            "tls-expired",
            "tls",
            5,
            "has expired",
            "laptop clock",
        ),
        (
            wire.CertificateRejected(20, "unable to get local issuer", []),
            DIRECT,
            "tls-untrusted",
            "tls",
            5,
            "does not verify against the CA of cluster prod",
            "certificateAuthority",
        ),
    ],
)
def test_dial_failure_table(
    error: wire.WireError,
    path: RoutePath,
    kind: str,
    phase: str,
    code: int,
    in_message: str,
    in_fix: str,
) -> None:
    problem = diagnose.dial_failure(TARGET, path, error, 3.0, "10.0.0.10")
    assert (problem.kind, problem.phase, problem.exit_code) == (kind, phase, code)
    assert in_message in problem.message
    assert in_fix in problem.fix
    assert "secret" not in problem.message + problem.fix  # proxy credentials never shown


@pytest.mark.parametrize(
    ("error", "kind", "code", "in_message"),
    [
        (wire.ExchangeFailed("timeout"), "timeout", 5, "did not answer GET /readyz within 3s"),
        (wire.ExchangeFailed("closed"), "reset", 5, "closed the connection on GET /readyz"),
        (wire.ExchangeFailed("reset", "Connection reset by peer"), "reset", 5, "reset by peer"),
        (wire.ExchangeFailed("protocol", "bad Content-Length"), "protocol", 1, "bad Content"),
        (
            wire.TlsAlert("TLSV13_ALERT_CERTIFICATE_REQUIRED", "certificate required"),
            "client-certificate-rejected",
            4,
            "rejected the client certificate",
        ),
    ],
)
def test_exchange_failure_table(
    error: wire.WireError, kind: str, code: int, in_message: str
) -> None:
    problem = diagnose.exchange_failure(TARGET, DIRECT, error, 3.0, "10.0.0.10:6443", "GET /readyz")
    assert (problem.kind, problem.phase, problem.exit_code) == (kind, "http", code)
    assert in_message in problem.message


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [(200, None, 0), (401, "unauthenticated", 4), (403, "forbidden", 1), (500, "not-ready", 1)],
)
def test_readyz_table(status: int, kind: str | None, code: int) -> None:
    problem = diagnose.readyz(TARGET, status, b"[+]ping ok\n[-]etcd failed\n")
    assert (problem.kind if problem else None) == kind
    assert (problem.exit_code if problem else 0) == code
    if status == 500:
        assert problem is not None and "etcd failed" in problem.message


def test_the_inspection_fix_is_one_text_for_probe_and_doctor() -> None:
    problem = diagnose.dial_failure(
        TARGET, DIRECT, wire.CertificateRejected(19, "x", [GATEWAY]), 3.0, "10.0.0.10"
    )
    assert problem.fix.startswith(diagnose.tls_inspection_fix("10.0.0.10"))
    assert "ztctl never turns verification off" in problem.fix
    # Zero Trust with a break-glass route: point at it.
    assert problem.fix.endswith(diagnose.inspection_hint(TARGET))
