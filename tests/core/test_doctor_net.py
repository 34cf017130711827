"""net.trace: what Cloudflare's edge sees (the lab's edge), and the trace parsing rules."""

from __future__ import annotations

import socket

import pytest

from tests.core.doctor_lab import doctor, result
from ztctl.core.doctor.net import Fetched, FetchError, parse_trace, validate_url

DEVICE = {"clusters": ()}

# The sample (cmj2002/warp-docker#60, proxy mode: warp=on gateway=off).
REFERENCE_SAMPLE = """fl=22f399
h=cloudflare.com
ip=104.28.196.2
ts=1751496820.349
visit_scheme=https
uag=curl/7.81.0
colo=NRT
sliver=none
http=http/2
loc=JP
tls=TLSv1.3
sni=plaintext
warp=on
gateway=off
rbi=off
kex=X25519
"""


def test_parse_trace_reads_the_reference_sample() -> None:
    trace = parse_trace(REFERENCE_SAMPLE)
    assert trace["warp"] == "on" and trace["gateway"] == "off" and trace["colo"] == "NRT"
    assert parse_trace("garbage\n=x\nwarp=plus\n")["warp"] == "plus"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://www.cloudflare.com/cdn-cgi/trace", True),
        ("http://127.0.0.1:8080/cdn-cgi/trace", True),
        ("http://localhost:8080/cdn-cgi/trace", True),
        ("http://[::1]:8080/cdn-cgi/trace", True),
        ("http://www.cloudflare.com/cdn-cgi/trace", False),  # plain http off loopback
        ("ftp://example.com/trace", False),
        ("not a url", False),
        ("http://[::1", False),  # urlsplit raises: a FetchError, never a crash
        ("https://[::1:8080/t", False),
    ],
)
def test_only_https_or_loopback_http(url: str, ok: bool) -> None:
    if ok:
        validate_url(url, "trace", "warp.trace_url")
    else:
        with pytest.raises(FetchError):
            validate_url(url, "trace", "warp.trace_url")


def test_server_date() -> None:
    fetched = Fetched("u", 200, "", {"date": "Sun, 06 Nov 1994 08:49:37 GMT"})
    assert fetched.server_date == 784111777.0
    assert Fetched("u", 200, "", {"date": "yesterday"}).server_date is None
    assert Fetched("u", 200, "", {}).server_date is None


def test_healthy_trace_passes(lab) -> None:  # type: ignore[no-untyped-def]
    r = result(doctor(lab, **DEVICE), "net.trace")
    assert r.status == "pass"
    assert r.data["warp"] == "on" and r.data["gateway"] == "on"


def test_warp_off_at_the_edge_fails(lab) -> None:  # type: ignore[no-untyped-def]
    r = result(doctor(lab, "warp.connected=false", **DEVICE), "net.trace")
    assert r.status == "fail"
    assert "warp=off" in r.summary
    assert "warp-cli connect" in r.fix


def test_gateway_off_fails_with_the_proxy_fix(lab) -> None:  # type: ignore[no-untyped-def]
    r = result(doctor(lab, "gateway=off", **DEVICE), "net.trace")
    assert r.status == "fail"
    assert "gateway=off" in r.summary and "warp=on" in r.summary
    assert "Gateway proxy" in r.fix


def test_unreachable_trace_url_fails(lab) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    report = doctor(lab, trace_url=f"http://127.0.0.1:{port}/cdn-cgi/trace", **DEVICE)
    r = result(report, "net.trace")
    assert r.status == "fail" and "cannot fetch" in r.summary
    clock = result(report, "device.clock")
    assert clock.status == "skip" and "no server time" in clock.summary


def test_plain_http_off_loopback_is_refused_without_a_request(lab) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, trace_url="http://www.cloudflare.com/cdn-cgi/trace", **DEVICE)
    r = result(report, "net.trace")
    assert r.status == "fail" and "plain http" in r.summary
    assert "https" in r.fix


@pytest.mark.parametrize("url", ["http://[::1", "https://[fe80::1/t", "ftp://x", "not a url"])
def test_a_malformed_trace_url_fails_its_checks_without_crashing(lab, url: str) -> None:  # type: ignore[no-untyped-def]
    """The config refuses such a URL at load; a context built another way still gets a
    failed net.trace naming the setting, and device.clock/posture do not crash on it."""
    report = doctor(lab, trace_url=url, **DEVICE)
    trace = result(report, "net.trace")
    assert trace.status == "fail" and "crashed" not in trace.summary, trace.summary
    assert "warp.trace_url" in trace.fix
    for r in report.results:
        assert "crashed" not in r.summary, (r.id, r.summary)


@pytest.mark.parametrize(
    ("trace_url", "team", "expected"),
    [
        ("http://[::1", "acme", "https://acme.cloudflareaccess.com/cdn-cgi/access/get-identity"),
        ("http://[::1", None, None),
        ("http://127.0.0.1:9/t", "acme", "http://127.0.0.1:9/cdn-cgi/access/get-identity"),
    ],
)
def test_identity_url_from_a_malformed_trace_url(
    trace_url: str, team: str | None, expected: str | None
) -> None:
    from types import SimpleNamespace

    from ztctl.core.doctor.device import identity_url

    ctx = SimpleNamespace(warp=SimpleNamespace(trace_url=trace_url), team=team)
    assert identity_url(ctx) == expected  # type: ignore[arg-type]
