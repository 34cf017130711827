"""The lab's stand-in ``warp-cli``: ``python -m ztctl.lab.warpcli --lab-dir DIR [ARGS...]``.

It answers like the real client of the era in ``state.warp.era`` (``ztctl.lab.state.ERAS``),
byte for byte where a real client's output was recorded (the samples under
``tests/adapters/fixtures/warp/``), and plausibly (documented in ``docs/warp.md``) where none
was. It is stateful over ``DIR/state.json``: ``connect``, ``disconnect``, ``mode``,
``registration new``... change the state that the lab's servers read for each connection.

Era behaviour (see ``docs/warp.md`` for the table):

* 2023 (2023.3.398): single-line ``status``; old command names only (``account``,
  ``register``, ``teams-enroll``, ``set-mode``, ``delete``, ``get-excluded-routes``...); no
  ``--json``; ``settings`` without ``(source)`` tags.
* 2024 (2024.9.346.0): single-line ``status``; new names plus deprecated old ones (with a
  ``Warning: ...`` line on stderr); ``teams-enroll`` removed; no ``--json``; ``settings`` with
  ``(source)`` tags padded with spaces (the docs sample).
* 2025 (2025.9.558.0): multi-line ``status``; ``-j/--json``; ``set-mode`` still warns; other
  old names removed; ``(source)<TAB>`` settings.
* 2026 (2026.7.1377.0): as 2025, and ``set-mode`` removed.

Enrolment: there is no browser here, so ``registration new TEAM`` prints the enrolment URL and,
with ``warp.enroll == "auto"``, the lab plays the user who finishes the browser login
``warp.enroll_delay_s`` seconds later (0: at once). With ``"manual"`` the enrolment stays
pending until ``warp-cli registration token <url>`` with the URL in ``warp.pending_token_url``.

Start-up speed matters (doctor runs several calls): this module imports only the standard
library and ``ztctl.lab.state``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ztctl.lab import state as labstate
from ztctl.lab.state import LabState, WarpState
from ztctl.lab.warpcli_texts import (
    API_UNREACHABLE,
    CLI_MODES,
    ERA_COMMANDS,
    ERA_WARNS,
    HELP,
    JSON_ERAS,
    MODE_JSON,
    MODE_TEXT,
    NO_DAEMON,
    NOT_AUTHORIZED,
    NOT_CONNECTED,
    RENAMED,
    TOS_NO_TTY,
    TOS_PROMPT,
)


@dataclass
class Result:
    code: int = 0
    stdout: str = ""
    stderr: str = ""

    def out(self, text: str) -> Result:
        self.stdout += text
        return self

    def err(self, text: str) -> Result:
        self.stderr += text
        return self


def clap_unexpected_argument(arg: str, usage: str = "warp-cli [OPTIONS] <COMMAND>") -> Result:
    return Result(2).err(
        f"error: unexpected argument '{arg}' found\n\n"
        f"Usage: {usage}\n\nFor more information, try '--help'.\n"
    )


def clap_unrecognized_subcommand(name: str, usage: str = "warp-cli [OPTIONS] <COMMAND>") -> Result:
    return Result(2).err(
        f"error: unrecognized subcommand '{name}'\n\n"
        f"Usage: {usage}\n\nFor more information, try '--help'.\n"
    )


def clap_missing(arg: str, usage: str) -> Result:
    return Result(2).err(
        "error: the following required arguments were not provided:\n"
        f"  {arg}\n\nUsage: {usage}\n\nFor more information, try '--help'.\n"
    )


def clap_needs_subcommand(usage: str) -> Result:
    return Result(2).err(
        f"error: '{usage.split(' <')[0]}' requires a subcommand but one was not provided\n\n"
        f"Usage: {usage}\n\nFor more information, try '--help'.\n"
    )


@dataclass
class Invocation:
    lab_dir: Path
    era: str
    json: bool = False
    accept_tos: bool = False
    args: list[str] = field(default_factory=list)

    def success(self) -> Result:
        return Result(0, "Success\n")

    def missing_registration(self) -> Result:
        hint = "warp-cli register" if self.era == "2023" else "warp-cli registration new"
        message = f'Missing registration. Try running: "{hint}"'
        if self.json:
            return Result(0, json.dumps({"code": "RegistrationMissing", "error": message}) + "\n")
        return Result(1).err(message + "\n")

    def old_registration(self) -> Result:
        hint = "warp-cli delete" if self.era == "2023" else "warp-cli registration delete"
        message = f'Error: Old registration is still around. Try running: "{hint}"'
        if self.json:
            return Result(0, json.dumps({"code": "OldRegistration", "error": message}) + "\n")
        return Result(1).err(message + "\n")


# --------------------------------------------------------------------------------------
# Rendering


def _is_network(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _compact(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def status_view(w: WarpState) -> tuple[str, str | None, object, str | None]:
    """(state, text reason, JSON reason, network) for the lab's WARP state."""
    if not w.registered:
        return "Unable", "Registration Missing", {"RegistrationMissing": "DaemonStartup"}, None
    detail = w.status_detail
    if detail == "establishing":
        return (
            "Connecting",
            "Establishing Connection",
            {"EstablishingConnection": "162.159.198.2:443"},
            None,
        )
    if detail == "happy-eyeballs":
        return (
            "Connecting",
            "Performing Happy Eyeballs",
            {"PerformingHappyEyeballs": ["162.159.198.2:443", "[2606:4700:103::2]:443"]},
            None,
        )
    if detail == "connectivity-checks":
        return "Connecting", "Performing Connectivity Checks", "PerformingConnectivityChecks", None
    if detail == "happy-eyeballs-failed":
        return "Unable", "Happy Eyeballs Failed", "HappyEyeballsFailed", None
    if detail == "settings-changed":
        change = {
            "current": {"operation_mode": MODE_JSON.get(w.mode, w.mode)},
            "previous": {"operation_mode": "warp"},
        }
        return "Disconnected", "Settings Changed", {"SettingsChanged": change}, None
    if not w.connected:
        return "Disconnected", "Manual Disconnection", "Manual", None
    if detail == "degraded":
        return (
            "Connected",
            None,
            {"NetworkDegraded": {"loss_percent": 8, "rtt_ms": 400}},
            "degraded",
        )
    return "Connected", None, "NetworkHealthy", "healthy"


