"""The https catalog fetch has an overall deadline: a real loopback TLS server that trickles
one byte at a time (each read well within any read timeout) cannot hang ztctl; after the
deadline the cached copy is used (and its age said), or the catalog is invalid input
(exit 3)."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.test_catalog import URL_CATALOG
from ztctl.core import catalog as catalog_mod
from ztctl.core.catalog import load_catalog
from ztctl.errors import InvalidInput


class TrickleServer:
    """Answers the first request whole; from ``trickle = True`` on, sends the headers and
    then one byte of the body every ``interval`` seconds."""

    def __init__(self, tls_dir: Path, interval: float = 5.0) -> None:
        from ztctl.lab.pki import ensure_pki

        pki = ensure_pki(tls_dir)
        self.ca_file = pki.ca_cert
        self.interval = interval
        self.trickle = False
        self.stop_event = threading.Event()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(pki.server_cert, pki.server_key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self.listener.getsockname()[1]}/clusters.yaml"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop_event.is_set():
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            with self.context.wrap_socket(raw, server_side=True) as tls:
                tls.recv(65536)
                body = URL_CATALOG.encode()
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                tls.sendall(head)
                if not self.trickle:
                    tls.sendall(body)
                    return
                for byte in body:
                    if self.stop_event.wait(self.interval):
                        return
                    tls.sendall(bytes([byte]))
        except OSError:
            pass

    def stop(self) -> None:
        self.stop_event.set()
        self.listener.close()


@pytest.fixture
def trickle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TrickleServer]:
    monkeypatch.setattr(catalog_mod, "FETCH_DEADLINE_S", 1.0)
    server = TrickleServer(tmp_path / "tls", interval=0.3)  # each read is quick; the whole is not
    yield server
    server.stop()


def test_a_trickling_server_without_a_cache_is_invalid_input_at_the_deadline(
    trickle: TrickleServer, tmp_path: Path
) -> None:
    trickle.trickle = True
    began = time.monotonic()
    with pytest.raises(InvalidInput, match="no complete answer within 1s"):
        load_catalog(trickle.url, tmp_path / "state", {"SSL_CERT_FILE": str(trickle.ca_file)})
    assert time.monotonic() - began < 2.0


def test_a_trickling_server_falls_back_to_the_cached_copy_and_says_its_age(
    trickle: TrickleServer, tmp_path: Path
) -> None:
    env = {"SSL_CERT_FILE": str(trickle.ca_file)}
    assert load_catalog(trickle.url, tmp_path / "state", env).names == ["prod-eu"]
    trickle.trickle = True
    began = time.monotonic()
    fallback = load_catalog(trickle.url, tmp_path / "state", env)
    assert time.monotonic() - began < 2.0
    assert fallback.names == ["prod-eu"]
    assert "no complete answer within 1s" in fallback.warnings[0]
    assert "using the copy cached" in fallback.warnings[0] and "ago" in fallback.warnings[0]


PLANTED = "Pl4nted-Sig-8a7b6c"


def test_a_presigned_catalog_url_is_fetched_whole_and_shown_without_its_signature(
    trickle: TrickleServer, tmp_path: Path
) -> None:
    """The real URL (signature and all) is what ztctl fetches; every message, warning and
    the `clusters` source show its credential-looking query values as ***."""
    from ztctl.core.clusters import list_clusters

    env = {"SSL_CERT_FILE": str(trickle.ca_file)}
    url = f"{trickle.url}?X-Amz-Credential={PLANTED}&X-Amz-Signature={PLANTED}&ref=main"
    good = load_catalog(url, tmp_path / "state", env)
    assert good.names == ["prod-eu"]
    listed = list_clusters(good).to_dict()
    assert listed["catalog"].endswith("?X-Amz-Credential=***&X-Amz-Signature=***&ref=main")
    trickle.trickle = True
    fallback = load_catalog(url, tmp_path / "state", env)
    assert "X-Amz-Signature=***" in fallback.warnings[0]
    with pytest.raises(InvalidInput) as caught:
        load_catalog(url, tmp_path / "other-state", env)
    shown = f"{fallback.warnings} {caught.value.message} {caught.value.fix} {listed}"
    assert "X-Amz-Signature=***" in caught.value.message
    assert PLANTED not in shown
