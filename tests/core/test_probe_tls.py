"""TLS inspection is named from the presented chain, and not one byte of HTTP is sent on a
connection that did not verify.

A small TLS server of our own on loopback records what each connection received after its
handshake; the lab's inspection fault cannot tell us that.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ztctl.core.probe import ProbeOptions, Target, probe_cluster

NOW = dt.datetime.now(dt.timezone.utc)


def name(cn: str | None = None, ou: str | None = None, o: str | None = None) -> x509.Name:
    attrs = []
    if o:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o))
    if ou:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    if cn:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    signer: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
    return builder.sign(signer, hashes.SHA256())


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


class RecordingTlsServer:
    """Serves a fixed chain; records the application bytes each connection received."""

    def __init__(self, chain_pem: bytes, key: ec.EllipticCurvePrivateKey, tmp: Path) -> None:
        (tmp / "chain.pem").write_bytes(chain_pem)
        (tmp / "key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(tmp / "chain.pem", tmp / "key.pem")
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self.handshakes = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._loop, daemon=True)
        self._accept.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self.listener.accept()
            except OSError:
                continue
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(2)
        data = b""
        try:
            with self.context.wrap_socket(sock, server_side=True) as tls:
                self.handshakes += 1
                while True:
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    data += chunk
        except (OSError, ssl.SSLError):
            pass
        finally:
            self.received.append(data)

    def close(self) -> None:
        self._stop.set()
        self._accept.join(2)
        for thread in self._threads:
            thread.join(3)
        self.listener.close()


def cluster_target(port: int, ca_pem: bytes) -> Target:
    return Target(
        name="acme",
        server=f"https://localhost:{port}",
        addresses=("127.0.0.1",),
        ca_pem=ca_pem,
        token="never-sent",
    )


@pytest.fixture
def cluster_ca() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return pem(issue(name("kubernetes"), key, name("kubernetes"), key, ca=True))


@contextlib.contextmanager
def serve(
    tmp_path: Path, chain: list[x509.Certificate], key: ec.EllipticCurvePrivateKey
) -> Iterator[RecordingTlsServer]:
    server = RecordingTlsServer(pem(*chain), key, tmp_path)
    try:
        yield server
    finally:
        server.close()


def test_per_account_gateway_ca_is_named_and_nothing_is_sent(
    tmp_path: Path, cluster_ca: bytes
) -> None:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = name("Gateway CA - Cloudflare Managed G2 c1b48542aa", o="Cloudflare")
    root = issue(root_name, root_key, root_name, root_key, ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = issue(name("localhost"), leaf_key, root_name, root_key, ca=False)
    with serve(tmp_path, [leaf, root], leaf_key) as server:
        result = probe_cluster(
            cluster_target(server.port, cluster_ca),
            route="zero-trust",
            options=ProbeOptions(timeout=2),
        )
    assert result.exit_code == 5
    assert result.problem is not None and result.problem.kind == "tls-inspection"
    assert "Gateway CA - Cloudflare Managed G2 c1b48542aa" in result.problem.message
    assert result.certificate is not None
    assert (
        result.certificate.issuer == "CN=Gateway CA - Cloudflare Managed G2 c1b48542aa,O=Cloudflare"
    )
    assert server.handshakes == 1  # only the unverified look completed a handshake
    assert server.received and all(data == b"" for data in server.received)


def test_legacy_gateway_chain_is_named_by_its_intermediate(
    tmp_path: Path, cluster_ca: bytes
) -> None:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = name("Cloudflare for Teams ECC Certificate Authority", o="Cloudflare, Inc")
    root = issue(root_name, root_key, root_name, root_key, ca=True)
    mid_key = ec.generate_private_key(ec.SECP256R1())
    mid_name = name(ou="Gateway Intermediate ECC Certificate Authority", o="Cloudflare, Inc.")
    mid = issue(mid_name, mid_key, root_name, root_key, ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = issue(name("localhost"), leaf_key, mid_name, mid_key, ca=False)
    with serve(tmp_path, [leaf, mid, root], leaf_key) as server:
        result = probe_cluster(
            cluster_target(server.port, cluster_ca),
            route="zero-trust",
            options=ProbeOptions(timeout=2),
        )
    assert result.problem is not None and result.problem.kind == "tls-inspection"
    assert result.certificate is not None
    assert result.certificate.inspected_by == "Gateway Intermediate ECC Certificate Authority"
    assert all(data == b"" for data in server.received)


def test_an_unknown_interceptor_is_untrusted_and_its_issuer_named(
    tmp_path: Path, cluster_ca: bytes
) -> None:
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_name = name("Corp Proxy CA")
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = issue(name("localhost"), leaf_key, other_name, other_key, ca=False)
    with serve(tmp_path, [leaf], leaf_key) as server:
        result = probe_cluster(
            cluster_target(server.port, cluster_ca),
            route="zero-trust",
            options=ProbeOptions(timeout=2),
        )
    assert result.exit_code == 5
    assert result.problem is not None and result.problem.kind == "tls-untrusted"
    assert "CN=Corp Proxy CA" in result.problem.message
    assert all(data == b"" for data in server.received)
