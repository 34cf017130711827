"""What a TLS peer presented: subject, issuer and expiry of each certificate, and whether
the chain is Cloudflare Gateway's TLS inspection.

Reads ``ssl``'s own certificate dictionaries, so the healthy path never imports
``cryptography``; only a DER leaf without a decoded form falls back to it (lazily).
Nothing here prints.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Issuer names of Gateway's inspection CAs (per-account G1/G2 roots and the legacy chain).
GATEWAY_CA_MARKERS = (
    "Gateway CA - Cloudflare Managed",
    "Cloudflare for Teams ECC Certificate Authority",
    "Gateway Intermediate ECC Certificate Authority",
)

_SHORT = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
    "emailAddress": "emailAddress",
    "domainComponent": "DC",
    "serialNumber": "serialNumber",
}


@dataclass(frozen=True)
class CertSummary:
    subject: str  # RFC 4514 order, e.g. "CN=k8s.lab,O=ztctl lab"
    issuer: str
    not_after: str | None  # RFC 3339, UTC

    def names(self) -> tuple[str, str]:
        return self.subject, self.issuer


def format_name(rdns: Iterable[Any]) -> str:
    """``getpeercert()``'s ``((('commonName', 'x'),), ...)`` as an RFC 4514 string."""
    parts: list[str] = []
    for rdn in rdns:
        attrs = "+".join(f"{_SHORT.get(str(k), str(k))}={_escape(str(v))}" for k, v in rdn)
        parts.append(attrs)
    return ",".join(reversed(parts))


def _escape(value: str) -> str:
    out = value.replace("\\", "\\\\")
    for ch in ',+"<>;':
        out = out.replace(ch, "\\" + ch)
    return out


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}


def ssl_time_to_rfc3339(text: str) -> str | None:
    """``'Jun  1 12:00:00 2027 GMT'`` (ssl's notAfter) -> ``'2027-06-01T12:00:00Z'``.

    Parsed by hand: ``ssl.cert_time_to_seconds`` pulls in ``_strptime``, ``locale`` and
    ``calendar`` (~2 ms of start-up) for one date.
    """
    parts = text.split()
    if len(parts) != 5 or parts[4] != "GMT" or parts[0] not in _MONTHS:
        return None
    day, clock, year = parts[1], parts[2].split(":"), parts[3]
    if not (day.isdigit() and year.isdigit() and len(clock) == 3):
        return None
    if not all(p.isdigit() and len(p) == 2 for p in clock):
        return None
    return f"{int(year):04d}-{_MONTHS[parts[0]]:02d}-{int(day):02d}T{':'.join(clock)}Z"


def summarize_info(info: Mapping[str, Any]) -> CertSummary:
    """Summarize a ``getpeercert()`` / ``Certificate.get_info()`` dictionary."""
    not_after = info.get("notAfter")
    return CertSummary(
        subject=format_name(info.get("subject", ())),
        issuer=format_name(info.get("issuer", ())),
        not_after=ssl_time_to_rfc3339(not_after) if isinstance(not_after, str) else None,
    )


def summarize_der(der: bytes) -> CertSummary:
    """Summarize a DER certificate (imports ``cryptography``; failure paths only)."""
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    return CertSummary(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_after=cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def presented_chain(sock: ssl.SSLSocket) -> list[CertSummary]:
    """Every certificate the peer sent, leaf first, whether or not it verified."""
    sslobj = getattr(sock, "_sslobj", None)
    getter = getattr(sslobj, "get_unverified_chain", None)
    if getter is not None:
        try:
            chain = getter() or []
            return [summarize_info(cert.get_info()) for cert in chain]
        except (AttributeError, ValueError, ssl.SSLError):
            pass
    der = sock.getpeercert(binary_form=True)
    return [summarize_der(der)] if der else []


def gateway_inspection_name(chain: Sequence[CertSummary]) -> str | None:
    """The inspecting CA's name when any name in the chain is a Gateway CA, else None."""
    for cert in chain:
        for name in (cert.issuer, cert.subject):
            match = _gateway_value(name)
            if match is not None:
                return match
    return None


def _gateway_value(name: str) -> str | None:
    """``CN=Gateway CA - …,O=Cloudflare`` -> ``Gateway CA - …``; None without a marker."""
    if not any(marker.lower() in name.lower() for marker in GATEWAY_CA_MARKERS):
        return None
    for part in name.split(","):
        value = part.partition("=")[2]
        if any(marker.lower() in value.lower() for marker in GATEWAY_CA_MARKERS):
            return value.replace("\\", "")
    return name
