"""HTTP/1.1 on one verified TLS connection: requests written by hand (pipelined, one
deadline across them), responses parsed by ``h11`` (strict framing: a negative, malformed
or conflicting ``Content-Length`` is refused, never guessed at).
"""

from __future__ import annotations

import contextlib
import errno
import ssl
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import h11

from ztctl import __version__
from ztctl.adapters.wire.errors import ExchangeFailed, TlsAlert, ssl_reason

if TYPE_CHECKING:
    from ztctl.adapters.wire.dial import Deadline

USER_AGENT = f"ztctl/{__version__} (probe)"
MAX_BODY = 1 << 20
MAX_HEAD = 65536

Request = tuple[str, str, "bytes | None"]  # method, path, body


class Response:
    """One HTTP response (a plain class: the module is on the start-up path)."""

    __slots__ = ("body", "done", "first_byte", "headers", "status")

    def __init__(
        self, status: int, headers: dict[str, str], body: bytes, first_byte: float, done: float
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.first_byte = first_byte  # perf_counter when the first byte arrived
        self.done = done


class Connection:
    """A verified TLS connection to the API server, speaking HTTP/1.1 with keep-alive.

    Every failure is an :class:`ExchangeFailed` (timeout, closed, reset, protocol) or a
    :class:`TlsAlert` (TLS 1.3 reports a rejected client certificate on the first read).
    """

    def __init__(self, sock: ssl.SSLSocket, authority: str) -> None:
        self.sock = sock
        self.authority = authority
        self.closed = False
        self._parser = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self._pending: deque[Request] = deque()  # sent, answer not read yet

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()

    def send(self, requests: Sequence[Request], deadline: Deadline, *, token: str | None) -> float:
        """Write one or more (pipelined) requests; returns the perf_counter when sending began.

        Pipelining follows RFC 9112 §9.3.2: only a last request may be non-idempotent.
        """
        payload = b"".join(self._encode(m, p, token, b) for m, p, b in requests)
        with _failures():
            deadline.arm(self.sock)
            started = time.perf_counter()
            self.sock.sendall(payload)
        self._pending.extend(requests)
        return started

    def read(self, deadline: Deadline) -> Response:
        """The answer to the oldest request sent and not read yet."""
        with _failures():
            return self._read(deadline)

    def request(
        self, method: str, path: str, deadline: Deadline, *, token: str | None
    ) -> tuple[Response, float]:
        """Send one request; returns the response and the perf_counter when sending began."""
        started = self.send([(method, path, None)], deadline, token=token)
        return self.read(deadline), started

    def _encode(self, method: str, path: str, token: str | None, body: bytes | None) -> bytes:
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.authority}",
            f"User-Agent: {USER_AGENT}",
            "Accept: application/json, */*",
        ]
        if token:
            lines.append(f"Authorization: Bearer {token}")
        if body is not None:
            lines.append("Content-Type: application/json")
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")

    def _expect(self, request: Request) -> None:
        """Tell the parser which request the next response answers (HEAD has no body)."""
        parser = self._parser
        if parser.our_state is h11.DONE and parser.their_state is h11.DONE:
            parser.start_next_cycle()
        method, path, body = request
        headers = [("Host", self.authority)]
        if body is not None:
            headers.append(("Content-Length", str(len(body))))
        parser.send(h11.Request(method=method, target=path, headers=headers))
        if body:
            parser.send(h11.Data(data=body))
        parser.send(h11.EndOfMessage())

    def _read(self, deadline: Deadline) -> Response:
        if not self._pending:
            raise ExchangeFailed("protocol", "no request is waiting for an answer")
        self._expect(self._pending.popleft())
        parser = self._parser
        first_byte: float | None = None
        status = 0
        headers: dict[str, str] = {}
        body = bytearray()
        eof = False
        while True:
            try:
                event = parser.next_event()
            except h11.RemoteProtocolError as exc:
                if eof:  # cut short by the server's close
                    raise ConnectionResetError(
                        errno.ECONNRESET, "the server closed the connection"
                    ) from None
                raise ExchangeFailed("protocol", str(exc) or "malformed response") from None
            if event is h11.NEED_DATA:
                deadline.arm(self.sock)
                chunk = self.sock.recv(65536)
                if first_byte is None:
                    first_byte = time.perf_counter()
                eof = not chunk
                parser.receive_data(chunk)
                continue
            if first_byte is None:
                first_byte = time.perf_counter()  # already buffered (pipelined)
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = {
                    name.decode("latin-1"): value.decode("latin-1") for name, value in event.headers
                }
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    raise ExchangeFailed("protocol", "response body too large")
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionResetError(errno.ECONNRESET, "the server closed the connection")
        if parser.their_state is not h11.DONE or parser.our_state is not h11.DONE:
            self.closed = True  # Connection: close, HTTP/1.0 or a body read until close
        return Response(status, headers, bytes(body), first_byte, time.perf_counter())


@contextlib.contextmanager
def _failures() -> Iterator[None]:
    """Socket and TLS errors of the exchange as typed wire errors."""
    try:
        yield
    except TimeoutError:
        raise ExchangeFailed("timeout") from None
    except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
        raise ExchangeFailed("closed") from None
    except ssl.SSLError as exc:
        raise TlsAlert(str(getattr(exc, "reason", "") or ""), ssl_reason(exc)) from None
    except OSError as exc:
        raise ExchangeFailed("reset", exc.strerror or str(exc)) from None
