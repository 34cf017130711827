"""The Cloudflare account the lab's API stand-in (:mod:`ztctl.lab.cfapi`) serves, seeded from
the lab's catalog: routes, tunnels and connectors, the device and its profile, Gateway. Also
:func:`path_verdict`: the Zero Trust path to the API server fails exactly when this account
says it must, and TLS is intercepted when Gateway would decrypt it.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ztctl.lab import state as labstate

API_PREFIX = "/client/v4"
TOKEN_FILE = "cf-token"  # noqa: S105 - a file name
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
OTHER_ACCOUNT = "0123456789abcdef0123456789abcdef"
VNET_DEFAULT = "default"
VNET_LAB = "lab-net"
VNET_OTHER = "other-net"
COLOS = ("AMS", "FRA", "LHR", "CDG", "MAD", "WAW")
CONNECTOR_VERSION = "2025.11.1"
RETRY_AFTER_S = 1
PROFILE_NAME = "Engineers"
DNI_RULE = "Do Not Inspect Kubernetes API servers"
BLACKHOLE_S = 60.0
EPOCH = "2026-01-05T09:00:00Z"

_NS = uuid.UUID("6f1c3a52-8e0b-4d7a-9c3e-1b2a4c5d6e7f")


@functools.lru_cache(maxsize=65536)
def make_id(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(parts)))


def _iso(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SeedCluster:
    name: str
    server: str
    port: int
    addresses: tuple[str, ...]


def read_catalog(path: Path) -> list[SeedCluster]:
    """The clusters of a catalog file, leniently (the stand-in seeds from what it can read)."""
    import yaml

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return []
    out = []
    for raw in (document or {}).get("clusters") or []:
        if not isinstance(raw, dict) or not raw.get("name"):
            continue
        server = str(raw.get("server") or "")
        port = urlsplit(server).port or 443
        addresses = tuple(str(a) for a in raw.get("addresses") or [])
        out.append(SeedCluster(str(raw["name"]), server, port, addresses))
    return out


@dataclass
class Account:
    """The account as seeded from the catalog, for the current faults."""

    account_id: str
    st: labstate.LabState
    clusters: list[SeedCluster]
    routes: list[dict[str, Any]] = field(default_factory=list)
    tunnels: dict[str, dict[str, Any]] = field(default_factory=dict)
    clients: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cf = self.st.cloudflare
        seen: set[str] = set()
        for cluster in self.clusters:
            for address in cluster.addresses:
                if address in seen:
                    continue
                seen.add(address)
                tunnel_name = f"k8s-{cluster.name}"
                tunnel_id = make_id("tunnel", cluster.name)
                if tunnel_id not in self.tunnels:
                    self.tunnels[tunnel_id] = self._tunnel(tunnel_id, tunnel_name)
                    self.clients[tunnel_id] = self._clients(tunnel_id)
                if cf.route == "missing":
                    continue
                vnet = VNET_OTHER if cf.route == "other-vnet" else VNET_LAB
                self.routes.append(self._route(address, tunnel_id, tunnel_name, vnet))

    def vnets(self) -> list[dict[str, Any]]:
        return [
            self._vnet(VNET_DEFAULT, "The account's default network", True),
            self._vnet(VNET_LAB, "The lab's cluster networks", False),
            self._vnet(VNET_OTHER, "Another team's network", False),
        ]

    def _vnet(self, name: str, comment: str, default: bool) -> dict[str, Any]:
        return {
            "id": make_id("vnet", name),
            "comment": comment,
            "created_at": EPOCH,
            "is_default_network": default,
            "name": name,
            "deleted_at": None,
        }

    def _route(self, address: str, tunnel_id: str, tunnel: str, vnet: str) -> dict[str, Any]:
        prefix = 32 if ipaddress.ip_address(address).version == 4 else 128
        return {
            "id": make_id("route", address, vnet),
            "comment": f"{tunnel} API server",
            "created_at": EPOCH,
            "deleted_at": None,
            "network": f"{address}/{prefix}",
            "tun_type": "cfd_tunnel",
            "tunnel_id": tunnel_id,
            "tunnel_name": tunnel,
            "virtual_network_id": make_id("vnet", vnet),
            "virtual_network_name": vnet,
        }

    def _connectors(self) -> int:
        cf = self.st.cloudflare
        if cf.tunnel == "down":
            return 0
        if cf.tunnel == "degraded":
            return min(1, cf.connectors)
        return max(0, cf.connectors)

    def _tunnel(self, tunnel_id: str, name: str) -> dict[str, Any]:
        cf = self.st.cloudflare
        count = self._connectors()
        if count == 0:
            status = "down"
        elif cf.tunnel == "degraded":
            status = "degraded"
        else:
            status = "healthy"
        since = cf.down_since or time.time()
        return {
            "id": tunnel_id,
            "account_tag": self.account_id,
            "config_src": "cloudflare",
            "connections": [],  # deprecated in the tunnel object: use /connections
            "conns_active_at": None if count == 0 else EPOCH,
            "conns_inactive_at": _iso(since) if count == 0 else None,
            "created_at": EPOCH,
            "deleted_at": None,
            "metadata": {},
            "name": name,
            "remote_config": True,
            "status": status,
            "tun_type": "cfd_tunnel",
        }

    def _clients(self, tunnel_id: str) -> list[dict[str, Any]]:
        out = []
        for replica in range(self._connectors()):
            client_id = make_id("connector", tunnel_id, str(replica))
            conns = []
            for edge in range(4):
                colo = COLOS[(replica + edge) % 3 if edge < 2 else 3 + (replica % 3)]
                conn_id = make_id("conn", client_id, str(edge))
                conns.append(
                    {
                        "id": conn_id,
                        "client_id": client_id,
                        "client_version": CONNECTOR_VERSION,
                        "colo_name": colo,
                        "is_pending_reconnect": False,
                        "opened_at": EPOCH,
                        "origin_ip": f"198.51.100.{10 + replica}",
                        "uuid": conn_id,
                    }
                )
            out.append(
                {
                    "id": client_id,
                    "arch": "linux_amd64",
                    "config_version": 3,
                    "conns": conns,
                    "features": ["ha-origin"],
                    "run_at": EPOCH,
                    "version": CONNECTOR_VERSION,
                }
            )
        return out

    # -- devices -------------------------------------------------------------------------

    def profile(self, *, default: bool) -> dict[str, Any]:
        w = self.st.warp
        entries = [{"address": e, "description": "lab"} for e in [*w.split]]
        return {
            "allow_mode_switch": not w.switch_locked,
            "default": default,
            "description": "The lab's device profile",
            "enabled": True,
            "exclude": [] if w.split_mode == "include" else entries,
            "include": entries if w.split_mode == "include" else [],
            "fallback_domains": [{"suffix": d} for d in w.fallback_domains],
            "name": "Default" if default else PROFILE_NAME,
            "policy_id": None if default else w.profile_id,
            "precedence": 0 if default else 100,
            "service_mode_v2": {"mode": "warp"},
            "switch_locked": w.switch_locked,
            "tunnel_protocol": w.protocol.lower(),
            "virtual_networks": {
                "allowed": [make_id("vnet", VNET_LAB), make_id("vnet", VNET_DEFAULT)],
                "default": make_id("vnet", VNET_LAB),
            },
        }

    def registrations(self) -> list[dict[str, Any]]:
        cf, w, access = self.st.cloudflare, self.st.warp, self.st.access
        if cf.device == "missing":
            return []
        return [
            {
                "created_at": EPOCH,
                "deleted_at": None,
                "device": {"client_version": "2025.9.558.0", "id": w.device_id, "name": "lab"},
                "id": w.registration_id,
                "key": "lab-public-key",
                "key_type": "secp256r1",
                "last_seen_at": _iso(time.time() - 60),
                "registration_type": "warp",
                "revoked_at": _iso(cf.down_since or time.time())
                if cf.device == "revoked"
                else None,
                "tunnel_type": "masque",
                "updated_at": EPOCH,
                "user": {"email": access.email, "id": access.user_uuid, "name": access.name},
                "policy": {
                    "id": w.profile_id,
                    "default": False,
                    "deleted": False,
                    "name": PROFILE_NAME,
                    "updated_at": EPOCH,
                },
            }
        ]

    def gateway_configuration(self) -> dict[str, Any]:
        mode = self.st.cloudflare.inspection
        return {
            "created_at": EPOCH,
            "updated_at": EPOCH,
            "settings": {
                "activity_log": {"enabled": True},
                "inspection": {"mode": "static" if mode == "static" else "dynamic"},
                "protocol_detection": {"enabled": True},
                "tls_decrypt": {"enabled": mode != "off"},
            },
        }

    def gateway_rules(self) -> list[dict[str, Any]]:
        addresses = sorted({a for c in self.clusters for a in c.addresses})
        cidrs = " ".join(f"{a}/32" for a in addresses)
        rules = [
            {
                "id": make_id("rule", "l4-allow"),
                "name": "Allow engineers to the Kubernetes API servers",
                "action": "allow",
                "enabled": True,
                "filters": ["l4"],
                "precedence": 500,
                "traffic": f'net.dst.ip in {{{cidrs}}} and net.protocol == "tcp"',
                "identity": 'any(identity.groups.name[*] in {"engineers"})',
                "device_posture": "",
            },
            {
                "id": make_id("rule", "inspect-all"),
                "name": "Inspect everything else",
                "action": "on",
                "enabled": True,
                "filters": ["http"],
                "precedence": 20000,
                "traffic": "",
                "identity": "",
                "device_posture": "",
            },
        ]
        if self.st.cloudflare.inspection != "no-dni":
            rules.append(
                {
                    "id": make_id("rule", "dni"),
                    "name": DNI_RULE,
                    "action": "off",
                    "enabled": True,
                    "filters": ["http"],
                    "precedence": 1000,
                    "traffic": f"http.conn.dst_ip in {{{cidrs}}}",
                    "identity": "",
                    "device_posture": "",
                }
            )
        for rule in rules:
            rule.setdefault("created_at", EPOCH)
            rule.setdefault("deleted_at", None)
            rule.setdefault("rule_settings", {})
        return rules


# -- the lab's consistency -------------------------------------------------------------------


def path_verdict(st: labstate.LabState) -> str:
    """``up`` or why the account drops Zero Trust traffic to the lab cluster."""
    cf = st.cloudflare
    if cf.route != "ok":
        return "no-route"
    if cf.tunnel == "down" or cf.connectors <= 0:
        return "tunnel-down"
    if not cf.proxy:
        return "proxy-off"
    if cf.device != "active":
        return "device-revoked"
    return "up"


def intercepts(st: labstate.LabState, port: int) -> bool:
    """Whether Gateway would decrypt TLS to the lab cluster on ``port``."""
    mode = st.cloudflare.inspection
    if mode == "off" or (mode == "static" and port != 443):
        return False
    return mode == "no-dni"
