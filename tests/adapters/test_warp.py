"""The warp-cli adapter: parsers on every recorded sample, fuzzed with garbage, and the client
against real subprocesses (the lab's stand-in warp-cli of every era, and tiny fake scripts
for the cases the stand-in cannot produce, such as a binary that lies about its version)."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ztctl.adapters import warp
from ztctl.adapters.warp import (
    SplitEntry,
    WarpActionNeeded,
    WarpClient,
    WarpError,
    WarpErrorKind,
    WarpParseError,
    WarpTimeout,
    classify_error,
    mode_routes_private,
    normalize_mode,
    parse_help_commands,
    parse_registration,
    parse_settings,
    parse_status,
    parse_tunnel_ip_list,
    parse_version,
)
from ztctl.errors import EXIT_AUTH_NEEDED, ZtctlError
from ztctl.lab import state as labstate

FIXTURES = Path(__file__).parent / "fixtures" / "warp"


def sample(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


# --- parse_version -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("version-2024.4.133.txt", (2024, 4, 133)),  # README (third-party code)
        ("version-2025.7.176.0.txt", (2025, 7, 176, 0)),  # report artifacts
    ],
)
def test_parse_version_recorded(name: str, parts: tuple[int, ...]) -> None:
    version = parse_version(sample(name))
    assert version.parts == parts
    assert version.year == parts[0]


def test_parse_version_ignores_trailing_text_and_rejects_other_tools() -> None:
    assert parse_version("warp-cli 2025.9.558.0 (abc123)\n").parts == (2025, 9, 558, 0)
    with pytest.raises(WarpParseError):
        parse_version("cloudflared version 2026.8.2\n")
    with pytest.raises(WarpParseError):
        parse_version("warp-cli 2025\n")


def test_version_comparison() -> None:
    v = parse_version("warp-cli 2024.9.346.0")
    assert v.at_least(2024, 2)
    assert not v.at_least(2025)
    assert str(v) == "2024.9.346.0"


# --- parse_status ---------------------------------------------------------

STATUS_SAMPLES = [
    # era A, cmj2002/warp-docker#14 (2024-01-23): a leading `Success` line
    ("status-a-success-disconnected.txt", "Disconnected", "Manual Disconnection", None, "Manual"),
    # era A, Boostport/setup-cloudflare-warp#37 (2023-10-16)
    (
        "status-a-registration-missing.txt",
        "Unable",
        "Registration Missing",
        None,
        "RegistrationMissing",
    ),
    # era A: connected is just `Status update: Connected`
    ("status-a-connected.txt", "Connected", None, None, None),
    # `Disconnected: Reason: Manual Disconnection` in a mid-2023 parser fix
    ("status-a-bare-2023.txt", "Disconnected", "Manual Disconnection", None, "Manual"),
    # era B, cmj2002/warp-docker#60 (2025-07-02)
    ("status-b-disconnected.txt", "Disconnected", "Manual Disconnection", None, "Manual"),
    # era B, korapp/plasma-cloudflare-warp#20
    ("status-b-connected.txt", "Connected", None, "healthy", None),
    # era B, 3rd-party fixture
    (
        "status-b-unable-happy-eyeballs.txt",
        "Unable",
        "Happy Eyeballs Failed",
        None,
        "HappyEyeballsFailed",
    ),
    # JSON, 3rd-party fixtures of warp-cli 2026.7.1377
    ("status-json-connected.json", "Connected", None, "healthy", None),
    ("status-json-disconnected.json", "Disconnected", "Manual Disconnection", None, "Manual"),
    (
        "status-json-establishing.json",
        "Connecting",
        "Establishing Connection",
        None,
        "EstablishingConnection",
    ),
    (
        "status-json-happy-eyeballs.json",
        "Connecting",
        "Performing Happy Eyeballs",
        None,
        "PerformingHappyEyeballs",
    ),
    (
        "status-json-connectivity-checks.json",
        "Connecting",
        "Performing Connectivity Checks",
        None,
        "PerformingConnectivityChecks",
    ),
    (
        "status-json-registration-missing.json",
        "Unable",
        "Registration Missing",
        None,
        "RegistrationMissing",
    ),
    (
        "status-json-settings-changed.json",
        "Disconnected",
        "Settings Changed",
        None,
        "SettingsChanged",
    ),
    ("status-json-degraded.json", "Connected", None, "degraded", None),
]


@pytest.mark.parametrize(("name", "state", "reason", "network", "code"), STATUS_SAMPLES)
def test_parse_status_recorded(
    name: str, state: str, reason: str | None, network: str | None, code: str | None
) -> None:
    status = parse_status(sample(name))
    assert (status.state, status.reason, status.network, status.reason_code) == (
        state,
        reason,
        network,
        code,
    )
    assert status.connected == (state == "Connected")


def test_status_registration_missing_is_the_same_in_every_era() -> None:
    for name in ("status-a-registration-missing.txt", "status-json-registration-missing.json"):
        assert parse_status(sample(name)).registration_missing
    assert parse_status(sample("status-json-registration-missing.json")).detail == "DaemonStartup"


def test_status_object_reason_detail_is_compact_json() -> None:
    status = parse_status(sample("status-json-happy-eyeballs.json"))
    assert json.loads(status.detail or "") == ["162.159.198.2:443", "[2606:4700:103::2]:443"]


def test_status_compares_whole_words() -> None:
    # `Disconnected` contains `connected`: the parser must not confuse them.
    assert not parse_status("Status update: Disconnected\n").connected


def test_status_takes_the_first_update_only() -> None:
    text = "Status update: Connecting\nStatus update: Connected\nNetwork: healthy\n"
    status = parse_status(text)
    assert status.state == "Connecting"
    assert status.network is None


@pytest.mark.parametrize(
    "text",
    ["", "Success\n", '{"status": 3}', '{"code":"WarpNotConnected","error":"x"}', "[1,2]", "{"],
)
def test_status_rejects_non_status(text: str) -> None:
    with pytest.raises(WarpParseError):
        parse_status(text)


# --- parse_registration ---------------------------------------------------------


def test_parse_account_text_2024() -> None:
    # cmj2002/warp-docker#14 (values truncated by the poster)
    reg = parse_registration(sample("account-2024.txt"))
    assert reg.account_type == "team"
    assert reg.is_team
    assert reg.organization == "gzxiexl"
    assert reg.device_id == "15df1c48-b9f7-11ee-b203-a60"
    assert reg.account_id == "fb0201edb7e2e6cf37c2dd805"


def test_parse_consumer_registration() -> None:
    # consumer registrations show `Account type: Free` on the first line
    reg = parse_registration(sample("account-free-first-line.txt"))
    assert reg.account_type == "free"
    assert not reg.is_team
    assert reg.organization is None


def test_parse_registration_json_2026() -> None:
    # JSON form, 3rd-party fixture of 2026.7.1377
    reg = parse_registration(sample("registration-json-2026.json"))
    assert reg.account_type == "free"
    assert reg.device_id == "0000..."
    assert reg.account_id == "0000..."
    assert reg.managed is False


def test_parse_registration_json_team_with_organization() -> None:
    text = '{"device_id":"d","account":{"type":"team","id":"a","organization":"acme"}}'
    reg = parse_registration(text)
    assert (reg.account_type, reg.organization, reg.is_team) == ("team", "acme", True)


@pytest.mark.parametrize(
    "text", ["", "Success\n", "Organization only: x", '{"code":"X","error":"y"}', "[]"]
)
def test_registration_rejects_non_registration(text: str) -> None:
    with pytest.raises(WarpParseError):
        parse_registration(text)


# --- parse_settings -------------------------------------------------------------


def test_parse_settings_docs_sample_with_space_padded_sources() -> None:
    # official `warp-settings.txt` sample (trimmed)
    s = parse_settings(sample("settings-docs.txt"))
    assert s.mode == "warp+doh"
    assert s.routes_private is True
    assert s.protocol == "WireGuard"
    assert s.split_mode == "exclude"
    assert s.split_entries == (
        SplitEntry("1xx.1xx.1xx.1xx/25", "zoom"),
        SplitEntry("cname.user.net", ""),
    )
    assert s.fallback_domains == ("intranet",)
    assert s.organization == "Organization-Name"
    assert s.always_on is True
    assert s.switch_locked is False
    assert s.profile_id == "000000x1-00x1-1xx0-1xx1-11101x1axx11"
    assert ("user set", "Organization", "Organization-Name") in s.fields


def test_parse_settings_2026_tab_sources_proxy_mode() -> None:
    # real 2026.3.846.0 output with a TAB after `(source)` (Yiwei666/12_blog, trimmed)
    s = parse_settings(sample("settings-2026.3.846.0.txt"))
    assert s.mode == "proxy"
    assert s.mode_text == "WarpProxy on port 40000"
    assert s.proxy_port == 40000
    assert s.routes_private is False
    assert s.protocol == "MASQUE"
    assert [e.value for e in s.split_entries] == [
        "10.0.0.0/8",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "172.16.0.0/12",
    ]
    assert s.fallback_domains == ("corp",)
    assert s.organization is None
    assert ("override", "Switch Locked", "false") in s.fields


def test_parse_settings_2023_without_sources() -> None:
    # an older build printed the same keys without the `(source)` prefix
    s = parse_settings(sample("settings-2023.txt"))
    assert (s.mode, s.proxy_port, s.always_on, s.split_mode) == ("proxy", 40000, True, "exclude")
    assert s.split_entries == ()


def test_parse_settings_json() -> None:
    # JSON form, 3rd-party fixture of 2026.7.1377 (keys as listed there)
    s = parse_settings(sample("settings-json-2026.json"))
    assert s.mode == "warp"
    assert s.split_mode == "exclude"
    assert s.split_entries == (SplitEntry("10.0.0.0/8", ""),)
    assert s.protocol == "masque"
    assert s.always_on is True
    assert s.profile_id == "000000x1-00x1-1xx0-1xx1-11101x1axx11"


def test_parse_settings_include_mode() -> None:
    text = "Merged configuration:\n(network policy)\tInclude mode, with hosts/ips:\n  10.8.0.0/16\n"
    s = parse_settings(text)
    assert s.split_tunnel.mode == "include"
    assert s.split_tunnel.entries == (SplitEntry("10.8.0.0/16"),)


@pytest.mark.parametrize("text", ["", "hello\nworld", '{"x": 1}', "Merged configuration:\n"])
def test_settings_rejects_non_settings(text: str) -> None:
    with pytest.raises(WarpParseError):
        parse_settings(text)


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("Warp", "warp"),  # official
        ("WarpWithDnsOverHttps", "warp+doh"),  # official
        ("WarpProxy on port 40000", "proxy"),  # official
        ("DnsOverHttps", "doh"),  # 3rd-party parsers
        ("TunnelOnly", "tunnel_only"),  # 3rd-party parsers
        ("WarpDnsOverTls", "warp+dot"),  # unconfirmed spelling
        ("warp+doh", "warp+doh"),
        ("warp_doh", "warp+doh"),
        ("posture_only", "postureonly"),
        ("Fancy", "unknown"),
    ],
)
def test_normalize_mode(text: str, mode: str) -> None:
    assert normalize_mode(text) == mode


def test_mode_routes_private() -> None:
    assert [m for m in warp.ALL_MODES if mode_routes_private(m)] == [
        "warp",
        "warp+doh",
        "warp+dot",
        "tunnel_only",
    ]
    for mode in ("proxy", "doh", "dot", "postureonly"):
        assert mode_routes_private(mode) is False
    assert mode_routes_private("unknown") is None


# --- parse_tunnel_ip_list -------------------------------------------------------


def test_parse_tunnel_ip_list() -> None:
    routes = parse_tunnel_ip_list(sample("tunnel-ip-list.txt"))
    assert routes.mode == "exclude"
    assert routes.entries == (SplitEntry("10.0.0.0/8"), SplitEntry("192.0.2.1/32", "CLI exclude"))
    assert [e.from_cli for e in routes.entries] == [False, True]


def test_parse_tunnel_ip_list_rejects_headerless_text() -> None:
    with pytest.raises(WarpParseError):
        parse_tunnel_ip_list("  10.0.0.0/8\n")


# --- help and errors -------------------------------------------


def test_parse_help_commands_2024() -> None:
    # top-level commands of 2024.2.62
    commands = parse_help_commands(sample("help-2024.2.62.txt"))
    assert {"registration", "mode", "tunnel", "status", "connect"} <= commands
    assert "teams-enroll" not in commands


@pytest.mark.parametrize(
    ("name", "code", "kind"),
    [
        ("error-no-daemon.txt", 1, WarpErrorKind.NO_DAEMON),  # cmj2002/warp-docker#76
        ("error-no-daemon-refused.txt", 1, WarpErrorKind.NO_DAEMON),  # variant
        ("error-daemon-communicating.txt", 1, WarpErrorKind.NO_DAEMON),  # variant
        ("error-tos.txt", 1, WarpErrorKind.TOS_NOT_ACCEPTED),
        ("error-unrecognized-teams-enroll.txt", 2, WarpErrorKind.UNRECOGNIZED_SUBCOMMAND),
        ("error-unrecognized-set-mode.txt", 2, WarpErrorKind.UNRECOGNIZED_SUBCOMMAND),
        ("error-missing-registration.txt", 1, WarpErrorKind.MISSING_REGISTRATION),
        ("error-old-registration.txt", 1, WarpErrorKind.OLD_REGISTRATION),
        ("error-api-unreachable.txt", 1, WarpErrorKind.API_UNREACHABLE),
        ("error-not-authorized.txt", 1, WarpErrorKind.NOT_AUTHORIZED),  # (unconfirmed)
    ],
)
def test_classify_recorded_errors(name: str, code: int, kind: WarpErrorKind) -> None:
    assert classify_error("", sample(name), code) is kind


def test_classify_json_error_even_with_exit_zero() -> None:
    # `--json tunnel stats` while disconnected; the exit code can still be 0
    assert classify_error(sample("error-json-not-connected.json"), "", 0) is (
        WarpErrorKind.NOT_CONNECTED
    )


def test_classify_success_and_status_texts_are_not_errors() -> None:
    for name in ("status-a-registration-missing.txt", "status-b-disconnected.txt"):
        assert classify_error(sample(name), "", 0) is None
    assert classify_error("Success\n", "", 0) is None
    assert classify_error("", "something odd\n", 3) is WarpErrorKind.UNKNOWN


def test_classify_clap_rejecting_json_flag() -> None:
    stderr = "error: unexpected argument '--json' found\n\nUsage: warp-cli [OPTIONS] <COMMAND>\n"
    assert classify_error("", stderr, 2) is WarpErrorKind.UNEXPECTED_ARGUMENT


# --- fuzzing: garbage in, WarpParseError (or a result) out ----------------------------

PARSERS = [
    parse_version,
    parse_status,
    parse_registration,
    parse_settings,
    parse_tunnel_ip_list,
    parse_help_commands,
]

FRAGMENTS = st.sampled_from(
    [
        "Status update:",
        "Reason:",
        "Network:",
        "Success",
        "Connected",
        "Unable to connect.",
        "(user set)\t",
        "(derived)   ",
        "(",
        ")",
        "Mode:",
        "Exclude mode, with hosts/ips:",
        "Include mode, with hosts/ips:",
        "Organization:",
        "Account type:",
        "  ",
        "\t",
        "\n",
        "Excluded routes:",
        "Commands:",
        "warp-cli ",
        "2025.9.558.0",
        "9" * 50,
        "{",
        "}",
        '"status"',
        '"reason"',
        '"settings"',
        ":",
        ",",
        "[",
        "]",
        "null",
        "port 99999999",
        "\x00",
        "é",
    ]
)
GARBAGE = st.one_of(
    st.text(),
    st.lists(FRAGMENTS, max_size=40).map("".join),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "status",
                        "reason",
                        "settings",
                        "account",
                        "type",
                        "device_id",
                        "operation_mode",
                        "split_tunnel_ips",
                        "split_tunnel_mode",
                        "value",
                        "code",
                        "error",
                        "organization",
                        "proxy_port",
                        "fallback_domains",
                    ]
                ),
                children,
                max_size=5,
            )
        ),
        max_leaves=12,
    ).map(json.dumps),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(GARBAGE)
def test_parsers_raise_only_their_own_error(text: str) -> None:
    for parser in PARSERS:
        with contextlib.suppress(WarpParseError):
            parser(text)


@settings(max_examples=200, deadline=None)
@given(GARBAGE, GARBAGE, st.integers(min_value=-255, max_value=255))
def test_classify_error_never_raises(stdout: str, stderr: str, code: int) -> None:
    kind = classify_error(stdout, stderr, code)
    assert kind is None or isinstance(kind, WarpErrorKind)
    if code != 0:
        assert kind is not None


def test_deeply_nested_json_is_a_parse_error() -> None:
    for parser in PARSERS:
        with pytest.raises(WarpParseError):
            parser("[" * 100_000)


# --- WarpClient against real subprocesses ---------------------------------------------


def standin(tmp_path: Path, **warp_fields: object) -> tuple[Path, str]:
    """A lab dir with the stand-in warp-cli behind a wrapper script, as `lab up` installs."""
    lab_dir = tmp_path / "lab"
    bin_dir = lab_dir / "bin"
    bin_dir.mkdir(parents=True)
    with labstate.update(lab_dir) as s:
        for key, value in warp_fields.items():
            setattr(s.warp, key, value)
    script = bin_dir / "warp-cli"
    script.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -m ztctl.lab.warpcli --lab-dir "{lab_dir}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return lab_dir, str(script)


def fake(tmp_path: Path, body: str) -> str:
    """A tiny shell-script warp-cli for cases the stand-in cannot produce."""
    script = tmp_path / "fake-warp-cli"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


@pytest.mark.parametrize("era", labstate.ERAS)
def test_client_reads_every_era(tmp_path: Path, era: str) -> None:
    _, cli = standin(tmp_path, era=era, connected=False)
    client = WarpClient(cli)
    assert client.version().parts[0] == int(era)
    assert client.supports_json == (era in ("2025", "2026"))
    assert client.new_names == (era != "2023")
    status = client.status()
    assert (status.state, status.reason_code) == ("Disconnected", "Manual")
    reg = client.registration()
    assert reg is not None and reg.organization == "lab"
    settings_ = client.settings()
    assert settings_.mode == "warp"
    assert settings_.split_tunnel.mode == "exclude"
    assert "10.0.0.0/8" in [e.value for e in settings_.split_entries]
    # every call either succeeded first time or fell back after a recorded rejection
    assert all(run.exit_code in (0, 1, 2) for run in client.transcript)


@pytest.mark.parametrize("era", labstate.ERAS)
def test_client_enrols_connects_and_switches_mode(tmp_path: Path, era: str) -> None:
    lab_dir, cli = standin(tmp_path, era=era, registered=False, team=None, connected=False)
    client = WarpClient(cli)
    assert client.registration() is None
    assert client.status().registration_missing
    enrolment = client.register("acme")
    assert enrolment.url == "https://acme.cloudflareaccess.com/warp"
    reg = client.registration()
    assert reg is not None and (reg.is_team, reg.organization) == (True, "acme")
    client.connect()
    assert client.status().connected
    client.set_mode("proxy")
    assert client.settings().mode == "proxy"
    assert labstate.load(lab_dir).warp.mode == "proxy"
    client.disconnect()
    assert not client.status().connected


def test_client_falls_back_from_removed_set_mode_and_account(tmp_path: Path) -> None:
    # An old client that removed nothing yet (2023) is asked in its own names first; a 2026
    # client never sees `set-mode` at all because the version says it has `mode`.
    _, cli = standin(tmp_path, era="2023")
    client = WarpClient(cli)
    client.set_mode("proxy")
    assert [r.args for r in client.transcript][-1] == ("set-mode", "proxy")
    assert client.registration() is not None
    assert ("account",) in [r.args for r in client.transcript]
    assert ("registration", "show") not in [r.args for r in client.transcript]


def test_client_retries_the_other_name_on_unrecognized_subcommand(tmp_path: Path) -> None:
    # A build whose version says "new names" but which only knows `set-mode`.
    cli = fake(
        tmp_path,
        'case "$1" in\n'
        '  --version) echo "warp-cli 2024.3.1" ;;\n'
        "  set-mode) echo Success ;;\n"
        "  *) printf \"error: unrecognized subcommand '%s'\\n\\n"
        'Usage: warp-cli [OPTIONS] <COMMAND>\\n" "$1" >&2; exit 2 ;;\n'
        "esac\n",
    )
    client = WarpClient(cli)
    client.set_mode("warp")
    assert [r.args for r in client.transcript] == [
        ("--version",),
        ("mode", "warp"),
        ("set-mode", "warp"),
    ]


def test_client_falls_back_to_text_when_json_is_rejected(tmp_path: Path) -> None:
    cli = fake(
        tmp_path,
        'case "$1" in\n'
        '  --version) echo "warp-cli 2025.1.1.0" ;;\n'
        "  --json) printf \"error: unexpected argument '--json' found\\n\" >&2; exit 2 ;;\n"
        '  status) printf "Status update: Connected\\n" ;;\n'
        "esac\n",
    )
    client = WarpClient(cli)
    assert client.status().connected
    assert not client.supports_json
    assert client.status().connected
    assert [r.args for r in client.transcript].count(("--json", "status")) == 1


def test_client_detects_era_from_help_when_version_is_unreadable(tmp_path: Path) -> None:
    help_text = (FIXTURES / "help-2024.2.62.txt").read_text()
    (tmp_path / "help.txt").write_text(help_text)
    cli = fake(
        tmp_path,
        f'case "$1" in\n  --version) echo "warp-cli dev-build" ;;\n'
        f'  --help) cat "{tmp_path / "help.txt"}" ;;\nesac\n',
    )
    client = WarpClient(cli)
    assert client.new_names
    assert not client.supports_json


def test_client_times_out_on_a_hung_client_and_kills_it(tmp_path: Path) -> None:
    _, cli = standin(tmp_path, hang=True)
    client = WarpClient(cli, timeout=0.5)
    assert client.version().parts[0] == 2025  # clap answers --version without the daemon
    with pytest.raises(WarpTimeout) as info:
        client.status()
    assert info.value.reason is WarpErrorKind.TIMEOUT
    assert "did not answer" in info.value.message
    assert "restart" in info.value.fix
    hung = client.transcript[-1]
    assert hung.exit_code == -9


def test_client_reports_missing_daemon(tmp_path: Path) -> None:
    _, cli = standin(tmp_path, daemon=False)
    with pytest.raises(WarpError) as info:
        WarpClient(cli).status()
    assert info.value.reason is WarpErrorKind.NO_DAEMON
    assert "warp-svc" in info.value.fix or "WARP app" in info.value.fix


def test_client_never_accepts_the_terms_for_the_user(tmp_path: Path) -> None:
    lab_dir, cli = standin(tmp_path, tos_accepted=False)
    with pytest.raises(WarpActionNeeded) as info:
        WarpClient(cli).status()
    assert info.value.reason is WarpErrorKind.TOS_NOT_ACCEPTED
    assert info.value.exit_code == EXIT_AUTH_NEEDED
    assert "--accept-tos" in info.value.fix
    assert labstate.load(lab_dir).warp.tos_accepted is False


def test_client_reports_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(WarpError) as info:
        WarpClient(str(tmp_path / "nope" / "warp-cli")).version()
    assert info.value.reason is WarpErrorKind.NOT_INSTALLED
    with pytest.raises(WarpError):
        WarpClient("warp-cli-that-does-not-exist-anywhere").status()


def test_client_reports_old_registration_on_enrol(tmp_path: Path) -> None:
    _, cli = standin(tmp_path, era="2026")
    with pytest.raises(WarpError) as info:
        WarpClient(cli).register("other")
    assert info.value.reason is WarpErrorKind.OLD_REGISTRATION
    assert "registration delete" in info.value.fix


def test_client_delete_then_enrol_wrong_team_fix(tmp_path: Path) -> None:
    lab_dir, cli = standin(tmp_path, era="2024", team="other")
    client = WarpClient(cli)
    assert (client.registration() or pytest.fail("registered")).organization == "other"
    client.delete_registration()
    assert client.registration() is None
    client.register("lab")
    assert labstate.load(lab_dir).warp.team == "lab"


def test_client_manual_enrolment_with_token_is_redacted(tmp_path: Path) -> None:
    lab_dir, cli = standin(tmp_path, registered=False, team=None, enroll="manual")
    client = WarpClient(cli)
    client.register("lab")
    assert client.registration() is None  # pending until the browser's callback
    url = labstate.load(lab_dir).warp.pending_token_url
    assert url is not None and url.startswith("com.cloudflare.warp://lab.cloudflareaccess.com/")
    client.register_token(url)
    assert (client.registration() or pytest.fail("registered")).organization == "lab"
    secret = url.split("token=")[1]
    assert all(secret not in " ".join(run.args) for run in client.transcript)


def test_client_reports_locked_mode_switch(tmp_path: Path) -> None:
    _, cli = standin(tmp_path, switch_locked=True)
    with pytest.raises(WarpError) as info:
        WarpClient(cli).set_mode("proxy")
    assert info.value.reason is WarpErrorKind.NOT_AUTHORIZED


def test_client_rejects_unknown_mode_without_running(tmp_path: Path) -> None:
    _, cli = standin(tmp_path)
    client = WarpClient(cli)
    with pytest.raises(WarpError) as info:
        client.set_mode("postureonly")
    assert info.value.reason is WarpErrorKind.INVALID_VALUE
    assert client.transcript == []


def test_client_tunnel_routes(tmp_path: Path) -> None:
    for era in ("2023", "2026"):
        _, cli = standin(tmp_path / era, era=era, split=["10.0.0.0/8"], cli_split=["192.0.2.1/32"])
        routes = WarpClient(cli).tunnel_routes()
        assert routes.entries == (
            SplitEntry("10.0.0.0/8"),
            SplitEntry("192.0.2.1/32", "CLI exclude"),
        )


def test_errors_are_ztctl_errors_with_fixes(tmp_path: Path) -> None:
    _, cli = standin(tmp_path, daemon=False)
    try:
        WarpClient(cli).settings()
    except ZtctlError as exc:
        assert exc.message and exc.fix
        assert exc.to_dict()["code"] == 1
    else:
        pytest.fail("no error")


def test_client_environment_is_passed(tmp_path: Path) -> None:
    cli = fake(tmp_path, 'echo "warp-cli 2025.9.558.0 $MARKER"\n')
    client = WarpClient(cli, env={**os.environ, "MARKER": "here"})
    assert client.version().parts == (2025, 9, 558, 0)
    assert client.transcript[0].stdout.strip().endswith("here")
