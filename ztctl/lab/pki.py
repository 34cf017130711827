"""The lab's certificates: a cluster CA, the API server's certificate, client certificates
(valid, expired, not yet valid) and a look-alike Gateway TLS-inspection CA.

Everything lives under ``DIR/pki/``; private keys and the static token are 0600. Keys are
ECDSA P-256, which kubectl, client-go, OpenSSL and urllib3 all accept and which generates in
milliseconds, so ``ztctl lab up`` stays fast.

The Gateway CA copies the naming of the real per-account Zero Trust root CAs,
``Gateway CA - Cloudflare Managed G1 <32 hex>`` (Cloudflare's documented name),
so that ztctl's TLS-inspection detection is tested against a realistic chain. When the
``tls_inspection`` fault is on, the API server presents ``gateway-server.crt`` (a forged
certificate for the same names, issued by that CA) instead of its real one.

This module is imported only by the lab (``ztctl lab`` and tests), never on the CLI start-up
path, so importing ``cryptography`` at the top is fine.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ztctl.adapters.fs import atomic_write, ensure_private_dir

PKI_DIR = "pki"
CLIENT_USER = "lab-admin"
CLIENT_GROUPS = ("system:masters",)
BEARER_USER = "lab-operator"  # who the static bearer token authenticates as
BEARER_GROUPS = ("lab:operators",)
SERVER_DNS_NAMES = ("localhost",)
SERVER_IPS = ("127.0.0.1", "::1")
CLIENT_VARIANTS = ("valid", "expired", "notyet")
GATEWAY_CA_PREFIX = "Gateway CA - Cloudflare Managed G1"

# Regenerate certificates that would expire within this margin.
_RENEW_MARGIN = dt.timedelta(days=7)


@dataclass(frozen=True)
class LabPki:
    """Paths of the lab's PKI files (all absolute)."""

    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.root / "server.crt"

    @property
    def server_key(self) -> Path:
        return self.root / "server.key"

    @property
    def gateway_ca_cert(self) -> Path:
        return self.root / "gateway-ca.crt"

    @property
    def gateway_ca_key(self) -> Path:
        return self.root / "gateway-ca.key"

    @property
    def gateway_server_cert(self) -> Path:
        """The forged server certificate followed by the Gateway CA (the presented chain)."""
        return self.root / "gateway-server.crt"

    @property
    def gateway_server_key(self) -> Path:
        return self.root / "gateway-server.key"

    @property
    def client_cert(self) -> Path:
        """The client certificate the lab kubeconfig and catalog point at (the active variant)."""
        return self.root / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.root / "client.key"

    @property
    def token_file(self) -> Path:
        """The lab's static bearer token (a secret: 0600, never printed)."""
        return self.root / "token"

    def client_variant(self, variant: str) -> tuple[Path, Path]:
        if variant not in CLIENT_VARIANTS:
            raise ValueError(f"unknown client certificate variant {variant!r}")
        return self.root / f"client-{variant}.crt", self.root / f"client-{variant}.key"

    def static_token(self) -> str:
        return self.token_file.read_text(encoding="ascii").strip()


def pki_for(lab_dir: Path) -> LabPki:
    return LabPki(lab_dir.resolve() / PKI_DIR)


def ensure_pki(lab_dir: Path) -> LabPki:
    """Create the lab PKI under ``DIR/pki`` unless a complete, fresh one is already there.

    A kept PKI means kubeconfig entries merged from an earlier run keep working.
    """
    pki = pki_for(lab_dir)
    ensure_private_dir(pki.root)
    if not _is_fresh(pki):
        _generate(pki)
    return pki


def select_client_cert(pki: LabPki, variant: str) -> None:
    """Make ``client.crt``/``client.key`` a copy of the chosen variant (atomically each)."""
    cert, key = pki.client_variant(variant)
    atomic_write(pki.client_key, key.read_bytes(), mode=0o600)
    atomic_write(pki.client_cert, cert.read_bytes(), mode=0o644)


