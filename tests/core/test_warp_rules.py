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
from ztctl.core.config import WarpConfig
from ztctl.core.doctor.context import DoctorContext
from ztctl.core.doctor.warp import (
    _host_matches,
    check_connected,
    check_mode,
    check_registration,
    evaluate_split_tunnel,
)

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
    ctx.facts.get("warp.mdm-team", lambda: None)  # no WARP MDM file names a team
    return ctx


ADMIN = (
    "ask the Zero Trust admins to set the device profile's service mode to Gateway with WARP "
    "(Zero Trust dashboard > Settings > WARP Client > Device settings > (profile) > Service mode)"
)
SWITCH = f"run `warp-cli mode warp`; if the client refuses (mode switching not allowed), {ADMIN}"
DNS_ONLY = "only DNS queries go to Gateway; no other packet enters a tunnel"
PROXY_WHY = (
    "only applications configured to use the local proxy on port 40000 are sent through WARP, "
    "and kubectl's packets to the cluster are not"
)

# (mode, switch locked, verdict, summary, fix) — the whole outcome of warp.mode
MODE_VERDICTS = [
    ("warp", None, "pass", "Gateway with WARP (Warp) routes private networks", ""),
    (
        "warp+doh",
        None,
        "pass",
        "Gateway with WARP (DNS over HTTPS) (warp+doh) routes private networks",
        "",
    ),
    (
        "warp+dot",
        None,
        "pass",
        "Gateway with WARP (DNS over TLS) (warp+dot) routes private networks",
        "",
    ),
    (
        "tunnel_only",
        False,
        "pass",
        "Secure Web Gateway without DNS filtering (tunnel_only) routes private networks",
        "",
    ),
    ("doh", None, "fail", f"WARP is in Gateway with DoH (DNS only): {DNS_ONLY}", SWITCH),
    ("dot", None, "fail", f"WARP is in Gateway with DoT (DNS only): {DNS_ONLY}", SWITCH),
    (
        "proxy",
        None,
        "fail",
        f"WARP is in proxy mode (a local SOCKS5/HTTP proxy): {PROXY_WHY}",
        SWITCH,
    ),
    (
        "proxy",
        True,
        "fail",
        f"WARP is in proxy mode (a local SOCKS5/HTTP proxy): {PROXY_WHY}",
        f"{ADMIN} (the mode is locked on this device)",
    ),
    (
        "postureonly",
        None,
        "fail",
        "WARP is in Device Information Only: the client only reports device posture; "
        "it sends no traffic at all",
        f"{ADMIN} (the mode is locked on this device)",
    ),
    (
        "unknown",
        None,
        "warn",
        "WARP reports the mode 'unknown', which ztctl does not know",
        "private networks need Gateway with WARP: `warp-cli mode warp`",
    ),
]


@pytest.mark.parametrize(("mode", "locked", "verdict", "summary", "fix"), MODE_VERDICTS)
def test_mode_verdicts(
    mode: str, locked: bool | None, verdict: str, summary: str, fix: str
) -> None:
    text = {"warp": "Warp", "proxy": "WarpProxy on port 40000"}.get(mode, mode)
    settings = WarpSettings(
        mode=mode,
        mode_text=text,
        proxy_port=40000 if mode == "proxy" else None,
        switch_locked=locked,
        fields=(("network policy", "Mode", text),),
        fallback_domains=("corp.example",),
    )
    outcome = check_mode(context(StandInWarp(settings=settings)))
    assert (outcome.status, outcome.summary, outcome.fix) == (verdict, summary, fix)
    assert outcome.data == {
        "mode": mode,
        "modeText": text,
        "source": "network policy",
        "switchLocked": locked,
        "fallbackDomains": ["corp.example"],
    }


def test_mode_without_a_source_or_port() -> None:
    outcome = check_mode(context(StandInWarp(settings=WarpSettings("proxy", mode_text="proxy"))))
    assert outcome.summary == (
        "WARP is in proxy mode (a local SOCKS5/HTTP proxy): only applications configured to use "
        "the local proxy are sent through WARP, and kubectl's packets to the cluster are not"
    )
    assert outcome.data["source"] is None and outcome.data["fallbackDomains"] == []
    silent = check_mode(context(StandInWarp(settings=WarpSettings("warp"))))  # no Mode: line
    assert (silent.status, silent.summary, silent.fix) == (
        "warn",
        "warp-cli settings did not show the mode (no `Mode:` line), so ztctl cannot tell "
        "whether WARP routes private networks",
        "run `warp-cli settings` and look for `Mode:`; private networks need Gateway with "
        "WARP: `warp-cli mode warp`",
    )


