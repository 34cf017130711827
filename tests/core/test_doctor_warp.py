"""The warp.* checks on the lab's stand-in warp-cli (real subprocesses), in every version era,
and the split-tunnel rules as pure functions."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.core.doctor_lab import doctor, result
from ztctl.adapters.warp import SplitEntry
from ztctl.core.doctor.warp import _rest_of, evaluate_split_tunnel
from ztctl.lab.state import ERA_VERSIONS, ERAS

WARP_IDS = (
    "warp.cli",
    "warp.daemon",
    "warp.registration",
    "warp.connected",
    "warp.mode",
    "warp.split-tunnel",
)
# Device-only runs (no cluster) stay fast: no probe waits on the path WARP breaks.
DEVICE = {"clusters": ()}
WITH_LAB = {"clusters": ("lab",)}


@pytest.mark.parametrize("era", ERAS)
def test_every_warp_check_passes_on_a_healthy_client_of_each_era(lab, era: str) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, f"warp.era={era}", **WITH_LAB)
    for check_id in WARP_IDS:
        r = result(report, check_id)
        assert r.status == "pass", (era, check_id, r.summary)
    cli = result(report, "warp.cli")
    assert cli.data["version"] == ERA_VERSIONS[era]
    assert cli.data["era"] == era
    assert result(report, "warp.registration").data["organization"] == "lab"
    assert "127.0.0.1" in result(report, "warp.split-tunnel").summary


@pytest.mark.parametrize("era", ERAS)
def test_disconnected_says_so_with_the_reason_and_how_to_connect(lab, era: str) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, f"warp.era={era}", "warp.connected=false", **DEVICE)
    r = result(report, "warp.connected")
    assert r.status == "fail"
    assert "disconnected" in r.summary.lower()
    assert "Manual" in r.summary  # the reason, in the era's words
    assert "warp-cli connect" in r.fix
    assert result(report, "warp.daemon").status == "pass"


@pytest.mark.parametrize("era", ERAS)
def test_unregistered_device_is_told_to_log_in(lab, era: str) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, f"warp.era={era}", "warp.registered=false", **DEVICE)
    reg = result(report, "warp.registration")
    assert reg.status == "fail"
    assert "not enrolled" in reg.summary
    assert "ztctl login --team lab" in reg.fix
    conn = result(report, "warp.connected")
    assert conn.status == "fail" and "Registration Missing" in conn.summary


@pytest.mark.parametrize(
    ("era", "delete"),
    [
        ("2023", "warp-cli delete"),
        ("2024", "warp-cli registration delete"),
        ("2025", "warp-cli registration delete"),
        ("2026", "warp-cli registration delete"),
    ],
)
def test_wrong_team_names_both_teams_and_the_era_s_delete_command(
    lab, era: str, delete: str
) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, f"warp.era={era}", "warp.team=acme-other", **DEVICE)
    r = result(report, "warp.registration")
    assert r.status == "fail"
    assert "'acme-other'" in r.summary and "'lab'" in r.summary
    assert f"`{delete}`" in r.fix and "ztctl login --team lab" in r.fix


@pytest.mark.parametrize(
    ("era", "switch"),
    [
        ("2023", "warp-cli set-mode warp"),
        ("2024", "warp-cli mode warp"),
        ("2025", "warp-cli mode warp"),
        ("2026", "warp-cli mode warp"),
    ],
)
def test_proxy_mode_does_not_route_private_networks(lab, era: str, switch: str) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, f"warp.era={era}", "warp.mode=proxy", **DEVICE)
    r = result(report, "warp.mode")
    assert r.status == "fail"
    assert "proxy mode" in r.summary and "port 40000" in r.summary
    assert f"`{switch}`" in r.fix
    assert "Gateway with WARP" in r.fix


@pytest.mark.parametrize("mode", ["doh", "postureonly"])
def test_dns_only_and_posture_only_modes_fail_too(lab, mode: str) -> None:  # type: ignore[no-untyped-def]
    r = result(doctor(lab, f"warp.mode={mode}", **DEVICE), "warp.mode")
    assert r.status == "fail"
    assert ("DNS" in r.summary) if mode == "doh" else ("posture" in r.summary)


@pytest.mark.parametrize("mode", ["warp+doh", "tunnel_only"])
def test_other_tunnel_modes_pass(lab, mode: str) -> None:  # type: ignore[no-untyped-def]
    assert result(doctor(lab, f"warp.mode={mode}", **DEVICE), "warp.mode").status == "pass"


def test_daemon_not_running_skips_what_needs_it(lab) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, "warp.daemon=off", **DEVICE)
    daemon = result(report, "warp.daemon")
    assert daemon.status == "fail"
    assert "not running" in daemon.summary
    assert "warp-svc" in daemon.fix
    assert result(report, "warp.cli").status == "pass"
    for check_id in ("warp.registration", "warp.connected", "warp.mode", "warp.split-tunnel"):
        r = result(report, check_id)
        assert r.status == "skip" and "warp.daemon failed" in r.summary, check_id


def test_hung_warp_cli_is_reported_within_the_timeout(lab) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, "warp.hang=on", timeout=1.0, **DEVICE)
    daemon = result(report, "warp.daemon")
    assert daemon.status == "fail"
    assert "hung" in daemon.summary and "did not answer within" in daemon.summary
    assert "restart" in daemon.fix
    assert not report.deadline_hit
    assert result(report, "warp.mode").status == "skip"


def test_terms_of_service_not_accepted_is_explained(lab) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, "warp.tos=off", **DEVICE)
    failing = [r for r in report.results if r.id.startswith("warp.") and r.status == "fail"]
    assert failing, "a refused ToS must fail a warp check"
    assert any("Terms of Service" in r.summary for r in failing)
    assert any("accept" in r.fix for r in failing)


def test_missing_warp_cli_says_how_to_install(lab) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, cli=str(lab.dir / "no-such-warp-cli"), **DEVICE)
    cli = result(report, "warp.cli")
    assert cli.status == "fail" and "not found" in cli.summary
    assert "install" in cli.fix
    assert result(report, "warp.daemon").status == "skip"


def test_split_tunnel_excluding_the_cluster_fails_with_the_range(lab) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, "warp.split=exclude-cluster", clusters=("lab",), timeout=1.0)
    r = result(report, "warp.split-tunnel")
    assert r.status == "fail"
    assert "127.0.0.0/8 excludes 127.0.0.1" in r.summary
    assert "remove 127.0.0.0/8" in r.fix and "Split Tunnels" in r.fix
    assert r.data["notSent"][0]["cluster"] == "lab"
    # and the path failure of the cluster points at it
    tls = result(report, "cluster.tls", "lab")
    assert tls.status == "fail" and tls.data.get("rootCause") == "warp.split-tunnel"


def test_split_tunnel_include_mode(lab) -> None:  # type: ignore[no-untyped-def]
    ok = result(doctor(lab, "warp.split=include-cluster", **WITH_LAB), "warp.split-tunnel")
    assert ok.status == "pass" and "include mode" in ok.summary
    bad = result(
        doctor(lab, "warp.split=include-other", clusters=("lab",), timeout=1.0), "warp.split-tunnel"
    )
    assert bad.status == "fail"
    assert "no Split Tunnels include entry covers 127.0.0.1" in bad.summary
    assert "127.0.0.1/32" in bad.fix and "lab.cloudflareaccess.com" in bad.fix


def test_split_tunnel_without_clusters_is_skipped(lab) -> None:  # type: ignore[no-untyped-def]
    r = result(doctor(lab, **DEVICE), "warp.split-tunnel")
    assert r.status == "skip" and "no cluster" in r.summary


# -- pure rules ----------------------------------------------------------------------


def entries(*values: str) -> tuple[SplitEntry, ...]:
    return tuple(SplitEntry(v) for v in values)


DEFAULTS = entries("10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16", "fd00::/8")


@pytest.mark.parametrize(
    ("mode", "table", "address", "host", "sent", "entry"),
    [
        ("exclude", DEFAULTS, "10.20.30.40", "k8s.acme.net", False, "10.0.0.0/8"),  # the trap
        ("exclude", DEFAULTS, "100.96.0.5", "k8s.acme.net", False, "100.64.0.0/10"),
        ("exclude", DEFAULTS, "203.0.113.10", "k8s.acme.net", True, None),
        ("exclude", DEFAULTS, "fd00::10", "k8s.acme.net", False, "fd00::/8"),
        ("exclude", DEFAULTS, "2001:db8::1", "k8s.acme.net", True, None),
        ("exclude", entries("k8s.acme.net"), "203.0.113.10", "k8s.acme.net", False, "k8s.acme.net"),
        ("exclude", entries("acme.net"), "203.0.113.10", "k8s.acme.net", False, "acme.net"),
        ("exclude", entries("*.acme.net"), "203.0.113.10", "k8s.acme.net", False, "*.acme.net"),
        ("exclude", entries("notacme.net"), "203.0.113.10", "k8s.acme.net", True, None),
        ("include", entries("10.20.0.0/16"), "10.20.30.40", "k8s.acme.net", True, "10.20.0.0/16"),
        ("include", entries("10.21.0.0/16"), "10.20.30.40", "k8s.acme.net", False, None),
        ("include", entries("k8s.acme.net"), "10.20.30.40", "k8s.acme.net", True, "k8s.acme.net"),
        ("include", (), "10.20.30.40", "k8s.acme.net", False, None),
    ],
)
def test_split_tunnel_rules(mode, table, address, host, sent, entry) -> None:  # type: ignore[no-untyped-def]
    ok, bad = evaluate_split_tunnel(mode, table, [("prod", host, address)])
    rows = ok if sent else bad
    assert len(rows) == 1 and not (bad if sent else ok)
    assert rows[0].get("entry") == entry


@given(
    prefix=st.integers(min_value=8, max_value=24),
    host=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_the_re_add_list_never_covers_the_cluster(prefix: int, host: int) -> None:
    address = ipaddress.IPv4Address(host)
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    rest = [r for r in _rest_of(str(network), [str(address)], limit=10_000) if r != "…"]
    for part in rest:
        net = ipaddress.ip_network(part)
        assert address not in net
        assert net.subnet_of(network)  # type: ignore[arg-type]
    covered = sum(ipaddress.ip_network(p).num_addresses for p in rest)
    hole = 256 if prefix <= 24 else 0
    assert covered == network.num_addresses - hole