def render_status(inv: Invocation, w: WarpState) -> str:
    state, reason, json_reason, network = status_view(w)
    if inv.json:
        return _compact({"status": state, "reason": json_reason}) + "\n"
    lines = ["Success"] if w.success_prefix else []
    if inv.era in ("2023", "2024"):  # era A: one line
        word = "Unable to connect" if state == "Unable" else state
        lines.append(f"Status update: {word}" + (f". Reason: {reason}" if reason else ""))
    else:  # era B: multi-line
        lines.append(f"Status update: {state}")
        if reason:
            lines.append(f"Reason: {reason}")
        if network:
            lines.append(f"Network: {network}")
    return "\n".join(lines) + "\n"


def render_registration(inv: Invocation, w: WarpState) -> str:
    team = w.team
    if inv.json:
        account: dict[str, object] = {"type": "team" if team else "free", "id": w.account_id}
        if team:
            account["organization"] = team
        else:
            account["license"] = w.license
        doc = {
            "id": w.registration_id,
            "device_id": w.device_id,
            "public_key": w.public_key,
            "managed": False,
            "account": account,
            "alternate_networks": [],
        }
        return _compact(doc) + "\n"
    lines = [
        f"Account type: {'Team' if team else 'Free'}",
        f"Device ID: {w.device_id}",
        f"Public key: {w.public_key}",
        f"Account ID: {w.account_id}",
        f"Organization: {team}" if team else f"License: {w.license}",
    ]
    return "\n".join(lines) + "\n"


def _mode_text(w: WarpState) -> str:
    if w.mode == "proxy":
        return f"WarpProxy on port {w.proxy_port}"
    return MODE_TEXT.get(w.mode, w.mode)


def _split_entries(w: WarpState) -> list[str]:
    return [*w.split, *w.cli_split]


