"""The lab's out-of-band bastion: a SOCKS5 proxy (RFC 1928) that connects out from 127.0.0.2.

No authentication (method 0x00), ``CONNECT`` only, to IPv4, domain-name or IPv6
destinations. Every outgoing socket is bound to :data:`ztctl.lab.BASTION_SOURCE` before it
connects, which is how the lab API server recognises the break-glass route. Destinations
outside 127.0.0.0/8 are refused with reply 0x02 ("connection not allowed by ruleset"), so
the lab can never be used to reach anything but loopback. Domain names are resolved here
(IPv4 only), as kubectl sends them with ``socks5://`` proxies.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import select
import socket
import struct

from ztctl.lab import BASTION_SOURCE, LAB_HOST
from ztctl.lab.service import TcpService

log = logging.getLogger("ztctl.lab.bastion")

SOCKS_VERSION = 5
NEGOTIATION_TIMEOUT_S = 10.0
CONNECT_TIMEOUT_S = 5.0
_ALLOWED = ipaddress.ip_network("127.0.0.0/8")

# Reply codes (RFC 1928 §6).
REP_SUCCEEDED = 0x00
REP_FAILURE = 0x01
REP_NOT_ALLOWED = 0x02
REP_HOST_UNREACHABLE = 0x04
REP_REFUSED = 0x05
REP_COMMAND_NOT_SUPPORTED = 0x07
REP_ADDRESS_NOT_SUPPORTED = 0x08

ATYP_IPV4 = 0x01
ATYP_DOMAIN = 0x03
ATYP_IPV6 = 0x04


class SocksError(Exception):
    def __init__(self, reply: int, message: str) -> None:
        super().__init__(message)
        self.reply = reply


class Bastion(TcpService):
    name = "bastion"

    def __init__(
        self, host: str = LAB_HOST, port: int = 0, *, source: str = BASTION_SOURCE
    ) -> None:
        super().__init__(host, port)
        self.source = source

    def handle(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        sock.settimeout(NEGOTIATION_TIMEOUT_S)
        try:
            if not _negotiate_method(sock):
                return
            host, port = _read_request(sock)
            upstream = self._connect(host, port)
        except SocksError as exc:
            log.info("%s:%s refused: %s", peer[0], peer[1], exc)
            _reply(sock, exc.reply)
            return
        except (OSError, ValueError) as exc:
            log.debug("%s:%s negotiation failed: %s", peer[0], peer[1], exc)
            return
        self.track(upstream)
        try:
            bound = upstream.getsockname()
            _reply(sock, REP_SUCCEEDED, bound[0], bound[1])
            log.info("%s:%s tunnel to %s:%s from %s", peer[0], peer[1], host, port, bound[0])
            sock.settimeout(None)
            upstream.settimeout(None)
            self._relay(sock, upstream)
        finally:
            self.untrack(upstream)
            with contextlib.suppress(OSError):
                upstream.close()

    def _connect(self, host: str, port: int) -> socket.socket:
        address = _resolve(host, port)
        upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            upstream.bind((self.source, 0))
            upstream.settimeout(CONNECT_TIMEOUT_S)
            upstream.connect((address, port))
        except ConnectionRefusedError:
            upstream.close()
            raise SocksError(REP_REFUSED, f"{address}:{port} refused the connection") from None
        except TimeoutError:
            upstream.close()
            raise SocksError(REP_HOST_UNREACHABLE, f"{address}:{port} did not answer") from None
        except OSError as exc:
            upstream.close()
            raise SocksError(REP_FAILURE, f"cannot connect to {address}:{port}: {exc}") from None
        return upstream

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        open_reads = {client, upstream}
        while open_reads and not self.stopping.is_set():
            readable, _, _ = select.select(list(open_reads), [], [], 1.0)
            for source in readable:
                try:
                    data = source.recv(65536)
                except OSError:
                    data = b""
                target = peers[source]
                if data:
                    try:
                        target.sendall(data)
                    except OSError:
                        return
                else:
                    open_reads.discard(source)
                    with contextlib.suppress(OSError):
                        target.shutdown(socket.SHUT_WR)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ValueError("the client closed the connection during negotiation")
        data += chunk
    return data


def _negotiate_method(sock: socket.socket) -> bool:
    version, count = _recv_exact(sock, 2)
    if version != SOCKS_VERSION:
        raise ValueError(f"not a SOCKS5 client (version {version})")
    methods = _recv_exact(sock, count)
    if 0x00 not in methods:
        sock.sendall(bytes([SOCKS_VERSION, 0xFF]))  # no acceptable methods
        return False
    sock.sendall(bytes([SOCKS_VERSION, 0x00]))
    return True


def _read_request(sock: socket.socket) -> tuple[str, int]:
    version, command, _reserved, atyp = _recv_exact(sock, 4)
    if version != SOCKS_VERSION:
        raise ValueError(f"bad request version {version}")
    if atyp == ATYP_IPV4:
        host = socket.inet_ntop(socket.AF_INET, _recv_exact(sock, 4))
    elif atyp == ATYP_DOMAIN:
        (length,) = _recv_exact(sock, 1)
        host = _recv_exact(sock, length).decode("idna")
    elif atyp == ATYP_IPV6:
        host = socket.inet_ntop(socket.AF_INET6, _recv_exact(sock, 16))
    else:
        raise SocksError(REP_ADDRESS_NOT_SUPPORTED, f"address type {atyp} is not supported")
    (port,) = struct.unpack("!H", _recv_exact(sock, 2))
    if command != 0x01:
        raise SocksError(REP_COMMAND_NOT_SUPPORTED, f"command {command} is not supported")
    return host, port


def _resolve(host: str, port: int) -> str:
    """The IPv4 loopback address to connect to, or a :class:`SocksError`."""
    ip = _literal(host)
    if ip is None:
        try:
            infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)
        except socket.gaierror:
            raise SocksError(REP_HOST_UNREACHABLE, f"cannot resolve {host}") from None
        for info in infos:
            candidate = ipaddress.ip_address(info[4][0])
            if candidate in _ALLOWED:
                return str(candidate)
        raise SocksError(REP_NOT_ALLOWED, f"{host} resolves outside 127.0.0.0/8")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not isinstance(ip, ipaddress.IPv4Address) or ip not in _ALLOWED:
        raise SocksError(REP_NOT_ALLOWED, f"{host} is outside 127.0.0.0/8")
    return str(ip)


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _reply(sock: socket.socket, code: int, host: str = "0.0.0.0", port: int = 0) -> None:  # noqa: S104 - a reply field, not a bind
    packed = socket.inet_aton(host)
    with contextlib.suppress(OSError):
        sock.sendall(
            bytes([SOCKS_VERSION, code, 0x00, ATYP_IPV4]) + packed + struct.pack("!H", port)
        )
