"""Tunnels through a proxy on a raw socket: SOCKS5 (RFC 1928/1929) and HTTP CONNECT.

Why our own ~150 lines and not PySocks/python-socks: the probe needs the proxy handshake
on a socket it already owns (so each phase can be timed and bounded by one deadline),
kubectl's semantics (the *host name* is sent to the proxy, as client-go does for
``socks5://`` and ``socks5h://`` alike), and no extra dependency on the start-up path.
The protocol subset kubectl uses is small: no-auth or username/password SOCKS5 and a
plain ``CONNECT``.

Nothing here prints; failures are :class:`ProxyError` with a sentence a user can act on.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

SCHEMES = ("socks5", "socks5h", "http", "https")
_DEFAULT_PORTS = {"socks5": 1080, "socks5h": 1080, "http": 80, "https": 443}

# RFC 1928 §6 reply codes.
SOCKS_REPLIES = {
    1: "general SOCKS server failure",
    2: "connection not allowed by ruleset",
    3: "network unreachable",
    4: "host unreachable",
    5: "connection refused",
    6: "TTL expired",
    7: "command not supported",
    8: "address type not supported",
}


class ProxyError(Exception):
    """The proxy refused, failed or spoke something else than its protocol."""

    def __init__(self, message: str, *, reply: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reply = reply  # SOCKS reply code or HTTP status, when the proxy answered


@dataclass(frozen=True)
class ProxySpec:
    scheme: str  # socks5 | socks5h | http | https
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def display(self) -> str:
        """The URL without credentials (safe to print)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_proxy_url(url: str) -> ProxySpec:
    """Parse ``socks5://``, ``socks5h://``, ``http://`` or ``https://`` proxy URLs.

    A value without a scheme is ``http://``, as Go's ``ProxyFromEnvironment`` treats it.
    """
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError(
            f"proxy {redact_url(url)}: unsupported scheme {scheme!r} (use socks5, socks5h or http)"
        )
    if not parts.hostname:
        raise ValueError(f"proxy {redact_url(url)}: no host")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValueError(f"proxy {redact_url(url)}: invalid port") from None
    return ProxySpec(
        scheme=scheme,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def redact_url(url: str) -> str:
    """``scheme://user:secret@host`` -> ``scheme://host`` for messages."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    if not rest:
        return url.rsplit("@", 1)[-1]
    return f"{scheme}://{rest.rsplit('@', 1)[-1]}"


def open_tunnel(sock: socket.socket, proxy: ProxySpec, host: str, port: int) -> None:
    """Ask the proxy connected on ``sock`` for a tunnel to ``host:port``.

    The socket's timeout bounds every read and write. On return the socket carries the
    tunnel: bytes go to ``host:port`` unchanged (the caller starts TLS on it).
    """
    if proxy.scheme in ("socks5", "socks5h"):
        socks5_connect(sock, host, port, proxy.username, proxy.password)
    elif proxy.scheme == "http":
        http_connect(sock, host, port, proxy.username, proxy.password)
    else:
        raise ProxyError(
            f"proxy {proxy.display}: https proxies are not supported by ztctl probe",
            reply=None,
        )


def socks5_connect(
    sock: socket.socket,
    host: str,
    port: int,
    username: str | None = None,
    password: str | None = None,
) -> tuple[str, int]:
    """RFC 1928 CONNECT; returns the proxy's bound address (BND.ADDR, BND.PORT)."""
    methods = b"\x00\x02" if username is not None else b"\x00"
    sock.sendall(b"\x05" + bytes([len(methods)]) + methods)
    version, method = recv_exact(sock, 2)
    if version != 5:
        raise ProxyError("the proxy did not answer as a SOCKS5 server")
    if method == 0xFF:
        raise ProxyError("the SOCKS5 proxy accepts none of our authentication methods")
    if method == 0x02:
        if username is None:
            raise ProxyError("the SOCKS5 proxy wants a username and password")
        user = username.encode()
        secret = (password or "").encode()
        if len(user) > 255 or len(secret) > 255:
            raise ProxyError("SOCKS5 username or password longer than 255 bytes")
        sock.sendall(b"\x01" + bytes([len(user)]) + user + bytes([len(secret)]) + secret)
        _, status = recv_exact(sock, 2)
        if status != 0:
            raise ProxyError("the SOCKS5 proxy rejected the username and password", reply=status)
    elif method != 0x00:
        raise ProxyError(f"the SOCKS5 proxy chose an unknown method {method}")

    request = b"\x05\x01\x00" + _socks_address(host) + port.to_bytes(2, "big")
    sock.sendall(request)
    version, reply, _, atyp = recv_exact(sock, 4)
    if version != 5:
        raise ProxyError("the SOCKS5 proxy sent a malformed reply")
    if reply != 0:
        reason = SOCKS_REPLIES.get(reply, f"reply code {reply}")
        raise ProxyError(f"the SOCKS5 proxy could not reach {host}:{port}: {reason}", reply=reply)
    if atyp == 1:
        bound = str(ipaddress.IPv4Address(recv_exact(sock, 4)))
    elif atyp == 4:
        bound = str(ipaddress.IPv6Address(recv_exact(sock, 16)))
    elif atyp == 3:
        (length,) = recv_exact(sock, 1)
        bound = recv_exact(sock, length).decode("ascii", "replace")
    else:
        raise ProxyError("the SOCKS5 proxy sent an unknown address type")
    bound_port = int.from_bytes(recv_exact(sock, 2), "big")
    return bound, bound_port


def _socks_address(host: str) -> bytes:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        name = host.encode("idna")
        if len(name) > 255:
            raise ProxyError(f"host name {host} is too long for SOCKS5") from None
        return b"\x03" + bytes([len(name)]) + name
    if ip.version == 4:
        return b"\x01" + ip.packed
    return b"\x04" + ip.packed


def http_connect(
    sock: socket.socket,
    host: str,
    port: int,
    username: str | None = None,
    password: str | None = None,
) -> None:
    """``CONNECT host:port HTTP/1.1`` through an HTTP proxy."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if username is not None:
        token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
        lines.append(f"Proxy-Authorization: Basic {token}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        # Byte by byte: what follows the header belongs to the tunnel (TLS).
        chunk = sock.recv(1)
        if not chunk:
            raise ProxyError("the HTTP proxy closed the connection during CONNECT")
        head += chunk
        if len(head) > 16384:
            raise ProxyError("the HTTP proxy sent an oversized CONNECT response")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ProxyError("the HTTP proxy sent a malformed CONNECT response")
    status = int(parts[1])
    if status != 200:
        reason = parts[2] if len(parts) > 2 else ""
        raise ProxyError(
            f"the HTTP proxy refused CONNECT {authority}: {status} {reason}".rstrip(),
            reply=status,
        )


def recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ProxyError("the proxy closed the connection during its handshake")
        data += chunk
    return data


# --- environment proxies, as Go's http.ProxyFromEnvironment ---


def proxy_from_environment(
    host: str, port: int, env: Mapping[str, str] | None = None
) -> str | None:
    """The proxy URL client-go would use for ``https://host:port`` with no ``proxy-url``.

    ``HTTPS_PROXY`` then ``https_proxy`` (no fallback to ``HTTP_PROXY``), ``NO_PROXY`` /
    ``no_proxy`` (suffixes, IPs, CIDRs, ``host:port``, ``*``); ``localhost`` and loopback
    addresses are never proxied.
    """
    env = os.environ if env is None else env
    url = env.get("HTTPS_PROXY") or env.get("https_proxy") or ""
    if not url:
        return None
    name = host.lower().rstrip(".")
    if name == "localhost":
        return None
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    try:
        ip = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None and ip.is_loopback:
        return None
    no_proxy = env.get("NO_PROXY") or env.get("no_proxy") or ""
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return None
        if _no_proxy_matches(entry, name, port, ip):
            return None
    return url


def _no_proxy_matches(
    entry: str, name: str, port: int, ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None
) -> bool:
    if "/" in entry:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            return False
        return ip is not None and ip.version == network.version and ip in network
    try:
        entry_ip = ipaddress.ip_address(entry.strip("[]"))
    except ValueError:
        entry_ip = None
    if entry_ip is not None:
        return entry_ip == ip
    entry_port: int | None = None
    if entry.count(":") == 1:
        entry, _, port_text = entry.partition(":")
        if not port_text.isdigit():
            return False
        entry_port = int(port_text)
    if entry_port is not None and entry_port != port:
        return False
    if entry.startswith("*."):
        entry = entry[1:]
    if entry.startswith("."):
        return name.endswith(entry)
    return name == entry or name.endswith("." + entry)
