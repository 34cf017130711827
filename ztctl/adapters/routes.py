"""Which interface the OS sends a packet to an address through: ``ip route get`` on Linux,
``route -n get`` on macOS and the BSDs.

Two layers, like every adapter: pure parsers (:func:`parse_ip_route_get`,
:func:`parse_bsd_route_get`) that never raise anything but :class:`RouteParseError`, and
:func:`route_get`, which runs the tool with a timeout. The answer is the kernel's own
decision, policy routing included (WARP on Linux puts its routes in table 65743 behind an
``ip rule``; reading ``/proc/net/route`` would miss that), so there is no fallback that
computes routes by hand: without a tool the answer is honestly unknown.

Nothing here prints.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from ztctl.adapters.procs import OutputTooLarge, run_capped


class RouteParseError(ValueError):
    """The route tool printed something none of the known formats explains."""


class RouteUnavailable(Exception):
    """The route cannot be asked here (no tool, a timeout, an unsupported platform)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RouteInfo:
    """The kernel's route to one address."""

    address: str
    interface: str | None  # None: no route ("Network is unreachable")
    gateway: str | None = None  # next hop; None when directly connected or local
    source: str | None = None  # the source address the kernel would use
    table: str | None = None  # Linux routing table (e.g. "65743" for WARP, "local")
    kind: str | None = None  # Linux route type when not unicast: local, unreachable...
    error: str | None = None  # why there is no route
    raw: str = ""  # what the tool printed (for doctor --bundle)

    @property
    def directly_connected(self) -> bool:
        return self.interface is not None and self.gateway is None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "address": self.address,
            "interface": self.interface,
            "gateway": self.gateway,
            "source": self.source,
            "table": self.table,
            "kind": self.kind,
            "error": self.error,
        }


_ROUTE_TYPES = frozenset(
    {"local", "broadcast", "multicast", "unreachable", "prohibit", "blackhole", "throw", "nat"}
)
_VALUE_KEYS = frozenset(
    {"dev", "via", "src", "table", "from", "uid", "metric", "proto", "pref", "mtu", "iif", "mark"}
)


def parse_ip_route_get(address: str, text: str) -> RouteInfo:
    """Parse ``ip route get ADDR`` (text) or ``ip -j route get ADDR`` (JSON).

    ``10.1.2.3 via 192.0.2.1 dev eth0 src 192.0.2.2 uid 0`` and
    ``1.1.1.1 dev CloudflareWARP table 65743 src 172.16.0.2 uid 1000``;
    ``local 127.0.0.1 dev lo src 127.0.0.1``; ``unreachable 10.0.0.1 ...``.
    """
    stripped = text.strip()
    if not stripped:
        raise RouteParseError("ip route get printed nothing")
    if stripped.startswith("["):
        return _from_ip_json(address, stripped)
    first = stripped.splitlines()[0].split()
    values: dict[str, str] = {}
    kind: str | None = None
    words = list(first)
    if words and words[0] in _ROUTE_TYPES:
        kind = words.pop(0)
    index = 0
    while index < len(words):
        word = words[index]
        if word in _VALUE_KEYS and index + 1 < len(words):
            values.setdefault(word, words[index + 1])
            index += 2
            continue
        index += 1
    if "dev" not in values and kind not in ("unreachable", "prohibit", "blackhole"):
        raise RouteParseError("ip route get printed no `dev`")
    return RouteInfo(
        address=address,
        interface=values.get("dev"),
        gateway=values.get("via"),
        source=values.get("src"),
        table=values.get("table"),
        kind=kind,
        error=f"route type {kind}" if kind in ("unreachable", "prohibit", "blackhole") else None,
        raw=text,
    )


