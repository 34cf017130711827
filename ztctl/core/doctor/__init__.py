"""``ztctl doctor``: every device, network and per-cluster check, run concurrently.

Groups (one module each): :mod:`~ztctl.core.doctor.warp` (warp-cli), :mod:`~.net`
(``/cdn-cgi/trace``), :mod:`~.device` (clock, posture) and :mod:`~.cluster` (DNS, route,
credentials, TCP, TLS, API, auth per cluster). :mod:`~.runner` runs them with dependencies, a
per-check timeout and a global deadline; :mod:`~.diagnose` then names the root cause of
each path failure. Check ids and the JSON shape are in docs/doctor.md.

Public API: :func:`select_clusters`, :func:`catalog_context` (with :func:`kubeconfig_targets`),
:class:`DoctorContext`,
:func:`build_checks`, :func:`run_doctor` → :class:`DoctorReport`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ztctl.core.doctor.context import DoctorContext, inner_timeout
from ztctl.core.doctor.runner import Check, CheckResult, Outcome, run_checks

if TYPE_CHECKING:
    from ztctl.core.config import WarpConfig
    from ztctl.core.model import Catalog, Cluster
    from ztctl.core.probe import Target

__all__ = [
    "Check",
    "CheckResult",
    "DoctorContext",
    "DoctorReport",
    "Outcome",
    "build_checks",
    "catalog_context",
    "inner_timeout",
    "kubeconfig_targets",
    "run_doctor",
    "select_clusters",
]

DEVICE_IDS = (
    "warp.cli",
    "warp.daemon",
    "warp.registration",
    "warp.connected",
    "warp.mode",
    "warp.split-tunnel",
    "net.trace",
    "device.clock",
    "device.posture",
)
CLUSTER_IDS = (
    "cluster.dns",
    "cluster.route",
    "cluster.credentials",
    "cluster.tcp",
    "cluster.tls",
    "cluster.api",
    "cluster.auth",
)


@dataclass(frozen=True)
class DoctorReport:
    results: tuple[CheckResult, ...]
    clusters: tuple[str, ...]
    duration_ms: float
    deadline_hit: bool = False
    note: str | None = None  # e.g. why no cluster was checked

    @property
    def ok(self) -> bool:
        return all(r.status != "fail" for r in self.results)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "warn": 0, "fail": 0, "skip": 0}
        for r in self.results:
            out[r.status] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """The document of docs/doctor.md (the renderer adds ``schemaVersion``), plus extras."""
        out: dict[str, Any] = {
            "ok": self.ok,
            "checks": [r.to_dict() for r in self.results],
            "clusters": list(self.clusters),
            "durationMs": round(self.duration_ms, 1),
        }
        if self.deadline_hit:
            out["deadlineHit"] = True
        if self.note:
            out["note"] = self.note
        return out


def select_clusters(
    catalog: Catalog,
    names: Sequence[str],
    *,
    all_clusters: bool = False,
    current: Cluster | None = None,
) -> tuple[tuple[Cluster, ...], str | None]:
    """The clusters to check and, when there are none, why.

    Names must be catalog clusters (an unknown one is an :class:`InvalidInput` with a
    suggestion); ``--all`` is every cluster; neither is the current context's cluster.
    """
    from ztctl.core.suggest import did_you_mean
    from ztctl.errors import InvalidInput, UsageError

    if names and all_clusters:
        raise UsageError("give cluster names or --all, not both", "drop one of them")
    if all_clusters:
        return tuple(catalog.clusters), None if catalog.clusters else "the catalog is empty"
    if names:
        chosen: list[Cluster] = []
        for name in names:
            found = catalog.get(name)
            if found is None:
                raise InvalidInput(
                    f"no cluster named {name!r} in the catalog{did_you_mean(name, catalog.names)}",
                    "run `ztctl clusters` to list them",
                )
            if found not in chosen:
                chosen.append(found)
        return tuple(chosen), None
    if current is not None:
        return (current,), None
    return (), (
        "the current kubectl context does not point at a catalog cluster, so only the device "
        "was checked: name clusters (`ztctl doctor NAME`) or use --all"
    )


def kubeconfig_targets(
    clusters: Sequence[Cluster],
    kubeconfig: Any,
    *,
    catalog_names: Sequence[str] = (),
) -> dict[str, Target]:
    """What kubectl would use for each catalog cluster: the kubeconfig entries of the
    context that stands for it (:func:`ztctl.core.contexts.context_for`). Clusters without
    one are left out (the catalog's data is used)."""
    from ztctl.core.probe.resolve import kubeconfig_targets as resolve_all

    return resolve_all(clusters, kubeconfig, catalog_names)


def catalog_context(
    catalog: Catalog,
    chosen: Sequence[Cluster],
    kubeconfig: Any,
    *,
    warp: WarpConfig,
    timeout: float,
    env: Mapping[str, str],
    team: str | None = None,
    token_source: Any = None,
) -> DoctorContext:
    """The doctor's context for ``chosen`` catalog clusters: each one's target from the
    kubeconfig (:func:`kubeconfig_targets`; ``kubeconfig=None``: the catalog's data), and
    the catalog's Access-token clusters for the posture check."""
    return DoctorContext(
        team=catalog.team or team,
        warp=warp,
        clusters=tuple(chosen),
        targets=kubeconfig_targets(chosen, kubeconfig, catalog_names=catalog.names),
        timeout=timeout,
        env=env,
        access_clusters=tuple(
            c.name for c in catalog.clusters if c.credentials.kind == "accessToken"
        ),
        token_source=token_source,
    )


def build_checks(ctx: DoctorContext) -> list[Check]:
    from ztctl.core.doctor import cluster, device, net, warp

    out = [*warp.checks(ctx), *net.checks(ctx), *device.checks(ctx)]
    for c in ctx.clusters:
        out += cluster.checks(ctx, c.name)
    if ctx.server is not None:
        from ztctl.core.doctor import server

        out += server.checks(ctx.server, ctx.clusters, timeout=ctx.timeout)
    return out


def run_doctor(
    ctx: DoctorContext,
    *,
    on_result: Callable[[CheckResult], None] | None = None,
    deadline: float | None = None,
    note: str | None = None,
) -> DoctorReport:
    """Run every check for ``ctx`` and diagnose the results.

    ``deadline`` defaults to twice the per-check timeout plus one second: enough for the
    longest chain (warp-cli version, then status, then settings) to time out step by step.
    """
    from ztctl.core.doctor.diagnose import diagnose

    checks = build_checks(ctx)
    report = run_checks(
        checks,
        timeout=ctx.timeout,
        deadline=deadline if deadline is not None else 2 * ctx.timeout + 1.0,
        on_result=on_result,
    )
    results = diagnose(report.results, ctx)
    return DoctorReport(
        results=results,
        clusters=tuple(c.name for c in ctx.clusters),
        duration_ms=report.duration_ms,
        deadline_hit=report.deadline_hit,
        note=note,
    )
