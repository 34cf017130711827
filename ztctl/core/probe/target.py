"""What to probe: :class:`Target` (everything needed to reach one API server as kubectl
would) and its builders from the catalog or a kubeconfig entry. Pure: nothing is dialled.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from ztctl.adapters.execcred import ExecConfig
    from ztctl.core.model import BreakGlass, Cluster


@dataclass(frozen=True)
class Target:
    """Everything needed to reach one API server as kubectl would.

    Credentials: any of client certificate (files or PEM data), bearer token (value or
    file), or an exec plugin (whose result replaces the static ones, as in client-go).
    ``ca_pem=None`` means the system trust store (a kubeconfig without a CA).
    """

    name: str
    server: str  # https URL
    addresses: tuple[str, ...] = ()  # the catalog's addresses ("" = none known)
    ca_pem: bytes | None = field(default=None, repr=False)
    tls_server_name: str | None = None
    client_certificate: Path | None = None
    client_key: Path | None = None
    client_certificate_pem: bytes | None = field(default=None, repr=False)
    client_key_pem: bytes | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    exec: ExecConfig | None = None
    proxy_url: str | None = None  # the kubeconfig's proxy-url (zero-trust route only)
    break_glass: BreakGlass | None = None  # the catalog's out-of-band route
    source: str = "catalog"  # catalog | kubeconfig
    # ztctl's kubeconfig entry no longer matches the catalog: the keys that differ
    # (``server``, ``exec``, …). A failure's fix then says to refresh it with use-cluster.
    stale: tuple[str, ...] = ()

    @property
    def host(self) -> str:
        return urlsplit(self.server).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.server).port or 443

    @property
    def sni(self) -> str:
        return self.tls_server_name or self.host

    @property
    def authority(self) -> str:
        """The Host header: ``host`` or ``host:port`` (as Go writes it)."""
        parts = urlsplit(self.server)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        if parts.port in (None, 443):
            return netloc.rsplit(":", 1)[0] if parts.port else netloc
        return netloc

    @property
    def credential_kind(self) -> str:
        if self.exec is not None:
            return "exec"
        if self.client_certificate is not None or self.client_certificate_pem is not None:
            return "clientCertificate"
        if self.token is not None or self.token_file is not None:
            return "token"
        return "none"


def target_from_cluster(cluster: Cluster, *, ztctl_command: Sequence[str] | None = None) -> Target:
    """A target from the catalog alone: its CA and credentials, as ``use-cluster`` writes them.

    An ``accessToken`` cluster gets the exec entry ``use-cluster`` writes
    (``ztctl credential NAME``), run as ``ztctl_command`` (default: this interpreter).
    """
    from ztctl.core import model

    creds = cluster.credentials
    cert = key = None
    exec_config = None
    if isinstance(creds, model.ClientCertificate):
        cert, key = creds.certificate.expanduser(), creds.key.expanduser()
    elif isinstance(creds, model.ExecCredential):
        from ztctl.adapters.execcred import ExecConfig

        exec_config = ExecConfig(command=creds.command, args=creds.args, env=creds.env)
    elif isinstance(creds, model.AccessToken):
        import sys

        from ztctl.adapters.execcred import ExecConfig

        command = list(ztctl_command or [sys.executable, "-m", "ztctl"])
        exec_config = ExecConfig(
            command=command[0],
            args=(*command[1:], "credential", cluster.name),
            interactive_mode="Never",
        )
    return Target(
        name=cluster.name,
        server=cluster.server,
        addresses=tuple(cluster.addresses),
        ca_pem=_catalog_ca(cluster),
        client_certificate=cert,
        client_key=key,
        exec=exec_config,
        break_glass=cluster.break_glass,
        source="catalog",
    )


def _catalog_ca(cluster: Cluster) -> bytes | None:
    try:
        return cluster.ca_pem()
    except (OSError, ValueError, AssertionError):
        # Unreadable: b"" (not None, which would mean the system trust store) makes the TLS
        # context fail with "not PEM certificates" instead of trusting any public CA.
        return b""


def target_from_kubeconfig(
    name: str,
    cluster_entry: Mapping[str, Any],
    user_entry: Mapping[str, Any],
    *,
    catalog_cluster: Cluster | None = None,
    base_dir: Path | None = None,
) -> Target:
    """A target from a kubeconfig ``cluster`` and ``user`` (the inner mappings, kubectl keys).

    Relative paths resolve against ``base_dir`` (the defining file's directory; the
    kubeconfig loader normally resolved them already). Catalog addresses and the break-glass
    route come from ``catalog_cluster`` when the entry is one of the catalog's clusters.
    """
    import base64

    base = base_dir or Path.cwd()

    def path(value: Any) -> Path | None:
        if not value:
            return None
        p = Path(str(value))
        return p if p.is_absolute() else base / p

    def data(value: Any) -> bytes | None:
        if not value:
            return None
        return base64.b64decode(str(value))

    ca_pem = data(cluster_entry.get("certificate-authority-data"))
    if ca_pem is None and cluster_entry.get("certificate-authority"):
        ca_file = path(cluster_entry.get("certificate-authority"))
        assert ca_file is not None
        from ztctl.adapters.fs import MAX_PEM_BYTES, read_regular_file

        try:
            # A regular file of bounded size only: /dev/zero or a FIFO would be read forever.
            ca_pem = read_regular_file(ca_file, MAX_PEM_BYTES)
        except OSError:
            ca_pem = b""  # unreadable: reported when the TLS context is built
    exec_config = None
    raw_exec = user_entry.get("exec")
    if isinstance(raw_exec, Mapping) and raw_exec.get("command"):
        from ztctl.adapters.execcred import ExecConfig

        env_pairs = tuple(
            (str(item.get("name")), str(item.get("value", "")))
            for item in (raw_exec.get("env") or [])
            if isinstance(item, Mapping) and item.get("name")
        )
        command = str(raw_exec["command"])
        if os.sep in command and not os.path.isabs(command):
            command = str(base / command)
        exec_config = ExecConfig(
            command=command,
            args=tuple(str(a) for a in (raw_exec.get("args") or [])),
            env=env_pairs,
            api_version=str(raw_exec.get("apiVersion") or "client.authentication.k8s.io/v1"),
            interactive_mode=raw_exec.get("interactiveMode") or None,
            provide_cluster_info=bool(raw_exec.get("provideClusterInfo")),
            install_hint=raw_exec.get("installHint") or None,
        )
    return Target(
        name=name,
        server=str(cluster_entry.get("server") or ""),
        addresses=tuple(catalog_cluster.addresses) if catalog_cluster else (),
        ca_pem=ca_pem,
        tls_server_name=cluster_entry.get("tls-server-name") or None,
        client_certificate=path(user_entry.get("client-certificate")),
        client_key=path(user_entry.get("client-key")),
        client_certificate_pem=data(user_entry.get("client-certificate-data")),
        client_key_pem=data(user_entry.get("client-key-data")),
        token=user_entry.get("token") or None,
        token_file=path(user_entry.get("tokenFile")),
        exec=exec_config,
        proxy_url=cluster_entry.get("proxy-url") or None,
        break_glass=catalog_cluster.break_glass if catalog_cluster else None,
        source="kubeconfig",
    )