def settings_rows(inv: Invocation, w: WarpState) -> list[tuple[str, str, str | list[str]]]:
    """(source, key, value or list) in the order of the recorded samples."""
    default_split = w.split_mode == "exclude" and tuple(w.split) == labstate.DEFAULT_EXCLUDES
    split_key = (
        "Exclude mode, with hosts/ips"
        if w.split_mode == "exclude"
        else "Include mode, with hosts/ips"
    )
    default_fallback = tuple(w.fallback_domains) == labstate.DEFAULT_FALLBACK_DOMAINS
    fallback_source = "default" if default_fallback else "network policy"
    rows: list[tuple[str, str, str | list[str]]] = []
    if inv.era in JSON_ERAS:
        rows.append(("not set", "Compliance Environment", "Normal"))
    rows += [
        ("derived", "Always On", "true" if w.connected else "false"),
        ("network policy", "Switch Locked", "true" if w.switch_locked else "false"),
        (w.mode_source, "Mode", _mode_text(w)),
        ("network policy", "WARP tunnel protocol", w.protocol),
        ("api defaults" if default_split else "network policy", split_key, _split_entries(w)),
        (fallback_source, "Fallback domains", list(w.fallback_domains)),
    ]
    if w.registered and w.team:
        rows += [
            ("user set", "Organization", w.team),
            ("network policy", "Allow Mode Switch", "true"),
            ("network policy", "Profile ID", w.profile_id),
        ]
    if inv.era in JSON_ERAS:
        rows.append(("not set", "Daemon Teams Auth", "false"))
    return [(w.settings_sources.get(key, src), key, value) for src, key, value in rows]


def _prefix(era: str, source: str) -> str:
    if era == "2023":
        return ""
    tag = f"({source})"
    if era == "2024":  # the docs sample: the TAB shown expanded to 4-column stops
        return tag + " " * (4 - len(tag) % 4)
    return tag + "\t"


def render_settings(inv: Invocation, w: WarpState) -> str:
    if inv.json:
        ips: list[dict[str, str]] = []
        hosts: list[dict[str, str]] = []
        for entry in _split_entries(w):
            value, _, rest = entry.partition(" ")
            desc = rest.strip()
            if desc.startswith("(") and desc.endswith(")"):
                desc = desc[1:-1]
            target = ips if _is_network(value) else hosts
            target.append({"value": value, "description": desc})
        settings: dict[str, object] = {
            "always_on": w.connected,
            "switch_locked": w.switch_locked,
            "operation_mode": MODE_JSON.get(w.mode, w.mode),
            "split_tunnel_mode": w.split_mode,
            "split_tunnel_ips": ips,
            "split_tunnel_hosts": hosts,
            "warp_tunnel_protocol": w.protocol.lower(),
            "post_quantum_config": "default",
            "lan_subnet_size": {"ipv4": 24, "ipv6": 64},
            "disable_auto_fallback": False,
            "fallback_domains": list(w.fallback_domains),
        }
        if w.mode == "proxy":
            settings["proxy_port"] = w.proxy_port
        if w.registered and w.team:
            settings["organization"] = w.team
            settings["profile_id"] = w.profile_id
        return _compact({"settings": settings}) + "\n"
    lines = ["Merged configuration:"]
    for source, key, shown in settings_rows(inv, w):
        prefix = _prefix(inv.era, source)
        if isinstance(shown, list):
            lines.append(f"{prefix}{key}:")
            lines += [f"  {item}" for item in shown]
            if key.endswith("hosts/ips"):
                lines.append("")  # a blank line follows the split-tunnel list
        else:
            lines.append(f"{prefix}{key}: {shown}")
    return "\n".join(lines) + "\n"


def render_routes(w: WarpState) -> str:
    header = "Excluded routes:" if w.split_mode == "exclude" else "Included routes:"
    suffix = " (CLI exclude)" if w.split_mode == "exclude" else " (CLI include)"
    lines = [header]
    lines += [f"  {e}" for e in w.split if _is_network(e.split()[0])]
    lines += [f"  {e}{suffix}" for e in w.cli_split]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# Commands


def _enrol_url(team: str) -> str:
    return f"https://{team}.cloudflareaccess.com/warp"


def enrolment_text(team: str) -> str:
    """What `teams-enroll` / `registration new TEAM` print."""
    return (
        "A browser window should open at the following URL:\n\n"
        f"{_enrol_url(team)}\n\n"
        "If the browser fails to open, please visit the URL above directly in your browser.\n"
    )


