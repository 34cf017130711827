"""warp-cli's text and ``--json`` outputs as tables: each row is what one warp-cli era prints
(or a shape the parser must refuse) and the WHOLE value read from it. Pure, no lab.

The rows are short literal outputs written from the recorded formats:

* ``--version``: ``warp-cli YYYY.M.BUILD[.0]``, trailing text ignored.
* ``status`` era A (up to 2025.4): one line, ``Status update: Unable to connect. Reason: ...``
  (mid-2023 builds also print a bare ``Disconnected: Reason: ...``, and a ``Success`` line may
  come first); era B (2025.5.893.0 on): ``Status update: <State>`` then ``Reason: ...`` and
  ``Network: ...`` lines, 2025+ reasons may end in ``due to: <detail>``; ``--json status``
  (2025+): ``{"status": ..., "reason": "Code" | {"Code": payload}}``.
* ``registration show`` / ``account`` text (``Account type:``, ``Device ID:``, ``Public key:``,
  ``Account ID:``, ``Organization:``, consumer ``License:``) and ``--json registration show``.
* ``settings`` with a ``(source)`` tag before each key (spaces in the docs' sample, a TAB in
  2026 builds) or without (pre-2024), two-space indented lists after a list header, a blank
  line after the split-tunnel list.
* ``tunnel ip list`` (``get-excluded-routes`` before 2024): ``Excluded routes:`` /
  ``Included routes:`` and indented entries, CLI-added ones with `` (CLI exclude)``.
* ``--help``: clap's ``Commands:`` listing (``SUBCOMMANDS:`` in older clap).

The last table reads the real samples of the conformance corpus when it is present.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from tests.conformance.corpus import corpus_dir
from ztctl.adapters.warp import (
    SplitEntry,
    SplitTunnel,
    WarpParseError,
    WarpRegistration,
    WarpSettings,
    WarpStatus,
    WarpVersion,
    parse_help_commands,
    parse_registration,
    parse_settings,
    parse_status,
    parse_tunnel_ip_list,
    parse_version,
)
from ztctl.lab import state as lab_state

# --- warp-cli --version -----------------------------------------------------------------

FORTY_DIGITS = "1" * 34 + ".1.1.1"  # the longest version accepted (40 characters)

VERSIONS = [
    pytest.param("warp-cli 2024.4.133\n", WarpVersion("2024.4.133", (2024, 4, 133)), id="3-parts"),
    pytest.param(
        "warp-cli 2025.2.600.0\n", WarpVersion("2025.2.600.0", (2025, 2, 600, 0)), id="4-parts"
    ),
    pytest.param(
        "warp-cli 2025.9.558.0 (abc123)\n",
        WarpVersion("2025.9.558.0", (2025, 9, 558, 0)),
        id="trailing-text",
    ),
    pytest.param("  warp-cli  2024.2.62  \n", WarpVersion("2024.2.62", (2024, 2, 62)), id="padded"),
    pytest.param(
        "a banner line\nwarp-cli 2025.1.861.0\n",
        WarpVersion("2025.1.861.0", (2025, 1, 861, 0)),
        id="second-line",
    ),
    pytest.param(
        "warp-cli 2025.1.2.3.4\n", WarpVersion("2025.1.2.3", (2025, 1, 2, 3)), id="five-parts"
    ),
    pytest.param(
        f"warp-cli {FORTY_DIGITS}\n",
        WarpVersion(FORTY_DIGITS, (int("1" * 34), 1, 1, 1)),
        id="forty-characters",
    ),
]


@pytest.mark.parametrize(("text", "version"), VERSIONS)
def test_versions(text: str, version: WarpVersion) -> None:
    assert parse_version(text) == version


# --- warp-cli status (text, every era) ---------------------------------------------------

STATUSES = [
    # era A
    pytest.param("Status update: Connected\n", WarpStatus("Connected"), id="a-connected"),
    pytest.param(
        "Success\nStatus update: Disconnected. Reason: Manual Disconnection\n",
        WarpStatus("Disconnected", "Manual Disconnection", reason_code="Manual"),
        id="a-success-then-disconnected",
    ),
    pytest.param(
        "Status update: Unable to connect. Reason: Registration Missing\n",
        WarpStatus("Unable", "Registration Missing", reason_code="RegistrationMissing"),
        id="a-unable-registration",
    ),
    pytest.param(
        "Disconnected: Reason: Manual Disconnection\n",
        WarpStatus("Disconnected", "Manual Disconnection", reason_code="Manual"),
        id="a-bare-2023",
    ),
    pytest.param(
        "Unable to connect. Reason: Registration Missing\n",
        WarpStatus("Unable", "Registration Missing", reason_code="RegistrationMissing"),
        id="a-bare-unable",
    ),
    pytest.param("Connected\n", WarpStatus("Connected"), id="a-bare-state-alone"),
    pytest.param(
        "Status update: Disconnected.\n", WarpStatus("Disconnected"), id="a-trailing-period"
    ),
    # a state ztctl does not know is kept as printed, less its trailing `.`, `:` or `,`
    pytest.param("Status update: PausedForDEX.\n", WarpStatus("PausedForDEX"), id="unknown-state"),
    pytest.param(
        "Status update: Disconnected. Reason:\n",
        WarpStatus("Disconnected"),
        id="a-empty-inline-reason",
    ),
    # era B
    pytest.param(
        "Status update: Connected\nNetwork: healthy\n",
        WarpStatus("Connected", network="healthy"),
        id="b-connected-healthy",
    ),
    pytest.param(
        "Status update: Disconnected\nReason: Manual Disconnection\n",
        WarpStatus("Disconnected", "Manual Disconnection", reason_code="Manual"),
        id="b-disconnected",
    ),
    pytest.param("Status update: Connecting\n", WarpStatus("Connecting"), id="b-connecting"),
    pytest.param(
        "Status update: Unable\nReason: Happy Eyeballs Failed\n",
        WarpStatus("Unable", "Happy Eyeballs Failed", reason_code="HappyEyeballsFailed"),
        id="b-unable-happy-eyeballs",
    ),
    pytest.param(
        "Status update: Unable\nReason: Registration Missing due to: Daemon Startup\n",
        WarpStatus(
            "Unable",
            "Registration Missing due to: Daemon Startup",
            reason_code="RegistrationMissing",
            detail="Daemon Startup",
        ),
        id="b-registration-due-to",
    ),
    pytest.param(
        "  Status update: Unable\n  Reason: Registration Missing due to: Does not exist in API\n",
        WarpStatus(
            "Unable",
            "Registration Missing due to: Does not exist in API",
            reason_code="RegistrationMissing",
            detail="Does not exist in API",
        ),
        id="b-indented-log",
    ),
    pytest.param(
        "Status update: Unable\nReason: Registration Missing due to: Renewal due to: Expiry\n",
        WarpStatus(
            "Unable",
            "Registration Missing due to: Renewal due to: Expiry",
            reason_code="RegistrationMissing",
            detail="Renewal due to: Expiry",
        ),
        id="b-the-first-due-to-splits",
    ),
    pytest.param(
        "Status update: Unable\nReason: Registration Missing due to:\n",
        WarpStatus("Unable", "Registration Missing due to:", reason_code="RegistrationMissing"),
        id="b-due-to-nothing",
    ),
    pytest.param(
        "Status update: Unable\nReason: Connectivity check failed due to DNS Lookup Failed\n",
        WarpStatus(
            "Unable",
            "Connectivity check failed due to DNS Lookup Failed",
            reason_code="ConnectivityCheckFailedDueToDNSLookupFailed",
        ),
        id="b-due-to-without-colon",
    ),
    pytest.param(
        "Status update: Connected\n\nNetwork: healthy\n",
        WarpStatus("Connected", network="healthy"),
        id="b-blank-line-between",
    ),
    pytest.param(
        "Status update: Connected\nNetwork:\nReason:\n",
        WarpStatus("Connected"),
        id="b-empty-values",
    ),
    pytest.param(
        "Status update: Disconnected\nReason: Manual Disconnection\nReason: Settings Changed\n",
        WarpStatus("Disconnected", "Manual Disconnection", reason_code="Manual"),
        id="b-first-reason-counts",
    ),
    pytest.param(
        "Status update: Disconnected. Reason: Manual Disconnection\nReason: Settings Changed\n",
        WarpStatus("Disconnected", "Manual Disconnection", reason_code="Manual"),
        id="inline-reason-beats-a-later-line",
    ),
    pytest.param(
        "Status update: Connecting\nStatus update: Connected\nNetwork: healthy\n",
        WarpStatus("Connecting"),
        id="streamed-only-the-first-update",
    ),
]


@pytest.mark.parametrize(("text", "status"), STATUSES)
def test_status_text(text: str, status: WarpStatus) -> None:
    assert parse_status(text) == status


# --- warp-cli --json status ------------------------------------------------------------

STATUS_JSON = [
    pytest.param(
        '{"status":"Connected","reason":"NetworkHealthy"}',
        WarpStatus("Connected", network="healthy"),
        id="connected-healthy",
    ),
    pytest.param(
        '{"status":"Disconnected","reason":"Manual"}',
        WarpStatus("Disconnected", "Manual Disconnection", reason_code="Manual"),
        id="manual",
    ),
    pytest.param(
        '{"status":"Connecting","reason":{"EstablishingConnection":"162.159.198.2:443"}}',
        WarpStatus(
            "Connecting",
            "Establishing Connection",
            reason_code="EstablishingConnection",
            detail="162.159.198.2:443",
        ),
        id="establishing",
    ),
    pytest.param(
        '{"status":"Connecting","reason":{"PerformingHappyEyeballs":'
        '["162.159.198.2:443","[2606:4700:103::2]:443"]}}',
        WarpStatus(
            "Connecting",
            "Performing Happy Eyeballs",
            reason_code="PerformingHappyEyeballs",
            detail='["162.159.198.2:443", "[2606:4700:103::2]:443"]',
        ),
        id="happy-eyeballs-list",
    ),
    pytest.param(
        '{"status":"Connecting","reason":"PerformingConnectivityChecks"}',
        WarpStatus(
            "Connecting",
            "Performing Connectivity Checks",
            reason_code="PerformingConnectivityChecks",
        ),
        id="connectivity-checks",
    ),
    pytest.param(
        '{"status":"Unable","reason":{"RegistrationMissing":"DaemonStartup"}}',
        WarpStatus(
            "Unable",
            "Registration Missing",
            reason_code="RegistrationMissing",
            detail="DaemonStartup",
        ),
        id="registration-missing",
    ),
    pytest.param(
        '{"status":"Connected","reason":{"NetworkDegraded":{"rtt_ms":400,"loss_percent":8}}}',
        WarpStatus("Connected", network="degraded", detail='{"loss_percent": 8, "rtt_ms": 400}'),
        id="degraded-keys-sorted",
    ),
    pytest.param(
        '{"status":"Disconnected","reason":{"SettingsChanged":'
        '{"previous":{"b":1,"a":2},"current":{}}}}',
        WarpStatus(
            "Disconnected",
            "Settings Changed",
            reason_code="SettingsChanged",
            detail='{"current": {}, "previous": {"a": 2, "b": 1}}',
        ),
        id="settings-changed-keys-sorted",
    ),
    pytest.param('{"status":"Connected"}', WarpStatus("Connected"), id="no-reason"),
    pytest.param('{"status":"Connected","reason":null}', WarpStatus("Connected"), id="null"),
    pytest.param('{"status":"Connected","reason":""}', WarpStatus("Connected"), id="empty"),
    pytest.param(
        '{"status":"Disconnected","reason":"Network"}',
        WarpStatus("Disconnected", "Network", reason_code="Network"),
        id="network-alone-is-a-reason",
    ),
    pytest.param(
        '  {"status":"Paused","reason":"PausedByUser"}  \n',
        WarpStatus("Paused", "Paused By User", reason_code="PausedByUser"),
        id="padded",
    ),
]


@pytest.mark.parametrize(("text", "status"), STATUS_JSON)
def test_status_json(text: str, status: WarpStatus) -> None:
    assert parse_status(text) == status


# --- warp-cli registration show / account ------------------------------------------------

REGISTRATIONS = [
    pytest.param(
        "Account type: Team\nDevice ID: 15df1c48\nPublic key: a4c072d4\n"
        "Account ID: fb0201ed\nOrganization: gzxiexl\n",
        WarpRegistration("team", "gzxiexl", "15df1c48", "fb0201ed"),
        id="text-team",
    ),
    pytest.param(
        "Account type: Free\nDevice ID: d-1\nPublic key: k\nAccount ID: a-1\nLicense: L-1\n",
        WarpRegistration("free", None, "d-1", "a-1"),
        id="text-consumer",
    ),
    pytest.param("Account type: Team\n", WarpRegistration("team"), id="text-type-only"),
    pytest.param("Device ID: d-1\n", WarpRegistration("unknown", device_id="d-1"), id="text-id"),
    pytest.param(
        "Account type:\nDevice ID: d-1\nOrganization:\nAccount ID:\n",
        WarpRegistration("unknown", device_id="d-1"),
        id="text-empty-values",
    ),
    pytest.param(
        '{"id":"i-1","device_id":"d-1","public_key":"REDACTED","managed":false,'
        '"account":{"type":"free","id":"a-1","license":"REDACTED"},"alternate_networks":[]}',
        WarpRegistration("free", None, "d-1", "a-1", False),
        id="json-2026-consumer",
    ),
    pytest.param(
        '{"device_id":"d-1","managed":true,"account":{"type":"Team","id":"a-1",'
        '"organization":"acme"}}',
        WarpRegistration("team", "acme", "d-1", "a-1", True),
        id="json-team",
    ),
    pytest.param(
        '{"id":"i-1","account":{"type":"team"}}',
        WarpRegistration("team", device_id="i-1"),
        id="json-id-when-no-device-id",
    ),
    pytest.param(
        '{"id":"i-1","device_id":"","account":{"type":"team"}}',
        WarpRegistration("team", device_id="i-1"),
        id="json-id-when-device-id-empty",
    ),
    pytest.param(
        '{"device_id":"d-1","organization":"acme"}',
        WarpRegistration("unknown", "acme", "d-1"),
        id="json-device-only-top-level-organization",
    ),
    pytest.param(
        '{"device_id":"d-1","organization":"top","account":{"type":"team","organization":""}}',
        WarpRegistration("team", "top", "d-1"),
        id="json-empty-account-organization",
    ),
    pytest.param(
        '{"account":{"type":"team","organization":7,"id":8},"device_id":9,"managed":"no"}',
        WarpRegistration("team"),
        id="json-wrong-types-are-unknown",
    ),
    pytest.param(
        '{"account":{"type":3},"device_id":"d-1"}',
        WarpRegistration("unknown", device_id="d-1"),
        id="json-type-not-a-string",
    ),
    pytest.param(
        '{"account":"team","device_id":"d-1"}',
        WarpRegistration("unknown", device_id="d-1"),
        id="json-account-not-an-object",
    ),
]


@pytest.mark.parametrize(("text", "registration"), REGISTRATIONS)
def test_registrations(text: str, registration: WarpRegistration) -> None:
    assert parse_registration(text) == registration


# --- warp-cli settings (text) -----------------------------------------------------------

# 2026 builds: a TAB after each `(source)`; a blank line after the split-tunnel list.
SETTINGS_2026 = """\
Merged configuration:
(not set)\tCompliance Environment: Normal
(derived)\tAlways On: true
(override)\tSwitch Locked: false
(user set)\tMode: WarpProxy on port 40000
(network policy)\tWARP tunnel protocol: MASQUE
(not set)\tMASQUE Protocol Settings: \n\
  HTTP Version: MASQUE (HTTP/3 with HTTP/2 fallback)
