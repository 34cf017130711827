"""What can go wrong on the wire, as facts: which phase, what happened, where.

The adapter never words a fix; ``ztctl.core.probe.diagnose`` turns each of these into the
user's message and fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ztctl.adapters.tlsinfo import CertSummary


class WireError(Exception):
    """Base of every wire failure."""


class InvalidProxyUrl(WireError):
    """The proxy URL cannot be used (the text says why)."""


class NoAddress(WireError):
    """DNS gave nothing to dial: the server's name (direct) or the proxy's name."""

    def __init__(self, host: str, error: str | None, *, proxy: bool) -> None:
        super().__init__(f"{host}: {error}")
        self.host = host
        self.error = error
        self.proxy = proxy


class ConnectFailed(WireError):
    """TCP connect to ``address:port`` failed: ``kind`` is timeout, refused or unreachable."""

    def __init__(self, kind: str, address: str, port: int, reason: str) -> None:
        super().__init__(f"{kind}: {address}:{port}: {reason}")
        self.kind = kind
        self.address = address
        self.port = port
        self.reason = reason


class ProxyFailed(WireError):
    """The proxy handshake failed: ``kind`` is timeout, proxy (a refusal) or reset."""

    def __init__(self, kind: str, host: str, port: int, display: str, reason: str) -> None:
        super().__init__(f"{kind}: {display}: {reason}")
        self.kind = kind
        self.host = host
        self.port = port
        self.display = display
        self.reason = reason


class HandshakeLost(WireError):
    """The TLS handshake got no reply (``timeout``) or the peer dropped it (``reset``)."""

    def __init__(self, kind: str, reason: str = "") -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


class CertificateRejected(WireError):
    """The server's chain does not verify; ``chain`` is what it presented (read without
    verification on a second connection that never carries a request; may be empty)."""

    def __init__(self, verify_code: int, verify_message: str, chain: Sequence[CertSummary]) -> None:
        super().__init__(verify_message)
        self.verify_code = verify_code
        self.verify_message = verify_message
        self.chain = list(chain)


class TlsAlert(WireError):
    """A TLS error other than verification (an alert from the peer, a protocol error).

    ``alert`` is OpenSSL's reason code (e.g. ``SSLV3_ALERT_CERTIFICATE_EXPIRED``), ``reason``
    the same in words.
    """

    def __init__(self, alert: str, reason: str) -> None:
        super().__init__(reason)
        self.alert = alert
        self.reason = reason


class ExchangeFailed(WireError):
    """The HTTP exchange failed: ``kind`` is timeout, closed (TLS close), reset or protocol."""

    def __init__(self, kind: str, reason: str = "") -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


class CaInvalid(WireError):
    """The CA bundle is missing or not PEM certificates."""


class ClientCertMissing(WireError):
    def __init__(self, filename: str) -> None:
        super().__init__(filename)
        self.filename = filename


class ClientCertInvalid(WireError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def ssl_reason(exc: BaseException) -> str:
    """An OpenSSL / OS error in words (``certificate verify failed``, ``Connection reset``)."""
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason).lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
