"""One plain HTTP(S) GET with the standard library: certificate verification on, no proxies
from the environment, one deadline for the whole exchange, a bounded body.

Used by doctor's ``net.trace`` and ``device.clock`` (the edge's ``/cdn-cgi/trace`` and its
``Date``): ztctl diagnoses the path WARP gives the laptop, so nothing may reroute it. Failures
come back as :class:`GetFailed` facts; the caller words the message and the fix.
"""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

MAX_BODY = 64 * 1024


class GetFailed(Exception):
    """``kind``: ``untrusted`` (the certificate does not verify; ``reason`` is OpenSSL's
    verify message), ``timeout``, or ``failed`` (any other network or HTTP error)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: dict[str, str]  # names in lower case
    sent: float  # wall clock, just before the request
    received: float  # wall clock, when the status line arrived


def get(
    scheme: str,
    host: str,
    port: int,
    path: str,
    *,
    headers: Mapping[str, str],
    timeout: float,
) -> Response:
    deadline = time.monotonic() + timeout
    if scheme == "https":
        context = ssl.create_default_context()
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        sent = time.time()
        conn.request("GET", path, headers=dict(headers))
        if conn.sock is not None:
            conn.sock.settimeout(max(0.01, deadline - time.monotonic()))
        response = conn.getresponse()
        received = time.time()
        body = response.read(MAX_BODY)
    except ssl.SSLCertVerificationError as exc:
        raise GetFailed("untrusted", str(exc.verify_message)) from None
    except TimeoutError:
        raise GetFailed("timeout", "timed out") from None
    except (OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise GetFailed("failed", reason) from None
    finally:
        conn.close()
    return Response(
        status=response.status,
        body=body,
        headers={k.lower(): v for k, v in response.getheaders()},
        sent=sent,
        received=received,
    )