(not set)\tqlog log until: FutureSystemTime(None)
(api defaults)\tExclude mode, with hosts/ips:
  10.0.0.0/8
  fe80::/10
  192.0.2.1/32 (CLI exclude)

(default)\tFallback domains:
  corp
  home.arpa
(not set)\tDaemon Teams Auth: false
"""
SETTINGS_2026_READ = WarpSettings(
    mode="proxy",
    mode_text="WarpProxy on port 40000",
    proxy_port=40000,
    split_mode="exclude",
    split_entries=(
        SplitEntry("10.0.0.0/8"),
        SplitEntry("fe80::/10"),
        SplitEntry("192.0.2.1/32", "CLI exclude"),
    ),
    always_on=True,
    switch_locked=False,
    protocol="MASQUE",
    fallback_domains=("corp", "home.arpa"),
    fields=(
        ("not set", "Compliance Environment", "Normal"),
        ("derived", "Always On", "true"),
        ("override", "Switch Locked", "false"),
        ("user set", "Mode", "WarpProxy on port 40000"),
        ("network policy", "WARP tunnel protocol", "MASQUE"),
        ("not set", "MASQUE Protocol Settings", ""),
        ("not set", "qlog log until", "FutureSystemTime(None)"),
        ("api defaults", "Exclude mode, with hosts/ips", ""),
        ("default", "Fallback domains", ""),
        ("not set", "Daemon Teams Auth", "false"),
    ),
)

# The docs' sample: space-padded sources, a Zero Trust organization, a profile.
SETTINGS_DOCS = """\
Merged configuration:
(derived)   Always On: true
(network policy)    Switch Locked: true
(network policy)    Mode: WarpWithDnsOverHttps
(network policy)    WARP tunnel protocol: WireGuard
(reg defaults)  Resolve via: x.cloudflare-gateway.com @ [1x01:1x00::1xx1]
(network policy)    Exclude mode, with hosts/ips:
  1xx.1xx.1xx.1xx/25 (zoom)
  cname.user.net

