"""The probe's wire against real loopback servers: strict response framing (h11) and one
deadline across every phase (each socket wait gets only what is left of ``--timeout``).

Only the public probe API is used, so these tests also run against an older probe.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ztctl.core.probe import ProbeOptions, Target, probe_cluster

from .test_probe_tls import issue, name, pem

# The answers to the pipelined /version and SelfSubjectReview: a good /readyz framing
# followed by these makes a healthy probe.
VERSION = b'{"gitVersion":"v1.31.0"}'
SSR = b'{"status":{"userInfo":{"username":"alice","groups":["dev"]}}}'
REST = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(VERSION),
    VERSION,
) + b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(SSR),
    SSR,
)


class Pki:
    def __init__(self, tmp: Path) -> None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = issue(name("kubernetes"), ca_key, name("kubernetes"), ca_key, ca=True)
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = issue(name("localhost"), key, name("kubernetes"), ca_key, ca=False)
        self.ca_pem = pem(ca)
        (tmp / "chain.pem").write_bytes(pem(leaf))
        (tmp / "key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_context.load_cert_chain(tmp / "chain.pem", tmp / "key.pem")


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


@contextlib.contextmanager
def server(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A loopback TCP server running ``handle`` on each connection; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def serve(sock: socket.socket) -> None:
        with contextlib.suppress(OSError), sock:
            handle(sock)

    def loop() -> None:
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except OSError:
                continue
            thread = threading.Thread(target=serve, args=(sock,), daemon=True)
            thread.start()
            threads.append(thread)

    acceptor = threading.Thread(target=loop, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        acceptor.join(2)
        listener.close()


def read_requests(tls: ssl.SSLSocket, count: int) -> None:
    """Read until ``count`` request heads (and the SSR body) have arrived."""
    data = b""
    while data.count(b"\r\n\r\n") < count or not data.endswith(b"}"):
        chunk = tls.recv(65536)
        if not chunk:
            return
        data += chunk
        if count == 1 and b"\r\n\r\n" in data:
            return


def api_server(pki: Pki, readyz: bytes) -> Callable[[socket.socket], None]:
    """An API server that answers the pipelined requests with ``readyz`` then REST."""

    def handle(sock: socket.socket) -> None:
        sock.settimeout(5)
        with pki.server_context.wrap_socket(sock, server_side=True) as tls:
            read_requests(tls, 3)
            tls.sendall(readyz + REST)
            time.sleep(0.5)

    return handle


def target(port: int, pki: Pki) -> Target:
    return Target(
        name="acme",
        server=f"https://localhost:{port}",
        addresses=("127.0.0.1",),
        ca_pem=pki.ca_pem,
        token="t0ken",
    )


def run(port: int, pki: Pki, timeout: float = 2.0):  # type: ignore[no-untyped-def]
    options = ProbeOptions(timeout=timeout, allow_interactive=False)
    return probe_cluster(target(port, pki), route="zero-trust", options=options)


# --- framing ----------------------------------------------------------------------------


def test_a_well_framed_answer_is_ready(pki: Pki) -> None:
    with server(api_server(pki, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")) as port:
        result = run(port, pki)
    assert result.problem is None, result.problem
    assert (result.readyz, result.version, result.user) == ("ok", "v1.31.0", "alice")


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"Content-Length: -5\r\n", id="negative"),
        pytest.param(b"Content-Length: 1_0\r\n", id="underscore"),
        pytest.param(b"Content-Length: 2\r\nContent-Length: 10\r\n", id="conflicting"),
    ],
)
def test_a_bad_content_length_is_refused_not_guessed(pki: Pki, head: bytes) -> None:
    # Ten bytes of body: an answer read with the guessed length (10, or the last one)
    # would leave the pipelined /version and SelfSubjectReview answers in step.
    readyz = b"HTTP/1.1 200 OK\r\n" + head + b"\r\nokokokokok"
    with server(api_server(pki, readyz)) as port:
        result = run(port, pki)
    assert result.problem is not None, "a malformed Content-Length was accepted"
    assert result.problem.kind == "protocol" and result.problem.phase == "http"
    assert result.exit_code == 1
    assert result.readyz_status is None  # no /readyz answer was taken from it
    assert "did not answer like a Kubernetes API server" in result.problem.message


# --- one deadline -----------------------------------------------------------------------

TIMEOUT = 1.0
MARGIN = 0.75  # a loaded CI box


def trickle(sock: socket.socket, data: bytes, pause: float = 0.15) -> None:
    for i in range(len(data)):
        sock.sendall(data[i : i + 1])
        time.sleep(pause)


def silent(sock: socket.socket) -> None:
    """Reads what comes, never answers (until the client gives up)."""
    sock.settimeout(TIMEOUT + 3)
    with contextlib.suppress(OSError):
        while sock.recv(65536):
            pass


def slow_tls_relay(pki: Pki) -> Callable[[socket.socket], None]:
    """A real TLS server whose bytes reach the client one every 50 ms: each read gets a
    byte well within the timeout, but the handshake would take many seconds."""

    def handle(sock: socket.socket) -> None:
        inner, outer = socket.socketpair()
        done = threading.Event()

        def tls_side() -> None:
            with (
                contextlib.suppress(OSError, ssl.SSLError),
                pki.server_context.wrap_socket(inner, server_side=True) as tls,
            ):
                read_requests(tls, 1)
            done.set()

        threading.Thread(target=tls_side, daemon=True).start()
        sock.settimeout(0.05)
        outer.settimeout(0.05)
        deadline = time.monotonic() + TIMEOUT + 3
        while time.monotonic() < deadline and not done.is_set():
            with contextlib.suppress(TimeoutError):
                data = sock.recv(65536)
                if not data:
                    break
                outer.sendall(data)
            with contextlib.suppress(TimeoutError):
                data = outer.recv(1)
                if data:
                    sock.sendall(data)
                    time.sleep(0.05)
        outer.close()

    return handle


def slow_http(pki: Pki) -> Callable[[socket.socket], None]:
    def handle(sock: socket.socket) -> None:
        sock.settimeout(TIMEOUT + 3)
        with pki.server_context.wrap_socket(sock, server_side=True) as tls:
            read_requests(tls, 3)
            trickle(tls, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + REST)

    return handle


def slow_socks(sock: socket.socket) -> None:
    """A SOCKS5 proxy that answers, one byte at a time, with a success."""
    sock.settimeout(TIMEOUT + 3)
    sock.recv(3)  # greeting
    trickle(sock, b"\x05\x00", pause=0.3)
    sock.recv(262)  # CONNECT
    trickle(sock, b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50", pause=0.3)


def assert_within_timeout(result, started: float, phase: str) -> None:  # type: ignore[no-untyped-def]
    elapsed = time.monotonic() - started
    assert result.problem is not None and result.problem.kind == "timeout", result.problem
    assert result.problem.phase == phase
    assert elapsed < TIMEOUT + MARGIN, f"{phase}: returned after {elapsed:.2f}s"


@pytest.mark.parametrize(
    ("phase", "handler"),
    [
        ("tls", lambda pki: silent),
        ("tls", slow_tls_relay),
        ("http", lambda pki: api_server_silent(pki)),
        ("http", slow_http),
    ],
    ids=["tls-silent", "tls-trickle", "http-silent", "http-trickle"],
)
def test_each_stalled_phase_returns_within_the_timeout(
    pki: Pki, phase: str, handler: Callable[[Pki], Callable[[socket.socket], None]]
) -> None:
    with server(handler(pki)) as port:
        started = time.monotonic()
        result = run(port, pki, timeout=TIMEOUT)
        assert_within_timeout(result, started, phase)


def api_server_silent(pki: Pki) -> Callable[[socket.socket], None]:
    def handle(sock: socket.socket) -> None:
        sock.settimeout(TIMEOUT + 3)
        with pki.server_context.wrap_socket(sock, server_side=True) as tls:
            read_requests(tls, 3)
            time.sleep(TIMEOUT + 1)

    return handle


@pytest.mark.parametrize("proxy", [silent, slow_socks], ids=["silent", "trickle"])
def test_a_stalled_proxy_returns_within_the_timeout(
    pki: Pki, proxy: Callable[[socket.socket], None]
) -> None:
    from dataclasses import replace

    with server(proxy) as port:
        proxied = replace(target(443, pki), proxy_url=f"socks5://127.0.0.1:{port}")
        started = time.monotonic()
        result = probe_cluster(
            proxied,
            route="zero-trust",
            options=ProbeOptions(timeout=TIMEOUT, allow_interactive=False),
        )
        assert_within_timeout(result, started, "proxy")
