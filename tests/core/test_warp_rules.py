"""WARP modes, split-tunnel matching and the doctor's WARP verdicts, as tables (pure).

The verdict checks run against a stand-in WARP client that returns parsed results (the
parsers themselves are tested on recorded warp-cli output in tests/adapters/test_warp.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ztctl.adapters.routes import interface_matches
from ztctl.adapters.warp import (
    ALL_MODES,
    SplitEntry,
    WarpError,
    WarpErrorKind,
    WarpParseError,
    WarpRegistration,
    WarpSettings,
    WarpStatus,
    mode_routes_private,
    normalize_mode,
    parse_settings,
)
from ztctl.core.checks.context import DoctorContext
from ztctl.core.checks.warp import (
    _host_matches,
    check_connected,
    check_mode,
    check_registration,
    evaluate_split_tunnel,
)
from ztctl.core.config import WarpConfig

# (how warp-cli or an MDM file spells it, the mode, whether private networks are routed)
MODES = [
    ("Warp", "warp", True),
    ("warp", "warp", True),
    ("Gateway with WARP", "warp", True),
    ("WarpWithDnsOverHttps", "warp+doh", True),
    ("WarpDnsOverHttps", "warp+doh", True),
    ("warp+doh", "warp+doh", True),
    ("warp_doh", "warp+doh", True),
    ("WarpWithDoh", "warp+doh", True),
    ("WarpWithDnsOverTls", "warp+dot", True),
    ("WarpDnsOverTls", "warp+dot", True),
    ("warp+dot", "warp+dot", True),
    ("WarpWithDot", "warp+dot", True),
    ("TunnelOnly", "tunnel_only", True),
    ("tunnel_only", "tunnel_only", True),
    ("WarpTunnelOnly", "tunnel_only", True),
    ("DnsOverHttps", "doh", False),
    ("doh", "doh", False),
    ("DnsOverTls", "dot", False),
    ("dot", "dot", False),
    ("WarpProxy on port 40000", "proxy", False),
    ("proxy", "proxy", False),
    ("Proxy on port 1080", "proxy", False),
    ("LocalProxy", "proxy", False),
    ("postureonly", "postureonly", False),
    ("DeviceInformationOnly", "postureonly", False),
    ("Device Information Only", "postureonly", False),
    ("Wireguard", "unknown", None),
    ("", "unknown", None),
    ("warp warp", "unknown", None),
]


@pytest.mark.parametrize(("text", "mode", "routes"), MODES)
def test_mode_spellings(text: str, mode: str, routes: bool | None) -> None:
    assert normalize_mode(text) == mode
    assert mode_routes_private(mode) is routes


def test_every_mode_is_in_the_table() -> None:
    assert {mode for _t, mode, _r in MODES} == {*ALL_MODES, "unknown"}


@pytest.mark.parametrize(("text", "mode", "routes"), [m for m in MODES if m[0]])
def test_mode_as_settings_print_it(text: str, mode: str, routes: bool | None) -> None:
    for printed in (
        f"Merged configuration:\n(network policy)\tMode: {text}\nAlways On: true\n",
        json.dumps({"operation_mode": text, "always_on": True}),
    ):
        settings = parse_settings(printed)
        assert settings.mode == mode
        assert settings.mode_text == text
        assert settings.routes_private is routes


# -- the warp.mode verdict ---------------------------------------------------------------


class StandInWarp:
    """Answers like WarpClient with prepared results (or raises prepared errors)."""

    def __init__(
        self,
        *,
        settings: WarpSettings | Exception | None = None,
        status: WarpStatus | Exception | None = None,
        registration: WarpRegistration | Exception | None = None,
        new_names: bool = True,
    ) -> None:
        self._answers: dict[str, Any] = {
            "settings": settings,
            "status": status,
            "registration": registration,
        }
        self.new_names = new_names

    def _answer(self, name: str) -> Any:
        answer = self._answers[name]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def settings(self) -> Any:
        return self._answer("settings")

    def status(self) -> Any:
        return self._answer("status")

    def registration(self) -> Any:
        return self._answer("registration")


def context(warp: StandInWarp, team: str | None = "acme") -> DoctorContext:
    ctx = DoctorContext(team=team, warp=WarpConfig(cli="warp-cli", interface="CloudflareWARP"))
    ctx._warp_client = warp  # type: ignore[assignment]
    return ctx


# (mode, switch locked, status, words the summary has, words the fix has)
MODE_VERDICTS = [
    ("warp", None, "pass", "Gateway with WARP (Warp) routes private networks", ""),
    ("warp+doh", None, "pass", "Gateway with WARP (DNS over HTTPS)", ""),
    ("warp+dot", None, "pass", "Gateway with WARP (DNS over TLS)", ""),
    ("tunnel_only", None, "pass", "Secure Web Gateway without DNS filtering", ""),
    ("doh", None, "fail", "only DNS queries go to Gateway", "run `warp-cli mode warp`"),
    ("dot", None, "fail", "Gateway with DoT (DNS only): only DNS queries", "mode warp"),
    ("proxy", None, "fail", "only applications configured to use the local proxy", "mode"),
    ("proxy", True, "fail", "local proxy", "(the mode is locked on this device)"),
    ("postureonly", None, "fail", "sends no traffic at all", "the mode is locked"),
    ("unknown", None, "warn", "which ztctl does not know", "`warp-cli mode warp`"),
]


@pytest.mark.parametrize(("mode", "locked", "status", "summary", "fix"), MODE_VERDICTS)
def test_mode_verdicts(mode: str, locked: bool | None, status: str, summary: str, fix: str) -> None:
    text = {"warp": "Warp", "proxy": "WarpProxy on port 40000"}.get(mode, mode)
    settings = WarpSettings(
        mode=mode,
        mode_text=text,
        proxy_port=40000 if mode == "proxy" else None,
        switch_locked=locked,
        fields=(("network policy", "Mode", text),),
    )
    outcome = check_mode(context(StandInWarp(settings=settings)))
    assert outcome.status == status
    assert summary in outcome.summary
    assert fix in outcome.fix
    assert outcome.data["mode"] == mode and outcome.data["source"] == "network policy"
    if mode == "proxy":
        assert "on port 40000" in outcome.summary
    if status == "fail" and not locked and mode != "postureonly":
        assert "the mode is locked" not in outcome.fix


def test_mode_fix_uses_the_old_command_name_on_old_clients() -> None:
    outcome = check_mode(context(StandInWarp(settings=WarpSettings("doh"), new_names=False)))
    assert "run `warp-cli set-mode warp`" in outcome.fix


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (WarpError(WarpErrorKind.NO_DAEMON, "the daemon is down", fix="start it"), "fail"),
        (WarpParseError("odd"), "warn"),
    ],
)
def test_mode_when_settings_cannot_be_read(error: Exception, status: str) -> None:
    outcome = check_mode(context(StandInWarp(settings=error)))
    assert outcome.status == status


# -- the warp.connected verdict ----------------------------------------------------------

# (status, verdict, words in the summary, words in the fix)
CONNECTED = [
    (WarpStatus("Connected", network="healthy"), "pass", "WARP is connected, network healthy", ""),
    (WarpStatus("Connected"), "pass", "WARP is connected", ""),
    (
        WarpStatus("Connected", network="Degraded"),
        "warn",
        "reports the network as Degraded",
        "packet loss",
    ),
    (
        WarpStatus("Disconnected", "Manual Disconnection", reason_code="Manual"),
        "fail",
        "WARP is disconnected (reason: Manual Disconnection)",
        "run `warp-cli connect` (or `ztctl login`)",
    ),
    (
        WarpStatus("Disconnected", reason_code="RegistrationMissing"),
        "fail",
        "the device has no registration",
        "run `ztctl login --team acme`",
    ),
    (
        WarpStatus("Unable", "HappyEyeballs failed", reason_code="HappyEyeballsFailed"),
        "fail",
        "WARP is unable to connect (reason: HappyEyeballs failed)",
        "the network blocks WARP's tunnel",
    ),
    (WarpStatus("Connecting"), "warn", "WARP is connecting: not carrying traffic yet", "wait"),
    (WarpStatus("Paused", "by user"), "warn", "WARP is paused (by user)", "wait a few seconds"),
    (WarpStatus("Disconnecting"), "warn", "WARP is disconnecting", "wait"),
    (WarpStatus("Disconnected"), "fail", "WARP is disconnected", "`warp-cli status` says why"),
]


@pytest.mark.parametrize(("status", "verdict", "summary", "fix"), CONNECTED)
def test_connected_verdicts(status: WarpStatus, verdict: str, summary: str, fix: str) -> None:
    outcome = check_connected(context(StandInWarp(status=status)))
    assert (outcome.status, summary in outcome.summary, fix in outcome.fix) == (verdict, True, True)
    assert outcome.data["state"] == status.state


# -- the warp.registration verdict --------------------------------------------------------

REGISTRATION = [
    (WarpRegistration("team", "acme", "dev-1"), "acme", "pass", "enrolled in team acme", ""),
    (WarpRegistration("team", "ACME"), "acme", "pass", "enrolled in team ACME", ""),
    (
        WarpRegistration("team", "other"),
        "acme",
        "fail",
        "enrolled in team 'other', not in the catalog's team 'acme'",
        "run `warp-cli registration delete`, then `ztctl login --team acme`",
    ),
    (
        WarpRegistration("free"),
        "acme",
        "fail",
        "consumer WARP registration (account type free), not a Zero Trust one in team acme",
        "registration delete",
    ),
    (None, "acme", "fail", "not enrolled in a Zero Trust team", "run `ztctl login --team acme`"),
    (None, None, "fail", "not enrolled", "run `ztctl login`"),
    (WarpRegistration("team", "other"), None, "pass", "enrolled in team other", ""),
]


@pytest.mark.parametrize(("reg", "team", "verdict", "summary", "fix"), REGISTRATION)
def test_registration_verdicts(
    reg: WarpRegistration | None, team: str | None, verdict: str, summary: str, fix: str
) -> None:
    outcome = check_registration(context(StandInWarp(registration=reg), team=team))
    assert outcome.status == verdict, outcome
    assert summary in outcome.summary and fix in outcome.fix


def test_registration_without_organization_asks_settings() -> None:
    warp = StandInWarp(
        registration=WarpRegistration("team"), settings=WarpSettings("warp", organization="acme")
    )
    assert check_registration(context(warp)).status == "pass"
    unknown = StandInWarp(registration=WarpRegistration("team"), settings=WarpParseError("x"))
    assert check_registration(context(unknown)).status == "warn"


# -- split tunnel: host patterns ------------------------------------------------------------

# (entry in the Split Tunnels list, the cluster's host name, whether the entry covers it)
HOST_PATTERNS = [
    ("k8s.acme.net", "k8s.acme.net", True),
    ("K8S.ACME.NET", "k8s.acme.net", True),  # names are case-insensitive
    ("k8s.acme.net.", "k8s.acme.net", True),  # a trailing dot is the same name
    ("k8s.acme.net", "k8s.acme.net.", True),
    ("acme.net", "k8s.acme.net", True),  # a domain covers its subdomains
    ("acme.net", "acme.net", True),
    ("cme.net", "k8s.acme.net", False),  # but not a longer label that ends the same
    ("notacme.net", "k8s.acme.net", False),
    ("*.acme.net", "k8s.acme.net", True),
    ("*.acme.net", "a.b.acme.net", True),
    ("*.acme.net", "k8s.notacme.net", False),  # the wildcard stands for whole labels
    ("*.acme.net", "xacme.net", False),
    ("*.acme.net", "acme.net", False),  # a wildcard needs a label in its place
    ("*.k8s.acme.net", "k8s.acme.net", False),
    ("k8s.acme.net", "acme.net", False),
    ("k8s.acme.net", "k8s.acme.net.evil", False),
]


@pytest.mark.parametrize(("entry", "host", "covered"), HOST_PATTERNS)
def test_host_patterns(entry: str, host: str, covered: bool) -> None:
    assert _host_matches(entry, host) is covered
    ok, bad = evaluate_split_tunnel(
        "exclude", (SplitEntry(entry),), [("prod", host, "203.0.113.10")]
    )
    assert (bad if covered else ok)[0]["host"] == host
    ok, bad = evaluate_split_tunnel(
        "include", (SplitEntry(entry),), [("prod", host, "203.0.113.10")]
    )
    assert (ok if covered else bad)[0]["host"] == host


# -- split tunnel: address ranges ------------------------------------------------------------

# (mode, entries, address, sent into WARP, the entry named)
RANGES = [
    ("exclude", ["10.0.0.0/8"], "10.0.0.0", False, "10.0.0.0/8"),  # first address
    ("exclude", ["10.0.0.0/8"], "10.255.255.255", False, "10.0.0.0/8"),  # last address
    ("exclude", ["10.0.0.0/8"], "11.0.0.0", True, None),
    ("exclude", ["10.0.0.0/8"], "9.255.255.255", True, None),
    ("exclude", ["10.1.2.3"], "10.1.2.3", False, "10.1.2.3"),  # a bare address is a /32
    ("exclude", ["10.1.2.3/8"], "10.9.9.9", False, "10.1.2.3/8"),  # host bits ignored
    ("exclude", ["::/0"], "10.1.2.3", True, None),  # an IPv6 range never covers IPv4
    ("exclude", ["0.0.0.0/0"], "fd00::1", True, None),  # nor the other way round
    ("exclude", ["fd00::/8"], "fd12::1", False, "fd00::/8"),
    ("exclude", ["192.168.0.0/16", "10.0.0.0/8"], "10.1.1.1", False, "10.0.0.0/8"),
    ("exclude", ["10.0.0.0/8", "10.1.0.0/16"], "10.1.1.1", False, "10.0.0.0/8"),  # the first
    ("exclude", [], "10.1.1.1", True, None),
    ("include", ["10.0.0.0/8"], "10.1.1.1", True, "10.0.0.0/8"),
    ("include", ["10.0.0.0/8"], "192.168.1.1", False, None),
    ("include", ["::/0"], "10.1.1.1", False, None),
    ("include", ["10.1.0.0/16", "10.0.0.0/8"], "10.1.1.1", True, "10.1.0.0/16"),
    ("include", ["not-a-range/99"], "10.1.1.1", False, None),
]


@pytest.mark.parametrize(("mode", "table", "address", "sent", "entry"), RANGES)
def test_address_ranges(
    mode: str, table: list[str], address: str, sent: bool, entry: str | None
) -> None:
    ok, bad = evaluate_split_tunnel(
        mode, tuple(SplitEntry(e) for e in table), [("prod", "k8s.example", address)]
    )
    rows = ok if sent else bad
    assert len(rows) == 1 and not (bad if sent else ok)
    assert rows[0]["address"] == address and rows[0]["cluster"] == "prod"
    assert rows[0].get("entry") == entry


def test_an_excluded_row_says_whether_the_cli_added_it() -> None:
    entries = (SplitEntry("10.0.0.0/8", "CLI exclude"), SplitEntry("k8s.acme.net", "corp"))
    _ok, bad = evaluate_split_tunnel(
        "exclude", entries, [("a", "x.example", "10.1.1.1"), ("b", "k8s.acme.net", "1.2.3.4")]
    )
    assert bad == [
        {
            "cluster": "a",
            "host": "x.example",
            "address": "10.1.1.1",
            "entry": "10.0.0.0/8",
            "description": "CLI exclude",
            "fromCli": True,
        },
        {
            "cluster": "b",
            "host": "k8s.acme.net",
            "address": "1.2.3.4",
            "entry": "k8s.acme.net",
            "description": "corp",
            "fromCli": False,
        },
    ]


# -- the WARP interface name ------------------------------------------------------------

# (the interface a route leaves by, the configured WARP interface, the same one?)
INTERFACES = [
    ("CloudflareWARP", "CloudflareWARP", True),
    ("utun0", "utun", True),  # macOS: utun stands for any utun<N>
    ("utun7", "utun", True),
    ("utun10", "utun", True),
    ("utun123", "utun", True),
    ("utun", "utun", True),
    ("utunx", "utun", False),
    ("utun1x", "utun", False),
    ("xutun1", "utun", False),
    ("utun1", "utun1", True),
    ("utun2", "utun1", False),  # a configured utunN is exact
    ("cloudflarewarp", "CloudflareWARP", False),
    ("CloudflareWARP0", "CloudflareWARP", False),
    ("eth0", "CloudflareWARP", False),
    (None, "CloudflareWARP", False),
]


@pytest.mark.parametrize(("actual", "expected", "same"), INTERFACES)
def test_interface_names(actual: str | None, expected: str, same: bool) -> None:
    assert interface_matches(actual, expected) is same
