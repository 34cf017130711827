"""The stand-in warp-cli reproduces every recorded warp-cli sample
(``tests/adapters/fixtures/warp/``), each from some lab state, as a real subprocess; and
ztctl's adapter reads what it prints in every era (round trip)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ztctl.adapters import warp as adapter
from ztctl.lab import state as labstate
from ztctl.lab import warpcli

USAGE_TAIL = "\n\nUsage: warp-cli [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n"


def set_warp(lab_dir: Path, **fields: object) -> None:
    with labstate.update(lab_dir) as s:
        for key, value in fields.items():
            assert hasattr(s.warp, key), key
            setattr(s.warp, key, value)


def warp_cli(lab_dir: Path, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ztctl.lab.warpcli", "--lab-dir", str(lab_dir), *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def standin_run(lab_dir: Path, *args: str) -> warpcli.Result:
    return warpcli.run(lab_dir, list(args))


@pytest.fixture
def lab_dir(tmp_path: Path) -> Path:
    path = tmp_path / "lab"
    path.mkdir()
    return path


def contains_in_order(output: str, trimmed_sample: str) -> bool:
    """Every line of a trimmed sample appears in ``output`` in the same order (the sample's
    `  ...` lines stand for lines the poster left out)."""
    lines = output.splitlines()
    pos = 0
    for wanted in trimmed_sample.splitlines():
        if wanted.strip() == "...":
            continue
        try:
            pos = lines.index(wanted, pos) + 1
        except ValueError:
            return False
    return True


# --- --version ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"era": "2025"}, "warp-cli 2025.9.558.0\n"),  # the 2025 default version
        ({"era": "2024", "version": "2024.4.133"}, "warp-cli 2024.4.133\n"),  # README
        ({"era": "2025", "version": "2025.7.176.0"}, "warp-cli 2025.7.176.0\n"),  # artifacts
    ],
)
def test_version(lab_dir: Path, fields: dict[str, object], expected: str) -> None:
    set_warp(lab_dir, **fields)
    proc = warp_cli(lab_dir, "--version")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, expected, "")


def test_version_works_without_daemon(lab_dir: Path) -> None:
    set_warp(lab_dir, daemon=False, hang=True)
    assert warp_cli(lab_dir, "-V").stdout == "warp-cli 2025.9.558.0\n"


# --- help, --accept-tos, the Terms of Service --------------------------------------

HELP_2024_COMMANDS = """\
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
  trusted               Configure trusted networks where the client will be automatically disabled (Consumer only)
  tunnel                Configure tunnel settings
  vnet                  Get or specify connected virtual network
  generate-completions  Generate completions for a given shell and print to stdout
  help                  Print this message or the help of the given subcommand(s)
"""  # noqa: E501

HELP_2024_OPTIONS = """\
Options:
  -l, --listen      Listen for status changes and DNS logs (if enabled)
      --accept-tos  Accept the Terms of Service agreement
  -v, --verbose...  Enable verbose output. Multiple "v"s adds more verbosity
  -h, --help        Print help
  -V, --version     Print version