(network policy)    Fallback domains:
  intranet
(user set)  Organization: Organization-Name
(network policy)    Profile ID: 000000x1-00x1
"""
SETTINGS_DOCS_READ = WarpSettings(
    mode="warp+doh",
    mode_text="WarpWithDnsOverHttps",
    split_mode="exclude",
    split_entries=(SplitEntry("1xx.1xx.1xx.1xx/25", "zoom"), SplitEntry("cname.user.net")),
    organization="Organization-Name",
    always_on=True,
    switch_locked=True,
    protocol="WireGuard",
    fallback_domains=("intranet",),
    profile_id="000000x1-00x1",
    fields=(
        ("derived", "Always On", "true"),
        ("network policy", "Switch Locked", "true"),
        ("network policy", "Mode", "WarpWithDnsOverHttps"),
        ("network policy", "WARP tunnel protocol", "WireGuard"),
        ("reg defaults", "Resolve via", "x.cloudflare-gateway.com @ [1x01:1x00::1xx1]"),
        ("network policy", "Exclude mode, with hosts/ips", ""),
        ("network policy", "Fallback domains", ""),
        ("user set", "Organization", "Organization-Name"),
        ("network policy", "Profile ID", "000000x1-00x1"),
    ),
)

# Pre-2024 builds: no `(source)`; lists may follow each other without a blank line.
SETTINGS_OLD = """\
Merged configuration:
Always On: false
Switch Locked: false
Mode: WarpWithDnsOverHttps
Include mode, with hosts/ips:
  ifconfig.me