def _new_ids(w: WarpState) -> None:
    w.device_id = _uuid()
    w.registration_id = _uuid()
    w.public_key = os.urandom(32).hex()


def _uuid() -> str:
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def settle_enrolment(w: WarpState, now: float) -> bool:
    """Finish a pending auto enrolment whose delay has passed; True if it changed."""
    if w.pending_team is None or w.enroll != "auto":
        return False
    if now < w.pending_at + w.enroll_delay_s:
        return False
    _complete(w, w.pending_team)
    return True


def _complete(w: WarpState, team: str | None) -> None:
    w.registered = True
    w.team = team
    w.pending_team = None
    w.pending_token_url = None
    _new_ids(w)


def cmd_status(inv: Invocation, st: LabState) -> Result:
    return Result(0, render_status(inv, st.warp))


def cmd_settings(inv: Invocation, st: LabState) -> Result:
    rest = inv.args[1:]
    if rest and rest[0] != "list":
        return clap_unrecognized_subcommand(rest[0], "warp-cli settings [COMMAND]")
    return Result(0, render_settings(inv, st.warp))


def cmd_show(inv: Invocation, st: LabState) -> Result:
    if not st.warp.registered:
        return inv.missing_registration()
    return Result(0, render_registration(inv, st.warp))


def cmd_organization(inv: Invocation, st: LabState) -> Result:
    if not st.warp.registered:
        return inv.missing_registration()
    return Result(0, f"{st.warp.team or ''}\n")


def _enrol(inv: Invocation, team: str | None) -> Result:
    with labstate.update(inv.lab_dir) as st:
        w = st.warp
        if w.registered:
            return inv.old_registration()
        if w.api_down:
            return Result(1).err(API_UNREACHABLE + "\n")
        if team is None:  # consumer registration (no MDM organization in the lab)
            _complete(w, None)
            return inv.success()
        w.pending_team = team
        w.pending_at = time.time()
        w.pending_token_url = (
            f"com.cloudflare.warp://{team}.cloudflareaccess.com/auth?token={os.urandom(24).hex()}"
        )
        settle_enrolment(w, w.pending_at)
    return Result(0, enrolment_text(team))


def cmd_register_new(inv: Invocation, st: LabState) -> Result:
    # `registration new [ORGANIZATION]` (args: registration new [TEAM]) or `register`.
    team = inv.args[2] if inv.args[0] == "registration" and len(inv.args) > 2 else None
    return _enrol(inv, team)


def cmd_teams_enroll(inv: Invocation, st: LabState) -> Result:
    if len(inv.args) < 2:
        return clap_missing("<ORGANIZATION>", "warp-cli teams-enroll <ORGANIZATION>")
    return _enrol(inv, inv.args[1])


def cmd_token(inv: Invocation, st: LabState) -> Result:
    url = inv.args[-1] if len(inv.args) >= (3 if inv.args[0] == "registration" else 2) else None
    if url is None:
        usage = (
            "warp-cli registration token <URL>"
            if inv.args[0] == "registration"
            else "warp-cli teams-enroll-token <URL>"
        )
        return clap_missing("<URL>", usage)
    with labstate.update(inv.lab_dir) as s:
        w = s.warp
        if w.api_down:
            return Result(1).err(API_UNREACHABLE + "\n")
        if w.pending_team is None or url != w.pending_token_url:
            return Result(1).err("Error: Invalid registration token.\n")
        _complete(w, w.pending_team)
    return inv.success()


def cmd_delete(inv: Invocation, st: LabState) -> Result:
    with labstate.update(inv.lab_dir) as s:
        w = s.warp
        if not w.registered and w.pending_team is None:
            return inv.missing_registration()
        w.registered = False
        w.team = None
        w.connected = False
        w.pending_team = None
        w.pending_token_url = None
    return inv.success()


def cmd_connect(inv: Invocation, st: LabState) -> Result:
    with labstate.update(inv.lab_dir) as s:
        s.warp.connected = True
    return inv.success()


def cmd_disconnect(inv: Invocation, st: LabState) -> Result:
    with labstate.update(inv.lab_dir) as s:
        s.warp.connected = False
    return inv.success()