"""


def test_help_2024(lab_dir: Path) -> None:
    # global options and top-level commands, 2024.2.62 help text
    set_warp(lab_dir, era="2024")
    proc = warp_cli(lab_dir, "--help")
    assert proc.returncode == 0
    assert HELP_2024_COMMANDS in proc.stdout
    assert HELP_2024_OPTIONS in proc.stdout


def test_help_2025_lists_the_later_flags_and_commands(lab_dir: Path) -> None:
    # zsh completion flags; early-2025 additions
    set_warp(lab_dir, era="2025")
    out = warp_cli(lab_dir, "--help").stdout
    for text in (
        "-j, --json",
        "--no-paginate",
        "Timeout (in seconds) before IPC channel is considered hung",
        "connector             Register a WARP Connector",
        "certs                 Print all account certificates installed on the device to stdout",
    ):
        assert text in out


def test_terms_not_accepted_without_tty(lab_dir: Path) -> None:
    # exit 1 with the ToS line
    set_warp(lab_dir, tos_accepted=False)
    proc = warp_cli(lab_dir, "status")
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (
        "Please accept the WARP Terms of Service by running this command in a TTY "
        "or by passing the --accept-tos flag.\n"
    )
    assert labstate.load(lab_dir).warp.tos_accepted is False


def test_accept_tos_in_front_of_the_subcommand(lab_dir: Path) -> None:
    # `warp-cli --accept-tos status`
    set_warp(lab_dir, tos_accepted=False, era="2024")
    proc = warp_cli(lab_dir, "--accept-tos", "status")
    assert (proc.returncode, proc.stdout) == (0, "Status update: Connected\n")
    assert labstate.load(lab_dir).warp.tos_accepted is True
    assert warp_cli(lab_dir, "status").returncode == 0


# --- status text, era A and era B ------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # era A, cmj2002/warp-docker#14 (2024-01-23), with the extra `Success` line
        (
            {"era": "2024", "connected": False, "success_prefix": True},
            "Success\nStatus update: Disconnected. Reason: Manual Disconnection\n",
        ),
        # era A, Boostport/setup-cloudflare-warp#37 (2023-10-16)
        (
            {"era": "2023", "registered": False, "team": None},
            "Status update: Unable to connect. Reason: Registration Missing\n",
        ),
        # era A: connected is just `Status update: Connected`
        ({"era": "2023"}, "Status update: Connected\n"),
        ({"era": "2024"}, "Status update: Connected\n"),
        # era B, cmj2002/warp-docker#60 (2025-07-02)
        (
            {"era": "2025", "connected": False},
            "Status update: Disconnected\nReason: Manual Disconnection\n",
        ),
        # era B, korapp/plasma-cloudflare-warp#20
        ({"era": "2025"}, "Status update: Connected\nNetwork: healthy\n"),
        ({"era": "2026"}, "Status update: Connected\nNetwork: healthy\n"),
        # era B, 3rd-party fixture: `Status update: Unable` + `Reason: Happy Eyeballs Failed`
        (
            {"era": "2026", "status_detail": "happy-eyeballs-failed"},
            "Status update: Unable\nReason: Happy Eyeballs Failed\n",
        ),
    ],
)
def test_status_text(lab_dir: Path, fields: dict[str, object], expected: str) -> None:
    set_warp(lab_dir, **fields)
    proc = warp_cli(lab_dir, "status")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, expected, "")


def test_connect_with_registration_missing(lab_dir: Path) -> None:
    # Boostport's action connects and then finds `Reason: Registration Missing`
    set_warp(lab_dir, era="2024", registered=False, team=None, connected=False)
    assert warp_cli(lab_dir, "connect").stdout == "Success\n"  # connect → Success
    assert warp_cli(lab_dir, "status").stdout == (
        "Status update: Unable to connect. Reason: Registration Missing\n"
    )


# --- status --json ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, '{"status":"Connected","reason":"NetworkHealthy"}'),
        ({"connected": False}, '{"status":"Disconnected","reason":"Manual"}'),
        (
            {"status_detail": "establishing"},
            '{"status":"Connecting","reason":{"EstablishingConnection":"162.159.198.2:443"}}',
        ),
        (
            {"status_detail": "happy-eyeballs"},
            '{"status":"Connecting","reason":{"PerformingHappyEyeballs":'
            '["162.159.198.2:443","[2606:4700:103::2]:443"]}}',
        ),
        (
            {"status_detail": "connectivity-checks"},
            '{"status":"Connecting","reason":"PerformingConnectivityChecks"}',
        ),
        (
            {"registered": False, "team": None},
            '{"status":"Unable","reason":{"RegistrationMissing":"DaemonStartup"}}',
        ),
        # "another fixture"
        (
            {"status_detail": "degraded"},
            '{"status":"Connected","reason":{"NetworkDegraded":{"loss_percent":8,"rtt_ms":400}}}',
        ),
    ],
)
@pytest.mark.parametrize("flag", ["--json", "-j"])
def test_status_json(lab_dir: Path, fields: dict[str, object], expected: str, flag: str) -> None:
    # 3rd-party fixtures stated to be real warp-cli 2026.7.1377 output
    set_warp(lab_dir, era="2026", **fields)
    proc = warp_cli(lab_dir, flag, "status")
    assert (proc.returncode, proc.stdout) == (0, expected + "\n")


def test_status_json_settings_changed(lab_dir: Path) -> None:
    # {"status":"Disconnected",
    #        "reason":{"SettingsChanged":{"current":{...},"previous":{...}}}}
    set_warp(lab_dir, era="2026", status_detail="settings-changed")
    doc = json.loads(warp_cli(lab_dir, "--json", "status").stdout)
    assert doc["status"] == "Disconnected"
    assert list(doc["reason"]) == ["SettingsChanged"]
    assert set(doc["reason"]["SettingsChanged"]) == {"current", "previous"}


def test_json_error_object_for_tunnel_stats(lab_dir: Path) -> None:
    # `warp-cli --json tunnel stats` while disconnected; exit code can still be 0
    set_warp(lab_dir, era="2026", connected=False)
    proc = warp_cli(lab_dir, "--json", "tunnel", "stats")
    assert (proc.returncode, proc.stdout) == (
        0,
        '{"code":"WarpNotConnected","error":"WARP is not connected."}\n',
    )


@pytest.mark.parametrize("era", ["2023", "2024"])
def test_json_flag_rejected_before_2025(lab_dir: Path, era: str) -> None:
    # `-j/--json` is absent from the 2024.2.62 help; clap rejects unknown flags
    set_warp(lab_dir, era=era)
    proc = warp_cli(lab_dir, "--json", "status")
    assert proc.returncode == 2
    assert proc.stderr == "error: unexpected argument '--json' found" + USAGE_TAIL


# --- registration show / account ------------------------------------------------

ACCOUNT_SAMPLE = """\
Account type: Team
Device ID: 15df1c48-b9f7-11ee-b203-a60
Public key: a4c072d47034c5c5a0e11f05725a3a97abf3e33c8cf
Account ID: fb0201edb7e2e6cf37c2dd805
Organization: gzxiexl
"""  # cmj2002/warp-docker#14 (2024-01-23), values truncated by the poster


@pytest.mark.parametrize(
    ("era", "args"),
    [
        ("2023", ["account"]),
        ("2024", ["account"]),
        ("2024", ["registration", "show"]),
        ("2026", ["registration", "show"]),  # still `Account type: Team` in 2026
    ],
)
def test_account_sample(lab_dir: Path, era: str, args: list[str]) -> None:
    set_warp(
        lab_dir,
        era=era,
        team="gzxiexl",
        device_id="15df1c48-b9f7-11ee-b203-a60",
        public_key="a4c072d47034c5c5a0e11f05725a3a97abf3e33c8cf",
        account_id="fb0201edb7e2e6cf37c2dd805",
    )
    proc = warp_cli(lab_dir, *args)
    assert (proc.returncode, proc.stdout) == (0, ACCOUNT_SAMPLE)


def test_account_deprecation_warning_in_2024(lab_dir: Path) -> None:
    set_warp(lab_dir, era="2024")
    assert warp_cli(lab_dir, "account").stderr == (
        'Warning: The "account" command will be deprecated in a future release. '
        'Please use "registration show" instead\n'
    )


def test_consumer_registration_first_line(lab_dir: Path) -> None:
    # `warp-cli --accept-tos account | awk 'NR==1'` → `Account type: Free`
    set_warp(lab_dir, era="2023", team=None)
    proc = warp_cli(lab_dir, "--accept-tos", "account")
    assert proc.stdout.splitlines()[0] == "Account type: Free"
    assert any(line.startswith("License: ") for line in proc.stdout.splitlines())


def test_registration_json_sample(lab_dir: Path) -> None:
    # JSON form, 3rd-party fixture of 2026.7.1377 (wrapped over two lines there)
    set_warp(
        lab_dir,
        era="2026",
        team=None,
        registration_id="0000...",
        device_id="0000...",
        public_key="REDACTED",
        account_id="0000...",
        license="REDACTED",
    )
    proc = warp_cli(lab_dir, "--json", "registration", "show")
    expected = (
        '{"id":"0000...","device_id":"0000...","public_key":"REDACTED","managed":false,'
        '"account":{"type":"free","id":"0000...","license":"REDACTED"},"alternate_networks":[]}\n'
    )
    assert (proc.returncode, proc.stdout) == (0, expected)


def test_missing_registration_2026(lab_dir: Path) -> None:
    # a 2026.7.1377 command error
    set_warp(lab_dir, era="2026", registered=False, team=None)
    proc = warp_cli(lab_dir, "registration", "show")
    assert proc.returncode == 1
    assert proc.stderr == 'Missing registration. Try running: "warp-cli registration new"\n'


def test_account_removed_after_2024(lab_dir: Path) -> None:
    set_warp(lab_dir, era="2025")
    proc = warp_cli(lab_dir, "account")
    assert (proc.returncode, proc.stderr) == (
        2,
        "error: unrecognized subcommand 'account'" + USAGE_TAIL,
    )


# --- settings --------------------------------------------------------------------

SETTINGS_DOCS = """\
Merged configuration:
(derived)   Always On: true
(network policy)    Switch Locked: false
(network policy)    Mode: WarpWithDnsOverHttps
(network policy)    WARP tunnel protocol: WireGuard
(network policy)    Exclude mode, with hosts/ips:
  1xx.1xx.1xx.1xx/25 (zoom)
  cname.user.net
