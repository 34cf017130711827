"""The cf.* checks against the lab's Cloudflare API stand-in (in process, on loopback): each
server-side fault makes exactly the right check fail, a missing permission skips exactly the
checks that need it, API trouble never fails a check nor outlives the deadline, and calls
are shared between clusters."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cfapi import TOKEN, StandIn, catalog_entries, stand_in
from ztctl.adapters.cloudflare import CloudflareApi
from ztctl.core.catalog import parse_catalog
from ztctl.core.doctor.runner import CheckResult, run_checks
from ztctl.core.doctor.server import ServerSide, checks
from ztctl.core.doctor.server_cluster import connectors, describe_connectors, lint_http_rules

TIMEOUT = 2.0


@pytest.fixture
def cf(tmp_path: Path) -> Iterator[StandIn]:
    with stand_in(tmp_path, catalog_entries(2)) as server:
        yield server


def run(cf: StandIn, *, account: str | None = None, device: bool = True) -> dict[str, CheckResult]:
    catalog = parse_catalog(
        cf.catalog.read_text(), source="t", label="t", base_dir=cf.catalog.parent
    )
    api = CloudflareApi(cf.url, account or cf.account_id, TOKEN, timeout=TIMEOUT)
    side = ServerSide(api, device_id=lambda: cf.state.warp.device_id)
    report = run_checks(
        checks(side, catalog.clusters, timeout=TIMEOUT, device=device), timeout=TIMEOUT
    )
    return {r.key: r for r in report.results}


def failing(results: dict[str, CheckResult]) -> set[str]:
    return {k.split("@")[0] for k, r in results.items() if r.status == "fail"}


def test_healthy_account_passes_with_the_facts_in_data(cf: StandIn) -> None:
    results = run(cf)
    assert {r.status for r in results.values()} == {"pass"}, [
        (k, r.summary) for k, r in results.items() if r.status != "pass"
    ]
    tunnel = results["cf.tunnel@c0"]
    assert "3 connectors (2025.11.1), 12 edge connections" in tunnel.summary
    row = tunnel.data["tunnels"][0]
    assert row["name"] == "k8s-c0" and row["status"] == "healthy"
    assert {c["edgeConnections"] for c in row["connectors"]} == {4}
    assert all(c["arch"] == "linux_amd64" and c["originIps"] for c in row["connectors"])
    route = results["cf.route@c0"].data["routes"][0]
    assert route["network"] == "198.18.0.1/32" and route["virtualNetworkName"] == "lab-net"
    assert results["cf.device"].data["profile"]["name"] == "Engineers"
    assert results["cf.inspection@c0"].data["doNotInspectRule"]


@pytest.mark.parametrize(
    ("fault", "check", "words"),
    [
        ({"route": "missing"}, "cf.route", "no private network route covers 198.18.0."),
        ({"route": "other-vnet"}, "cf.route", "virtual network 'other-net'"),
        ({"tunnel": "down"}, "cf.tunnel", "0 connectors"),
        ({"tunnel": "degraded"}, "cf.tunnel", "degraded"),
        ({"connectors": 1}, "cf.tunnel", "1 connector"),
        ({"inspection": "no-dni"}, "cf.inspection", "policy lint"),
        ({"device": "revoked"}, "cf.device", "revoked"),
        ({"device": "missing"}, "cf.device", "no registration"),
        ({"proxy": False}, "cf.gateway", "TCP proxy is off"),
    ],
)
def test_each_fault_fails_exactly_its_check(
    cf: StandIn, fault: dict[str, Any], check: str, words: str
) -> None:
    for key, value in fault.items():
        setattr(cf.state.cloudflare, key, value)
    results = run(cf)
    assert failing(results) == {check}
    failed = [r for r in results.values() if r.status == "fail"]
    assert all(words in r.summary for r in failed), [r.summary for r in failed]
    assert all(r.fix and r.data.get("cause") for r in failed)


def test_split_tunnel_follows_the_profile(cf: StandIn) -> None:
    cf.state.warp.split = ["198.18.0.0/15"]
    results = run(cf)
    assert failing(results) == {"cf.split-tunnel"}
    assert "excluded by 198.18.0.0/15" in results["cf.split-tunnel@c0"].summary


@pytest.mark.parametrize(
    ("lacks", "skipped", "name"),
    [
        (
            "networks",
            {"cf.route", "cf.tunnel"},
            "Cloudflare One Networks Read",
        ),  # no route, no tunnel
        ("tunnels", {"cf.tunnel"}, "Cloudflare Tunnel Read"),
        (
            "zero-trust",
            {"cf.device", "cf.gateway", "cf.split-tunnel", "cf.inspection"},
            "Zero Trust Read",
        ),
    ],
)
def test_a_missing_permission_skips_only_the_checks_that_need_it(
    cf: StandIn, lacks: str, skipped: set[str], name: str
) -> None:
    cf.state.cloudflare.lacks = [lacks]
    results = run(cf)
    assert results["cf.api"].status == "warn" and name in results["cf.api"].summary
    skips = {k.split("@")[0] for k, r in results.items() if r.status == "skip"}
    assert skips == skipped
    assert all(name in r.summary for r in results.values() if r.status == "skip")
    assert {
        r.status for k, r in results.items() if k.split("@")[0] not in skipped | {"cf.api"}
    } == {"pass"}


def test_invalid_token_fails_cf_api_and_skips_the_rest(cf: StandIn) -> None:
    cf.state.cloudflare.token = "invalid"
    results = run(cf)
    assert results["cf.api"].status == "fail"
    assert "Invalid API Token" in results["cf.api"].summary
    assert "ztctl login --api-token" in results["cf.api"].fix
    assert {r.status for k, r in results.items() if k != "cf.api"} == {"skip"}


def test_user_owned_token_verifies_through_the_user_endpoint(cf: StandIn) -> None:
    cf.state.cloudflare.token = "user"
    results = run(cf)
    assert results["cf.api"].status == "pass" and "user-owned" in results["cf.api"].summary
    assert cf.calls("/user/tokens/verify")


@pytest.mark.parametrize("how", ["other-account-token", "wrong-account-id"])
def test_token_for_another_account(cf: StandIn, how: str) -> None:
    if how == "other-account-token":
        cf.state.cloudflare.token = "other-account"
        results = run(cf)
    else:
        results = run(cf, account="f" * 32)
    assert results["cf.api"].status == "fail"
    assert "cannot read account" in results["cf.api"].summary
    assert "cloudflare.account_id" in results["cf.api"].fix


@pytest.mark.parametrize("mode", ["blackhole", "rate-limited", "down", "malformed"])
def test_api_trouble_never_fails_and_keeps_the_deadline(cf: StandIn, mode: str) -> None:
    cf.state.cloudflare.api = mode
    began = time.monotonic()
    results = run(cf)
    elapsed = time.monotonic() - began
    assert elapsed < 2 * TIMEOUT + 1.0
    assert results["cf.api"].status == "warn"
    assert "fail" not in {r.status for r in results.values()}


def test_slow_api_warns_instead_of_hanging(cf: StandIn) -> None:
    cf.state.cloudflare.latency_ms = 1500  # verify fits; the chain behind it does not
    began = time.monotonic()
    results = run(cf)
    assert time.monotonic() - began < 2 * TIMEOUT + 1.0
    assert "fail" not in {r.status for r in results.values()}
    assert any(r.status == "warn" for r in results.values())


def test_calls_are_shared_between_clusters(tmp_path: Path) -> None:
    with stand_in(tmp_path, catalog_entries(6, shared=True)) as cf:
        results = run(cf)
        assert {r.status for r in results.values()} <= {"pass", "warn"}
        assert len(cf.calls("/teamnet/routes/ip/")) == 1  # one lookup per address
        assert len([p for p in cf.calls("/cfd_tunnel/") if not p.endswith("/connections")]) == 1
        assert len(cf.calls("/connections")) == 1
        assert len(cf.calls("/gateway/rules")) == 1
        # Six clusters on one tunnel named after the first: the name is worth a look.
        assert results["cf.route@c1"].status == "warn"


def test_a_404_route_lookup_means_no_route(cf: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    from ztctl.lab import cfapi

    def not_found(*_a: Any) -> Any:
        raise cfapi.ApiFault(404, cfapi._error(1001, "Route not found"))

    monkeypatch.setattr(cfapi, "_route_for_ip", not_found)
    cf.state.cloudflare.route = "missing"
    results = run(cf)
    assert results["cf.route@c0"].status == "fail"
    assert "no private network route" in results["cf.route@c0"].summary


RULES = [
    {"name": "inspect all", "action": "on", "filters": ["http"], "precedence": 30, "traffic": ""},
    {
        "name": "dni k8s",
        "action": "off",
        "filters": ["http"],
        "precedence": 10,
        "traffic": "http.conn.dst_ip in {10.0.0.0/24 10.1.0.1/32}",
    },
    {
        "name": "disabled",
        "action": "off",
        "enabled": False,
        "filters": ["http"],
        "precedence": 1,
        "traffic": "",
    },
    {"name": "l4", "action": "allow", "filters": ["l4"], "precedence": 0, "traffic": ""},
]


@pytest.mark.parametrize(
    ("rules", "address", "dni", "inspect", "unknown"),
    [
        (RULES, "10.0.0.5", "dni k8s", None, ()),
        (RULES, "10.2.0.5", None, "inspect all", ()),
        (
            [{**RULES[1], "traffic": "http.conn.dst_ip in $0a1b2c3d", "name": "list"}, RULES[0]],
            "10.0.0.5",
            None,
            "inspect all",
            ("list",),
        ),
        (
            [{**RULES[1], "traffic": 'http.request.host == "k8s"', "name": "host"}, RULES[0]],
            "10.0.0.5",
            None,
            "inspect all",
            ("host",),
        ),
        (
            [{**RULES[1], "traffic": "net.dst.ip == 10.0.0.5 and net.dst.port == 6443"}],
            "10.0.0.5",
            "dni k8s",
            None,
            (),
        ),
        ([{**RULES[1], "traffic": "http.conn.dst_port == 443"}], "10.0.0.5", None, None, ()),
    ],
)
def test_policy_lint(
    rules: list[dict[str, Any]],
    address: str,
    dni: str | None,
    inspect: str | None,
    unknown: tuple[str, ...],
) -> None:
    lint = lint_http_rules(rules, [address], 6443)
    assert (lint.do_not_inspect, lint.inspect, lint.unknown) == (dni, inspect, unknown)


def test_connectors_are_described_compactly() -> None:
    clients = [
        {
            "id": str(i),
            "version": "2025.11.1",
            "arch": "linux_amd64",
            "conns": [
                {"colo_name": c, "origin_ip": "198.51.100.1"} for c in ("AMS", "FRA", "LHR", "AMS")
            ],
        }
        for i in range(3)
    ]
    text = describe_connectors(connectors(clients))
    assert text == "3 connectors (2025.11.1), 12 edge connections, AMS FRA LHR"
    assert describe_connectors([]) == "0 connectors"


def test_every_cf_outcome_is_scrubbed_of_the_token(cf: StandIn) -> None:
    """Defense in depth: whatever text an API error or a check produces, the one guard every
    cf.* check passes removes the token from summary, fix and data (and from a crash)."""
    from ztctl.core.doctor.runner import Outcome
    from ztctl.core.doctor.server import _guard

    side = ServerSide(CloudflareApi(cf.url, cf.account_id, TOKEN, timeout=TIMEOUT))

    def check(_server: ServerSide, _deadline: float) -> Outcome:
        return Outcome("warn", f"x b'Bearer {TOKEN}'", f"fix {TOKEN}", {"why": [TOKEN]})

    outcome = _guard(side, check, time.monotonic() + 2)
    assert outcome.status == "warn" and outcome.summary == "x b'Bearer [token]'"
    assert TOKEN not in f"{outcome.summary} {outcome.fix} {outcome.data}"

    def crash(_server: ServerSide, _deadline: float) -> Outcome:
        raise ValueError(f"Illegal header value b'Bearer {TOKEN}'")

    with pytest.raises(RuntimeError) as info:
        _guard(side, crash, time.monotonic() + 2)
    assert TOKEN not in str(info.value) and "ValueError" in str(info.value)
