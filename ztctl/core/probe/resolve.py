"""Which target a command probes: catalog cluster + kubeconfig → :class:`Target`.

One resolver for ``ztctl probe`` (one cluster, by name or the current context), ``doctor``
(mapped over its clusters) and ``use-cluster --probe`` (the entry it just merged).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ztctl.core.contexts import context_for
from ztctl.core.probe.target import Target, target_from_cluster, target_from_kubeconfig

if TYPE_CHECKING:
    from ztctl.core.kubeconfig.model import Kubeconfig
    from ztctl.core.model import Catalog, Cluster


@dataclass(frozen=True)
class ResolvedTarget:
    """What ``ztctl probe [NAME]`` probes, and where it came from."""

    target: Target
    context: str | None  # the kubeconfig context used; None: the catalog alone
    cluster: Cluster | None = None  # the catalog cluster (None: a kubeconfig-only context)


def kubeconfig_target(
    cluster: Cluster, kubeconfig: Kubeconfig, catalog_names: Iterable[str] = ()
) -> tuple[Target, str] | None:
    """The target kubectl would use for ``cluster``: the entries of the context that stands
    for it (:func:`ztctl.core.contexts.context_for`), or None when no context does."""
    context = context_for(cluster, kubeconfig, catalog_names)
    if context is None:
        return None
    _ctx, cluster_entry, user_entry = kubeconfig.context_entries(context)
    assert cluster_entry is not None
    target = target_from_kubeconfig(
        cluster.name,
        cluster_entry.resolved(),
        user_entry.resolved() if user_entry is not None else {},
        catalog_cluster=cluster,
        base_dir=Path(os.path.dirname(os.path.abspath(cluster_entry.origin))),
    )
    if cluster_entry.catalog_name == cluster.name:  # ztctl's own entry: is it current?
        from dataclasses import replace

        from ztctl.core.entries import stale_fields

        owned_user = user_entry.body if user_entry is not None and user_entry.owned else None
        target = replace(target, stale=stale_fields(cluster, cluster_entry.body, owned_user))
    return target, context


def kubeconfig_targets(
    clusters: Sequence[Cluster], kubeconfig: Kubeconfig | None, catalog_names: Iterable[str] = ()
) -> dict[str, Target]:
    """:func:`kubeconfig_target` for each cluster that has a context (doctor's targets)."""
    if kubeconfig is None:
        return {}
    names = set(catalog_names) | {c.name for c in clusters}
    out: dict[str, Target] = {}
    for cluster in clusters:
        found = kubeconfig_target(cluster, kubeconfig, names)
        if found is not None:
            out[cluster.name] = found[0]
    return out


def resolve_target(
    catalog: Catalog,
    name: str | None,
    *,
    kubeconfig: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ResolvedTarget:
    """The target kubectl would use for catalog cluster NAME (default: the one the current
    context reaches, else the catalog's only cluster).

    The kubeconfig entry wins (its server, CA, credentials, proxy-url), chosen by
    :func:`ztctl.core.contexts.context_for`. Without one, the catalog's own CA and
    credentials (what ``use-cluster`` would write). A NAME that is only a kubeconfig context
    is probed from the kubeconfig alone (no catalog addresses).
    """
    from ztctl.core.kubeconfig.model import load_kubeconfig
    from ztctl.core.suggest import did_you_mean
    from ztctl.errors import InvalidInput, UsageError

    kc = load_kubeconfig(kubeconfig, env)
    if name is None:
        cluster = kc.catalog_cluster(catalog)
        if cluster is None and len(catalog.clusters) == 1:
            cluster = catalog.clusters[0]
        if cluster is None:
            where = (
                f"the current context {kc.current_context!r} does not reach a catalog cluster"
                if kc.current_context
                else "there is no current context"
            )
            raise UsageError(
                f"which cluster? {where}; the catalog lists {', '.join(catalog.names) or 'none'}",
                "name one: `ztctl probe NAME` (`ztctl clusters` lists them)",
            )
    else:
        cluster = catalog.get(name)
        if cluster is None:
            _ctx, cluster_entry, user_entry = kc.context_entries(name)
            if cluster_entry is not None:
                return ResolvedTarget(
                    target_from_kubeconfig(
                        name,
                        cluster_entry.resolved(),
                        user_entry.resolved() if user_entry is not None else {},
                    ),
                    context=name,
                )
            names = [*catalog.names, *(c for c in kc.contexts if c not in catalog.names)]
            raise InvalidInput(
                f"no cluster named {name!r} in the catalog or the kubeconfig"
                f"{did_you_mean(name, names)}",
                "run `ztctl clusters` to list the catalog's clusters",
            )
    found = kubeconfig_target(cluster, kc, catalog.names)
    if found is None:
        return ResolvedTarget(target_from_cluster(cluster), None, cluster)
    return ResolvedTarget(found[0], found[1], cluster)