(network policy)    Fallback domains:
  intranet
(user set)  Organization: Organization-Name
(network policy)    Allow Mode Switch: true
(network policy)    Profile ID: 000000x1-00x1-1xx0-1xx1-11101x1axx11
"""  # official `warp-settings.txt` sample (trimmed)

SETTINGS_2026 = """\
Merged configuration:
(not set)\tCompliance Environment: Normal
(derived)\tAlways On: true
(override)\tSwitch Locked: false
(user set)\tMode: WarpProxy on port 40000
(network policy)\tWARP tunnel protocol: MASQUE
(api defaults)\tExclude mode, with hosts/ips:
  10.0.0.0/8
  100.64.0.0/10
  169.254.0.0/16
  172.16.0.0/12
  ...
(default)\tFallback domains:
  corp
  ...
(not set)\tDaemon Teams Auth: false
"""  # real 2026.3.846.0 output, TAB after `(source)` (Yiwei666/12_blog, trimmed)


def test_settings_docs_sample(lab_dir: Path) -> None:
    set_warp(
        lab_dir,
        era="2024",
        mode="warp+doh",
        protocol="WireGuard",
        split=["1xx.1xx.1xx.1xx/25 (zoom)", "cname.user.net"],
        fallback_domains=["intranet"],
        team="Organization-Name",
        profile_id="000000x1-00x1-1xx0-1xx1-11101x1axx11",
    )
    proc = warp_cli(lab_dir, "settings")
    assert proc.returncode == 0
    assert contains_in_order(proc.stdout, SETTINGS_DOCS), proc.stdout


@pytest.mark.parametrize("args", [["settings"], ["settings", "list"]])
def test_settings_2026_sample(lab_dir: Path, args: list[str]) -> None:
    set_warp(lab_dir, era="2026", settings_sources={"Switch Locked": "override"})
    assert warp_cli(lab_dir, "mode", "proxy").stdout == "Success\n"  # → Success
    proc = warp_cli(lab_dir, *args)
    assert proc.returncode == 0
    assert contains_in_order(proc.stdout, SETTINGS_2026), proc.stdout


def test_settings_2023_without_source_prefixes(lab_dir: Path) -> None:
    # an older build printed `Always On: true`, `Mode: WarpProxy on port 40000`,
    # `Exclude mode, with hosts/ips:` without the `(source)` prefix
    set_warp(lab_dir, era="2023")
    assert warp_cli(lab_dir, "set-mode", "proxy").stdout == "Success\n"
    out = warp_cli(lab_dir, "settings").stdout
    assert contains_in_order(
        out, "Always On: true\nMode: WarpProxy on port 40000\nExclude mode, with hosts/ips:\n"
    ), out
    assert "(" not in out.split("Exclude mode")[0]


def test_settings_blank_line_after_split_list_and_include_mode(lab_dir: Path) -> None:
    # list values indented two spaces; a blank line follows the split-tunnel list;
    # `Include mode, with hosts/ips:` header
    set_warp(lab_dir, era="2025", split_mode="include", split=["10.8.0.0/16"])
    out = warp_cli(lab_dir, "settings").stdout
    assert "(network policy)\tInclude mode, with hosts/ips:\n  10.8.0.0/16\n\n" in out


def test_settings_json(lab_dir: Path) -> None:
    # JSON form: {"settings":{...}} with the listed keys
    set_warp(lab_dir, era="2026")
    doc = json.loads(warp_cli(lab_dir, "--json", "settings").stdout)
    s = doc["settings"]
    for key in (
        "always_on",
        "switch_locked",
        "operation_mode",
        "split_tunnel_mode",
        "split_tunnel_ips",
        "split_tunnel_hosts",
        "warp_tunnel_protocol",
        "post_quantum_config",
        "lan_subnet_size",
        "disable_auto_fallback",
        "profile_id",
    ):
        assert key in s, key
    assert (s["operation_mode"], s["split_tunnel_mode"], s["warp_tunnel_protocol"]) == (
        "warp",
        "exclude",
        "masque",
    )
    assert s["split_tunnel_ips"][0] == {"value": "10.0.0.0/8", "description": ""}


# --- enrolment, mode, renamed and removed commands -----------------------

ENROLMENT = """\
A browser window should open at the following URL:

