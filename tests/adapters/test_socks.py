"""The SOCKS5 / HTTP CONNECT client on a socket pair, and kubectl's environment proxy rules."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import pytest

from ztctl.adapters import socks


def run_against(
    server: Callable[[socket.socket], bytes], client: Callable[[socket.socket], object]
) -> tuple[object, bytes]:
    """Run ``client`` on one end of a socket pair while ``server`` scripts the other end.

    Returns what the client returned (or raised) and every byte the client sent.
    """
    ours, theirs = socket.socketpair()
    ours.settimeout(2)
    theirs.settimeout(2)
    received: list[bytes] = []

    def serve() -> None:
        try:
            received.append(server(theirs))
        finally:
            theirs.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        outcome: object = client(ours)
    except Exception as exc:
        outcome = exc
    finally:
        ours.close()
    thread.join(5)
    return outcome, b"".join(received)


def recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def socks_server(
    method: int, reply: int, *, auth_ok: bool = True
) -> Callable[[socket.socket], bytes]:
    def serve(sock: socket.socket) -> bytes:
        got = recv_exact(sock, 2)
        got += recv_exact(sock, got[1])
        sock.sendall(bytes([5, method]))
        if method == 0xFF:
            return got
        if method == 2:
            head = recv_exact(sock, 2)
            user = recv_exact(sock, head[1])
            plen = recv_exact(sock, 1)
            password = recv_exact(sock, plen[0])
            got += head + user + plen + password
            sock.sendall(bytes([1, 0 if auth_ok else 1]))
            if not auth_ok:
                return got
        head = recv_exact(sock, 5)
        rest = head[4] + 2 if head[3] == 3 else (4 + 2 - 1 if head[3] == 1 else 16 + 2 - 1)
        got += head + recv_exact(sock, rest)
        sock.sendall(bytes([5, reply, 0, 1, 127, 0, 0, 2, 0x1F, 0x90]))
        return got

    return serve


def test_socks5_sends_the_host_name_like_client_go() -> None:
    outcome, sent = run_against(
        socks_server(0, 0), lambda s: socks.socks5_connect(s, "k8s.prod.acme.net", 6443)
    )
    assert outcome == ("127.0.0.2", 8080)
    name = b"k8s.prod.acme.net"
    assert sent == b"\x05\x01\x00" + b"\x05\x01\x00\x03" + bytes([len(name)]) + name + b"\x19\x2b"


def test_socks5_sends_an_ip_as_an_ip() -> None:
    _, sent = run_against(socks_server(0, 0), lambda s: socks.socks5_connect(s, "10.1.2.3", 443))
    assert sent.endswith(b"\x05\x01\x00\x01\x0a\x01\x02\x03\x01\xbb")


def test_socks5_username_password() -> None:
    outcome, sent = run_against(
        socks_server(2, 0), lambda s: socks.socks5_connect(s, "10.0.0.1", 443, "oncall", "pw")
    )
    assert outcome == ("127.0.0.2", 8080)
    assert sent.startswith(b"\x05\x02\x00\x02" + b"\x01\x06oncall\x02pw")


@pytest.mark.parametrize(
    ("server", "message"),
    [
        (socks_server(0, 4), "host unreachable"),
        (socks_server(0, 2), "connection not allowed by ruleset"),
        (socks_server(0xFF, 0), "none of our authentication methods"),
        (socks_server(2, 0, auth_ok=False), "rejected the username"),
    ],
)
def test_socks5_failures_are_named(server: Callable[[socket.socket], bytes], message: str) -> None:
    outcome, _ = run_against(server, lambda s: socks.socks5_connect(s, "10.0.0.1", 443, "u", "p"))
    assert isinstance(outcome, socks.ProxyError)
    assert message in outcome.message


def test_socks5_peer_that_is_not_socks() -> None:
    def http_server(sock: socket.socket) -> bytes:
        got = sock.recv(16)
        sock.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        return got

    outcome, _ = run_against(http_server, lambda s: socks.socks5_connect(s, "10.0.0.1", 443))
    assert isinstance(outcome, socks.ProxyError)
    assert "not answer as a SOCKS5 server" in outcome.message


def test_http_connect_keeps_what_follows_the_header_for_the_tunnel() -> None:
    def proxy(sock: socket.socket) -> bytes:
        got = b""
        while b"\r\n\r\n" not in got:
            got += sock.recv(1024)
        sock.sendall(b"HTTP/1.1 200 Connection established\r\nVia: x\r\n\r\nTLS-BYTES")
        return got

    def client(sock: socket.socket) -> bytes:
        socks.http_connect(sock, "k8s.acme.net", 6443, "u", "p")
        return recv_exact(sock, 9)

    outcome, sent = run_against(proxy, client)
    assert outcome == b"TLS-BYTES"
    assert sent.startswith(b"CONNECT k8s.acme.net:6443 HTTP/1.1\r\nHost: k8s.acme.net:6443\r\n")
    assert b"Proxy-Authorization: Basic dTpw\r\n" in sent


def test_http_connect_refusal() -> None:
    def proxy(sock: socket.socket) -> bytes:
        got = sock.recv(1024)
        sock.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
        return got

    outcome, _ = run_against(proxy, lambda s: socks.http_connect(s, "k8s.acme.net", 6443))
    assert isinstance(outcome, socks.ProxyError) and outcome.reply == 407
    assert "407 Proxy Authentication Required" in outcome.message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("socks5://127.0.0.1:1080", ("socks5", "127.0.0.1", 1080, None)),
        ("socks5h://bastion:9050", ("socks5h", "bastion", 9050, None)),
        ("socks5://u:p%40ss@h", ("socks5", "h", 1080, "u")),
        ("http://proxy.corp:3128", ("http", "proxy.corp", 3128, None)),
        ("proxy.corp:3128", ("http", "proxy.corp", 3128, None)),  # Go: no scheme = http
        ("http://[::1]:8080", ("http", "::1", 8080, None)),
    ],
)
def test_parse_proxy_url(url: str, expected: tuple[str, str, int, str | None]) -> None:
    spec = socks.parse_proxy_url(url)
    assert (spec.scheme, spec.host, spec.port, spec.username) == expected


def test_parse_proxy_url_keeps_the_password_out_of_repr_and_display() -> None:
    spec = socks.parse_proxy_url("socks5://oncall:s3cret@127.0.0.1:1080")
    assert spec.password == "s3cret"
    assert "s3cret" not in repr(spec) and "s3cret" not in spec.display
    assert socks.redact_url("socks5://oncall:s3cret@127.0.0.1:1080") == "socks5://127.0.0.1:1080"


@pytest.mark.parametrize("url", ["socks4://h:1", "ftp://h", "socks5://:1080", "http://h:notaport"])
def test_parse_proxy_url_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        socks.parse_proxy_url(url)


@pytest.mark.parametrize(
    ("env", "host", "port", "expected"),
    [
        ({}, "k8s.acme.net", 6443, None),
        ({"HTTPS_PROXY": "http://p:3128"}, "k8s.acme.net", 6443, "http://p:3128"),
        ({"https_proxy": "http://p:3128"}, "k8s.acme.net", 6443, "http://p:3128"),
        ({"HTTP_PROXY": "http://p:3128"}, "k8s.acme.net", 6443, None),  # no fallback
        ({"HTTPS_PROXY": "http://p"}, "localhost", 6443, None),  # never proxied
        ({"HTTPS_PROXY": "http://p"}, "127.0.0.5", 6443, None),
        ({"HTTPS_PROXY": "http://p"}, "::1", 6443, None),
        ({"HTTPS_PROXY": "http://p", "NO_PROXY": "acme.net"}, "k8s.acme.net", 6443, None),
        ({"HTTPS_PROXY": "http://p", "NO_PROXY": ".acme.net"}, "acme.net", 6443, "http://p"),
        ({"HTTPS_PROXY": "http://p", "NO_PROXY": "*"}, "k8s.acme.net", 6443, None),
        ({"HTTPS_PROXY": "http://p", "no_proxy": "10.0.0.0/8"}, "10.1.2.3", 6443, None),
        ({"HTTPS_PROXY": "http://p", "NO_PROXY": "10.1.2.3"}, "10.1.2.3", 6443, None),
        (
            {"HTTPS_PROXY": "http://p", "NO_PROXY": "k8s.acme.net:443"},
            "k8s.acme.net",
            6443,
            "http://p",
        ),
        ({"HTTPS_PROXY": "http://p", "NO_PROXY": "k8s.acme.net:6443"}, "k8s.acme.net", 6443, None),
        (
            {"HTTPS_PROXY": "http://p", "NO_PROXY": "other.net, acme.org"},
            "k8s.acme.net",
            6443,
            "http://p",
        ),
    ],
)
def test_proxy_from_environment_follows_go(
    env: dict[str, str], host: str, port: int, expected: str | None
) -> None:
    assert socks.proxy_from_environment(host, port, env) == expected