def cmd_mode(inv: Invocation, st: LabState) -> Result:
    name = inv.args[0]
    if len(inv.args) < 2:
        return clap_missing("<MODE>", f"warp-cli {name} <MODE>")
    mode = inv.args[1]
    if mode not in CLI_MODES:
        return Result(2).err(
            f"error: invalid value '{mode}' for '<MODE>'\n"
            f"  [possible values: {', '.join(CLI_MODES)}]\n\n"
            "For more information, try '--help'.\n"
        )
    if st.warp.switch_locked:
        return Result(1).err(NOT_AUTHORIZED + "\n")
    with labstate.update(inv.lab_dir) as s:
        s.warp.mode = mode
        s.warp.mode_source = "user set"
    return inv.success()


def _normalize_route(value: str) -> str | None:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        return None


def _route_add(inv: Invocation, value: str | None, usage: str) -> Result:
    if value is None:
        return clap_missing("<IP>", usage)
    network = _normalize_route(value)
    if network is None:
        return Result(2).err(
            f"error: invalid value '{value}' for '<IP>': invalid IP address syntax\n\n"
            "For more information, try '--help'.\n"
        )
    with labstate.update(inv.lab_dir) as s:
        if network not in s.warp.cli_split:
            s.warp.cli_split.append(network)
    return inv.success()


def _route_remove(inv: Invocation, value: str | None, usage: str) -> Result:
    if value is None:
        return clap_missing("<IP>", usage)
    network = _normalize_route(value) or value
    with labstate.update(inv.lab_dir) as s:
        if network in s.warp.cli_split:
            s.warp.cli_split.remove(network)
    return inv.success()


def cmd_tunnel(inv: Invocation, st: LabState) -> Result:
    rest = inv.args[1:]
    if not rest:
        return clap_needs_subcommand("warp-cli tunnel <COMMAND>")
    if rest[0] == "stats":
        return _stats(inv, st)
    if rest[0] != "ip":
        return clap_unrecognized_subcommand(rest[0], "warp-cli tunnel <COMMAND>")
    sub = rest[1:]
    if not sub:
        return clap_needs_subcommand("warp-cli tunnel ip <COMMAND>")
    value = sub[1] if len(sub) > 1 else None
    if sub[0] == "list":
        return Result(0, render_routes(st.warp))
    if sub[0] in ("add", "add-range"):
        return _route_add(inv, value, f"warp-cli tunnel ip {sub[0]} <IP>")
    if sub[0] in ("remove", "remove-range"):
        return _route_remove(inv, value, f"warp-cli tunnel ip {sub[0]} <IP>")
    if sub[0] == "reset":
        with labstate.update(inv.lab_dir) as s:
            s.warp.cli_split = []
        return inv.success()
    return clap_unrecognized_subcommand(sub[0], "warp-cli tunnel ip <COMMAND>")


def cmd_old_routes(inv: Invocation, st: LabState) -> Result:
    name = inv.args[0]
    value = inv.args[1] if len(inv.args) > 1 else None
    if name == "get-excluded-routes":
        return Result(0, render_routes(st.warp))
    if name == "add-excluded-route":
        return _route_add(inv, value, "warp-cli add-excluded-route <IP>")
    return _route_remove(inv, value, "warp-cli remove-excluded-route <IP>")


def _stats(inv: Invocation, st: LabState) -> Result:
    w = st.warp
    if not (w.registered and w.connected):
        if inv.json:
            return Result(0, _compact({"code": "WarpNotConnected", "error": NOT_CONNECTED}) + "\n")
        return Result(1).err(NOT_CONNECTED + "\n")
    if inv.json:
        doc = {"endpoints": ["162.159.198.2:443"], "protocol": w.protocol.lower()}
        return Result(0, _compact(doc) + "\n")
    return Result(0, f"Endpoints: 162.159.198.2:443\nProtocol: {w.protocol}\n")


def cmd_stats(inv: Invocation, st: LabState) -> Result:
    return _stats(inv, st)


def cmd_registration(inv: Invocation, st: LabState) -> Result:
    rest = inv.args[1:]
    if not rest:
        return clap_needs_subcommand("warp-cli registration <COMMAND>")
    sub = rest[0]
    if sub == "show":
        return cmd_show(inv, st)
    if sub == "new":
        return cmd_register_new(inv, st)
    if sub == "delete":
        return cmd_delete(inv, st)
    if sub == "token":
        return cmd_token(inv, st)
    if sub == "organization":
        return cmd_organization(inv, st)
    return clap_unrecognized_subcommand(sub, "warp-cli registration <COMMAND>")


