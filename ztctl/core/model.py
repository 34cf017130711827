"""The catalog's data model (docs/catalog.md): what a cluster is, as every command sees it.

Frozen dataclasses only; parsing and validation live in :mod:`ztctl.core.catalog`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class ClientCertificate:
    certificate: Path
    key: Path

    kind = "clientCertificate"


@dataclass(frozen=True)
class ExecCredential:
    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()  # ordered (name, value) pairs

    kind = "exec"


@dataclass(frozen=True)
class AccessToken:
    app: str  # the Access application URL, e.g. https://k8s.prod-eu.acme.net

    kind = "accessToken"


Credentials = ClientCertificate | ExecCredential | AccessToken


@dataclass(frozen=True)
class ProxyRoute:
    url: str  # socks5://host:port, socks5h://..., http://... or https://...

    kind = "proxy"


@dataclass(frozen=True)
class SshRoute:
    host: str
    user: str | None = None
    port: int = 22
    identity_file: Path | None = None

    kind = "ssh"


@dataclass(frozen=True)
class VpnRoute:
    up: tuple[str, ...]
    down: tuple[str, ...]
    interface: str

    kind = "vpn"


Route = ProxyRoute | SshRoute | VpnRoute


@dataclass(frozen=True)
class BreakGlass:
    route: Route
    max_ttl_s: int = 3600


@dataclass(frozen=True)
class Cluster:
    name: str
    server: str  # https URL
    addresses: tuple[str, ...]
    credentials: Credentials
    certificate_authority: Path | None = None  # resolved, absolute
    certificate_authority_data: str | None = None  # base64 of PEM, as in the catalog
    namespace: str | None = None
    break_glass: BreakGlass | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.server).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.server)
        return parts.port or 443

    def ca_pem(self) -> bytes:
        """The cluster CA bundle as PEM bytes (reads the file when given as a path)."""
        import base64

        if self.certificate_authority_data is not None:
            return base64.b64decode(self.certificate_authority_data)
        assert self.certificate_authority is not None
        from ztctl.adapters.fs import MAX_PEM_BYTES, read_regular_file

        # A regular file of bounded size only: /dev/zero or a FIFO would be read forever.
        return read_regular_file(self.certificate_authority, MAX_PEM_BYTES)


@dataclass(frozen=True)
class Catalog:
    team: str
    clusters: tuple[Cluster, ...]
    source: str  # the path or URL it was read from
    warnings: tuple[str, ...] = field(default=())

    def get(self, name: str) -> Cluster | None:
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        return None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.clusters]