\t10.8.0.0/16 (office)
Fallback domains:
  home.arpa
"""
SETTINGS_OLD_READ = WarpSettings(
    mode="warp+doh",
    mode_text="WarpWithDnsOverHttps",
    split_mode="include",
    split_entries=(SplitEntry("ifconfig.me"), SplitEntry("10.8.0.0/16", "office")),
    always_on=False,
    switch_locked=False,
    fallback_domains=("home.arpa",),
    fields=(
        ("", "Always On", "false"),
        ("", "Switch Locked", "false"),
        ("", "Mode", "WarpWithDnsOverHttps"),
        ("", "Include mode, with hosts/ips", ""),
        ("", "Fallback domains", ""),
    ),
)

SETTINGS = [
    pytest.param(SETTINGS_2026, SETTINGS_2026_READ, id="2026-tabs"),
    pytest.param(SETTINGS_DOCS, SETTINGS_DOCS_READ, id="docs-spaces"),
    pytest.param(SETTINGS_OLD, SETTINGS_OLD_READ, id="pre-2024-no-sources"),
    # each known key alone is enough to call it settings
    pytest.param("Mode: Warp\n", WarpSettings("warp", "Warp", fields=(("", "Mode", "Warp"),))),
    pytest.param(
        "(default)\tMode: Warp\n(default)\tMode: WarpProxy on port 40000\n",
        WarpSettings(
            "warp",
            "Warp",
            fields=(("default", "Mode", "Warp"), ("default", "Mode", "WarpProxy on port 40000")),
        ),
        id="the-first-value-of-a-key-counts",
    ),
    pytest.param(
        "Always On: TRUE\nSwitch Locked: yes\n",
        WarpSettings(
            "unknown",
            always_on=True,
            fields=(("", "Always On", "TRUE"), ("", "Switch Locked", "yes")),
        ),
        id="booleans-true-false-or-unknown",
    ),
    pytest.param(
        "Profile ID: p-1\n",
        WarpSettings("unknown", profile_id="p-1", fields=(("", "Profile ID", "p-1"),)),
        id="profile-alone",
    ),
    pytest.param(
        "Organization: acme\n",
        WarpSettings("unknown", organization="acme", fields=(("", "Organization", "acme"),)),
        id="organization-alone",
    ),
    pytest.param(
        "Fallback domains:\n  corp\n",
        WarpSettings("unknown", fallback_domains=("corp",), fields=(("", "Fallback domains", ""),)),
        id="a-list-alone",
    ),
    pytest.param(
        "Exclude mode, with hosts/ips:\n  10.0.0.0/8\nInclude mode, with hosts/ips:\n  1.2.3.4\n",
        WarpSettings(
            "unknown",
            split_mode="exclude",
            split_entries=(SplitEntry("10.0.0.0/8"),),
            fields=(
                ("", "Exclude mode, with hosts/ips", ""),
                ("", "Include mode, with hosts/ips", ""),
            ),
        ),
        id="exclude-wins-over-include",
    ),
    # lines that are not `Key: value`, and indented lines outside a list, are skipped
    pytest.param(
        "  10.0.0.0/8\nMerged configuration:\n  10.1.0.0/16\nSuccess\n  10.2.0.0/16\n"
        ": no key\n  10.3.0.0/16\nMode: Warp\n  10.4.0.0/16\n"
        "Exclude mode, with hosts/ips:\n  10.5.0.0/16\n\n  10.6.0.0/16\n",
        WarpSettings(
            "warp",
            "Warp",
            split_mode="exclude",
            split_entries=(SplitEntry("10.5.0.0/16"),),
            fields=(("", "Mode", "Warp"), ("", "Exclude mode, with hosts/ips", "")),
        ),
        id="stray-lines-skipped",
    ),
    # an elision (`...`) marks a shortened copy, wherever it stands
    pytest.param(
        "Mode: Warp\nExclude mode, with hosts/ips:\n  10.0.0.0/8\n...\n  cname.user.net\n",
        WarpSettings(
            "warp",
            "Warp",
            split_mode="exclude",
            split_entries=(SplitEntry("10.0.0.0/8"), SplitEntry("cname.user.net")),
            fields=(("", "Mode", "Warp"), ("", "Exclude mode, with hosts/ips", "")),
            elided=True,
        ),
        id="elided",
    ),
    pytest.param(
        "Mode: Warp\n…\nAlways On: true\n",
        WarpSettings(
            "warp",
            "Warp",
            always_on=True,
            fields=(("", "Mode", "Warp"), ("", "Always On", "true")),
            elided=True,
        ),
        id="elided-ellipsis",
    ),
    # hand-written `# ...` notes (a docs copy): a list header with a note keeps its list
    pytest.param(
        "(network policy)    Exclude mode, with hosts/ips: # Split tunnel configuration\n"
        "  10.0.0.0/8 (zoom)\n",
        WarpSettings(
            "unknown",
            split_mode="exclude",
            split_entries=(SplitEntry("10.0.0.0/8", "zoom"),),
            fields=(("network policy", "Exclude mode, with hosts/ips", ""),),
            annotated=True,
        ),
        id="annotated-list-header",
    ),
    pytest.param(
        "(network policy)    Switch Locked: false # If false, the user cannot turn WARP off\n"
        "(network policy)    Allow Mode Switch: true  # The user may switch modes\n",
        WarpSettings(
            "unknown",
            fields=(
                (
                    "network policy",
                    "Switch Locked",
                    "false # If false, the user cannot turn WARP off",
                ),
                ("network policy", "Allow Mode Switch", "true  # The user may switch modes"),
            ),
            annotated=True,
        ),
        id="annotated-values-are-not-read",
    ),
]


@pytest.mark.parametrize(("text", "settings"), SETTINGS)
def test_settings_text(text: str, settings: WarpSettings) -> None:
    assert parse_settings(text) == settings


# A split-tunnel entry: the address or host, then an optional description in parentheses.
ENTRIES = [
    pytest.param("10.0.0.0/24 (private network)", SplitEntry("10.0.0.0/24", "private network")),
    pytest.param("192.0.2.1/32 (CLI exclude)", SplitEntry("192.0.2.1/32", "CLI exclude")),
    pytest.param("cname.user.net", SplitEntry("cname.user.net")),
    pytest.param("10.0.0.0/8   ( spaced )", SplitEntry("10.0.0.0/8", "spaced"), id="spaced"),
    pytest.param("10.0.0.0/8 corp", SplitEntry("10.0.0.0/8", "corp"), id="no-parentheses"),
    pytest.param("10.0.0.0/8 (corp", SplitEntry("10.0.0.0/8", "(corp"), id="open-only"),
    pytest.param("10.0.0.0/8 corp)", SplitEntry("10.0.0.0/8", "corp)"), id="close-only"),
]


@pytest.mark.parametrize(("line", "entry"), ENTRIES)
def test_split_entries(line: str, entry: SplitEntry) -> None:
    text = f"Exclude mode, with hosts/ips:\n  {line}\n"
    assert parse_settings(text).split_entries == (entry,)
    assert parse_tunnel_ip_list(f"Excluded routes:\n  {line}\n").entries == (entry,)


# --- warp-cli tunnel ip list -------------------------------------------------------------

TUNNEL_LISTS = [
    pytest.param(
        "Excluded routes:\n  10.0.0.0/8\n  192.0.2.1/32 (CLI exclude)\n",
        SplitTunnel(
            "exclude", (SplitEntry("10.0.0.0/8"), SplitEntry("192.0.2.1/32", "CLI exclude"))
        ),
        id="excluded",
    ),
    pytest.param(
        "Included routes:\n  10.8.0.0/16\n",
        SplitTunnel("include", (SplitEntry("10.8.0.0/16"),)),
        id="included",
    ),
    pytest.param(
        "excluded ROUTES :  \n\t10.0.0.0/8\n\n  fd00::/8\n",
        SplitTunnel("exclude", (SplitEntry("10.0.0.0/8"), SplitEntry("fd00::/8"))),
        id="case-tab-blank-line",
    ),
    pytest.param(
        "Excluded:\n  10.0.0.0/8\n",
        SplitTunnel("exclude", (SplitEntry("10.0.0.0/8"),)),
        id="short-header",
    ),
    pytest.param("Included routes:\n", SplitTunnel("include"), id="empty"),
    pytest.param(
        "  10.9.0.0/16\nExcluded routes:\n  10.0.0.0/8\nnot indented\n",
        SplitTunnel("exclude", (SplitEntry("10.0.0.0/8"),)),
        id="only-indented-lines-under-the-header",
    ),
    pytest.param(
        "Excluded routes:\n  10.0.0.0/8\nIncluded routes:\n  10.8.0.0/16\n",
        SplitTunnel("exclude", (SplitEntry("10.0.0.0/8"),)),
        id="a-second-section-is-not-read",
    ),
]


@pytest.mark.parametrize(("text", "tunnel"), TUNNEL_LISTS)
def test_tunnel_ip_lists(text: str, tunnel: SplitTunnel) -> None:
    assert parse_tunnel_ip_list(text) == tunnel


# --- warp-cli --help ---------------------------------------------------------------------

HELP_2024 = """\
Usage: warp-cli [OPTIONS] <COMMAND>

