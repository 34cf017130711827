"""``ztctl catalog check``: the catalog as the platform team's CI sees it (docs/doctor.md).

Validate the catalog (``catalog.valid``, with a warning for two clusters whose addresses
overlap while their API servers differ), then, with a Cloudflare API token, run the
per-cluster server-side checks ``cf.route``, ``cf.tunnel`` and ``cf.inspection`` for every
cluster (or those named) concurrently, sharing calls (one route lookup per address, one
tunnel fetch per tunnel). There is no device here: routes are judged against the virtual
network of the account's default device profile.

Exit codes: 0 nothing failed, 1 a check failed, 3 the catalog (or the config) is invalid,
4 no API token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ztctl.core.doctor.runner import Check, CheckResult, Outcome, passed, run_checks, warned
from ztctl.errors import EXIT_AUTH_NEEDED, EXIT_INVALID_INPUT, InvalidInput

if TYPE_CHECKING:
    from ztctl.core.config import Config
    from ztctl.core.model import Catalog, Cluster


@dataclass(frozen=True)
class CatalogCheckReport:
    results: tuple[CheckResult, ...]
    clusters: tuple[str, ...]
    duration_ms: float
    exit_code: int
    deadline_hit: bool = False
    api_calls: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "warn": 0, "fail": 0, "skip": 0}
        for r in self.results:
            out[r.status] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ok": self.ok,
            "checks": [r.to_dict() for r in self.results],
            "clusters": list(self.clusters),
            "durationMs": round(self.duration_ms, 1),
            "apiCalls": self.api_calls,
        }
        if self.deadline_hit:
            out["deadlineHit"] = True
        return out


def overlaps(clusters: Sequence[Cluster]) -> list[str]:
    """Pairs of clusters that list the same address for different API servers."""
    import ipaddress

    found = []
    for i, first in enumerate(clusters):
        for second in clusters[i + 1 :]:
            if first.server == second.server:
                continue  # one API server, two catalog entries (other credentials): on purpose
            shared = sorted(
                {
                    a
                    for a in first.addresses
                    for b in second.addresses
                    if ipaddress.ip_address(a) == ipaddress.ip_address(b)
                }
            )
            if shared:
                found.append(f"{first.name} and {second.name} both use {', '.join(shared)}")
    return found


def check_catalog(
    load: Callable[[], Catalog],
    config: Config,
    env: Mapping[str, str],
    names: Sequence[str],
    *,
    timeout: float,
    on_result: Callable[[CheckResult], None] | None = None,
) -> CatalogCheckReport:
    """Run everything; ``load`` reads and validates the catalog (an :class:`InvalidInput`
    becomes a failed ``catalog.valid`` and exit 3)."""
    from ztctl.core.doctor.server import CATALOG_CLUSTER_IDS, checks, server_side

    began = time.monotonic()
    try:
        catalog = load()
    except InvalidInput as exc:
        result = CheckResult(
            "catalog.valid",
            "Catalog is valid",
            "fail",
            exc.message,
            exc.fix,
            data={"problems": list(exc.details) or [exc.message]},
        )
        if on_result is not None:
            on_result(result)
        return CatalogCheckReport(
            (result,), (), (time.monotonic() - began) * 1000.0, EXIT_INVALID_INPUT
        )
    chosen = _select(catalog, names)
    server = server_side(config, env, required=False, timeout=timeout)

    def valid() -> Outcome:
        data = {"clusters": len(catalog.clusters), "warnings": list(catalog.warnings)}
        worries = overlaps(catalog.clusters)
        count = len(catalog.clusters)
        text = f"{count} cluster{'s' if count != 1 else ''}, every field valid"
        if worries:
            return warned(
                f"{text}; addresses overlap: {'; '.join(worries)}",
                "two API servers at one address: one of them is unreachable through the route "
                "(worth a look)",
                {**data, "overlaps": worries},
            )
        return passed(text, data)

    all_checks = [Check("catalog.valid", "Catalog is valid", valid)]
    all_checks += checks(
        server,
        chosen,
        timeout=timeout,
        device=False,
        on_cluster_ids=CATALOG_CLUSTER_IDS,
        extra_after=("catalog.valid",),
    )
    report = run_checks(
        all_checks, timeout=timeout, deadline=2 * timeout + 1.0, on_result=on_result
    )
    code = 0 if report.ok else 1
    if server.api is None and code == 0:
        # No token: exit 4; a token but no account id: the config is incomplete, exit 3.
        code = EXIT_AUTH_NEEDED if "no Cloudflare API token" in server.unavailable else 3
    calls = len(server.api.transcript) if server.api is not None else 0
    if server.api is not None:
        server.api.close()
    return CatalogCheckReport(
        report.results,
        tuple(c.name for c in chosen),
        (time.monotonic() - began) * 1000.0,
        code,
        report.deadline_hit,
        calls,
    )


def _select(catalog: Catalog, names: Sequence[str]) -> tuple[Cluster, ...]:
    from ztctl.core.doctor import select_clusters

    if not names:
        return tuple(catalog.clusters)
    chosen, _note = select_clusters(catalog, list(names))
    return chosen
