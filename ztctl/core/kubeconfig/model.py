"""The merged view of the kubeconfig files, as client-go builds it.

- clusters, users, contexts: the first file that defines a name wins, whole entry;
- ``current-context``: the first file with a non-empty value wins;
- every entry remembers its origin file (client-go ``LocationOfOrigin``);
- relative paths are resolved against the origin file's directory, for exactly the
  fields client-go resolves (:meth:`Entry.resolved`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ztctl.core.kubeconfig.files import (
    KubeconfigFile,
    Precedence,
    default_filename,
    precedence,
    read_file,
)
from ztctl.core.kubeconfig.yamlio import gc_paused

if TYPE_CHECKING:
    from ztctl.core.model import Catalog, Cluster

EXTENSION_NAME = "ztctl"
KINDS = {"cluster": "clusters", "user": "users", "context": "contexts"}

# client-go ResolvePaths: only these fields, only when relative.
_RESOLVED = {
    "cluster": (("certificate-authority",),),
    "user": (("client-certificate",), ("client-key",), ("tokenFile",)),
    "context": (),
}


@dataclass(frozen=True)
class Entry:
    """One named cluster, user or context, as found in its origin file."""

    kind: str  # "cluster" | "user" | "context"
    name: str
    body: dict[str, Any]  # the "cluster"/"user"/"context" mapping ({} when null)
    origin: Path  # the file it came from (as listed)
    index: int  # its position in that file's list

    @property
    def extension(self) -> dict[str, Any] | None:
        """ztctl's extension value when the entry is ztctl's, else ``None``."""
        for ext in self.body.get("extensions") or ():
            if isinstance(ext, dict) and ext.get("name") == EXTENSION_NAME:
                value = ext.get("extension")
                return value if isinstance(value, dict) else {}
        return None

    @property
    def owned(self) -> bool:
        """Whether ztctl wrote it (it carries the ``ztctl`` extension)."""
        return self.extension is not None

    @property
    def catalog_name(self) -> str | None:
        """The catalog cluster ztctl wrote it for."""
        ext = self.extension
        if ext is None:
            return None
        name = ext.get("cluster")
        return name if isinstance(name, str) and name else self.name

    @property
    def server(self) -> str:
        value = self.body.get("server") if self.kind == "cluster" else None
        return value if isinstance(value, str) else ""

    def resolved(self) -> dict[str, Any]:
        """A copy of the body with relative file paths made absolute, like client-go."""
        base = os.path.dirname(os.path.abspath(self.origin))
        body = dict(self.body)
        for (field,) in _RESOLVED[self.kind]:
            body[field] = _resolve(base, body.get(field))
        if self.kind == "user" and isinstance(body.get("exec"), dict):
            exec_ = dict(body["exec"])
            command = exec_.get("command")
            if isinstance(command, str) and os.sep in command:
                exec_["command"] = _resolve(base, command)
            body["exec"] = exec_
        return {k: v for k, v in body.items() if v is not None or k in self.body}


def _resolve(base: str, value: Any) -> Any:
    if not isinstance(value, str) or not value or os.path.isabs(value):
        return value
    return os.path.normpath(os.path.join(base, value))  # Go filepath.Join cleans


@dataclass(frozen=True)
class Kubeconfig:
    """All files of the precedence list and the merged view kubectl works with."""

    precedence: Precedence
    files: tuple[KubeconfigFile, ...]
    clusters: Mapping[str, Entry]
    users: Mapping[str, Entry]
    contexts: Mapping[str, Entry]
    current_context: str  # "" when no file sets one
    current_context_file: Path | None  # the file whose value won
    entries: tuple[Entry, ...]  # every entry of every file, shadowed ones included

    @property
    def paths(self) -> tuple[Path, ...]:
        return self.precedence.paths

    @property
    def default_filename(self) -> Path:
        """Where kubectl would put a new entry or a new current-context."""
        return default_filename(self.precedence, self.files)

    def file(self, path: Path) -> KubeconfigFile:
        for f in self.files:
            if f.path == path:
                return f
        raise KeyError(path)

    def entry(self, kind: str, name: str) -> Entry | None:
        """The entry of ``kind`` called ``name`` that kubectl would use (first file wins)."""
        return {"cluster": self.clusters, "user": self.users, "context": self.contexts}[kind].get(
            name
        )

    def context_entries(
        self, context: str | None = None
    ) -> tuple[Entry | None, Entry | None, Entry | None]:
        """(context, cluster, user) for ``context`` (default: the current context)."""
        name = self.current_context if context is None else context
        ctx = self.contexts.get(name) if name else None
        if ctx is None:
            return None, None, None
        cluster = ctx.body.get("cluster")
        user = ctx.body.get("user")
        return (
            ctx,
            self.clusters.get(cluster) if isinstance(cluster, str) else None,
            self.users.get(user) if isinstance(user, str) else None,
        )

    def catalog_cluster(self, catalog: Catalog, context: str | None = None) -> Cluster | None:
        """The catalog cluster a context (default: the current one) reaches, if any.

        By ztctl's extension on the context or its cluster; else, for entries another
        tool wrote, by the server: same host (or a catalog address) and port.
        """
        ctx, cluster, _user = self.context_entries(context)
        if ctx is None:
            return None
        for entry in (ctx, cluster):
            name = entry.catalog_name if entry is not None else None
            if name and catalog.get(name) is not None:
                return catalog.get(name)
        if cluster is not None:
            for candidate in catalog.clusters:
                if server_matches(cluster.body, candidate) is not None:
                    return candidate
        return None


def load_kubeconfig(
    kubeconfig: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Kubeconfig:
    """Read every file of the precedence list and merge them the way client-go does.

    Raises :class:`~ztctl.errors.InvalidInput` for any file kubectl would refuse.
    Missing files are empty configs.
    """
    prec = precedence(kubeconfig, env)
    with gc_paused():
        return merge_files(prec, tuple(read_file(path) for path in prec.paths))


def merge_files(prec: Precedence, files: tuple[KubeconfigFile, ...]) -> Kubeconfig:
    maps: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
    entries: list[Entry] = []
    current, current_file = "", None
    for f in files:
        for kind, key in KINDS.items():
            found = maps[kind]
            for index, item in enumerate(f.items(key)):
                item = item or {}
                body = item.get(kind) or {}
                entry = Entry(kind, item.get("name") or "", body, f.path, index)
                entries.append(entry)
                if entry.name not in found:
                    found[entry.name] = entry
        value = f.data.get("current-context")
        if not current and isinstance(value, str) and value:
            current, current_file = value, f.path
    return Kubeconfig(
        precedence=prec,
        files=files,
        clusters=maps["cluster"],
        users=maps["user"],
        contexts=maps["context"],
        current_context=current,
        current_context_file=current_file,
        entries=tuple(entries),
    )


def endpoint(server: str) -> tuple[str, int] | None:
    """``(host, port)`` of a kubeconfig ``server`` URL (port defaults by scheme)."""
    if not server:
        return None
    text = server if "://" in server else f"https://{server}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return None
    if port is None:
        port = 80 if parts.scheme == "http" else 443
    return host, port


def server_matches(body: Mapping[str, Any], cluster: Cluster) -> str | None:
    """Why a kubeconfig cluster body points at the catalog ``cluster``'s API server, or None.

    Same host name or one of the catalog addresses, with the same port; or a
    ``tls-server-name`` equal to the catalog host (a local tunnel or proxy to it).
    """
    server = body.get("server")
    where = endpoint(server) if isinstance(server, str) else None
    host = cluster.host.rstrip(".").lower()
    if where is not None:
        found_host, found_port = where
        if found_port == cluster.port:
            if found_host == host:
                return f"same host {host}:{cluster.port}"
            addresses = {a.lower() for a in cluster.addresses}
            if found_host.strip("[]") in addresses:
                return f"catalog address {found_host}:{found_port}"
    sni = body.get("tls-server-name")
    if isinstance(sni, str) and sni.rstrip(".").lower() == host and host:
        return f"tls-server-name {host}"
    return None