Commands:
  connect               Maintain a connection whenever possible
  debug                 Debugging commands
  disconnect            Disconnect the client
  dns                   Configure DNS settings
  mdm                   MDM configs
  mode                  Set the client's general operating mode
  override              Allow temporary overrides of administrative settings
  proxy                 Configure proxy mode settings
  registration          Registration settings
  settings              Show or alter general application settings
  status                Return the current connection status
  trusted               Configure trusted networks (Consumer only)
  tunnel                Configure tunnel settings
  vnet                  Get or specify connected virtual network
  generate-completions  Generate completions for a given shell and print to stdout
  help                  Print this message or the help of the given subcommand(s)

Options:
  -l, --listen      Listen for status changes and DNS logs (if enabled)
  -h, --help        Print help
"""

HELPS = [
    pytest.param(
        HELP_2024,
        {
            "connect",
            "debug",
            "disconnect",
            "dns",
            "mdm",
            "mode",
            "override",
            "proxy",
            "registration",
            "settings",
            "status",
            "trusted",
            "tunnel",
            "vnet",
            "generate-completions",
            "help",
        },
        id="2024",
    ),
    pytest.param(
        "Usage: warp-cli [OPTIONS] <COMMAND>\n\nCommands:\n"
        "  register      Register with the WARP API\n"
        "  teams-enroll  Enroll with Cloudflare for Teams\n"
        "  connect       Connect to WARP whenever possible [aliases: enable-always-on]\n"
        "  set-mode      Set the mode\n",
        {"register", "teams-enroll", "connect", "set-mode"},
        id="2023",
    ),
    pytest.param(
        "USAGE:\n    warp-cli [FLAGS] <SUBCOMMAND>\n\nSUBCOMMANDS:\n"
        "    account    Display the account\n    status     Ask the daemon for the status\n",
        {"account", "status"},
        id="old-clap-subcommands",
    ),
    pytest.param("Commands:\n\tstatus\tStatus\n\tmode\tMode\n", {"status", "mode"}, id="tabs"),
    pytest.param(
        "Commands:\n\n  status  Status\n\n  mode  Mode\n", {"status"}, id="a-blank-line-ends-it"
    ),
    pytest.param(
        "Commands:\n  status  Status\nOptions:\n  -h, --help  Print help\n",
        {"status"},
        id="an-unindented-line-ends-it",
    ),
    pytest.param(
        "Commands:\n  status  Status\nOptions:\n  -h  Help\nSubcommands:\n  mode  Mode\n",
        {"status", "mode"},
        id="every-listing-counts",
    ),
]


@pytest.mark.parametrize(("text", "names"), HELPS)
def test_help_commands(text: str, names: set[str]) -> None:
    assert parse_help_commands(text) == frozenset(names)


# --- what each parser refuses, and the message it says it with --------------------------

NO_VERSION = "warp-cli --version did not print `warp-cli <version>`"
NO_UPDATE = "warp-cli status printed no `Status update:` line"
NO_STATE = "warp-cli status printed no state"
NO_STATUS_STRING = "warp-cli status JSON has no `status` string"
BAD_REASON = "warp-cli status JSON has a malformed `reason`"
NO_ACCOUNT = "warp-cli printed no `Account type:` or `Device ID:`"
NO_ACCOUNT_JSON = "warp-cli registration JSON has neither account type nor device"
NO_SETTINGS = "warp-cli settings printed none of the known keys"
NO_ROUTES = "warp-cli printed no `Excluded routes:` / `Included routes:` header"
NO_COMMANDS = "warp-cli --help listed no commands"

REFUSED: list[Any] = [
    (parse_version, "", NO_VERSION),
    (parse_version, "cloudflared version 2026.8.2\n", NO_VERSION),
    (parse_version, "warp-cli 2025.1\n", NO_VERSION),
    (parse_version, "warp-cli version 2025.1.2\n", NO_VERSION),
    (parse_version, f"warp-cli 1{FORTY_DIGITS}\n", "implausible warp-cli version"),
    (parse_status, "", NO_UPDATE),
    (parse_status, "Success\n", NO_UPDATE),
    (parse_status, "Connectedness: high\nDisconnected because\n", NO_UPDATE),
    (parse_status, "Status update:\n", NO_STATE),
    (parse_status, "Status update: Reason: Manual Disconnection\n", NO_STATE),
    (parse_status, "Status update: .\n", NO_STATE),
    (parse_status, "[1, 2]", NO_UPDATE),
    (parse_status, '{"status": 3}', NO_STATUS_STRING),
    (parse_status, '{"status": ""}', NO_STATUS_STRING),
    (parse_status, '{"reason": "Manual"}', NO_STATUS_STRING),
    (
        parse_status,
        '{"code":"WarpNotConnected","error":"WARP is not connected."}',
        "warp-cli reported an error instead of a status: WarpNotConnected",
    ),
    (parse_status, '{"status":"Connected","reason":3}', BAD_REASON),
    (parse_status, '{"status":"Connected","reason":["NetworkHealthy"]}', BAD_REASON),
    (parse_status, '{"status":"Connected","reason":{}}', BAD_REASON),
    (parse_status, '{"status":"Connected","reason":{"A":"x","B":"y"}}', BAD_REASON),
    (parse_registration, "", NO_ACCOUNT),
    (parse_registration, "Success\nOrganization: acme\n", NO_ACCOUNT),
    (parse_registration, "Account type:\nDevice ID:\n", NO_ACCOUNT),
    (parse_registration, "[]", NO_ACCOUNT),
    (
        parse_registration,
        '{"code":"MissingRegistration","error":"Missing registration."}',
        "warp-cli reported an error instead of a registration",
    ),
    (parse_registration, "{}", NO_ACCOUNT_JSON),
    (parse_registration, '{"account":{"type":3},"device_id":4,"id":"i-1"}', NO_ACCOUNT_JSON),
    (parse_registration, '{"organization":"acme","managed":true}', NO_ACCOUNT_JSON),
    (parse_settings, "", NO_SETTINGS),
    (parse_settings, "Merged configuration:\n", NO_SETTINGS),
    (parse_settings, "(default)\tOnboarding: true\nCaptive Portal: 180\n", NO_SETTINGS),
    (parse_tunnel_ip_list, "", NO_ROUTES),
    (parse_tunnel_ip_list, "  10.0.0.0/8\n", NO_ROUTES),
    (parse_tunnel_ip_list, "Excluded hosts:\n  example.com\n", NO_ROUTES),
    (parse_help_commands, "", NO_COMMANDS),
    (parse_help_commands, "Usage: warp-cli [OPTIONS] <COMMAND>\n", NO_COMMANDS),
    (parse_help_commands, "  connect  Connect\n  status  Status\n", NO_COMMANDS),
    (parse_help_commands, "Commands:\n\nOptions:\n  -h, --help  Print help\n", NO_COMMANDS),
    (parse_help_commands, "CommandsX:\n  connect  Connect\n", NO_COMMANDS),
]


@pytest.mark.parametrize(
    ("parser", "text", "message"),
    REFUSED,
    ids=[f"{p.__name__}-{i}" for i, (p, _t, _m) in enumerate(REFUSED)],
)
def test_refused(parser: Callable[[str], object], text: str, message: str) -> None:
    with pytest.raises(WarpParseError) as caught:
        parser(text)
    assert str(caught.value) == message


# --- the real samples of the conformance corpus ------------------------------------------

DEFAULT_EXCLUDES = lab_state.DEFAULT_EXCLUDES  # a 2026 client's default exclude list
APPLE_EXCLUDES = (
    "17.249.0.0/16",
    "17.252.0.0/16",
    "17.57.144.0/22",
    "17.188.128.0/18",
    "17.188.20.0/23",
    "2620:149:a44::/48",
    "2403:300:a42::/48",
    "2403:300:a51::/48",
    "2a01:b740:a42::/48",
)
FALLBACK_2023 = (
    "intranet",
    "internal",
    "private",
    "localdomain",
    "domain",
    "lan",
    "home",
    "host",
    "corp",
    "local",
    "localhost",
    "home.arpa",
    "invalid",
    "test",
)
FALLBACK_2026 = (
    "corp",
    "domain",
    "home",
    "home.arpa",
    "host",
    "internal",
    "intranet",
    "invalid",
    "lan",
    "local",
    "localdomain",
    "localhost",
    "private",
    "test",
)


def _excluding(*values: str) -> tuple[SplitEntry, ...]:
    return tuple(SplitEntry(v) for v in values)


# (sample, parser, the whole value read; for settings, how many `Key: value` fields)
CORPUS: list[tuple[str, Callable[[str], object], object, int | None]] = [
    (
        "version-2024.4.133-linux.txt",
        parse_version,
        WarpVersion("2024.4.133", (2024, 4, 133)),
        None,
    ),
    (
        "version-2025.2.600.0-linux.txt",
        parse_version,
        WarpVersion("2025.2.600.0", (2025, 2, 600, 0)),
        None,
    ),
    (
        "status-2025.5-disconnected-manual-multiline-linux.txt",
        parse_status,
        WarpStatus("Disconnected", "Manual Disconnection", reason_code="Manual"),
        None,
    ),
    (
        "status-2025.9.558-connected-network-healthy-linux.txt",
        parse_status,
        WarpStatus("Connected", network="healthy"),
        None,
    ),
    (
        "status-2023-unable-registration-missing-singleline-linux.txt",
        parse_status,
        WarpStatus("Unable", "Registration Missing", reason_code="RegistrationMissing"),
        None,
    ),
    (
        "status-2026-unable-registration-missing-due-to-api-linux.txt",
        parse_status,
        WarpStatus(
            "Unable",
            "Registration Missing due to: Does not exist in API",
            reason_code="RegistrationMissing",
            detail="Does not exist in API",
        ),
        None,
    ),
    (
        "status-2025-unable-registration-missing-due-to-daemon-startup-linux.txt",
        parse_status,
        WarpStatus(
            "Unable",
            "Registration Missing due to: Daemon Startup",
            reason_code="RegistrationMissing",
            detail="Daemon Startup",
        ),
        None,
    ),
    (
        "status-2023-unable-insufficient-fd-singleline-linux.txt",
        parse_status,
        WarpStatus(
            "Unable",
            "Insufficient system resource: file descriptor",
            reason_code="InsufficientSystemResource:FileDescriptor",
        ),
        None,
    ),
    (
        "status-2024.1-success-then-disconnected-singleline-linux.txt",
        parse_status,
        WarpStatus("Disconnected", "Manual Disconnection", reason_code="Manual"),
        None,
    ),
    (
        "status-2023-bare-disconnected-reason-linux.txt",
        parse_status,
        WarpStatus("Disconnected", "Manual Disconnection", reason_code="Manual"),
        None,
    ),
    (
        "status-2024or2025-connecting-bare-linux.txt",
        parse_status,
        WarpStatus("Connecting"),
        None,
    ),
    (
        "status-2024or2025-unable-connectivity-check-dns-linux.txt",
        parse_status,
        WarpStatus(
            "Unable",
            "Connectivity check failed due to DNS Lookup Failed",
            reason_code="ConnectivityCheckFailedDueToDNSLookupFailed",
        ),
        None,
    ),
    ("status-era-a-connected-singleline-linux.txt", parse_status, WarpStatus("Connected"), None),
    (
        "status-json-2026.7-connected-networkhealthy-3rdparty.txt",
        parse_status,
        WarpStatus("Connected", network="healthy"),
        None,
    ),
    (
        "status-json-2026.7-disconnected-manual-3rdparty.txt",
        parse_status,
        WarpStatus("Disconnected", "Manual Disconnection", reason_code="Manual"),
        None,
    ),
    (
        "status-json-2026.7-connecting-establishing-3rdparty.txt",
        parse_status,
        WarpStatus(
            "Connecting",
            "Establishing Connection",
            reason_code="EstablishingConnection",
            detail="162.159.198.2:443",
        ),
        None,
    ),
    (
        "account-2024.1-team-linux.txt",
        parse_registration,
        WarpRegistration(
            "team", "gzxiexl", "15df1c48-b9f7-11ee-b203-a60", "fb0201edb7e2e6cf37c2dd805"
        ),
        None,
    ),
    (
        "settings-2026.3.846.0-proxy-consumer-tabs-linux.txt",
        parse_settings,
        WarpSettings(
            mode="proxy",
            mode_text="WarpProxy on port 40000",
            proxy_port=40000,
            split_mode="exclude",
            split_entries=_excluding(*DEFAULT_EXCLUDES, *APPLE_EXCLUDES),
            always_on=True,
            switch_locked=False,
            protocol="MASQUE",
            fallback_domains=FALLBACK_2026,
        ),
        20,
    ),
    (
        "settings-2023or2024-proxy-noprefix-linux.txt",
        parse_settings,
        WarpSettings(
            mode="proxy",
            mode_text="WarpProxy on port 40000",
            proxy_port=40000,
            split_mode="exclude",
            split_entries=_excluding(*DEFAULT_EXCLUDES),
            always_on=True,
            switch_locked=False,
            fallback_domains=FALLBACK_2023,
        ),
        12,
    ),
    (
        "settings-2025.1.861.0-warp-tabs-truncated-linux.txt",
        parse_settings,
        WarpSettings(
            mode="warp",
            mode_text="Warp",
            split_mode="exclude",
            always_on=False,
            switch_locked=False,
            protocol="WireGuard",
            elided=True,
        ),
        10,
    ),
    (
        "settings-2025.x-tail-local-policy-mdm-linux.txt",
        parse_settings,
        WarpSettings(mode="unknown", organization="$cloudflare_organization"),
        8,
    ),
    (
        "settings-docs-annotated-warpdoh-exclude-org-official.txt",
        parse_settings,
        WarpSettings(
            # the docs' notes ride on the values: the mode and `Switch Locked` are not read
            mode="unknown",
            mode_text="WarpWithDnsOverHttps # The device's WARP mode, this mode is WARP "
            "with Gateway mode",
            split_mode="exclude",
            split_entries=(SplitEntry("1xx.1xx.1xx.1xx/25", "zoom"), SplitEntry("cname.user.net")),
            organization="Organization-Name",
            always_on=True,
            protocol="WireGuard",
            fallback_domains=("intranet", "test"),
            profile_id="000000x1-00x1-1xx0-1xx1-11101x1axx11",
            elided=True,
            annotated=True,
        ),
        22,
    ),
    (
        "settings-noprefix-warpdoh-include-hostonly-hackerone-docs.txt",
        parse_settings,
        WarpSettings(
            mode="warp+doh",
            mode_text="WarpWithDnsOverHttps",
            split_mode="include",
            split_entries=(SplitEntry("ifconfig.me"),),
            always_on=True,
            switch_locked=False,
            fallback_domains=("home.arpa",),
            elided=True,
        ),
        10,
    ),
    (
        "settings-windows-include-fragment-blog.txt",
        parse_settings,
        WarpSettings(
            mode="unknown",
            split_mode="include",
            split_entries=(SplitEntry("10.0.0.0/24", "private network"),),
        ),
        1,
    ),
    (
        "help-2024.2.62-linux.txt",
        parse_help_commands,
        frozenset(
            {
                "connect",
                "debug",
                "disconnect",
                "dns",
                "mdm",
                "mode",
                "override",
                "proxy",
                "registration",
                "settings",
                "status",
                "trusted",
                "tunnel",
                "vnet",
                "generate-completions",
                "help",
            }
        ),
        None,
    ),
]


@pytest.mark.parametrize(
    ("name", "parser", "expected", "fields"), CORPUS, ids=[row[0] for row in CORPUS]
)
def test_corpus_samples(
    name: str, parser: Callable[[str], object], expected: object, fields: int | None
) -> None:
    path = corpus_dir("warp") / name
    assert path.is_file(), f"{name} is in the table but not in the corpus"
    parsed = parser(path.read_text(encoding="utf-8"))
    if isinstance(parsed, WarpSettings):
        # every `Key: value` line is kept; the tables above check them one by one
        assert len(parsed.fields) == fields
        parsed = dataclasses.replace(parsed, fields=())
    assert parsed == expected


def test_corpus_help_2023_lists_the_old_command_tree() -> None:
    path = corpus_dir("warp") / "help-2023.3.398-linux.txt"
    names = parse_help_commands(path.read_text(encoding="utf-8"))
    assert {"register", "teams-enroll", "account", "set-mode", "get-excluded-routes"} <= names
    assert not names & {"registration", "mode", "tunnel", "Options:", "-h,"}
    assert len(names) == 59