NO_MODE_LINE = (
    "warp-cli settings did not show the mode (no `Mode:` line), so ztctl cannot tell "
    "whether WARP routes private networks"
)
OLD_SWITCH = SWITCH.replace("warp-cli mode warp", "warp-cli set-mode warp")

# (mode, how settings print it or None: no `Mode:` line, the output carries `# ...` notes,
#  verdict, summary, fix) — the whole outcome on a client that only knows `set-mode`
OLD_CLIENT_MODE_VERDICTS = [
    (
        "doh",
        "DnsOverHttps",
        False,
        "fail",
        f"WARP is in Gateway with DoH (DNS only): {DNS_ONLY}",
        OLD_SWITCH,
    ),
    (
        "proxy",
        "WarpProxy on port 40000",
        True,
        "fail",
        f"WARP is in proxy mode (a local SOCKS5/HTTP proxy): {PROXY_WHY}",
        OLD_SWITCH,
    ),
    (
        "unknown",
        "Wireguard",
        False,
        "warn",
        "WARP reports the mode 'Wireguard', which ztctl does not know",
        "private networks need Gateway with WARP: `warp-cli set-mode warp`",
    ),
    (
        "unknown",
        "Wireguard",
        True,
        "warn",
        "WARP reports the mode 'Wireguard', which ztctl does not know "
        "(the output carries hand-written `# ...` notes)",
        "private networks need Gateway with WARP: `warp-cli set-mode warp`",
    ),
    (
        "warp",
        None,
        False,
        "warn",
        NO_MODE_LINE,
        "run `warp-cli settings` and look for `Mode:`; private networks need Gateway with "
        "WARP: `warp-cli set-mode warp`",
    ),
    (
        "doh",
        None,
        True,
        "warn",
        NO_MODE_LINE,
        "run `warp-cli settings` and look for `Mode:`; private networks need Gateway with "
        "WARP: `warp-cli set-mode warp`",
    ),
]


@pytest.mark.parametrize(
    ("mode", "text", "annotated", "verdict", "summary", "fix"), OLD_CLIENT_MODE_VERDICTS
)
def test_mode_verdicts_on_old_clients(
    mode: str, text: str | None, annotated: bool, verdict: str, summary: str, fix: str
) -> None:
    settings = WarpSettings(
        mode,
        mode_text=text,
        proxy_port=40000 if mode == "proxy" else None,
        annotated=annotated,
        fields=(("", "Mode", text),) if text else (),
    )
    outcome = check_mode(context(StandInWarp(settings=settings, new_names=False)))
    assert (outcome.status, outcome.summary, outcome.fix) == (verdict, summary, fix)
    assert outcome.data == {
        "mode": mode,
        "modeText": text,
        "source": None,
        "switchLocked": None,
        "fallbackDomains": [],
    }


def test_an_unknown_mode_with_notes_on_a_current_client() -> None:
    settings = parse_settings("Merged settings:\n(network policy)\tMode: Wireguard # set by IT\n")
    outcome = check_mode(context(StandInWarp(settings=settings)))
    assert (outcome.status, outcome.summary, outcome.fix) == (
        "warn",
        "WARP reports the mode 'Wireguard # set by IT', which ztctl does not know "
        "(the output carries hand-written `# ...` notes)",
        "private networks need Gateway with WARP: `warp-cli mode warp`",
    )
    assert outcome.data["source"] == "network policy"


DAEMON_DOWN = WarpError(
    WarpErrorKind.NO_DAEMON, "the WARP daemon is not running", fix="start it", output="os error 2"
)
FAILED_DATA = {"reason": "no-daemon", "output": "os error 2"}


def parse_error_outcome(what: str) -> tuple[str, str, str, dict[str, Any]]:
    return (
        "warn",
        f"warp-cli answered {what}, but in a form ztctl does not know: odd output",
        f"run `warp-cli {what}` to see it; please report the output to the ztctl maintainers",
        {},
    )


# (the check, which answer fails, the outcome) — how each check reports warp-cli failing
ERRORS = [
    (
        check_mode,
        "settings",
        DAEMON_DOWN,
        ("fail", "the WARP daemon is not running", "start it", FAILED_DATA),
    ),
    (check_mode, "settings", WarpParseError("odd output"), parse_error_outcome("settings")),
    (
        check_connected,
        "status",
        DAEMON_DOWN,
        ("fail", "the WARP daemon is not running", "start it", FAILED_DATA),
    ),
    (check_connected, "status", WarpParseError("odd output"), parse_error_outcome("status")),
    (
        check_registration,
        "registration",
        DAEMON_DOWN,
        ("fail", "the WARP daemon is not running", "start it", FAILED_DATA),
    ),
    (
        check_registration,
        "registration",
        WarpParseError("odd output"),
        parse_error_outcome("registration show"),
    ),
]


