"""Which kubeconfig context stands for a catalog cluster: the one decision probe, doctor and
break-glass share. Pure: it reads a loaded :class:`~ztctl.core.kubeconfig.model.Kubeconfig`.

A context reaches a cluster when ztctl wrote it (or its cluster entry) for that catalog
cluster, or when its server matches (same host or a catalog address, same port; or a
``tls-server-name`` equal to the catalog host) and it is not named after another catalog
cluster. Among those, lower rank wins (ties: the kubeconfig's order):

====  ===================================================================
rank  context
====  ===================================================================
0     ztctl's entry for the cluster, and it is the current context
1     ztctl's entry for the cluster
2     named like the cluster, server matches, current context
3     named like the cluster, server matches
4     any other context whose server matches, current context
5     any other context whose server matches
====  ===================================================================
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ztctl.core.kubeconfig.model import Kubeconfig
    from ztctl.core.model import Cluster


def reach_rank(
    kubeconfig: Kubeconfig, context: str, cluster: Cluster, catalog_names: Iterable[str] = ()
) -> int | None:
    """How well ``context`` stands for ``cluster`` (lower is better), or None."""
    from ztctl.core.kubeconfig.model import server_matches

    ctx_entry, cluster_entry, _user = kubeconfig.context_entries(context)
    if ctx_entry is None or cluster_entry is None:
        return None
    current = 0 if context == kubeconfig.current_context else 1
    owners = {e.catalog_name for e in (ctx_entry, cluster_entry) if e.catalog_name}
    if owners:
        return current if cluster.name in owners else None
    if server_matches(cluster_entry.body, cluster) is None:
        return None
    if context == cluster.name:
        return 2 + current
    names = set(catalog_names)
    if context in names or cluster_entry.name in names:
        return None  # named after another catalog cluster
    return 4 + current


def context_for(
    cluster: Cluster, kubeconfig: Kubeconfig, catalog_names: Iterable[str] = ()
) -> str | None:
    """The kubeconfig context that stands for ``cluster``, or None (see the module table).

    ``catalog_names``: the catalog's other clusters, whose namesakes never stand for it.
    """
    names = set(catalog_names) | {cluster.name}
    best: tuple[int, str] | None = None
    for context in kubeconfig.contexts:
        rank = reach_rank(kubeconfig, context, cluster, names)
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, context)
    return best[1] if best else None
