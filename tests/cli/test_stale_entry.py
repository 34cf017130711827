"""A kubeconfig entry ztctl wrote from an older catalog (hostile-user finding 7).

The entry was written while the catalog said `server: https://localhost:1`; the catalog was
then fixed. Before: `clusters` said the cluster was in kubeconfig and nothing more, doctor's
fix was "check the server URL in the catalog", probe failed the same way. Now `clusters`
marks the entry stale (text and --json), and doctor and probe say to run `ztctl use-cluster
lab`, which then makes everything pass. Real processes against the lab.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.access import ztctl_argv

HINT = (
    "the kubeconfig entry for lab no longer matches the catalog (server changed): "
    "run `ztctl use-cluster lab` to refresh it"
)


@pytest.fixture
def stale(lab: Any, tmp_path: Path) -> dict[str, str]:
    """The environment of a user whose kubeconfig entry for `lab` predates a catalog fix."""
    text = lab.paths.catalog.read_text().replace(
        "certificateAuthority: pki/", f"certificateAuthority: {lab.dir}/pki/"
    )
    current, old = tmp_path / "catalog.yaml", tmp_path / "old-catalog.yaml"
    current.write_text(text)
    old.write_text(text.replace(lab.server, "https://localhost:1"))
    env = {
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "ZTCTL_STATE_DIR": str(tmp_path / "state"),
        "ZTCTL_CATALOG": str(old),
    }
    wrote = lab.run([*ztctl_argv(), "use-cluster", "lab", "--no-probe"], env=env)
    assert wrote.returncode == 0, wrote.stderr
    env["ZTCTL_CATALOG"] = str(current)
    return env


def run(lab: Any, env: dict[str, str], *args: str) -> Any:
    return lab.run([*ztctl_argv(), *args], env=env)


def test_clusters_marks_the_entry_stale(lab: Any, stale: dict[str, str]) -> None:
    listed = run(lab, stale, "clusters", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)["clusters"]}
    assert rows["lab"]["inKubeconfig"] is True
    assert rows["lab"]["kubeconfigStale"] is True
    assert rows["lab"]["kubeconfigStaleFields"] == ["server"]
    assert rows["lab-sso"]["kubeconfigStale"] is None  # not in this kubeconfig
    text = run(lab, stale, "clusters")
    line = next(line for line in text.stdout.splitlines() if " lab " in f" {line} ")
    assert line.split()[3] == "stale"
    assert f"warning: {HINT}" in text.stderr


def test_doctor_and_probe_say_to_refresh_the_entry(lab: Any, stale: dict[str, str]) -> None:
    doctor = run(lab, stale, "doctor", "lab", "--no-server", "--json")
    assert doctor.returncode == 1
    checks = {c["id"]: c for c in json.loads(doctor.stdout)["checks"] if c["cluster"] == "lab"}
    tcp = checks["cluster.tcp"]
    assert tcp["status"] == "fail"
    assert tcp["fix"].startswith(f"{HINT}; if that does not help: ")
    assert tcp["data"]["staleKubeconfig"] == ["server"]
    assert (
        checks["cluster.dns"]["status"] == "pass"
        and "staleKubeconfig" not in (checks["cluster.dns"]["data"])
    )

    probe = run(lab, stale, "probe", "lab", "--json")
    assert probe.returncode == 5
    error = json.loads(probe.stdout)["error"]
    assert error["fix"].startswith(f"{HINT}; if that does not help: ")


def test_use_cluster_refreshes_it_and_everything_passes(lab: Any, stale: dict[str, str]) -> None:
    assert run(lab, stale, "use-cluster", "lab", "--no-probe").returncode == 0
    rows = {
        r["name"]: r for r in json.loads(run(lab, stale, "clusters", "--json").stdout)["clusters"]
    }
    assert rows["lab"]["kubeconfigStale"] is False
    assert rows["lab"]["kubeconfigStaleFields"] == []
    probe = run(lab, stale, "probe", "lab")
    assert probe.returncode == 0, probe.stderr
    assert "use-cluster" not in probe.stderr


def test_status_says_the_current_context_is_stale(lab: Any, stale: dict[str, str]) -> None:
    document = run(lab, stale, "status", "--json")
    assert document.returncode in (0, 4), document.stderr  # 4: no token yet
    parsed = json.loads(document.stdout)
    assert (parsed["currentContext"], parsed["contextCluster"]) == ("lab", "lab")
    assert parsed["contextStaleFields"] == ["server"]
    text = run(lab, stale, "status")
    line = next(line for line in text.stdout.splitlines() if line.lstrip().startswith("Context"))
    assert line.split(None, 1)[1] == (
        "lab; its entry no longer matches the catalog (server changed): run `ztctl use-cluster lab`"
    )
    refreshed = run(lab, stale, "use-cluster", "lab", "--no-probe")
    assert refreshed.returncode == 0, refreshed.stderr
    assert json.loads(run(lab, stale, "status", "--json").stdout)["contextStaleFields"] == []
