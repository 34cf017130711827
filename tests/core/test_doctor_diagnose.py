"""The root-cause pass: path failures point at the device check that explains them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ztctl.core.config import WarpConfig
from ztctl.core.doctor.context import DoctorContext
from ztctl.core.doctor.diagnose import diagnose
from ztctl.core.doctor.runner import CheckResult
from ztctl.core.model import BreakGlass, ClientCertificate, Cluster, ProxyRoute

DEVICE_IDS = ("warp.cli", "warp.daemon", "warp.registration", "warp.connected", "warp.mode")


def cluster(name: str = "prod", *, break_glass: bool = True) -> Cluster:
    return Cluster(
        name=name,
        server=f"https://k8s.{name}.acme.internal:6443",
        addresses=("10.1.2.3",),
        credentials=ClientCertificate(Path("c.crt"), Path("c.key")),
        break_glass=BreakGlass(ProxyRoute("socks5://127.0.0.1:1080")) if break_glass else None,
    )


def ctx(*clusters: Cluster) -> DoctorContext:
    return DoctorContext(team="acme", warp=WarpConfig(), clusters=clusters)


def r(
    check_id: str, status: str = "pass", cluster: str | None = None, **data: object
) -> CheckResult:
    return CheckResult(
        check_id,
        check_id,
        status,
        f"{check_id} says {status}",
        f"fix {check_id}",
        cluster,
        1.0,
        data,
    )


def healthy_device() -> list[CheckResult]:
    return [r(i) for i in DEVICE_IDS] + [r("warp.split-tunnel"), r("cluster.route", cluster="prod")]


def tcp_timeout() -> CheckResult:
    return r("cluster.tcp", "fail", "prod", kind="timeout", address="10.1.2.3")


def find(results: tuple[CheckResult, ...], key: str) -> CheckResult:
    return next(x for x in results if x.key == key)


@pytest.mark.parametrize("root", DEVICE_IDS)
def test_the_first_failing_device_check_is_the_cause(root: str) -> None:
    results = [r(i, "fail" if i == root else "pass") for i in DEVICE_IDS]
    results += [r("cluster.route", cluster="prod"), tcp_timeout()]
    out = find(diagnose(results, ctx(cluster())), "cluster.tcp@prod")
    assert out.fix.startswith(f"caused by {root}")
    assert f"fix {root}" in out.fix
    assert "ztctl break-glass start prod --reason" in out.fix
    assert out.data["rootCause"] == root


def test_split_tunnel_counts_only_for_the_cluster_it_names() -> None:
    other = r("warp.split-tunnel", "fail", notSent=[{"cluster": "other", "address": "10.9.9.9"}])
    results = [
        *[r(i) for i in DEVICE_IDS],
        other,
        r("cluster.route", cluster="prod"),
        tcp_timeout(),
    ]
    out = find(diagnose(results, ctx(cluster())), "cluster.tcp@prod")
    assert out.data["rootCause"] == "zero-trust-path"
    mine = r("warp.split-tunnel", "fail", notSent=[{"cluster": "prod", "address": "10.1.2.3"}])
    results[len(DEVICE_IDS)] = mine
    out = find(diagnose(results, ctx(cluster())), "cluster.tcp@prod")
    assert out.data["rootCause"] == "warp.split-tunnel"


def test_with_a_healthy_device_the_path_beyond_is_blamed() -> None:
    results = [*healthy_device(), tcp_timeout()]
    out = find(diagnose(results, ctx(cluster(break_glass=False))), "cluster.tcp@prod")
    assert "Zero Trust path beyond it is down" in out.fix
    assert "break-glass" not in out.fix


def test_a_device_check_that_did_not_pass_keeps_the_cautious_fix() -> None:
    results = [*healthy_device()[:-1], r("cluster.route", "skip", "prod"), tcp_timeout()]
    out = find(diagnose(results, ctx(cluster())), "cluster.tcp@prod")
    assert out.fix == "fix cluster.tcp"  # unchanged: nothing proves the device is healthy


def test_refused_and_inspection_are_not_path_failures() -> None:
    results = [
        r("warp.connected", "fail"),
        r("cluster.tcp", "fail", "prod", kind="refused"),
        r("cluster.tls", "fail", "prod", kind="tls-inspection"),
    ]
    out = diagnose(results, ctx(cluster()))
    assert find(out, "cluster.tcp@prod").fix == "fix cluster.tcp"
    assert find(out, "cluster.tls@prod").fix == "fix cluster.tls"


def test_route_failure_points_at_warp() -> None:
    results = [r("warp.mode", "fail"), r("cluster.route", "fail", "prod")]
    out = find(diagnose(results, ctx(cluster())), "cluster.route@prod")
    assert out.fix.startswith("caused by warp.mode")


def test_dns_hint_names_the_fallback_suffix() -> None:
    results = [
        r("warp.mode", fallbackDomains=["corp", "internal"]),
        r("cluster.dns", "fail", "prod", host="k8s.prod.acme.internal"),
    ]
    out = find(diagnose(results, ctx(cluster())), "cluster.dns@prod")
    assert "`internal`" in out.fix and out.data["localDomainFallback"] == "internal"
