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
from dataclasses import dataclass


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
    ``1.1.1.1 dev CloudflareWARP table 65743 src 172.16.0.2 uid 1000`` (reference §3.3);
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
        proc = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RouteUnavailable(f"`{' '.join(argv)}` did not answer within {timeout:g}s") from None
    except OSError as exc:
        raise RouteUnavailable(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    output = f"{proc.stdout}{proc.stderr}"
    if proc.returncode != 0:
        missing = _no_route(str(ip), output)
        if missing is not None:
            return missing
        raise RouteUnavailable(
            f"`{' '.join(argv)}` failed: {(proc.stderr or proc.stdout).strip()[:200]}"
        )
    try:
        return parse(str(ip), proc.stdout)
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
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (subprocess.TimeoutExpired, OSError):
            continue
        parts.append(f"$ {' '.join(argv)}\n{proc.stdout}{proc.stderr}")
    return "\n".join(parts)


def interface_matches(actual: str | None, expected: str) -> bool:
    """Whether ``actual`` is the WARP interface ``expected``.

    macOS names the tunnel ``utunN``: a configured ``utun`` (the macOS default) matches any
    ``utun<digits>``; otherwise the names must be equal.
    """
    if actual is None:
        return False
    if actual == expected:
        return True
    return expected == "utun" and actual.startswith("utun") and actual[4:].isdigit()