def parse_find_netroute(address: str, text: str) -> RouteInfo:
    """Parse Windows ``Find-NetRoute -RemoteIPAddress ADDR | Select-Object InterfaceAlias
    -Last 1``: an ``InterfaceAlias`` header, a dashed underline, the alias (``CloudflareWARP``,
    ``Wi-Fi``). Windows is refused at start-up today; this reader is the tested first step."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 3 or lines[0] != "InterfaceAlias" or set(lines[1]) != {"-"}:
        raise RouteParseError("Find-NetRoute printed no single InterfaceAlias")
    return RouteInfo(address, lines[2], raw=text)


def _from_ip_json(address: str, text: str) -> RouteInfo:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RouteParseError("ip -j route get printed malformed JSON") from exc
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise RouteParseError("ip -j route get printed no route object")
    route = data[0]

    def text_of(key: str) -> str | None:
        value = route.get(key)
        return str(value) if isinstance(value, (str, int)) and str(value) else None

    kind = text_of("type")
    interface = text_of("dev")
    if interface is None and kind not in ("unreachable", "prohibit", "blackhole"):
        raise RouteParseError("ip -j route get printed no `dev`")
    return RouteInfo(
        address=address,
        interface=interface,
        gateway=text_of("gateway"),
        source=text_of("prefsrc"),
        table=text_of("table"),
        kind=kind if kind and kind != "unicast" else None,
        raw=text,
    )


def parse_bsd_route_get(address: str, text: str) -> RouteInfo:
    """Parse macOS/BSD ``route -n get ADDR``: ``interface: utun3``, ``gateway: 192.0.2.1``."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and key.strip() and value.strip():
            values.setdefault(key.strip().lower(), value.strip())
    interface = values.get("interface")
    if interface is None:
        if "not in table" in text or "unreachable" in text.lower():
            return RouteInfo(address, None, error=text.strip().splitlines()[-1][:200], raw=text)
        raise RouteParseError("route get printed no `interface:`")
    gateway = values.get("gateway")
    # A directly connected or local route shows the interface's own address (or a link
    # address) as gateway; only an IP address counts as a next hop.
    if gateway is not None:
        try:
            ipaddress.ip_address(gateway.split("%")[0])
        except ValueError:
            gateway = None
    return RouteInfo(address, interface, gateway=gateway, raw=text)


def _no_route(address: str, output: str) -> RouteInfo | None:
    lowered = output.lower()
    for marker in ("network is unreachable", "no route to host", "not in table"):
        if marker in lowered:
            line = next((x.strip() for x in output.splitlines() if marker in x.lower()), marker)
            return RouteInfo(address, None, error=line[:200], raw=output)
    return None