@pytest.mark.parametrize(("check", "answer", "error", "outcome"), ERRORS)
def test_checks_when_warp_cli_fails(
    check: Any, answer: str, error: Exception, outcome: tuple[str, str, str, dict[str, Any]]
) -> None:
    got = check(context(StandInWarp(**{answer: error})))
    assert (got.status, got.summary, got.fix, dict(got.data)) == outcome


def test_a_failure_without_output_has_only_its_reason() -> None:
    error = WarpError(WarpErrorKind.TIMEOUT, "warp-cli did not answer", fix="restart it")
    got = check_connected(context(StandInWarp(status=error)))
    assert dict(got.data) == {"reason": "timeout"}


# -- the warp.connected verdict ----------------------------------------------------------

WAIT = (
    "wait a few seconds and run `ztctl doctor` again; if it stays so, "
    "`warp-cli disconnect` then `warp-cli connect`"
)

# (status, team, verdict, summary, fix) — the whole outcome of warp.connected
CONNECTED = [
    (
        WarpStatus("Connected", network="healthy"),
        "acme",
        "pass",
        "WARP is connected, network healthy",
        "",
    ),
    (
        WarpStatus("Connected", network="Healthy"),
        "acme",
        "pass",
        "WARP is connected, network Healthy",
        "",
    ),
    (WarpStatus("Connected", network=""), "acme", "pass", "WARP is connected", ""),
    (WarpStatus("Connected"), "acme", "pass", "WARP is connected", ""),
    (
        WarpStatus("Connected", network="Degraded"),
        "acme",
        "warn",
        "WARP is connected, but reports the network as Degraded",
        "packet loss or latency on the way to Cloudflare: try another network; "
        "`warp-cli debug network` shows details",
    ),
    (
        WarpStatus("Disconnected", "Manual Disconnection", reason_code="Manual"),
        "acme",
        "fail",
        "WARP is disconnected (reason: Manual Disconnection)",
        "run `warp-cli connect` (or `ztctl login`)",
    ),
    (
        WarpStatus("Disconnected", reason_code="RegistrationMissing"),
        "acme",
        "fail",
        "WARP is disconnected: the device has no registration",
        "run `ztctl login --team acme`",
    ),
    (
        WarpStatus("Disconnected", reason_code="RegistrationMissing"),
        None,
        "fail",
        "WARP is disconnected: the device has no registration",
        "run `ztctl login`",
    ),
    (
        WarpStatus("Unable", "HappyEyeballs failed", reason_code="HappyEyeballsFailed"),
        "acme",
        "fail",
        "WARP is unable to connect (reason: HappyEyeballs failed)",
        "the network blocks WARP's tunnel to Cloudflare (UDP 443/2408 for WireGuard, UDP 443 "
        "for MASQUE): try another network, or ask the network admins to allow it; then "
        "`warp-cli connect`",
    ),
    (
        WarpStatus("Connecting"),
        "acme",
        "warn",
        "WARP is connecting: not carrying traffic yet",
        WAIT,
    ),
    (
        WarpStatus("Paused", "by user"),
        "acme",
        "warn",
        "WARP is paused (by user): not carrying traffic yet",
        WAIT,
    ),
    (
        WarpStatus("Disconnecting"),
        "acme",
        "warn",
        "WARP is disconnecting: not carrying traffic yet",
        WAIT,
    ),
    (
        WarpStatus("Disconnected"),
        "acme",
        "fail",
        "WARP is disconnected",
        "run `warp-cli connect`; if it does not connect, `warp-cli status` says why",
    ),
]


@pytest.mark.parametrize(("status", "team", "verdict", "summary", "fix"), CONNECTED)
def test_connected_verdicts(
    status: WarpStatus, team: str | None, verdict: str, summary: str, fix: str
) -> None:
    outcome = check_connected(context(StandInWarp(status=status), team=team))
    assert (outcome.status, outcome.summary, outcome.fix) == (verdict, summary, fix)
    assert outcome.data == {
        "state": status.state,
        "reason": status.reason,
        "reasonCode": status.reason_code,
        "network": status.network,
    }


# -- the warp.registration verdict --------------------------------------------------------

RELOGIN = "run `warp-cli registration delete`, then `ztctl login --team acme`"
NOT_ENROLLED = "this device is not enrolled in a Zero Trust team (warp-cli has no registration)"
CONSUMER = "this device has a consumer WARP registration (account type free), not a Zero Trust one"

