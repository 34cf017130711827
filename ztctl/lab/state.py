"""The lab's shared, mutable state: the simulated WARP client and the injected faults.

One JSON file, ``DIR/state.json``, is the single source of truth. The stand-in ``warp-cli``
changes it (``connect``, ``registration new``, ``mode``...), ``ztctl lab set`` changes it,
and every lab server re-reads it for each new connection, so a change takes effect without
a restart. Read-modify-write cycles hold an ``fcntl`` lock on ``DIR/state.lock`` and the
file itself is replaced atomically, so readers never see half a document.

The lab is consistent with itself: the direct ("Zero Trust") path to the API server works
only while :func:`zero_trust_routes` says WARP would carry the packets.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ztctl.adapters.fs import atomic_write

STATE_FILE = "state.json"
LOCK_FILE = "state.lock"

# warp-cli version eras the stand-in can impersonate.
#   2023: single-line status, old command names only (account, teams-enroll, set-mode), no --json
#   2024: single-line status, new names plus deprecated old ones (warnings), `(source)` settings
#         prefixes; teams-enroll removed from 2024.9.346.0 on, which the stand-in follows
#   2025: multi-line status (from 2025.5.893.0), --json, set-mode still warns
#   2026: multi-line status, --json, set-mode removed (2026.3.846.0)
ERAS = ("2023", "2024", "2025", "2026")
ERA_VERSIONS = {
    "2023": "2023.3.398",
    "2024": "2024.9.346.0",
    "2025": "2025.9.558.0",
    "2026": "2026.7.1377.0",
}

# Modes as `warp-cli mode` takes them, and whether they route private networks.
MODES = ("warp", "warp+doh", "warp+dot", "doh", "dot", "proxy", "tunnel_only", "postureonly")
ROUTING_MODES = frozenset({"warp", "warp+doh", "warp+dot", "tunnel_only"})

# The default split-tunnel exclude list of a 2026.3.846.0 client.
DEFAULT_EXCLUDES = (
    "10.0.0.0/8",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "224.0.0.0/24",
    "240.0.0.0/4",
    "239.255.255.250/32",
    "255.255.255.255/32",
    "fe80::/10",
    "fd00::/8",
    "ff01::/16",
    "ff02::/16",
    "ff03::/16",
    "ff04::/16",
    "ff05::/16",
    "fc00::/7",
)

# Local Domain Fallback defaults (sorted, as the 2026 sample starts
# with `corp`).
DEFAULT_FALLBACK_DOMAINS = (
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

PATH_STATES = ("up", "blackhole", "reset")
CLIENT_CERT_STATES = ("valid", "expired", "notyet")


@dataclass
class WarpState:
    era: str = "2025"
    daemon: bool = True  # warp-svc running
    hang: bool = False  # warp-cli never answers (IPC hung)
    tos_accepted: bool = True
    registered: bool = True
    team: str | None = "lab"  # organization the device is enrolled in
    connected: bool = True
    mode: str = "warp"
    split_mode: str = "exclude"  # exclude | include
    split: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDES))
    # Entries added with `tunnel ip add` (shown with " (CLI exclude)").
    cli_split: list[str] = field(default_factory=list)
    # --- added for the stand-in warp-cli (ztctl/lab/warpcli.py); see docs/warp.md ---
    # Print a `Success` line before `status` output, as in the cmj2002/warp-docker#14 paste.
    success_prefix: bool = False
    # A transient condition shown by `status` while registered: "" (derived from connected),
    # establishing | happy-eyeballs | connectivity-checks | happy-eyeballs-failed | degraded |
    # settings-changed.
    status_detail: str = ""
    proxy_port: int = 40000  # `Mode: WarpProxy on port N`
    protocol: str = "MASQUE"  # `WARP tunnel protocol:` (MASQUE | WireGuard)
    fallback_domains: list[str] = field(default_factory=lambda: list(DEFAULT_FALLBACK_DOMAINS))
    mode_source: str = "network policy"  # `(source)` of `Mode:`; `mode M` makes it "user set"
    # Overrides of the `(source)` tag per settings key, e.g. {"Switch Locked": "override"}.
    settings_sources: dict[str, str] = field(default_factory=dict)
    profile_id: str = "8f2a1c3e-5b6d-4e7f-9a0b-1c2d3e4f5a6b"
    registration_id: str = "3b0c7e2a-9d41-4f5e-8a6b-2c7d1e0f9a84"
    device_id: str = "15df1c48-b9f7-11ee-b203-a6021f7c3d5e"
    public_key: str = "a4c072d47034c5c5a0e11f05725a3a97abf3e33c8cf5d2b1e0f9a8c7b6d5e4f3"
    account_id: str = "fb0201edb7e2e6cf37c2dd805c1a9e4b"
    license: str = "2x7Kd94b-1Rt5u3Q8-0vW6e2M9"  # shown for consumer (Free) registrations
    # Enrolment (`registration new TEAM` / `teams-enroll TEAM`): "auto" = the lab plays the
    # user finishing the browser login `enroll_delay_s` seconds later; "manual" = pending until
    # `warp-cli registration token <url>` (the URL is in `pending_token_url`).
    enroll: str = "auto"
    enroll_delay_s: float = 0.0
    pending_team: str | None = None
    pending_at: float = 0.0
    pending_token_url: str | None = None
    version: str = ""  # `--version` override; "" = the era's version (ERA_VERSIONS)
    api_down: bool = False  # enrolment fails: `Error: Failed to communicate with the WARP API.`
    switch_locked: bool = False  # the device profile forbids `mode` changes
    daemon_error: str = ""  # the no-daemon message; "" = `... (os error 2)`


@dataclass
class Faults:
    zt_path: str = "up"  # up | blackhole (accept and hold) | reset
    tls_inspection: bool = False
    api_ready: bool = True
    latency_ms: int = 0
    client_cert: str = "valid"  # which certificate DIR/kubeconfig's user presents
    clock_skew_s: int = 0  # added to the Date header of lab servers
    gateway: bool = True  # trace: gateway=on|off while WARP is on
    posture_fail: list[str] = field(default_factory=list)  # names of failing posture rules


@dataclass
class AccessState:
    """The Cloudflare Access side: who the lab user is, and how long tokens live."""

    email: str = "ada@lab.example"
    user_uuid: str = "5a3e0f6c-2b9d-4c71-8e4a-7d1f0b6c9e23"  # the JWT `sub`
    name: str = "Ada Lovelace"
    country: str = "GB"
    idp_type: str = "onetimepin"
    idp_id: str = "c0ffee00-1d9a-4e55-b2a1-9e8d7c6b5a40"
    token_ttl_s: int = 3600  # lifetime of app tokens minted by the stand-in cloudflared
    org_token_ttl_s: int = 86400  # lifetime of the org (global session) token
    # "auto": the lab plays the user completing the browser login; "blocked": nobody ever
    # does, so `cloudflared access login` waits until it is killed.
    login: str = "auto"


CF_API_MODES = ("up", "down", "blackhole", "rate-limited", "flaky", "malformed", "unsuccessful")
CF_ROUTE_STATES = ("ok", "missing", "other-vnet")
CF_TUNNEL_STATES = ("healthy", "degraded", "down")
CF_DEVICE_STATES = ("active", "revoked", "missing")
CF_INSPECTION_STATES = ("dni", "no-dni", "static", "off")
CF_TOKEN_KINDS = ("account", "user", "other-account", "invalid")
CF_PERMISSIONS = ("networks", "tunnels", "zero-trust")


@dataclass
class CloudflareState:
    """The lab's Cloudflare account as its API stand-in (ztctl/lab/cfapi.py) serves it."""

    api: str = "up"  # CF_API_MODES
    latency_ms: int = 0  # added to every API answer
    route: str = "ok"  # CF_ROUTE_STATES
    tunnel: str = "healthy"  # CF_TUNNEL_STATES
    connectors: int = 3  # cloudflared replicas connected (each with 4 edge connections)
    down_since: float = 0.0  # when the tunnel lost its connectors (set by `lab set`)
    device: str = "active"  # CF_DEVICE_STATES
    proxy: bool = True  # Gateway's TCP proxy (gateway_proxy_enabled)
    inspection: str = "dni"  # decryption on, dynamic mode, with (dni) or without a DNI rule
    token: str = "account"  # CF_TOKEN_KINDS: how the stand-in treats the lab token  # noqa: S105
    lacks: list[str] = field(default_factory=list)  # CF_PERMISSIONS the token lacks
    page_size: int = 1000  # the most items the stand-in puts on one page


