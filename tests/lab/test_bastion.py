"""The SOCKS5 bastion (RFC 1928), in process, against a loopback server that reports peers."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from ztctl.lab import BASTION_SOURCE
from ztctl.lab.bastion import Bastion

TIMEOUT = 3.0


@pytest.fixture
def bastion() -> Iterator[Bastion]:
    server = Bastion()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def peer_reporter() -> Iterator[int]:
    """A server on 127.0.0.1 that answers each connection with the peer's address."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)  # poll, so the fixture ends promptly
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.sendall(peer[0].encode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(TIMEOUT)
        listener.close()


def _greet(port: int, methods: bytes = b"\x00") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.sendall(b"\x05" + bytes([len(methods)]) + methods)
    return sock


def _request(sock: socket.socket, atyp: int, address: bytes, port: int, command: int = 1) -> bytes:
    sock.sendall(bytes([5, command, 0, atyp]) + address + struct.pack("!H", port))
    return sock.recv(10)


def _recv_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(100):
        data += chunk
    return data


@pytest.mark.parametrize(
    ("atyp", "address"),
    [
        (1, socket.inet_aton("127.0.0.1")),
        (3, bytes([9]) + b"localhost"),
        (4, socket.inet_pton(socket.AF_INET6, "::ffff:127.0.0.1")),
    ],
    ids=["ipv4", "domain", "ipv4-mapped-ipv6"],
)
def test_connect_goes_out_from_the_bastion_source(bastion, peer_reporter, atyp, address) -> None:
    with _greet(bastion.port) as sock:
        assert sock.recv(2) == b"\x05\x00"
        reply = _request(sock, atyp, address, peer_reporter)
        assert reply[:4] == b"\x05\x00\x00\x01"
        assert socket.inet_ntoa(reply[4:8]) == BASTION_SOURCE  # BND.ADDR
        assert _recv_all(sock).decode() == BASTION_SOURCE  # what the target saw


@pytest.mark.parametrize(
    ("atyp", "address"),
    [
        (1, socket.inet_aton("192.0.2.1")),
        (4, socket.inet_pton(socket.AF_INET6, "::1")),
        (4, socket.inet_pton(socket.AF_INET6, "2001:db8::1")),
    ],
    ids=["ipv4-outside", "ipv6-loopback", "ipv6-outside"],
)
def test_targets_outside_127_8_are_refused_by_ruleset(bastion, atyp, address) -> None:
    with _greet(bastion.port) as sock:
        assert sock.recv(2) == b"\x05\x00"
        assert _request(sock, atyp, address, 443)[1] == 0x02


def test_only_no_auth_is_offered(bastion) -> None:
    with _greet(bastion.port, methods=b"\x02") as sock:  # username/password only
        assert sock.recv(2) == b"\x05\xff"


def test_commands_other_than_connect_are_not_supported(bastion, peer_reporter) -> None:
    with _greet(bastion.port) as sock:
        sock.recv(2)
        reply = _request(sock, 1, socket.inet_aton("127.0.0.1"), peer_reporter, command=2)
        assert reply[1] == 0x07


def test_closed_port_is_connection_refused(bastion) -> None:
    free = socket.create_server(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with _greet(bastion.port) as sock:
        sock.recv(2)
        assert _request(sock, 1, socket.inet_aton("127.0.0.1"), port)[1] == 0x05


def test_stop_ends_open_tunnels() -> None:
    server = Bastion()
    server.start()
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        sock = _greet(server.port)
        sock.recv(2)
        assert _request(sock, 1, socket.inet_aton("127.0.0.1"), listener.getsockname()[1])[1] == 0
        server.stop()
        assert sock.recv(10) == b""  # the tunnel was shut down
        sock.close()
    finally:
        listener.close()
        server.stop()
