"""The lab's Cloudflare Access: an RS256 signing key, its JWKS, and Access JWTs.

Files (created on first use, under an ``fcntl`` lock so concurrent processes agree):

* ``DIR/access/signing-key.pem`` (0600) and ``signing-cert.pem``: the current key and a
  self-signed certificate for it (the JWKS ``public_cert``);
* ``DIR/access/previous-signing-key.pem`` / ``previous-signing-cert.pem`` after
  :func:`rotate_signing_key` (Cloudflare keeps the old key valid for 7 days; the lab keeps
  it until the next rotation).

Tokens carry the claim set of real Access tokens — ``aud`` (array), ``email``, ``exp``,
``iat``, ``nbf``, ``iss``, ``type``, ``identity_nonce``, ``sub``, ``country`` — with header
``{"alg":"RS256","kid":"<64-hex>","typ":"JWT"}``. ``iss`` is the real form
``https://<team>.cloudflareaccess.com`` for the lab's team: it is only a string that both
sides compare; nothing resolves that host (the lab serves the team domain's endpoints at
loopback, see :mod:`ztctl.lab.edge`). The AUD tag of an application is derived from its host
name (:func:`app_aud`), as Access applications are per host.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ztctl.adapters.fs import atomic_write, ensure_private_dir
from ztctl.adapters.jwt import JwtDecodeError, audiences, decode_claims, decode_header
from ztctl.lab import state as labstate

ACCESS_DIR = "access"
KEY_FILE = "signing-key.pem"
CERT_FILE = "signing-cert.pem"
PREVIOUS_KEY_FILE = "previous-signing-key.pem"
PREVIOUS_CERT_FILE = "previous-signing-cert.pem"
LOCK_FILE = ".lock"

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

# cryptography is imported inside the functions that sign or verify, so that the naming
# helpers (app_aud, issuer) stay light for the stand-in cloudflared's `access token`.


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    cert_pem: str

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()


def access_dir(lab_dir: Path) -> Path:
    return lab_dir / ACCESS_DIR


def issuer(team: str) -> str:
    """The ``iss`` of the team's tokens (the real auth-domain form)."""
    return f"https://{team}.cloudflareaccess.com"


def auth_domain(team: str) -> str:
    return f"{team}.cloudflareaccess.com"


def app_hostname(app_url: str) -> str:
    """The host name of an Access application URL (``https://k8s.lab:6443/x`` → ``k8s.lab``)."""
    parsed = urllib.parse.urlsplit(app_url if "://" in app_url else f"https://{app_url}")
    return (parsed.hostname or app_url).lower()