https://acme.cloudflareaccess.com/warp

If the browser fails to open, please visit the URL above directly in your browser.
"""  # cmj2002/warp-docker#25 (teams-enroll, 2024); `registration new` "presumably" same


@pytest.mark.parametrize(
    ("era", "args"),
    [
        ("2023", ["teams-enroll", "acme"]),
        ("2024", ["registration", "new", "acme"]),
        ("2026", ["registration", "new", "acme"]),
    ],
)
def test_enrolment_prints_the_url_and_completes(lab_dir: Path, era: str, args: list[str]) -> None:
    set_warp(lab_dir, era=era, registered=False, team=None)
    proc = warp_cli(lab_dir, *args)
    assert (proc.returncode, proc.stdout) == (0, ENROLMENT)
    warp = labstate.load(lab_dir).warp
    assert (warp.registered, warp.team) == (True, "acme")


def test_manual_enrolment_waits_for_the_token(lab_dir: Path) -> None:
    # finishing by hand with `warp-cli registration token <url>` prints `Success`
    set_warp(lab_dir, era="2026", registered=False, team=None, enroll="manual")
    assert warp_cli(lab_dir, "registration", "new", "acme").stdout == ENROLMENT
    assert warp_cli(lab_dir, "registration", "show").returncode == 1
    url = labstate.load(lab_dir).warp.pending_token_url
    assert url is not None and url.startswith(
        "com.cloudflare.warp://acme.cloudflareaccess.com/auth?token="
    )
    assert warp_cli(lab_dir, "registration", "token", "com.cloudflare.warp://x").returncode == 1
    proc = warp_cli(lab_dir, "registration", "token", url)
    assert (proc.returncode, proc.stdout) == (0, "Success\n")
    assert labstate.load(lab_dir).warp.team == "acme"


def test_delayed_auto_enrolment(lab_dir: Path) -> None:
    set_warp(lab_dir, registered=False, team=None, enroll_delay_s=3600)
    warp_cli(lab_dir, "registration", "new", "acme")
    assert warp_cli(lab_dir, "registration", "show").returncode == 1  # not yet
    with labstate.update(lab_dir) as s:
        s.warp.pending_at -= 7200  # as if the delay had passed
    assert "Organization: acme" in warp_cli(lab_dir, "registration", "show").stdout


def test_teams_enroll_removed_in_2024(lab_dir: Path) -> None:
    # `error: unrecognized subcommand 'teams-enroll'`
    # followed by `Usage: warp-cli [OPTIONS] <COMMAND>`
    set_warp(lab_dir, era="2024")
    proc = warp_cli(lab_dir, "teams-enroll", "acme")
    assert proc.returncode == 2
    assert proc.stderr == "error: unrecognized subcommand 'teams-enroll'" + USAGE_TAIL


def test_set_mode_removed_in_2026(lab_dir: Path) -> None:
    # gone in 2026.3.846.0, `error: unrecognized subcommand 'set-mode'` (tldr-pages#22103)
    set_warp(lab_dir, era="2026")
    proc = warp_cli(lab_dir, "set-mode", "proxy")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: unrecognized subcommand 'set-mode'\n")
    assert labstate.load(lab_dir).warp.mode == "warp"


@pytest.mark.parametrize("era", ["2024", "2025"])
def test_set_mode_warns_but_works(lab_dir: Path, era: str) -> None:
    # `Warning: The "set-mode" command will be deprecated ... Please use "mode" instead`;
    # `set-mode` → `Success`
    set_warp(lab_dir, era=era)
    proc = warp_cli(lab_dir, "set-mode", "proxy")
    assert (proc.returncode, proc.stdout) == (0, "Success\n")
    assert proc.stderr.startswith('Warning: The "set-mode" command will be deprecated ')
    assert proc.stderr.endswith('Please use "mode" instead\n')
    assert labstate.load(lab_dir).warp.mode == "proxy"


def test_register_warning_2024(lab_dir: Path) -> None:
    # cloudflare-docs#13346 (2024-03-11)
    set_warp(lab_dir, era="2024", registered=False, team=None)
    proc = warp_cli(lab_dir, "register")
    assert proc.stderr == (
        'Warning: The "register" command will be deprecated in a future release. '
        'Please use "registration new" instead\n'
    )
    assert proc.stdout == "Success\n"


def test_mode_invalid_value(lab_dir: Path) -> None:
    proc = warp_cli(lab_dir, "mode", "postureonly")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: invalid value 'postureonly' for '<MODE>'\n")


@pytest.mark.parametrize("command", ["connect", "disconnect"])
def test_connect_disconnect_success(lab_dir: Path, command: str) -> None:
    # `connect` → `Success`; `disconnect` → `Success` (very likely)
    set_warp(lab_dir, connected=command == "disconnect")
    proc = warp_cli(lab_dir, command)
    assert (proc.returncode, proc.stdout) == (0, "Success\n")
    assert labstate.load(lab_dir).warp.connected is (command == "connect")


# --- error texts ------------------------------------------------------------


def test_no_daemon(lab_dir: Path) -> None:
    # cmj2002/warp-docker#76 (2026-01, WARP 2025.9.558.0);
    set_warp(lab_dir, daemon=False)
    proc = warp_cli(lab_dir, "status")
    assert proc.returncode != 0
    assert proc.stderr == (
        "Unable to connect to the CloudflareWARP daemon: No such file or directory (os error 2)\n"
    )


def test_no_daemon_connection_refused_variant(lab_dir: Path) -> None:
    # variant with `Connection refused (os error 111)` (3rd-party fixture)
    text = "Unable to connect to the CloudflareWARP daemon: Connection refused (os error 111)"
    set_warp(lab_dir, daemon=False, daemon_error=text)
    assert warp_cli(lab_dir, "status").stderr == text + "\n"


def test_old_registration(lab_dir: Path) -> None:
    # `Error: Old registration is still around. Try running: "warp-cli registration delete"`
    set_warp(lab_dir, era="2026")
    proc = warp_cli(lab_dir, "registration", "new", "acme")
    assert proc.returncode == 1
    assert proc.stderr == (
        'Error: Old registration is still around. Try running: "warp-cli registration delete"\n'
    )


def test_api_unreachable(lab_dir: Path) -> None:
    # `Error: Failed to communicate with the WARP API.` (cmj2002/warp-docker#47)
    set_warp(lab_dir, registered=False, team=None, api_down=True)
    proc = warp_cli(lab_dir, "registration", "new", "acme")
    assert (proc.returncode, proc.stderr) == (
        1,
        "Error: Failed to communicate with the WARP API.\n",
    )


def test_mode_switch_locked(lab_dir: Path) -> None:
    # scripts mention `Operation not authorized in this context` (exact text unconfirmed)
    set_warp(lab_dir, switch_locked=True)
    proc = warp_cli(lab_dir, "mode", "proxy")
    assert proc.returncode == 1
    assert "Operation not authorized in this context" in proc.stderr
    assert "Switch Locked: true" in warp_cli(lab_dir, "settings").stdout


def test_hung_daemon_never_answers(lab_dir: Path) -> None:
    set_warp(lab_dir, hang=True)
    with pytest.raises(subprocess.TimeoutExpired):
        warp_cli(lab_dir, "status", timeout=1.0)


# --- tunnel ip list --------------------------------------------------------------


@pytest.mark.parametrize(
    ("era", "add", "list_"),
    [
        ("2026", ["tunnel", "ip", "add", "192.0.2.1"], ["tunnel", "ip", "list"]),
        ("2023", ["add-excluded-route", "192.0.2.1"], ["get-excluded-routes"]),
    ],
)
def test_tunnel_ip_list(lab_dir: Path, era: str, add: list[str], list_: list[str]) -> None:
    # header, indented entries, ` (CLI exclude)` suffix (3rd-party parsers)
    set_warp(lab_dir, era=era, split=["10.0.0.0/8"])
    assert warp_cli(lab_dir, *add).stdout == "Success\n"
    proc = warp_cli(lab_dir, *list_)
    assert (proc.returncode, proc.stdout) == (
        0,
        "Excluded routes:\n  10.0.0.0/8\n  192.0.2.1/32 (CLI exclude)\n",
    )
    # the lab's routing follows: the added /32 is excluded from the tunnel now
    st = labstate.load(lab_dir)
    assert not labstate.split_tunnel_sends(st.warp, "192.0.2.1")


def test_tunnel_ip_remove_and_reset(lab_dir: Path) -> None:
    set_warp(lab_dir, cli_split=["192.0.2.1/32", "198.51.100.0/24"])
    warp_cli(lab_dir, "tunnel", "ip", "remove", "192.0.2.1")
    assert labstate.load(lab_dir).warp.cli_split == ["198.51.100.0/24"]
    warp_cli(lab_dir, "tunnel", "ip", "reset")
    assert labstate.load(lab_dir).warp.cli_split == []


# --- round trip: the adapter parses what the stand-in prints, in every era ------------

STATES: list[dict[str, object]] = [
    {},
    {"connected": False},
    {"registered": False, "team": None},
    {"team": None},  # consumer registration
    {"team": "other"},
    {"mode": "proxy", "proxy_port": 40001},
    {"mode": "warp+doh"},
    {"mode": "doh"},
    {"mode": "tunnel_only"},
    {"mode": "postureonly"},
    {"split_mode": "include", "split": ["10.1.0.0/16", "k8s.lab.example"]},
    {"status_detail": "establishing"},
    {"status_detail": "degraded"},
]


@pytest.mark.parametrize("era", labstate.ERAS)
@pytest.mark.parametrize(
    "fields", STATES, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "default"
)
def test_adapter_round_trip(lab_dir: Path, era: str, fields: dict[str, object]) -> None:
    # In-process through warpcli.run (what `main` writes out) to keep the 52 cases fast; the
    # tests above cover the real subprocess byte for byte.
    set_warp(lab_dir, era=era, **fields)
    w = labstate.load(lab_dir).warp
    json_ok = era in ("2025", "2026")

    outputs = [standin_run(lab_dir, "status").stdout]
    if json_ok:
        outputs.append(standin_run(lab_dir, "--json", "status").stdout)
    for out in outputs:
        status = adapter.parse_status(out)
        if not w.registered:
            assert status.registration_missing
        elif w.status_detail == "establishing":
            assert status.state == "Connecting"
        else:
            assert status.connected == w.connected

    show = ["account"] if era == "2023" else ["registration", "show"]
    reg_outputs = [standin_run(lab_dir, *show)]
    if json_ok:
        reg_outputs.append(standin_run(lab_dir, "--json", *show))
    for proc in reg_outputs:
        if not w.registered:
            kind = adapter.classify_error(proc.stdout, proc.stderr, proc.code)
            assert kind is adapter.WarpErrorKind.MISSING_REGISTRATION
            continue
        reg = adapter.parse_registration(proc.stdout)
        assert reg.is_team == (w.team is not None)
        assert reg.organization == w.team
        assert reg.device_id == w.device_id

    settings_outputs = [standin_run(lab_dir, "settings").stdout]
    if json_ok:
        settings_outputs.append(standin_run(lab_dir, "--json", "settings").stdout)
    for out in settings_outputs:
        s = adapter.parse_settings(out)
        assert s.mode == w.mode
        assert s.routes_private == (w.mode in labstate.ROUTING_MODES)
        assert s.split_mode == w.split_mode
        assert sorted(e.value for e in s.split_entries) == sorted(
            e.split()[0] for e in [*w.split, *w.cli_split]
        )
        assert s.organization == (w.team if w.registered else None)
        if w.mode == "proxy":
            assert s.proxy_port == w.proxy_port


def test_stand_in_imports_stay_light() -> None:
    probe = (
        "import sys, ztctl.lab.warpcli\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('cryptography', 'click', 'rich', 'httpx', 'yaml', 'kubernetes')]\n"
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert out.strip() == "[]"
