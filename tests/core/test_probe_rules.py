"""Probe rules as tables: percentiles, the one budget across phases, and route labels that
never show a proxy password. Pure, or real loopback servers (no lab)."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ztctl.adapters.wire.dial import Deadline
from ztctl.core.model import BreakGlass, ProxyRoute, SshRoute, VpnRoute
from ztctl.core.probe import ProbeOptions, Target, probe_cluster
from ztctl.core.probe.result import SampleStats, percentile
from ztctl.core.probe.routes import break_glass_path, zero_trust_path

from .test_probe_wire import REST, Pki, read_requests, server

# -- percentiles (nearest rank) ------------------------------------------------------------

TEN = [float(v) for v in range(1, 11)]  # 1..10
HUNDRED = [float(v) for v in range(1, 101)]  # 1..100

# (sorted values, percentile, the value reported)
PERCENTILES = [
    ([], 50, None),
    ([7.0], 50, 7.0),
    ([7.0], 99, 7.0),
    ([1.0, 2.0], 50, 1.0),
    ([1.0, 2.0], 51, 2.0),
    ([1.0, 2.0, 3.0], 50, 2.0),
    (TEN, 50, 5.0),
    (TEN, 90, 9.0),
    (TEN, 91, 10.0),
    (TEN, 99, 10.0),
    (TEN, 100, 10.0),
    (TEN, 0, 1.0),  # the lowest rank is 1
    (TEN, 10, 1.0),
    (TEN, 11, 2.0),
    (HUNDRED, 50, 50.0),
    (HUNDRED, 90, 90.0),
    (HUNDRED, 99, 99.0),
]


@pytest.mark.parametrize(("values", "pct", "value"), PERCENTILES)
def test_percentile(values: list[float], pct: float, value: float | None) -> None:
    assert percentile(values, pct) == value


def test_sample_stats_sorts_and_counts_the_lost() -> None:
    stats = SampleStats.of([30.0, 10.0, 20.0, 50.0, 40.0], lost=2)
    assert (stats.count, stats.lost) == (7, 2)
    assert (stats.p50_ms, stats.p90_ms, stats.p99_ms) == (30.0, 50.0, 50.0)
    assert (stats.min_ms, stats.max_ms) == (10.0, 50.0)
    assert stats.to_dict() == {
        "count": 7,
        "lost": 2,
        "p50Ms": 30.0,
        "p90Ms": 50.0,
        "p99Ms": 50.0,
        "maxMs": 50.0,
        "minMs": 10.0,
    }


def test_sample_stats_when_every_sample_was_lost() -> None:
    stats = SampleStats.of([], lost=3)
    assert (stats.count, stats.p50_ms, stats.max_ms, stats.min_ms) == (3, None, None, None)


# -- one budget: each socket wait gets what is left -----------------------------------------


def test_a_socket_gets_what_is_left_of_the_budget() -> None:
    deadline = Deadline(1.0)
    assert deadline.seconds == 1.0
    time.sleep(0.3)
    with socket.socket() as sock:
        deadline.arm(sock)
        given = sock.gettimeout()
    assert given is not None and 0.0 < given <= 0.71


def test_a_spent_budget_arms_nothing() -> None:
    deadline = Deadline(0.05)
    time.sleep(0.06)
    assert deadline.remaining() < 0
    with socket.socket() as sock, pytest.raises(TimeoutError):
        deadline.arm(sock)


def test_a_budget_with_exactly_nothing_left_arms_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # settimeout(0) would make the socket non-blocking: a BlockingIOError, not a timeout
    from ztctl.adapters.wire import dial

    monkeypatch.setattr(dial.time, "perf_counter", lambda: 100.0)
    deadline = Deadline(0.0)
    assert deadline.remaining() == 0.0
    with socket.socket() as sock, pytest.raises(TimeoutError):
        deadline.arm(sock)
    assert sock.gettimeout() is None  # left as it was


BUDGET = 2.0
STALL = 1.3  # one phase takes most of the budget; the next must get only the rest
MARGIN = 0.6  # well under STALL: a probe that restarts the budget per phase overruns by it


def slow_handshake_then_silent(pki: Pki) -> Callable[[socket.socket], None]:
    """Holds the TLS handshake for STALL seconds, then never answers the request."""

    def handle(sock: socket.socket) -> None:
        sock.settimeout(BUDGET + 3)
        time.sleep(STALL)
        with pki.server_context.wrap_socket(sock, server_side=True) as tls:
            read_requests(tls, 1)
            time.sleep(BUDGET + 1)

    return handle


def slow_handshake_then_slow_answer(pki: Pki) -> Callable[[socket.socket], None]:
    """Each phase alone fits the budget; together they do not."""

    def handle(sock: socket.socket) -> None:
        sock.settimeout(BUDGET + 3)
        time.sleep(STALL)
        with pki.server_context.wrap_socket(sock, server_side=True) as tls:
            read_requests(tls, 1)
            time.sleep(STALL)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + REST)
            time.sleep(1)

    return handle


def slow_proxy_then_silent(sock: socket.socket) -> None:
    """A SOCKS5 proxy that takes STALL seconds to agree, then says nothing (TLS stalls)."""
    sock.settimeout(BUDGET + 3)
    sock.recv(3)
    time.sleep(STALL)
    sock.sendall(b"\x05\x00")
    sock.recv(262)
    sock.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50")
    with contextlib.suppress(OSError):
        while sock.recv(65536):
            pass


def lab_target(port: int, pki: Pki, proxy: str | None = None) -> Target:
    return Target(
        name="acme",
        server=f"https://localhost:{port}",
        addresses=("127.0.0.1",),
        ca_pem=pki.ca_pem,
        token="t0ken",
        proxy_url=proxy,
    )


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


@pytest.mark.parametrize(
    ("handler", "phase"),
    [(slow_handshake_then_silent, "http"), (slow_handshake_then_slow_answer, "http")],
)
def test_stalls_in_two_phases_share_one_budget(
    pki: Pki, handler: Callable[[Pki], Callable[[socket.socket], None]], phase: str
) -> None:
    with server(handler(pki)) as port:
        started = time.monotonic()
        result = probe_cluster(
            lab_target(port, pki),
            route="zero-trust",
            options=ProbeOptions(timeout=BUDGET, allow_interactive=False),
        )
        elapsed = time.monotonic() - started
    assert result.problem is not None and result.problem.kind == "timeout", result.problem
    assert result.problem.phase == phase and result.exit_code == 5
    assert elapsed < BUDGET + MARGIN, f"returned after {elapsed:.2f}s"


def test_a_slow_proxy_leaves_the_rest_to_tls(pki: Pki) -> None:
    with server(slow_proxy_then_silent) as proxy_port:
        target = lab_target(443, pki, proxy=f"socks5://127.0.0.1:{proxy_port}")
        started = time.monotonic()
        result = probe_cluster(
            target,
            route="zero-trust",
            options=ProbeOptions(timeout=BUDGET, allow_interactive=False),
        )
        elapsed = time.monotonic() - started
    assert result.problem is not None and result.problem.kind == "timeout", result.problem
    assert result.problem.phase == "tls"
    assert elapsed < BUDGET + MARGIN, f"returned after {elapsed:.2f}s"


# -- route labels never carry a proxy's password --------------------------------------------

SECRET = "Pr0xy-S3cret-5a4b"
PLAIN = Target(name="prod", server="https://k8s.acme.net:6443", addresses=("10.0.0.1",))


def with_break_glass(route: object) -> Target:
    from dataclasses import replace

    return replace(PLAIN, break_glass=BreakGlass(route=route, max_ttl_s=3600))  # type: ignore[arg-type]


# (how the route is reached, the label shown, the proxy as shown)
LABELS = [
    (
        lambda: zero_trust_path(PLAIN, {}),
        "over WARP",
        None,
    ),
    (
        lambda: zero_trust_path(PLAIN, {"HTTPS_PROXY": f"http://ops:{SECRET}@proxy.acme.net:3128"}),
        "through http://proxy.acme.net:3128",
        "http://proxy.acme.net:3128",
    ),
    (
        lambda: zero_trust_path(PLAIN, {"https_proxy": f"socks5://ops:{SECRET}@127.0.0.1:1080"}),
        "through socks5://127.0.0.1:1080",
        "socks5://127.0.0.1:1080",
    ),
    (
        lambda: zero_trust_path(
            PLAIN, {"HTTPS_PROXY": f"http://ops:{SECRET}@proxy:3128", "NO_PROXY": ".acme.net"}
        ),
        "over WARP",
        None,
    ),
    (
        lambda: zero_trust_path(
            Target(
                name="prod",
                server="https://k8s.acme.net:6443",
                proxy_url=f"socks5h://ops:{SECRET}@127.0.0.1:1080",
            ),
            {},
        ),
        "through socks5h://127.0.0.1:1080",
        "socks5h://127.0.0.1:1080",
    ),
    (
        lambda: break_glass_path(
            with_break_glass(ProxyRoute(f"socks5://bg:{SECRET}@10.9.9.9:1080"))
        ),
        "through socks5://10.9.9.9:1080",
        "socks5://10.9.9.9:1080",
    ),
    (
        lambda: break_glass_path(PLAIN, session_proxy=f"socks5h://u:{SECRET}@127.0.0.1:4444"),
        "through socks5h://127.0.0.1:4444",
        "socks5h://127.0.0.1:4444",
    ),
    (
        lambda: break_glass_path(
            with_break_glass(VpnRoute(("up",), ("down",), "oob0")), session_open=True
        ),
        "over the break-glass VPN (oob0)",
        None,
    ),
]


@pytest.mark.parametrize(("make", "label", "shown"), LABELS)
def test_route_labels(make: Callable[[], object], label: str, shown: str | None) -> None:
    path = make()
    assert path.label == label  # type: ignore[attr-defined]
    assert path.proxy_display == shown  # type: ignore[attr-defined]
    assert SECRET not in path.label  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("target", "reason", "fix"),
    [
        (PLAIN, "cluster prod has no break-glass route in the catalog", "add breakGlass"),
        (
            with_break_glass(SshRoute("bastion", None, 22, None)),
            "the ssh break-glass route of prod is not open",
            "`ztctl break-glass start prod --reason '...'`",
        ),
        (
            with_break_glass(VpnRoute(("up",), ("down",), "oob0")),
            "the vpn break-glass route of prod is not open",
            "open it with",
        ),
    ],
)
def test_unavailable_break_glass_routes(target: Target, reason: str, fix: str) -> None:
    path = break_glass_path(target)
    assert path.available is False and path.route == "break-glass"
    assert path.reason == reason and fix in path.fix


def test_a_failed_probe_through_a_proxy_never_shows_its_password() -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    target = Target(
        name="prod",
        server="https://k8s.acme.net:6443",
        addresses=("10.0.0.1",),
        proxy_url=f"socks5://ops:{SECRET}@127.0.0.1:{port}",
        break_glass=BreakGlass(ProxyRoute(f"socks5://bg:{SECRET}@127.0.0.1:{port}"), 3600),
    )
    import json

    for route in ("zero-trust", "break-glass", "auto"):
        result = probe_cluster(
            target, route=route, options=ProbeOptions(timeout=1.0, allow_interactive=False)
        )
        shown = json.dumps(result.to_dict())
        assert result.problem is not None
        assert SECRET not in shown and SECRET not in repr(result.problem), route
        assert f"127.0.0.1:{port}" in shown  # the proxy is still named
