"""Run the doctor checks in-process against the session lab (real stand-in warp-cli
subprocesses, real TLS API server, real edge), and read the results."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ztctl.core.doctor import (
    CheckResult,
    DoctorContext,
    DoctorReport,
    catalog_context,
    run_doctor,
)


def lab_catalog(lab: Any) -> Any:
    from ztctl.core.catalog import load_catalog

    return load_catalog(str(lab.paths.catalog), lab.paths.state_dir, lab.env)


def lab_context(
    lab: Any,
    clusters: Sequence[str] = ("lab",),
    *,
    timeout: float = 2.0,
    catalog: Any = None,
    kubeconfig: bool = True,
    token_source: Callable[..., tuple[str | None, str]] | None = None,
    **warp_overrides: Any,
) -> DoctorContext:
    from ztctl.core.config import load_config
    from ztctl.core.kubeconfig.model import load_kubeconfig

    config = load_config(lab.paths.config, lab.env)
    cat = catalog if catalog is not None else lab_catalog(lab)
    chosen = tuple(cat.get(name) for name in clusters)
    assert all(chosen), f"unknown cluster in {clusters}"
    warp = dataclasses.replace(config.warp, **warp_overrides) if warp_overrides else config.warp
    return catalog_context(
        cat,
        chosen,
        load_kubeconfig(None, lab.env) if kubeconfig else None,
        warp=warp,
        timeout=timeout,
        env=lab.env,
        token_source=token_source,
    )


def doctor(lab: Any, *faults: str, **kwargs: Any) -> DoctorReport:
    """Reset the lab, apply ``faults`` (``lab set`` assignments), run every check."""
    lab.set_many("reset", *faults)
    return run_doctor(lab_context(lab, **kwargs))


def result(report: DoctorReport, check_id: str, cluster: str | None = None) -> CheckResult:
    for r in report.results:
        if r.id == check_id and (cluster is None or r.cluster == cluster):
            return r
    raise AssertionError(f"no result for {check_id} {cluster or ''}")


def statuses(report: DoctorReport) -> dict[str, str]:
    return {r.key: r.status for r in report.results}


def write_catalog(lab: Any, path: Path, clusters: list[dict[str, Any]]) -> Any:
    """A catalog in ``path`` (a directory) with the lab's team and ``clusters``."""
    import yaml

    from ztctl.core.catalog import load_catalog

    document = {
        "apiVersion": "ztctl/v1",
        "kind": "ClusterCatalog",
        "team": "lab",
        "clusters": clusters,
    }
    file = path / "catalog.yaml"
    file.write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_catalog(str(file), path / "state", lab.env)


def lab_cluster_entry(lab: Any, name: str, **changes: Any) -> dict[str, Any]:
    """The lab's `lab` catalog entry (client certificate, CA file), renamed and changed."""
    entry = {
        "name": name,
        "server": lab.server,
        "addresses": ["127.0.0.1"],
        "certificateAuthorityData": __import__("base64")
        .b64encode(lab.paths.ca_cert.read_bytes())
        .decode(),
        "credentials": {
            "clientCertificate": str(lab.paths.client_cert),
            "clientKey": str(lab.paths.client_key),
        },
        "breakGlass": {"proxy": lab.proxy_url},
    }
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}