# (registration, team, verdict, summary, fix, data) — the whole outcome of warp.registration
REGISTRATION = [
    (
        WarpRegistration("team", "acme", "dev-1"),
        "acme",
        "pass",
        "enrolled in team acme",
        "",
        {
            "accountType": "team",
            "team": "acme",
            "teamSource": "config",
            "deviceId": "dev-1",
            "organization": "acme",
        },
    ),
    (
        WarpRegistration("team", "ACME"),
        "acme",
        "pass",
        "enrolled in team ACME",
        "",
        {"accountType": "team", "team": "acme", "teamSource": "config", "organization": "ACME"},
    ),
    (
        WarpRegistration("team", "other", "dev-1"),
        "acme",
        "fail",
        "the device is enrolled in team 'other', not in the catalog's team 'acme'",
        RELOGIN,
        {
            "accountType": "team",
            "team": "acme",
            "teamSource": "config",
            "deviceId": "dev-1",
            "organization": "other",
        },
    ),
    (
        WarpRegistration("team", "other"),
        None,
        "pass",
        "enrolled in team other",
        "",
        {"accountType": "team", "team": None, "organization": "other"},
    ),
    (
        WarpRegistration("free"),
        "acme",
        "fail",
        f"{CONSUMER} in team acme",
        RELOGIN,
        {"accountType": "free", "team": "acme", "teamSource": "config"},
    ),
    (
        WarpRegistration("free"),
        None,
        "fail",
        CONSUMER,
        "run `warp-cli registration delete`, then `ztctl login`",
        {"accountType": "free", "team": None},
    ),
    (None, "acme", "fail", NOT_ENROLLED, "run `ztctl login --team acme`", {"team": "acme"}),
    (None, None, "fail", NOT_ENROLLED, "run `ztctl login`", {"team": None}),
]


@pytest.mark.parametrize(("reg", "team", "verdict", "summary", "fix", "data"), REGISTRATION)
def test_registration_verdicts(
    reg: WarpRegistration | None,
    team: str | None,
    verdict: str,
    summary: str,
    fix: str,
    data: dict[str, Any],
) -> None:
    outcome = check_registration(context(StandInWarp(registration=reg), team=team))
    assert (outcome.status, outcome.summary, outcome.fix, dict(outcome.data)) == (
        verdict,
        summary,
        fix,
        data,
    )


def test_registration_fix_uses_the_old_command_name_on_old_clients() -> None:
    outcome = check_registration(
        context(StandInWarp(registration=WarpRegistration("free"), new_names=False))
    )
    assert outcome.fix == "run `warp-cli delete`, then `ztctl login --team acme`"


@pytest.mark.parametrize(
    ("team", "fix"), [("acme", "check `warp-cli settings` shows `Organization: acme`"), (None, "")]
)
def test_registration_without_organization_asks_settings(team: str | None, fix: str) -> None:
    warp = StandInWarp(
        registration=WarpRegistration("team"), settings=WarpSettings("warp", organization="acme")
    )
    found = check_registration(context(warp))
    assert (found.status, found.summary) == ("pass", "enrolled in team acme")
    assert dict(found.data) == {
        "accountType": "team",
        "team": "acme",
        "teamSource": "config",
        "organization": "acme",
    }
    unknown = StandInWarp(registration=WarpRegistration("team"), settings=WarpParseError("x"))
    outcome = check_registration(context(unknown, team=team))
    assert (outcome.status, outcome.summary, outcome.fix, dict(outcome.data)) == (
        "warn",
        "the device is enrolled in a Zero Trust team, but warp-cli does not say which",
        fix,
        {"accountType": "team", "team": team, "organization": None}
        | ({"teamSource": "config"} if team else {}),
    )


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
# Names match exactly. On macOS WARP's tunnel is one of several utunN (other VPNs use them
# too), so a configured `utun` matches no utunN by name: the addresses tell (below).
INTERFACES = [
    ("CloudflareWARP", "CloudflareWARP", True),
    ("utun7", "utun7", True),
    ("utun7", "utun", False),
    ("utun10", "utun1", False),
    ("cloudflarewarp", "CloudflareWARP", False),
    ("CloudflareWARP0", "CloudflareWARP", False),
    ("eth0", "CloudflareWARP", False),
    (None, "CloudflareWARP", False),
]


@pytest.mark.parametrize(("actual", "expected", "same"), INTERFACES)
def test_interface_names(actual: str | None, expected: str, same: bool) -> None:
    assert interface_matches(actual, expected) is same


