"""The probe reads only regular files of bounded size, and an unreadable catalog CA never
falls back to the system trust store (a hostile catalog or kubeconfig must not hang ztctl or
widen what it trusts)."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Lab
from ztctl.core.probe import (
    ProbeOptions,
    probe_cluster,
    target_from_cluster,
    target_from_kubeconfig,
)

from . import probe_lab as facts


def opts(**kwargs: Any) -> ProbeOptions:
    kwargs.setdefault("timeout", 3.0)
    kwargs.setdefault("allow_interactive", False)
    return ProbeOptions(**kwargs)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


def _kubeconfig_target(lab: Lab, **user: str) -> Any:
    catalog_cluster = facts.cluster(lab, "lab")
    cluster_entry = {
        "server": catalog_cluster.server,
        "certificate-authority": str(facts.pki(lab).ca_cert),
    }
    user_entry = {
        "client-certificate": str(facts.pki(lab).client_cert),
        "client-key": str(facts.pki(lab).client_key),
    }
    for key, value in user.items():
        if key == "ca":
            cluster_entry["certificate-authority"] = value
        elif key == "token_file":  # a bearer token file instead of the client certificate
            user_entry = {"tokenFile": value}
        else:
            user_entry[key.replace("_", "-")] = value
    return target_from_kubeconfig("lab", cluster_entry, user_entry, catalog_cluster=catalog_cluster)


@pytest.mark.parametrize(
    "field",
    ["ca", "client_certificate", "client_key", "token_file"],
)
@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_a_device_or_fifo_as_a_credential_file_fails_fast_with_exit_3(
    lab: Lab, fifo: Path, field: str, special: str
) -> None:
    path = str(fifo) if special == "fifo" else special
    target = _kubeconfig_target(lab, **{field: path})
    started = time.monotonic()
    result = probe_cluster(target, route="zero-trust", options=opts())
    elapsed = time.monotonic() - started
    assert elapsed < 2.5, f"{field}={path} took {elapsed:.1f}s"
    assert not result.ok
    assert result.exit_code == 3, result.problem
    assert result.problem is not None


def test_an_unreadable_catalog_ca_is_not_the_system_trust_store(lab: Lab, tmp_path: Path) -> None:
    cluster = facts.cluster(lab, "lab")
    fifo = tmp_path / "ca-pipe"
    os.mkfifo(fifo)
    hostile = replace(cluster, certificate_authority=fifo, certificate_authority_data=None)
    target = target_from_cluster(hostile)
    assert target.ca_pem is not None, "None would mean: trust every public CA"
    result = probe_cluster(target, route="zero-trust", options=opts())
    assert not result.ok and result.exit_code == 3, result.problem
