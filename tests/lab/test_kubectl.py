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


def test_kubectl_get_pods_nodes_and_namespaces_work_on_the_lab(lab, kubectl) -> None:
    """What the README's tour and break-glass's "Use it:" line suggest must really work."""
    pods = lab.run([kubectl, FAST, "get", "pods"])
    assert pods.returncode == 0, pods.stderr
    header, *rows = pods.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert rows and all(row.split()[1:3] == ["1/1", "Running"] for row in rows)
    every = lab.run([kubectl, FAST, "get", "pods", "-A", "-o", "wide"])
    assert every.returncode == 0, every.stderr
    assert "kube-system" in every.stdout and "IP" in every.stdout.splitlines()[0]
    nodes = lab.run([kubectl, FAST, "get", "nodes"])
    assert nodes.returncode == 0, nodes.stderr
    assert "Ready" in nodes.stdout and "v1.32.4" in nodes.stdout
    namespaces = lab.run([kubectl, FAST, "get", "ns", "-o", "json"])
    names = [i["metadata"]["name"] for i in json.loads(namespaces.stdout)["items"]]
    assert "default" in names and "kube-system" in names
    name = rows[0].split()[0]
    one = lab.run([kubectl, FAST, "get", "pod", name, "-o", "jsonpath={.status.phase}"])
    assert (one.returncode, one.stdout) == (0, "Running"), one.stderr
    missing = lab.run([kubectl, FAST, "get", "pod", "nope"])
    assert missing.returncode != 0 and 'pods "nope" not found' in missing.stderr
    delete = lab.run([kubectl, FAST, "delete", "pod", name])
    assert delete.returncode != 0 and "read-only" in delete.stderr
