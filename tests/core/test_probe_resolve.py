"""Which cluster and which credentials `ztctl probe` uses: kubectl's kubeconfig entry first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ztctl.core.catalog import load_catalog
from ztctl.core.model import Catalog
from ztctl.core.probe import ProbeOptions, probe_cluster, resolve_target
from ztctl.errors import InvalidInput, UsageError


@pytest.fixture
def catalog(lab: Any) -> Catalog:
    return load_catalog(str(lab.paths.catalog), lab.dir / "state", {})


def write_kubeconfig(path: Path, lab: Any, *, user: dict[str, Any], current: str) -> Path:
    pki = lab.paths.pki
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c", "cluster": {"server": lab.server, "certificate-authority": "ca.crt"}}
        ],
        "users": [{"name": "u", "user": user}],
        "contexts": [
            {"name": "lab", "context": {"cluster": "c", "user": "u"}},
            {"name": "elsewhere", "context": {"cluster": "c", "user": "u"}},
        ],
        "current-context": current,
    }
    (path.parent / "ca.crt").write_bytes((pki / "ca.crt").read_bytes())  # relative path
    path.write_text(yaml.safe_dump(doc))
    return path


def test_the_kubeconfig_entry_wins_over_the_catalog(
    lab: Any, catalog: Catalog, tmp_path: Path
) -> None:
    token_file = lab.paths.pki / "token"
    kubeconfig = write_kubeconfig(
        tmp_path / "config", lab, user={"tokenFile": str(token_file)}, current="lab"
    )
    resolved = resolve_target(catalog, "lab", kubeconfig=str(kubeconfig), env={})
    assert resolved.context == "lab"
    assert resolved.target.credential_kind == "token"  # not the catalog's certificate
    assert resolved.target.addresses == ("127.0.0.1",)  # still the catalog's addresses
    result = probe_cluster(resolved.target, route="zero-trust", options=ProbeOptions(timeout=2))
    assert result.ok, result.problem
    from ztctl.lab.pki import BEARER_USER

    assert result.user == BEARER_USER


def test_without_a_kubeconfig_entry_the_catalog_is_used(catalog: Catalog, tmp_path: Path) -> None:
    resolved = resolve_target(catalog, "lab", kubeconfig=str(tmp_path / "absent"), env={})
    assert resolved.context is None
    assert resolved.target.source == "catalog"
    assert resolved.target.credential_kind == "clientCertificate"
    result = probe_cluster(resolved.target, route="zero-trust", options=ProbeOptions(timeout=2))
    assert result.ok, result.problem


def test_default_cluster_is_the_one_the_current_context_reaches(
    lab: Any, catalog: Catalog, tmp_path: Path
) -> None:
    kubeconfig = write_kubeconfig(
        tmp_path / "config", lab, user={"token": "x"}, current="elsewhere"
    )
    resolved = resolve_target(catalog, None, kubeconfig=str(kubeconfig), env={})
    assert resolved.target.name == "lab"  # the first catalog cluster with that server


def test_no_current_context_and_several_clusters_asks(catalog: Catalog, tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        resolve_target(catalog, None, kubeconfig=str(tmp_path / "absent"), env={})
    assert "which cluster?" in info.value.message and "lab-sso" in info.value.message


def test_a_kubeconfig_only_context_is_probed_without_catalog_addresses(
    lab: Any, catalog: Catalog, tmp_path: Path
) -> None:
    pki = lab.paths.pki
    kubeconfig = write_kubeconfig(
        tmp_path / "config",
        lab,
        user={"client-certificate": str(pki / "client.crt"), "client-key": str(pki / "client.key")},
        current="lab",
    )
    resolved = resolve_target(catalog, "elsewhere", kubeconfig=str(kubeconfig), env={})
    assert resolved.target.addresses == () and resolved.target.break_glass is None
    result = probe_cluster(resolved.target, route="zero-trust", options=ProbeOptions(timeout=2))
    assert result.ok, result.problem
    assert result.address == "127.0.0.1" and result.address_in_catalog is None


def test_unknown_name_suggests(catalog: Catalog, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as info:
        resolve_target(catalog, "lba", kubeconfig=str(tmp_path / "absent"), env={})
    assert "did you mean 'lab'" in info.value.message
