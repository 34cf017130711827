"""Read the claims of a Cloudflare Access JWT without verifying it.

ztctl shows who a token belongs to and when it expires, and refuses a token whose ``aud``
or ``exp`` does not fit; it never trusts these claims for anything else (the API server
verifies the signature). So this module only decodes: base64url and JSON, no
``cryptography`` (it sits on the start-up path of ``ztctl credential``).

Claim set: ``aud`` (an array, or a string in older tokens — read both, as
cloudflared does), ``email``, ``exp``, ``iat``, ``nbf``, ``iss``, ``type`` (``app``/``org``),
``identity_nonce``, ``sub``, ``country``; service tokens carry ``common_name`` instead of
``email``.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any


class JwtDecodeError(ValueError):
    """The text is not a JWT (three base64url segments with JSON header and payload)."""


def _b64decode(segment: str) -> bytes:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        return base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise JwtDecodeError("a JWT segment is not base64url") from exc


def _segments(token: str) -> list[str]:
    parts = token.strip().split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise JwtDecodeError("a JWT has three dot-separated segments")
    return parts


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise JwtDecodeError("a JWT segment is not JSON") from exc
    if not isinstance(value, dict):
        raise JwtDecodeError("a JWT segment is not a JSON object")
    return value


def decode_header(token: str) -> dict[str, Any]:
    """The JOSE header (``alg``, ``kid``, ``typ``), unverified."""
    return _json_object(_b64decode(_segments(token)[0]))


def decode_claims(token: str) -> dict[str, Any]:
    """The payload claims, unverified."""
    return _json_object(_b64decode(_segments(token)[1]))


def audiences(claims: dict[str, Any]) -> tuple[str, ...]:
    """``aud`` as a tuple, whether the token carries a string or an array."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        return (aud,)
    if isinstance(aud, list):
        return tuple(a for a in aud if isinstance(a, str))
    return ()


_MAX_EPOCH = 253402300799.0  # 9999-12-31T23:59:59Z


def _number(claims: dict[str, Any], name: str) -> float | None:
    """A time claim in Unix seconds; ``None`` when absent, not a number, or not a time
    (JSON's ``Infinity``/``NaN``, or outside years 1970-9999: those crash date code)."""
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    if not 0.0 <= number <= _MAX_EPOCH:  # also false for NaN
        return None
    return number


@dataclass(frozen=True)
class AccessClaims:
    """What ztctl shows and checks of an Access token."""

    email: str | None
    subject: str | None
    issuer: str | None
    audiences: tuple[str, ...]
    token_type: str | None
    expires_at: float | None  # Unix seconds
    issued_at: float | None
    not_before: float | None
    country: str | None

    @property
    def identity(self) -> str | None:
        """The e-mail address, else the service token's common name, else the subject."""
        return self.email or self.subject

    def expired(self, now: float, *, leeway: float = 0.0) -> bool:
        return self.expires_at is None or self.expires_at <= now + leeway

    def fits(self, aud: str | None, now: float, *, leeway: float = 0.0) -> bool:
        """Unexpired, already valid, and (when ``aud`` is given) issued for that audience."""
        if self.expired(now, leeway=leeway):
            return False
        if self.not_before is not None and self.not_before > now + 60:
            return False
        return aud is None or aud in self.audiences


def access_claims(token: str) -> AccessClaims:
    """Decode ``token`` into :class:`AccessClaims`; :class:`JwtDecodeError` if it is no JWT."""
    claims = decode_claims(token)

    def text(name: str) -> str | None:
        value = claims.get(name)
        return value if isinstance(value, str) and value else None

    return AccessClaims(
        email=text("email") or text("common_name"),
        subject=text("sub"),
        issuer=text("iss"),
        audiences=audiences(claims),
        token_type=text("type"),
        expires_at=_number(claims, "exp"),
        issued_at=_number(claims, "iat"),
        not_before=_number(claims, "nbf"),
        country=text("country"),
    )
