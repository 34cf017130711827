"""A tiny HTTPS client for the lab tests: direct (Zero Trust) or through the SOCKS5 bastion.

Written on the standard library on purpose, so the lab's tests do not depend on the code
under test elsewhere (probe, adapters).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ztctl.lab.env import LabPaths

TIMEOUT = 3.0


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def route(self) -> str | None:
        return self.headers.get("x-ztctl-lab-route")

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def client_context(
    paths: LabPaths, *, cert: str | None = "client", verify: bool = True
) -> ssl.SSLContext:
    """TLS client context trusting the lab CA; ``cert`` names ``pki/<cert>.crt`` (or None)."""
    if verify:
        context = ssl.create_default_context(cafile=str(paths.ca_cert))
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(paths.pki / f"{cert}.crt", paths.pki / f"{cert}.key")
    return context


def socks5_connect(
    proxy_port: int, host: str, port: int, timeout: float = TIMEOUT
) -> socket.socket:
    """A TCP connection to ``host:port`` through the bastion (domain-name CONNECT)."""
    sock = socket.create_connection(("127.0.0.1", proxy_port), timeout=timeout)
    sock.sendall(b"\x05\x01\x00")
    assert sock.recv(2) == b"\x05\x00"
    name = host.encode()
    sock.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack("!H", port))
    reply = sock.recv(10)
    if reply[1] != 0:
        sock.close()
        raise ConnectionError(f"SOCKS5 reply {reply[1]}")
    return sock


class _Connection(http.client.HTTPSConnection):
    def __init__(
        self, port: int, context: ssl.SSLContext, proxy_port: int | None, timeout: float
    ) -> None:
        super().__init__("localhost", port, context=context, timeout=timeout)
        self._proxy_port = proxy_port

    def connect(self) -> None:
        if self._proxy_port is None:
            super().connect()
            return
        raw = socks5_connect(self._proxy_port, self.host, self.port, self.timeout or TIMEOUT)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def connection(
    paths: LabPaths,
    port: int,
    *,
    cert: str | None = "client",
    verify: bool = True,
    proxy_port: int | None = None,
    timeout: float = TIMEOUT,
) -> http.client.HTTPSConnection:
    return _Connection(port, client_context(paths, cert=cert, verify=verify), proxy_port, timeout)


def send(
    conn: http.client.HTTPSConnection,
    path: str,
    *,
    method: str = "GET",
    token: str | None = None,
    body: bytes | None = None,
) -> Reply:
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)


def request(
    paths: LabPaths,
    port: int,
    path: str,
    *,
    method: str = "GET",
    cert: str | None = "client",
    token: str | None = None,
    body: bytes | None = None,
    verify: bool = True,
    proxy_port: int | None = None,
    timeout: float = TIMEOUT,
) -> Reply:
    """One request on a fresh connection."""
    conn = connection(paths, port, cert=cert, verify=verify, proxy_port=proxy_port, timeout=timeout)
    try:
        return send(conn, path, method=method, token=token, body=body)
    finally:
        conn.close()


def read_token(paths: LabPaths) -> str:
    return Path(paths.pki / "token").read_text().strip()
