"""Real kubectl against the lab: the Zero Trust path, outages, and the bastion route."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.kubectl

FAST = "--request-timeout=2s"


def test_readyz_and_whoami_succeed_on_the_zero_trust_path(lab, kubectl) -> None:
    readyz = lab.run([kubectl, "get", "--raw", "/readyz"])
    assert (readyz.returncode, readyz.stdout) == (0, "ok"), readyz.stderr
    whoami = lab.run([kubectl, "auth", "whoami", "-o", "json"])
    assert whoami.returncode == 0, whoami.stderr
    user = json.loads(whoami.stdout)["status"]["userInfo"]
    assert user["username"] == "lab-admin"
    assert user["extra"]["ztctl.lab/route"] == ["zero-trust"]


def test_whoami_table_shows_user_and_route(lab, kubectl) -> None:
    whoami = lab.run([kubectl, "auth", "whoami"])
    assert whoami.returncode == 0, whoami.stderr
    assert "lab-admin" in whoami.stdout
    assert "[zero-trust]" in whoami.stdout


@pytest.mark.parametrize("mode", ["blackhole", "reset"])
def test_kubectl_fails_when_the_zero_trust_path_is_down(lab, kubectl, mode: str) -> None:
    lab.set(zt_path=mode)
    result = lab.run([kubectl, FAST, "get", "--raw", "/readyz"])
    assert result.returncode != 0
    assert "Unable to connect to the server" in result.stderr


def test_kubectl_through_the_bastion_while_the_path_is_down(lab, kubectl, tmp_path: Path) -> None:
    lab.set(zt_path="blackhole")
    kubeconfig = lab.bastion_kubeconfig(tmp_path / "kubeconfig")
    readyz = lab.run([kubectl, FAST, "--kubeconfig", kubeconfig, "get", "--raw", "/readyz"])
    assert (readyz.returncode, readyz.stdout) == (0, "ok"), readyz.stderr
    whoami = lab.run([kubectl, FAST, "--kubeconfig", kubeconfig, "auth", "whoami"])
    assert whoami.returncode == 0, whoami.stderr
    assert "[break-glass]" in whoami.stdout


def test_expired_client_certificate_is_unauthorized(lab, kubectl) -> None:
    lab.set(client_cert="expired")
    result = lab.run([kubectl, FAST, "get", "--raw", "/readyz"])
    assert result.returncode != 0
    assert "Unauthorized" in result.stderr


def test_tls_inspection_fails_certificate_verification(lab, kubectl) -> None:
    lab.set(inspection=True)
    result = lab.run([kubectl, FAST, "get", "--raw", "/readyz"])
    assert result.returncode != 0
    assert "x509: certificate signed by unknown authority" in result.stderr


def test_get_namespaces_works_with_discovery(lab, kubectl) -> None:
    result = lab.run([kubectl, "get", "namespaces", "-o", "name"])
    assert result.returncode == 0, result.stderr
    assert "namespace/kube-system" in result.stdout.split()