Handler = Callable[[Invocation, LabState], Result]
HANDLERS: dict[str, Handler] = {
    "status": cmd_status,
    "settings": cmd_settings,
    "connect": cmd_connect,
    "disconnect": cmd_disconnect,
    "registration": cmd_registration,
    "account": cmd_show,
    "register": cmd_register_new,
    "teams-enroll": cmd_teams_enroll,
    "teams-enroll-token": cmd_token,
    "delete": cmd_delete,
    "get-organization": cmd_organization,
    "mode": cmd_mode,
    "set-mode": cmd_mode,
    "tunnel": cmd_tunnel,
    "get-excluded-routes": cmd_old_routes,
    "add-excluded-route": cmd_old_routes,
    "remove-excluded-route": cmd_old_routes,
    "warp-stats": cmd_stats,
}


# --------------------------------------------------------------------------------------
# Entry point


def _hang() -> None:
    """The IPC channel is hung: never answer (the caller's timeout must kill us)."""
    while True:
        time.sleep(3600)


def run(lab_dir: Path, argv: list[str], *, prompt: Callable[[str], str] | None = None) -> Result:
    """Answer one invocation. ``prompt`` is given when stdin is a TTY (for the ToS prompt)."""
    st = labstate.load(lab_dir)
    era = st.warp.era if st.warp.era in ERA_COMMANDS else "2025"
    inv = Invocation(lab_dir=lab_dir, era=era)
    json_flags = era in JSON_ERAS
    positional: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            positional += argv[i:]
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        if arg in ("-V", "--version"):
            return Result(0, f"warp-cli {st.warp.version or labstate.ERA_VERSIONS[era]}\n")
        if arg in ("-h", "--help"):
            return Result(0, HELP[era])
        if arg == "--accept-tos":
            inv.accept_tos = True
        elif arg in ("-l", "--listen", "--verbose") or set(arg[1:]) == {"v"}:
            pass
        elif json_flags and arg in ("-j", "--json"):
            inv.json = True
        elif json_flags and arg == "--no-paginate":
            pass
        elif json_flags and arg in ("-t", "--timeout"):
            i += 1
        elif json_flags and arg.startswith("--timeout="):
            pass
        else:
            return clap_unexpected_argument(arg)
    if not positional:
        return Result(2).err(HELP[era])
    command = positional[0]
    inv.args = positional
    if command == "help":
        return Result(0, HELP[era])
    if command not in ERA_COMMANDS[era] or command not in HANDLERS:
        return clap_unrecognized_subcommand(command)

    # Past clap: the Terms of Service, then the daemon.
    if not st.warp.tos_accepted:
        if not inv.accept_tos:
            if prompt is None:
                return Result(1).err(TOS_NO_TTY + "\n")
            if prompt(TOS_PROMPT).strip().lower() not in ("y", "yes"):
                return Result(1)
        with labstate.update(lab_dir) as s:
            s.warp.tos_accepted = True
    if not st.warp.daemon:
        return Result(1).err((st.warp.daemon_error or NO_DAEMON) + "\n")
    if st.warp.hang:
        _hang()
    if st.warp.pending_team is not None and settle_enrolment(st.warp, time.time()):
        with labstate.update(lab_dir) as s:
            settle_enrolment(s.warp, time.time())
            st = s
    warning = ""
    if command in ERA_WARNS[era]:
        warning = (
            f'Warning: The "{command}" command will be deprecated in a future release. '
            f'Please use "{RENAMED[command]}" instead\n'
        )
    result = HANDLERS[command](inv, st)
    result.stderr = warning + result.stderr
    return result


def main(argv: list[str] | None = None) -> int:
    lab_dir, args = labstate.split_lab_dir(list(sys.argv[1:] if argv is None else argv), "warpcli")
    prompt = None
    if sys.stdin.isatty():

        def prompt(text: str) -> str:
            sys.stdout.write(text)
            sys.stdout.flush()
            return sys.stdin.readline()

    result = run(lab_dir, args, prompt=prompt)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    return result.code


if __name__ == "__main__":
    sys.exit(main())