@dataclass
class LabState:
    team: str = "lab"  # the catalog's team
    warp: WarpState = field(default_factory=WarpState)
    faults: Faults = field(default_factory=Faults)
    access: AccessState = field(default_factory=AccessState)
    cloudflare: CloudflareState = field(default_factory=CloudflareState)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabState:
        warp = WarpState(**_known(WarpState, data.get("warp", {})))
        faults = Faults(**_known(Faults, data.get("faults", {})))
        access = AccessState(**_known(AccessState, data.get("access", {})))
        cloudflare = CloudflareState(**_known(CloudflareState, data.get("cloudflare", {})))
        return cls(
            team=str(data.get("team", "lab")),
            warp=warp,
            faults=faults,
            access=access,
            cloudflare=cloudflare,
        )


def _known(kind: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(kind)}
    return {k: v for k, v in data.items() if k in names}


def load(lab_dir: Path) -> LabState:
    """Read the current state; a missing file is the default (healthy) state."""
    try:
        raw = (lab_dir / STATE_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return LabState()
    return LabState.from_dict(json.loads(raw))


def save(lab_dir: Path, state: LabState) -> None:
    data = json.dumps(state.to_dict(), indent=2, sort_keys=True).encode("utf-8")
    atomic_write(lab_dir / STATE_FILE, data, mode=0o600)


@contextlib.contextmanager
def update(lab_dir: Path) -> Iterator[LabState]:
    """Read-modify-write the state under the lab's lock."""
    lab_dir.mkdir(parents=True, exist_ok=True)
    with open(lab_dir / LOCK_FILE, "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            state = load(lab_dir)
            yield state
            save(lab_dir, state)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def split_tunnel_sends(warp: WarpState, address: str) -> bool:
    """Whether WARP's split tunnel sends ``address`` into the tunnel."""
    ip = ipaddress.ip_address(address)
    entries = [*warp.split, *warp.cli_split]
    covered = any(_covers(entry, ip) for entry in entries)
    return covered if warp.split_mode == "include" else not covered


def _covers(entry: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        network = ipaddress.ip_network(entry.split()[0], strict=False)
    except ValueError:
        return False  # a host name entry, not a range
    return network.version == ip.version and ip in network


def zero_trust_routes(state: LabState, address: str) -> bool:
    """Whether the lab's WARP would carry a packet to ``address`` right now."""
    w = state.warp
    return (
        w.daemon
        and w.registered
        and w.team == state.team
        and w.connected
        and w.mode in ROUTING_MODES
        and split_tunnel_sends(w, address)
    )


def split_lab_dir(argv: list[str], program: str) -> tuple[Path, list[str]]:
    """``--lab-dir DIR`` (or ``ZTCTL_LAB_DIR``) in front of a stand-in's own arguments."""
    import os
    import sys

    if len(argv) >= 2 and argv[0] == "--lab-dir":
        return Path(argv[1]), argv[2:]
    if argv and argv[0].startswith("--lab-dir="):
        return Path(argv[0].split("=", 1)[1]), argv[1:]
    env = os.environ.get("ZTCTL_LAB_DIR")
    if env:
        return Path(env), argv
    sys.stderr.write(f"usage: python -m ztctl.lab.{program} --lab-dir DIR [ARGS...]\n")
    raise SystemExit(2)
