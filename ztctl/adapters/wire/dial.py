"""Dial an API server: DNS, TCP, an optional proxy tunnel and TLS, each phase timed.

One :class:`Deadline` bounds the whole dial: every socket wait is given what is left of it,
never the whole budget again. The phases land in a :class:`Trace` as they complete, so a
caller still knows how far it got when a typed :mod:`~ztctl.adapters.wire.errors` error
ends the dial.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from ztctl.adapters.wire.errors import (
    CertificateRejected,
    ConnectFailed,
    HandshakeLost,
    InvalidProxyUrl,
    NoAddress,
    ProxyFailed,
    TlsAlert,
    WireError,
    ssl_reason,
)
from ztctl.adapters.wire.http import Connection

if TYPE_CHECKING:
    from ztctl.adapters.dns import Resolution
    from ztctl.adapters.socks import ProxySpec
    from ztctl.adapters.tlsinfo import CertSummary


class Deadline:
    """The end of a budget of ``seconds``, from now."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.perf_counter() + seconds

    def remaining(self) -> float:
        return self.end - time.perf_counter()

    def arm(self, sock: socket.socket) -> None:
        """Give ``sock`` what is left of the budget; TimeoutError when nothing is (never a
        timeout of 0, which would make the socket non-blocking). The error carries no text:
        each caller turns it into its phase's own timeout message."""
        left = self.remaining()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)


@dataclass(frozen=True)
class DialSpec:
    host: str  # the server's name (or IP) from its URL
    port: int
    sni: str  # the name the certificate must carry (tls-server-name, else host)
    authority: str  # the Host header
    context: ssl.SSLContext
    preferred: tuple[str, ...] = ()  # addresses to dial first (the catalog's)
    proxy: str | None = None  # proxy URL (socks5, socks5h, http)


@dataclass
class Trace:
    """What one dial learned, phase by phase (filled in as it goes)."""

    dns: Resolution | None = None  # the server's name (direct) or the proxy's name
    dns_ms: float | None = None
    address: str | None = None  # dialled IP (direct) or the name handed to the proxy
    connect_ms: float | None = None
    proxy_ms: float | None = None
    tls_ms: float | None = None
    peer: CertSummary | None = None  # the verified leaf
    via_proxy: bool = False
    attempts: list[str] = field(default_factory=list)


def dial(spec: DialSpec, deadline: Deadline, trace: Trace) -> Connection:
    """A verified TLS connection speaking HTTP/1.1; raises a ``WireError`` on failure."""
    proxy = _proxy(spec.proxy)
    trace.via_proxy = proxy is not None
    sock = _connect(spec, proxy, deadline, trace)
    try:
        if proxy is not None:
            trace.address = spec.host  # client-go hands the host name to the proxy
            started = time.perf_counter()
            _tunnel(sock, proxy, spec, deadline)
            trace.proxy_ms = (time.perf_counter() - started) * 1000.0
        tls = _handshake(sock, spec, deadline, trace)
    except BaseException:
        with contextlib.suppress(OSError):
            sock.close()
        raise
    return Connection(tls, spec.authority)


def _proxy(url: str | None) -> ProxySpec | None:
    if not url:
        return None
    from ztctl.adapters import socks

    try:
        return socks.parse_proxy_url(url)
    except ValueError as exc:
        raise InvalidProxyUrl(str(exc)) from None


def _candidates(
    spec: DialSpec, proxy: ProxySpec | None, deadline: Deadline, trace: Trace
) -> list[str]:
    """DNS: the server's name on the direct route; the proxy's name through a proxy (the
    proxy resolves the server name, as kubectl's dialer leaves it to the proxy)."""
    from ztctl.adapters import dns

    host, port = (spec.host, spec.port) if proxy is None else (proxy.host, proxy.port)
    resolution = dns.resolve(host, timeout=max(deadline.remaining(), 0.0), port=port)
    if resolution.timed_out:
        resolution = dns.Resolution(
            host, error=f"no DNS answer within {deadline.seconds:g}s", timed_out=True
        )
    trace.dns = resolution
    trace.dns_ms = resolution.duration_ms
    resolved = list(resolution.addresses)
    if proxy is not None:
        if not resolved:
            raise NoAddress(host, resolution.error, proxy=True)
        return resolved
    if spec.preferred:
        candidates = [a for a in resolved if a in spec.preferred]
        candidates += [a for a in spec.preferred if a not in candidates]
    else:
        candidates = resolved
    if not candidates:
        raise NoAddress(host, resolution.error, proxy=False)
    return candidates


def _connect(
    spec: DialSpec, proxy: ProxySpec | None, deadline: Deadline, trace: Trace
) -> socket.socket:
    """TCP: every candidate in order, within the deadline; the last failure is raised."""
    candidates = _candidates(spec, proxy, deadline, trace)
    port = spec.port if proxy is None else proxy.port
    failure: ConnectFailed | None = None
    for address in candidates:
        if proxy is None:  # the address tried last is the one a failure is about
            trace.address = address
        trace.attempts.append(address)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        attempt = socket.socket(family, socket.SOCK_STREAM)
        started = time.perf_counter()
        try:
            deadline.arm(attempt)
            attempt.connect((address, port))
        except TimeoutError:
            attempt.close()
            failure = ConnectFailed("timeout", address, port, "timed out")
            continue
        except OSError as exc:
            attempt.close()
            kind = "refused" if isinstance(exc, ConnectionRefusedError) else "unreachable"
            failure = ConnectFailed(kind, address, port, exc.strerror or str(exc))
            continue
        trace.connect_ms = (time.perf_counter() - started) * 1000.0
        attempt.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return attempt
    assert failure is not None
    raise failure