# (a utun's addresses, whose tunnel it is) — None: the addresses could not be read
OWNERS = [
    (("172.16.0.2",), "warp"),
    (("2606:4700:110:8a36::1",), "warp"),
    (("100.96.0.3", "172.16.0.2"), "warp"),
    (("fd7a:115c:a1e0::1",), "tailscale"),
    (("100.101.102.103", "fd7a:115c:a1e0::1"), "tailscale"),
    (("100.101.102.103",), "unknown"),  # Tailscale and WARP's device IPs share this range
    (("10.8.0.2",), "other"),
    (("100.101.102.103", "10.8.0.2"), "other"),
    ((), "other"),
    (None, "unknown"),
]


@pytest.mark.parametrize(("addresses", "owner"), OWNERS)
def test_whose_tunnel_a_utun_is(addresses: tuple[str, ...] | None, owner: str) -> None:
    from ztctl.adapters.routes import tunnel_owner

    found = tunnel_owner("utun4", addresses)
    assert (found.interface, found.owner) == ("utun4", owner)
    assert found.is_warp is {"warp": True, "unknown": None}.get(owner, False)
    assert found.detail.startswith("utun4 ") or found.detail.startswith("the addresses of utun4")


# -- the parts of an exclude entry to re-add (the fix names them) ----------------------------

# (the exclude entry, the cluster addresses, at most this many parts, the parts to re-add)
REST = [
    ("10.0.0.0/22", ["10.0.1.9"], 6, ["10.0.0.0/24", "10.0.2.0/23"]),
    ("10.0.0.0/22", ["10.0.1.9"], 2, ["10.0.0.0/24", "10.0.2.0/23"]),  # exactly the limit
    ("10.0.0.0/16", ["10.0.1.9"], 2, ["10.0.0.0/24", "10.0.2.0/23", "…"]),  # more: elided
    (
        "10.0.0.0/8",
        ["10.1.2.3"],
        6,
        [
            "10.0.0.0/16",
            "10.1.0.0/23",
            "10.1.3.0/24",
            "10.1.4.0/22",
            "10.1.8.0/21",
            "10.1.16.0/20",
            "…",
        ],
    ),
    ("10.1.2.3/22", ["10.1.1.9"], 6, ["10.1.0.0/24", "10.1.2.0/23"]),  # host bits ignored
    (
        "10.0.0.0/22",
        ["fd00::1", "10.0.1.9"],
        6,
        ["10.0.0.0/24", "10.0.2.0/23"],
    ),  # other family skipped
    ("10.0.0.0/22", ["10.0.1.9", "10.0.3.1"], 6, ["10.0.0.0/24", "10.0.2.0/24"]),
    # a part already inside a later address's /24 goes, and the parts after it stay
    ("10.0.0.0/22", ["10.0.0.1", "10.0.2.1", "10.0.3.1"], 6, ["10.0.1.0/24"]),
    ("10.1.2.0/24", ["10.1.2.3"], 6, []),  # the whole entry is the cluster's /24
    ("10.1.2.128/25", ["10.1.2.3"], 6, []),  # inside the cluster's /24
    ("fd00::/62", ["fd00::10"], 6, ["fd00:0:0:1::/64", "fd00:0:0:2::/63"]),  # /64 holes in IPv6
    ("not-a-range", ["10.1.2.3"], 6, []),
]


@pytest.mark.parametrize(("entry", "addresses", "limit", "parts"), REST)
def test_the_parts_to_re_add(
    entry: str, addresses: list[str], limit: int, parts: list[str]
) -> None:
    from ztctl.core.doctor.warp import _rest_of

    assert _rest_of(entry, addresses, limit) == parts


def test_six_parts_by_default() -> None:
    from ztctl.core.doctor.warp import _rest_of

    assert len(_rest_of("10.0.0.0/8", ["10.1.2.3"])) == 6 + 1


def test_the_team_from_warps_mdm_file_is_named_as_such() -> None:
    ctx = DoctorContext(team=None, warp=WarpConfig(cli="warp-cli", interface="CloudflareWARP"))
    ctx._warp_client = StandInWarp(registration=WarpRegistration("team", "other"))  # type: ignore[assignment]
    ctx.facts.get("warp.mdm-team", lambda: "acme")  # no team configured; WARP's MDM file has one
    outcome = check_registration(ctx)
    assert (outcome.status, outcome.summary, outcome.fix, dict(outcome.data)) == (
        "fail",
        "the device is enrolled in team 'other', not in WARP's MDM file's team 'acme'",
        "run `warp-cli registration delete`, then `ztctl login --team acme`",
        {"accountType": "team", "team": "acme", "teamSource": "mdm", "organization": "other"},
    )
