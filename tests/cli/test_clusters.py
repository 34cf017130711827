"""`ztctl clusters`: the catalog, and where each cluster stands in kubeconfig."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DOCS_CATALOG = Path(__file__).resolve().parents[2] / "docs" / "examples" / "catalog.yaml"

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters:
- name: gke_acme_europe-west1_prod
  cluster: {server: "https://203.0.113.10:6443"}
- name: staging
  cluster:
    server: https://k8s.staging.acme.net:6443
    extensions: [{name: ztctl, extension: {cluster: staging}}]
contexts:
- name: gke_acme_europe-west1_prod
  context: {cluster: gke_acme_europe-west1_prod, user: u}
- name: staging
  context: {cluster: staging, user: u}
users: [{name: u, user: {token: t}}]
current-context: gke_acme_europe-west1_prod
"""


def run(
    tmp_path: Path, *args: str, kubeconfig: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ZTCTL_CONFIG": str(tmp_path / "none.toml"),
    }
    if kubeconfig is not None:
        path = tmp_path / "kubeconfig"
        path.write_text(kubeconfig)
        env["KUBECONFIG"] = str(path)
    return subprocess.run(
        [sys.executable, "-m", "ztctl", "--catalog", str(DOCS_CATALOG), "clusters", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_table_lists_every_cluster(tmp_path: Path) -> None:
    result = run(tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "CURRENT",
        "NAME",
        "SERVER",
        "KUBECONFIG",
        "CREDENTIALS",
        "BREAK-GLASS",
    ]
    names = [line.split()[0] for line in lines[1:]]
    assert names == ["prod-eu", "staging", "dev"]
    assert "proxy socks5://127.0.0.1:1080" in lines[1]
    assert "ssh oncall@bastion.oob.acme.net:22" in lines[2]
    assert result.stderr == ""


def test_kubeconfig_columns_show_own_foreign_and_current_entries(tmp_path: Path) -> None:
    result = run(tmp_path, "--json", kubeconfig=KUBECONFIG)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["clusters"]}
    # prod-eu is reached by another tool's entry (same catalog address and port), and current.
    assert rows["prod-eu"]["kubeconfigCluster"] == "gke_acme_europe-west1_prod"
    assert rows["prod-eu"]["current"] is True
    assert rows["staging"]["inKubeconfig"] is True and rows["staging"]["current"] is False
    assert rows["dev"]["inKubeconfig"] is False
    text = run(tmp_path, kubeconfig=KUBECONFIG).stdout
    assert "as gke_acme_europe-west1_prod" in text
    assert text.splitlines()[1].startswith("*")


def test_json_document(tmp_path: Path) -> None:
    result = run(tmp_path, "--json")
    document = json.loads(result.stdout)
    assert document["schemaVersion"] == 1
    assert document["team"] == "acme"
    assert [c["name"] for c in document["clusters"]] == ["prod-eu", "staging", "dev"]
    assert document["clusters"][0]["breakGlassMaxTtlSeconds"] == 4 * 3600


def test_broken_kubeconfig_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    result = run(tmp_path, kubeconfig="clusters: [\n")
    assert result.returncode == 0
    assert "warning:" in result.stderr and "KUBECONFIG column is unknown" in result.stderr
    assert all(line.split()[2] == "?" for line in result.stdout.splitlines()[1:])
