"""What `ztctl clusters` reports: the catalog's clusters and where each stands."""

from __future__ import annotations

from dataclasses import dataclass

from ztctl.core.model import Catalog, Cluster


@dataclass(frozen=True)
class ClusterRow:
    name: str
    server: str
    addresses: tuple[str, ...]
    credentials: str  # clientCertificate | exec | accessToken
    break_glass: str | None  # the route kind and target, e.g. "proxy socks5://127.0.0.1:1080"
    max_ttl_s: int | None

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "server": self.server,
            "addresses": list(self.addresses),
            "credentials": self.credentials,
            "breakGlass": self.break_glass,
            "breakGlassMaxTtlSeconds": self.max_ttl_s,
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
    if route.kind == "proxy":
        return f"proxy {route.url}"  # type: ignore[union-attr]
    if route.kind == "ssh":
        user = f"{route.user}@" if route.user else ""  # type: ignore[union-attr]
        return f"ssh {user}{route.host}:{route.port}"  # type: ignore[union-attr]
    return f"vpn {route.interface}"  # type: ignore[union-attr]


def list_clusters(catalog: Catalog) -> ClusterList:
    rows = tuple(
        ClusterRow(
            name=c.name,
            server=c.server,
            addresses=c.addresses,
            credentials=c.credentials.kind,
            break_glass=describe_route(c),
            max_ttl_s=c.break_glass.max_ttl_s if c.break_glass else None,
        )
        for c in catalog.clusters
    )
    return ClusterList(team=catalog.team, source=catalog.source, rows=rows)
