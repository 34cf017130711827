"""What `ztctl clusters` reports: the catalog's clusters and where each stands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ztctl.core.model import Catalog, Cluster, ProxyRoute, SshRoute

if TYPE_CHECKING:
    from ztctl.core.kubeconfig.model import Kubeconfig


@dataclass(frozen=True)
class ClusterRow:
    name: str
    server: str
    addresses: tuple[str, ...]
    credentials: str  # clientCertificate | exec | accessToken
    break_glass: str | None  # the route kind and target, e.g. "proxy socks5://127.0.0.1:1080"
    max_ttl_s: int | None
    # The kubeconfig cluster entry that reaches it (ztctl's own, or another tool's entry for
    # the same API server), None when there is none, "" when the kubeconfig was not read.
    kubeconfig_entry: str | None = ""
    current: bool = False
    # ztctl's own entry no longer matches the catalog: the kubectl keys that differ
    # (``server``, ``exec``, …); None when the entry is not ztctl's (or not read).
    stale: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "server": self.server,
            "addresses": list(self.addresses),
            "credentials": self.credentials,
            "breakGlass": self.break_glass,
            "breakGlassMaxTtlSeconds": self.max_ttl_s,
            "inKubeconfig": None
            if self.kubeconfig_entry == ""
            else self.kubeconfig_entry is not None,
            "kubeconfigCluster": self.kubeconfig_entry or None,
            "kubeconfigStale": None if self.stale is None else bool(self.stale),
            "kubeconfigStaleFields": list(self.stale or ()),
            "current": self.current,
        }


@dataclass(frozen=True)
class ClusterList:
    team: str
    source: str
    rows: tuple[ClusterRow, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "team": self.team,
            "catalog": self.source,
            "clusters": [row.to_dict() for row in self.rows],
        }


def describe_route(cluster: Cluster) -> str | None:
    bg = cluster.break_glass
    if bg is None:
        return None
    route = bg.route
    if isinstance(route, ProxyRoute):
        from ztctl.core.redact import hide_passwords

        return f"proxy {hide_passwords(route.url)}"
    if isinstance(route, SshRoute):
        user = f"{route.user}@" if route.user else ""
        return f"ssh {user}{route.host}:{route.port}"
    return f"vpn {route.interface}"


def kubeconfig_entry_for(kube: Kubeconfig, cluster: Cluster) -> str | None:
    """The name of the kubeconfig cluster entry that reaches ``cluster``, if any.

    ztctl's own entry (named after the catalog cluster, with the ztctl extension) first;
    else another tool's entry for the same API server (same host or address and port).
    """
    from ztctl.core.kubeconfig.model import server_matches

    own = kube.clusters.get(cluster.name)
    if own is not None and own.catalog_name == cluster.name:
        return own.name
    for entry in kube.clusters.values():
        if entry.catalog_name == cluster.name:
            return entry.name
    for entry in kube.clusters.values():
        if server_matches(entry.body, cluster) is not None:
            return entry.name
    return None


def stale_entry(kube: Kubeconfig, cluster: Cluster) -> tuple[str, ...] | None:
    """What of ztctl's own entry for ``cluster`` differs from the catalog (empty: nothing);
    None when ztctl has no entry for it (another tool's entry is not ztctl's to refresh)."""
    from ztctl.core.entries import stale_fields

    own = kube.clusters.get(cluster.name)
    if own is None or own.catalog_name != cluster.name:
        return None
    user = kube.users.get(cluster.name)
    return stale_fields(cluster, own.body, user.body if user is not None and user.owned else None)


def list_clusters(catalog: Catalog, kube: Kubeconfig | None = None) -> ClusterList:
    """The catalog's clusters; with ``kube``, also whether each is in it and current."""
    current = kube.catalog_cluster(catalog) if kube is not None else None
    rows = tuple(
        ClusterRow(
            name=c.name,
            server=c.server,
            addresses=c.addresses,
            credentials=c.credentials.kind,
            break_glass=describe_route(c),
            max_ttl_s=c.break_glass.max_ttl_s if c.break_glass else None,
            kubeconfig_entry=kubeconfig_entry_for(kube, c) if kube is not None else "",
            current=current is not None and current.name == c.name,
            stale=stale_entry(kube, c) if kube is not None else None,
        )
        for c in catalog.clusters
    )
    from ztctl.core.redact import hide_passwords

    # A presigned catalog URL is shown without its signature.
    return ClusterList(team=catalog.team, source=hide_passwords(catalog.source), rows=rows)