def app_aud(app_url: str) -> str:
    """The lab's AUD tag (64 hex digits) of the Access application serving ``app_url``."""
    return hashlib.sha256(f"ztctl-lab-access-app:{app_hostname(app_url)}".encode()).hexdigest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _kid(public_key: rsa.RSAPublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


@contextlib.contextmanager
def _locked(lab_dir: Path) -> Iterator[Path]:
    directory = ensure_private_dir(access_dir(lab_dir))
    with open(directory / LOCK_FILE, "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield directory
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _new_key(directory: Path, key_name: str, cert_name: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ztctl lab Access signing key")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=42))  # Access rotates keys every 6 weeks
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    atomic_write(directory / key_name, pem, mode=0o600)
    atomic_write(directory / cert_name, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)


_CACHE: dict[tuple[str, int], SigningKey] = {}


def _load(directory: Path, key_name: str, cert_name: str) -> SigningKey | None:
    path = directory / key_name
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    cached = _CACHE.get((str(path), stamp))
    if cached is not None:
        return cached
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA key")
    loaded = SigningKey(_kid(key.public_key()), key, (directory / cert_name).read_text("ascii"))
    _CACHE[(str(path), stamp)] = loaded
    return loaded


def ensure_signing_key(lab_dir: Path) -> SigningKey:
    """The current signing key, created (0600) on first use."""
    current = _load(access_dir(lab_dir), KEY_FILE, CERT_FILE)
    if current is not None:
        return current
    with _locked(lab_dir) as directory:
        if not (directory / KEY_FILE).exists():
            _new_key(directory, KEY_FILE, CERT_FILE)
        loaded = _load(directory, KEY_FILE, CERT_FILE)
    assert loaded is not None
    return loaded


def rotate_signing_key(lab_dir: Path) -> SigningKey:
    """Make a new current key; the old one stays valid (and published) as the previous key."""
    ensure_signing_key(lab_dir)
    with _locked(lab_dir) as directory:
        os.replace(directory / KEY_FILE, directory / PREVIOUS_KEY_FILE)
        os.replace(directory / CERT_FILE, directory / PREVIOUS_CERT_FILE)
        _new_key(directory, KEY_FILE, CERT_FILE)
    return ensure_signing_key(lab_dir)


def signing_keys(lab_dir: Path) -> list[SigningKey]:
    """Current key first, then the previous one if any."""
    keys = [ensure_signing_key(lab_dir)]
    previous = _load(access_dir(lab_dir), PREVIOUS_KEY_FILE, PREVIOUS_CERT_FILE)
    if previous is not None:
        keys.append(previous)
    return keys


def _jwk(key: SigningKey) -> dict[str, str]:
    numbers = key.public_key.public_numbers()

    def encode(value: int) -> str:
        return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))

    return {
        "kid": key.kid,
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "e": encode(numbers.e),
        "n": encode(numbers.n),
    }


def jwks(lab_dir: Path) -> dict[str, Any]:
    """The ``/cdn-cgi/access/certs`` document: ``keys``, ``public_cert``, ``public_certs``."""
    keys = signing_keys(lab_dir)
    return {
        "keys": [_jwk(k) for k in keys],
        "public_cert": {"kid": keys[0].kid, "cert": keys[0].cert_pem},
        "public_certs": [{"kid": k.kid, "cert": k.cert_pem} for k in keys],
    }


def sign_jwt(lab_dir: Path, claims: dict[str, Any]) -> str:
    """Sign ``claims`` with the lab's current key (RS256)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = ensure_signing_key(lab_dir)
    header = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode("utf-8"))
        for part in (header, claims)
    )
    signature = key.private_key.sign(
        signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
    )
    return f"{signing_input}.{_b64url(signature)}"


def access_claims(
    lab_dir: Path,
    app_url: str | None,
    *,
    kind: str = "app",
    ttl_s: float | None = None,
    now: float | None = None,
    aud: list[str] | None = None,
) -> dict[str, Any]:
    """The claim set of an Access token for the lab user (state ``access`` section)."""
    st = labstate.load(lab_dir)
    user = st.access
    issued = int(time.time() if now is None else now)
    if ttl_s is None:
        ttl_s = user.token_ttl_s if kind == "app" else user.org_token_ttl_s
    if aud is None:
        aud = [app_aud(app_url) if app_url else app_aud(auth_domain(st.team))]
    return {
        "aud": aud,
        "email": user.email,
        "exp": issued + int(ttl_s),
        "iat": issued,
        "nbf": issued,
        "iss": issuer(st.team),
        "type": kind,
        "identity_nonce": _b64url(os.urandom(12)),
        "sub": user.user_uuid,
        "country": user.country,
    }


def issue_token(
    lab_dir: Path,
    app_url: str | None,
    *,
    kind: str = "app",
    ttl_s: float | None = None,
    now: float | None = None,
    aud: list[str] | None = None,
) -> str:
    """A signed Access JWT for ``app_url`` (``type`` app) or the team (``type`` org).

    ``ttl_s`` defaults to the state's ``access.token_ttl_s`` (app) or ``org_token_ttl_s``;
    ``now`` lets tests mint tokens that are already expired or not yet valid.
    """
    claims = access_claims(lab_dir, app_url, kind=kind, ttl_s=ttl_s, now=now, aud=aud)
    return sign_jwt(lab_dir, claims)


def _public_keys_from_jwks(doc: dict[str, Any]) -> dict[str, rsa.RSAPublicKey]:
    from cryptography.hazmat.primitives.asymmetric import rsa

    found: dict[str, rsa.RSAPublicKey] = {}
    for jwk in doc.get("keys", []) if isinstance(doc, dict) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
            continue
        try:
            n = int.from_bytes(_b64url_decode(str(jwk["n"])), "big")
            e = int.from_bytes(_b64url_decode(str(jwk["e"])), "big")
            found[str(jwk["kid"])] = rsa.RSAPublicNumbers(e, n).public_key()
        except (KeyError, ValueError):
            continue
    return found


def verify_with_keys(
    token: str,
    keys: dict[str, rsa.RSAPublicKey],
    *,
    expected_issuer: str,
    audience: str | None = None,
    kinds: tuple[str, ...] = ("app",),
    now: float | None = None,
) -> dict[str, Any] | None:
    """The claims of ``token`` if its RS256 signature (by ``kid``), ``exp``, ``nbf``, ``iss``,
    ``aud`` (contains ``audience`` when given, else non-empty) and ``type`` all check out."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        header = decode_header(token)
        claims = decode_claims(token)
        signing_input, _, signature = token.strip().rpartition(".")
        raw_signature = _b64url_decode(signature)
    except (JwtDecodeError, ValueError):
        return None
    key = keys.get(str(header.get("kid")))
    if header.get("alg") != "RS256" or key is None:
        return None
    try:
        key.verify(
            raw_signature, signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, ValueError):
        return None
    moment = time.time() if now is None else now
    exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
    if not isinstance(exp, (int, float)) or exp <= moment:
        return None
    if isinstance(nbf, (int, float)) and nbf > moment + 1:
        return None
    if claims.get("iss") != expected_issuer or claims.get("type") not in kinds:
        return None
    auds = audiences(claims)
    if not auds or (audience is not None and audience not in auds):
        return None
    return claims


def verify_with_jwks(
    token: str,
    jwks_doc: dict[str, Any],
    *,
    expected_issuer: str,
    audience: str | None = None,
    kinds: tuple[str, ...] = ("app",),
    now: float | None = None,
) -> dict[str, Any] | None:
    """:func:`verify_with_keys` with the keys of a JWKS document (``/cdn-cgi/access/certs``)."""
    return verify_with_keys(
        token,
        _public_keys_from_jwks(jwks_doc),
        expected_issuer=expected_issuer,
        audience=audience,
        kinds=kinds,
        now=now,
    )


def verify_access_jwt(
    lab_dir: Path,
    token: str,
    *,
    app_url: str | None = None,
    kinds: tuple[str, ...] = ("app",),
    now: float | None = None,
) -> dict[str, Any] | None:
    """The claims of a valid lab Access token, else ``None``.

    Checks the signature against the lab's current and previous key, ``exp``/``nbf``,
    ``iss`` (the lab team's auth domain) and ``aud`` — which must contain
    ``app_aud(app_url)`` when ``app_url`` is given (the API server passes its own URL).
    """
    team = labstate.load(lab_dir).team
    keys = {k.kid: k.public_key for k in signing_keys(lab_dir)}
    audience = app_aud(app_url) if app_url else None
    return verify_with_keys(
        token,
        keys,
        expected_issuer=issuer(team),
        audience=audience,
        kinds=kinds,
        now=now,
    )
