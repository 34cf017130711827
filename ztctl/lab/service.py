"""A small threaded TCP service base for the lab's servers.

The accept loop only accepts: each connection is handed to its own daemon thread at once,
so anything slow (a TLS handshake, a SOCKS negotiation, a stalled client) stalls nobody
else. ``stop()`` closes the listener and shuts down every tracked connection, so held
(black-holed) connections and keep-alive idlers end with the server.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import struct
import threading
import time

log = logging.getLogger("ztctl.lab")


class TcpService:
    """Subclasses implement :meth:`handle`; the socket is closed when it returns."""

    name = "service"

    def __init__(self, host: str, port: int = 0) -> None:
        self._listener = socket.create_server((host, port), backlog=128)
        address = self._listener.getsockname()
        self.host: str = address[0]
        self.port: int = address[1]
        self.stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> TcpService:
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"{self.name}-accept", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self.stopping.set()
        if self._thread is not None and self._thread.is_alive():
            # Wake the accept loop at once with a connection of our own.
            with contextlib.suppress(OSError):
                socket.create_connection((self.host, self.port), timeout=0.2).close()
            self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            shutdown(conn)

    def handle(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        raise NotImplementedError

    # -- connection tracking (so stop() can end them) ------------------------------------

    @property
    def connection_count(self) -> int:
        """Connections being served or held right now."""
        with self._lock:
            return len(self._conns)

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.add(sock)
        if self.stopping.is_set():
            shutdown(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.discard(sock)

    def hold(self, sock: socket.socket, seconds: float) -> None:
        """Be a black hole for ``sock``: swallow what it sends, answer nothing, until the
        client gives up (closes), ``seconds`` pass, or the service stops."""
        deadline = time.monotonic() + seconds
        with contextlib.suppress(OSError, ValueError):
            while not self.stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                readable, _, _ = select.select([sock], [], [], min(remaining, 0.5))
                # The plain-socket recv, also for a TLS socket: bytes are dropped unread.
                if readable and not socket.socket.recv(sock, 65536):
                    return  # the client closed its side

    # -- internals ----------------------------------------------------------------------

    def _accept_loop(self) -> None:
        self._listener.settimeout(1.0)  # stop() wakes us; this is only a safety net
        while not self.stopping.is_set():
            try:
                sock, peer = self._listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if self.stopping.is_set():
                    break
                log.warning("%s: accept failed: %s", self.name, exc)
                self.stopping.wait(0.05)
                continue
            if self.stopping.is_set():
                sock.close()
                break
            sock.settimeout(None)
            self.track(sock)
            worker = threading.Thread(
                target=self._run, args=(sock, peer), name=f"{self.name}-conn", daemon=True
            )
            worker.start()

    def _run(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        try:
            self.handle(sock, (str(peer[0]), int(peer[1])))
        except Exception:
            if not self.stopping.is_set():
                log.exception("%s: connection from %s:%s failed", self.name, *peer[:2])
        finally:
            self.untrack(sock)
            with contextlib.suppress(OSError):
                sock.close()


def shutdown(sock: socket.socket) -> None:
    """Shut a socket down from another thread (the plain-socket call, also for TLS sockets)."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN (SO_LINGER 0)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        socket.socket.close(sock)