def load_certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _is_fresh(pki: LabPki) -> bool:
    required = [
        pki.ca_cert,
        pki.ca_key,
        pki.server_cert,
        pki.server_key,
        pki.gateway_ca_cert,
        pki.gateway_ca_key,
        pki.gateway_server_cert,
        pki.gateway_server_key,
        pki.client_cert,
        pki.client_key,
        pki.token_file,
    ]
    for variant in CLIENT_VARIANTS:
        required.extend(pki.client_variant(variant))
    if not all(p.exists() for p in required):
        return False
    horizon = _now() + _RENEW_MARGIN
    try:
        for path in (pki.ca_cert, pki.server_cert, pki.client_variant("valid")[0]):
            if load_certificate(path).not_valid_after_utc < horizon:
                return False
    except ValueError:
        return False
    return True


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    # The real Gateway CA names run past X.520's 64-character bound for a common name
    # (35 + 32 hex = 67); cryptography checks the bound unless told not to.
    attrs.append(
        x509.NameAttribute(NameOID.COMMON_NAME, common_name, _validate=len(common_name) <= 64)
    )
    return x509.Name(attrs)


def _ca(
    common_name: str, not_before: dt.datetime, days: int
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    name = _name(common_name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    subject: x509.Name,
    issuer_cert: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    *,
    server: bool,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _new_key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if server:
        names: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_DNS_NAMES]
        names += [x509.IPAddress(ipaddress.ip_address(a)) for a in SERVER_IPS]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def _write_pair(
    cert_path: Path, cert_pem: bytes, key_path: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    atomic_write(key_path, _key_pem(key), mode=0o600)
    atomic_write(cert_path, cert_pem, mode=0o644)


def _generate(pki: LabPki) -> None:
    with warnings.catch_warnings():
        # The Gateway CA's long common name (see _name) is deliberate.
        warnings.filterwarnings("ignore", message="Attribute's length", category=UserWarning)
        _generate_all(pki)


def _generate_all(pki: LabPki) -> None:
    now = _now()
    start = now - dt.timedelta(minutes=5)  # tolerate a little clock skew, as real issuers do

    ca, ca_key = _ca("ztctl-lab-ca", start, days=3650)
    _write_pair(pki.ca_cert, _cert_pem(ca), pki.ca_key, ca_key)

    server, server_key = _leaf(
        _name("kube-apiserver"), ca, ca_key, start, now + dt.timedelta(days=365), server=True
    )
    _write_pair(pki.server_cert, _cert_pem(server), pki.server_key, server_key)

    # The look-alike Gateway root: per-account names end in 32 hex digits.
    gw_name = f"{GATEWAY_CA_PREFIX} {secrets.token_hex(16)}"
    gw_ca, gw_key = _ca(gw_name, start, days=1825)
    _write_pair(pki.gateway_ca_cert, _cert_pem(gw_ca), pki.gateway_ca_key, gw_key)
    forged, forged_key = _leaf(
        _name("localhost"), gw_ca, gw_key, start, now + dt.timedelta(days=14), server=True
    )
    _write_pair(
        pki.gateway_server_cert, _cert_pem(forged, gw_ca), pki.gateway_server_key, forged_key
    )

    windows = {
        "valid": (start, now + dt.timedelta(days=365)),
        "expired": (now - dt.timedelta(days=30), now - dt.timedelta(days=1)),
        "notyet": (now + dt.timedelta(days=30), now + dt.timedelta(days=395)),
    }
    subject = _name(CLIENT_USER, CLIENT_GROUPS)
    for variant, (not_before, not_after) in windows.items():
        cert, key = _leaf(subject, ca, ca_key, not_before, not_after, server=False)
        cert_path, key_path = pki.client_variant(variant)
        _write_pair(cert_path, _cert_pem(cert), key_path, key)
    select_client_cert(pki, "valid")

    atomic_write(pki.token_file, (secrets.token_urlsafe(32) + "\n").encode("ascii"), mode=0o600)
    os.chmod(pki.root, 0o700)