def route_get(address: str, *, timeout: float = 2.0) -> RouteInfo:
    """The kernel's route to ``address`` (an IP literal).

    Raises :class:`RouteUnavailable` when it cannot be asked here, and ``ValueError`` for
    something that is not an IP address.
    """
    ip = ipaddress.ip_address(address)
    if sys.platform.startswith("linux"):
        tool = shutil.which("ip") or next(
            (p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip") if shutil.which(p)), None
        )
        if tool is None:
            raise RouteUnavailable("the `ip` command (iproute2) is not installed")
        argv = [tool, "-6" if ip.version == 6 else "-4", "route", "get", str(ip)]
        parse = parse_ip_route_get
    elif sys.platform == "darwin" or "bsd" in sys.platform:
        tool = shutil.which("route") or ("/sbin/route" if shutil.which("/sbin/route") else None)
        if tool is None:
            raise RouteUnavailable("the `route` command is not available")
        argv = [tool, "-n", "get", *(["-inet6"] if ip.version == 6 else []), str(ip)]
        parse = parse_bsd_route_get
    else:
        raise RouteUnavailable(f"reading routes is not supported on {sys.platform}")
    try:
        proc = run_capped(argv, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RouteUnavailable(f"`{' '.join(argv)}` did not answer within {timeout:g}s") from None
    except OutputTooLarge as exc:
        raise RouteUnavailable(f"`{' '.join(argv)}`: {exc}") from None
    except OSError as exc:
        raise RouteUnavailable(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    return interpret_route_get(str(ip), argv, proc.returncode, proc.out, proc.err, parse)


def interpret_route_get(
    address: str,
    argv: list[str],
    code: int,
    stdout: str,
    stderr: str,
    parse: Callable[[str, str], RouteInfo],
) -> RouteInfo:
    """What one run of the route tool means: a route, no route, or RouteUnavailable.

    macOS ``route -n get`` for an address with no route prints ``route: writing to routing
    socket: not in table`` on stderr and still exits 0 (``route.c`` exits 0 after every
    ``get``): stderr is read whatever the exit code.
    """
    output = f"{stdout}{stderr}"
    if code != 0 or not stdout.strip():
        missing = _no_route(address, stderr if not stdout.strip() else output)
        if missing is not None:
            return missing
    if code != 0:
        raise RouteUnavailable(f"`{' '.join(argv)}` failed: {(stderr or stdout).strip()[:200]}")
    try:
        return parse(address, stdout)
    except RouteParseError as exc:
        raise RouteUnavailable(f"cannot read `{' '.join(argv)}`: {exc}") from None


def route_table(*, timeout: float = 2.0) -> str:
    """The whole routing table as the OS prints it (for doctor --bundle); "" if unknown."""
    if sys.platform.startswith("linux"):
        commands = [["ip", "route", "show", "table", "all"], ["ip", "rule", "show"]]
    elif sys.platform == "darwin" or "bsd" in sys.platform:
        commands = [["netstat", "-rn"]]
    else:
        return ""
    parts = []
    for argv in commands:
        if shutil.which(argv[0]) is None:
            continue
        try:
            proc = run_capped(argv, timeout=timeout)
        except (subprocess.TimeoutExpired, OSError):
            continue
        except OutputTooLarge as exc:
            parts.append(f"$ {' '.join(argv)}\n({exc})")
            continue
        parts.append(f"$ {' '.join(argv)}\n{proc.out}{proc.err}")
    return "\n".join(parts)


def interface_matches(actual: str | None, expected: str) -> bool:
    """Whether ``actual`` is the WARP interface ``expected`` by name.

    On macOS WARP's interface is one of several ``utunN`` (Tailscale and other VPNs use
    them too): the configured ``utun`` matches no name; :func:`interface_owner` tells
    whose a utun is.
    """
    return actual is not None and actual == expected


# -- which tunnel is a macOS utun? -------------------------------------------------------

# WARP's own tunnel addresses: 172.16.0.2 (IPv4, every WARP client) and an address in
# Cloudflare's 2606:4700:110::/48 (IPv6). Tailscale's: 100.64.0.0/10 and fd7a:115c:a1e0::/48.
# WARP's optional device IPs (100.96.0.0/12) lie inside Tailscale's IPv4 range, so an
# IPv4 address there alone does not tell which VPN owns the interface.
WARP_TUNNEL_NETS = (
    ipaddress.ip_network("172.16.0.2/32"),
    ipaddress.ip_network("2606:4700:110::/48"),
)
TAILSCALE_V6 = ipaddress.ip_network("fd7a:115c:a1e0::/48")
CGNAT = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True)
class TunnelOwner:
    """Who holds a tunnel interface: ``warp``, ``tailscale``, ``other`` or ``unknown``."""

    interface: str
    owner: str
    detail: str
    addresses: tuple[str, ...] = ()

    @property
    def is_warp(self) -> bool | None:
        if self.owner == "warp":
            return True
        if self.owner == "unknown":
            return None
        return False


def parse_ifconfig(text: str) -> dict[str, tuple[str, ...]]:
    """Interface name -> its addresses (link-local ones left out) from BSD ``ifconfig``."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line[:1] not in ("", " ", "\t") and ":" in line.split()[0]:
            name = line.split(":", 1)[0]
            current = found.setdefault(name, [])
            continue
        words = line.split()
        if current is None or len(words) < 2 or words[0] not in ("inet", "inet6"):
            continue
        raw = words[1].split("%", 1)[0]
        try:
            ip = ipaddress.ip_address(raw)
        except ValueError:
            continue
        if not ip.is_link_local:
            current.append(str(ip))
    return {name: tuple(addresses) for name, addresses in found.items()}


def tunnel_owner(interface: str, addresses: tuple[str, ...] | None) -> TunnelOwner:
    """Which VPN holds ``interface``, judged by its addresses (``None``: not readable)."""
    if addresses is None:
        return TunnelOwner(interface, "unknown", f"the addresses of {interface} could not be read")
    ips = [ipaddress.ip_address(a) for a in addresses]
    shown = ", ".join(addresses)
    if any(any(ip in net for net in WARP_TUNNEL_NETS if net.version == ip.version) for ip in ips):
        return TunnelOwner(interface, "warp", f"{interface} is WARP's tunnel ({shown})", addresses)
    if any(ip.version == 6 and ip in TAILSCALE_V6 for ip in ips):
        return TunnelOwner(
            interface, "tailscale", f"{interface} is Tailscale's tunnel ({shown})", addresses
        )
    if not ips:
        return TunnelOwner(
            interface,
            "other",
            f"{interface} has no address, so it is not WARP's tunnel (another VPN's)",
            addresses,
        )
    if all(ip.version == 4 and ip in CGNAT for ip in ips):
        return TunnelOwner(
            interface,
            "unknown",
            f"{interface} has only {shown}, in the range Tailscale and WARP's device IPs share",
            addresses,
        )
    return TunnelOwner(
        interface, "other", f"{interface} is another VPN's tunnel ({shown}), not WARP's", addresses
    )


def interface_owner(interface: str, *, timeout: float = 2.0) -> TunnelOwner:
    """Run ``ifconfig INTERFACE`` and judge who holds it (macOS utun interfaces)."""
    tool = shutil.which("ifconfig") or (
        "/sbin/ifconfig" if shutil.which("/sbin/ifconfig") else None
    )
    if tool is None or not interface.replace("_", "").isalnum():
        return tunnel_owner(interface, None)
    try:
        proc = run_capped([tool, interface], timeout=timeout)
    except (subprocess.TimeoutExpired, OSError, OutputTooLarge):
        return tunnel_owner(interface, None)
    if proc.returncode != 0:
        return tunnel_owner(interface, None)
    return tunnel_owner(interface, parse_ifconfig(proc.out).get(interface))


def is_utun(name: str | None) -> bool:
    return name is not None and name.startswith("utun") and name[4:].isdigit()
