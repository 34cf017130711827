"""After every check has finished: point each network failure at its root cause.

The checks run concurrently and independently, so ``cluster.tcp`` cannot know, while it
runs, that WARP is disconnected. This pure pass reads all the results and rewrites the fix
of a path failure (``cluster.tcp``, ``cluster.tls`` timeouts and resets, ``cluster.api``
timeouts, ``cluster.route``) to name the device-level check that explains it, keeping the
break-glass sentence; it also makes ``cluster.dns``'s Local Domain Fallback hint specific
when WARP's fallback list covers the name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ztctl.core.doctor.cluster import (
    break_glass_note,
    local_domain_fallback_fix,
    path_down_fix,
)
from ztctl.core.doctor.runner import CheckResult
from ztctl.problems import PATH_KINDS

if TYPE_CHECKING:
    from ztctl.core.doctor.context import DoctorContext
    from ztctl.core.model import Cluster

# Device checks that stop every packet to a private address, in the order a person should
# fix them.
ROOT_ORDER = (
    "warp.cli",
    "warp.daemon",
    "warp.registration",
    "warp.connected",
    "warp.mode",
    "warp.split-tunnel",
    "cluster.route",
)


def _root_cause(
    by_key: dict[str, CheckResult], cluster: Cluster, *, include_route: bool = True
) -> CheckResult | None:
    for check_id in ROOT_ORDER:
        if check_id == "cluster.route":
            if not include_route:
                continue
            result = by_key.get(f"cluster.route@{cluster.name}")
        else:
            result = by_key.get(check_id)
        if result is None or result.status != "fail":
            continue
        if check_id == "warp.split-tunnel" and not _names_cluster(result, cluster):
            continue
        return result
    return None


def _is_path_failure(result: CheckResult) -> bool:
    if result.status != "fail":
        return False
    if result.id == "cluster.tcp":
        return result.data.get("kind") in PATH_KINDS and not result.data.get("via")
    if result.id in ("cluster.tls", "cluster.api"):
        return result.data.get("kind") in PATH_KINDS or (
            result.id == "cluster.api" and "did not answer" in result.summary
        )
    return False


def _because(root: CheckResult) -> str:
    return f"caused by {root.id} (above): {root.fix}"


def _all_passed(by_key: dict[str, CheckResult], cluster: Cluster) -> bool:
    for check_id in ROOT_ORDER:
        key = f"{check_id}@{cluster.name}" if check_id.startswith("cluster.") else check_id
        result = by_key.get(key)
        if result is None:
            return False
        if check_id == "warp.split-tunnel" and result.status == "fail":
            if _names_cluster(result, cluster):
                return False
            continue  # it fails for other clusters only
        if result.status not in ("pass", "warn"):
            return False
    return True


def _names_cluster(result: CheckResult, cluster: Cluster) -> bool:
    rows = result.data.get("notSent") or []
    return any(isinstance(r, dict) and r.get("cluster") == cluster.name for r in rows)


def diagnose(results: Sequence[CheckResult], ctx: DoctorContext) -> tuple[CheckResult, ...]:
    by_key = {r.key: r for r in results}
    clusters = {c.name: c for c in ctx.clusters}
    fallback = _fallback_domains(by_key)
    out: list[CheckResult] = []
    for result in results:
        cluster = clusters.get(result.cluster or "")
        if cluster is None:
            out.append(result)
            continue
        server_root = _server_root(by_key, result)
        if _is_path_failure(result):
            root = _root_cause(by_key, cluster)
            if root is not None:
                note = break_glass_note(cluster)
                fix = _because(root) + (f"; {note}" if note else "")
                result = replace(result, fix=fix, data={**result.data, "rootCause": root.id})
            elif server_root is not None:
                result = _explained_server_side(result, server_root, cluster)
            elif _all_passed(by_key, cluster):
                address = result.data.get("address")
                result = replace(
                    result,
                    fix=path_down_fix(cluster, str(address) if address else None),
                    data={**result.data, "rootCause": "zero-trust-path"},
                )
        elif server_root is not None and result.data.get("kind") == "tls-inspection":
            result = _explained_server_side(result, server_root, cluster)
        elif result.id == "cluster.route" and result.status == "fail":
            root = _root_cause(by_key, cluster, include_route=False)
            if root is not None:
                result = replace(
                    result, fix=_because(root), data={**result.data, "rootCause": root.id}
                )
        elif result.id == "cluster.dns" and result.status == "fail" and fallback:
            from ztctl.adapters.dns import fallback_suffix

            host = str(result.data.get("host") or cluster.host)
            suffix = fallback_suffix(host, fallback)
            if suffix is not None:
                result = replace(
                    result,
                    fix=local_domain_fallback_fix(host, suffix),
                    data={**result.data, "localDomainFallback": suffix},
                )
        out.append(result)
    return tuple(out)


def _server_root(by_key: dict[str, CheckResult], result: CheckResult) -> CheckResult | None:
    """The failed cf.* check (server side) that explains ``result``, if any."""
    if result.status != "fail" or not result.cluster:
        return None
    from ztctl.core.doctor.server import server_root_cause

    kind = result.data.get("kind")
    check_id = "cluster.tls-inspection" if kind == "tls-inspection" else result.id
    found: CheckResult | None = server_root_cause(by_key, result.cluster, check_id)
    return found


def _explained_server_side(result: CheckResult, root: CheckResult, cluster: Cluster) -> CheckResult:
    note = break_glass_note(cluster)
    note = note.replace("if you need", "meanwhile, if you need", 1) if note else ""
    fix = f"{root.data['cause']} (see {root.id}): tell the platform team" + (
        f"; {note}" if note else ""
    )
    return replace(result, fix=fix, data={**result.data, "rootCause": root.id})


def _fallback_domains(by_key: dict[str, CheckResult]) -> list[str]:
    mode = by_key.get("warp.mode")
    domains: Any = mode.data.get("fallbackDomains") if mode is not None else None
    return [str(d) for d in domains] if isinstance(domains, list) else []