class _Bounded:
    """A socket whose every read and write gets what is left of the deadline (for the proxy
    handshake, which reads several times)."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: bytes) -> None:
        self._deadline.arm(self._sock)
        self._sock.sendall(data)

    def recv(self, size: int) -> bytes:
        self._deadline.arm(self._sock)
        return self._sock.recv(size)


def _tunnel(sock: socket.socket, proxy: ProxySpec, spec: DialSpec, deadline: Deadline) -> None:
    from ztctl.adapters import socks

    bounded = cast(socket.socket, _Bounded(sock, deadline))
    try:
        socks.open_tunnel(bounded, proxy, spec.host, spec.port)
    except TimeoutError:
        raise ProxyFailed("timeout", proxy.host, proxy.port, proxy.display, "no answer") from None
    except socks.ProxyError as exc:
        raise ProxyFailed("proxy", proxy.host, proxy.port, proxy.display, exc.message) from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ProxyFailed("reset", proxy.host, proxy.port, proxy.display, reason) from None


def _server_name(name: str) -> str | bytes:
    """ASCII as bytes, which spares ssl the 6 ms ``idna`` codec import."""
    return name.encode("ascii") if name.isascii() else name


def handshake_within(tls: ssl.SSLSocket, deadline: Deadline) -> None:
    """``do_handshake`` within what is left of the deadline (CPython's handshake keeps one
    deadline across its reads, so a peer that trickles bytes cannot stretch it)."""
    deadline.arm(tls)
    tls.do_handshake()


def _handshake(
    sock: socket.socket, spec: DialSpec, deadline: Deadline, trace: Trace
) -> ssl.SSLSocket:
    from ztctl.adapters import tlsinfo

    started = time.perf_counter()
    tls: ssl.SSLSocket | socket.socket = sock
    try:
        deadline.arm(sock)
        # wrap_socket may already read (and see a reset) when the peer is gone.
        tls = spec.context.wrap_socket(
            sock, server_hostname=_server_name(spec.sni), do_handshake_on_connect=False
        )
        handshake_within(tls, deadline)
    except ssl.SSLCertVerificationError as exc:
        tls.close()
        chain = _unverified_chain(spec, deadline, trace)
        raise CertificateRejected(
            getattr(exc, "verify_code", 0), str(exc.verify_message), chain
        ) from None
    except TimeoutError:
        tls.close()
        raise HandshakeLost("timeout") from None
    except (ssl.SSLEOFError, ConnectionResetError, BrokenPipeError, ssl.SSLZeroReturnError):
        tls.close()
        raise HandshakeLost("reset") from None
    except ssl.SSLError as exc:
        tls.close()
        raise TlsAlert(str(getattr(exc, "reason", "") or ""), ssl_reason(exc)) from None
    except OSError as exc:
        tls.close()
        raise HandshakeLost("failed", exc.strerror or str(exc)) from None
    trace.tls_ms = (time.perf_counter() - started) * 1000.0
    assert isinstance(tls, ssl.SSLSocket)
    peer = tls.getpeercert()
    if peer:
        trace.peer = tlsinfo.summarize_info(peer)
    return tls


def _unverified_chain(spec: DialSpec, deadline: Deadline, trace: Trace) -> list[CertSummary]:
    """A second handshake, verification off, only to read the presented chain; no request
    is ever sent on it. Empty when it cannot be read within the deadline."""
    from ztctl.adapters import socks, tlsinfo

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        sock = _raw_socket(spec, deadline, trace)
    except (OSError, socks.ProxyError, ValueError, WireError):
        return []
    try:
        tls = ctx.wrap_socket(
            sock, server_hostname=_server_name(spec.sni), do_handshake_on_connect=False
        )
        with tls:
            handshake_within(tls, deadline)
            return tlsinfo.presented_chain(tls)
    except (OSError, ValueError):
        return []
    finally:
        with contextlib.suppress(OSError):
            sock.close()


def _raw_socket(spec: DialSpec, deadline: Deadline, trace: Trace) -> socket.socket:
    """A new TCP connection to the address already used (through the proxy if any)."""
    left = deadline.remaining()
    if left <= 0:
        raise TimeoutError
    proxy = _proxy(spec.proxy) if spec.proxy else None
    if proxy is not None:
        from ztctl.adapters import socks

        sock = socket.create_connection((proxy.host, proxy.port), timeout=left)
        socks.open_tunnel(
            cast(socket.socket, _Bounded(sock, deadline)), proxy, spec.host, spec.port
        )
        return sock
    address = trace.address or spec.host
    return socket.create_connection((address, spec.port), timeout=left)
