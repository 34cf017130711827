"""Acceptance: `cluster.tcp` fails on its own, with the later layers skipped.

The lab's faults make TLS fail (black hole) or race between TCP and TLS (reset); a server
URL whose port nothing listens on is the scenario where the TCP layer, and only it, fails.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ZTCTL = [sys.executable, "-m", "ztctl"]


def closed_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there now


def closed_catalog(lab: Any, tmp_path: Path, *, break_glass: bool = True) -> tuple[Path, int]:
    """The lab catalog with one cluster, `closed`, whose server port nothing listens on."""
    catalog = yaml.safe_load(lab.paths.catalog.read_text(encoding="utf-8"))
    entry = dict(catalog["clusters"][0])
    entry.update(
        name="closed",
        server=f"https://localhost:{(port := closed_loopback_port())}",
        certificateAuthority=str(lab.paths.catalog.parent / entry["certificateAuthority"]),
    )
    if not break_glass:
        entry.pop("breakGlass", None)
    catalog["clusters"] = [entry]
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(catalog), encoding="utf-8")
    return path, port


def test_refused_port_fails_cluster_tcp_and_skips_what_follows(lab: Any, tmp_path: Path) -> None:
    path, port = closed_catalog(lab, tmp_path)
    kubeconfig = tmp_path / "kubeconfig"
    shutil.copyfile(lab.kubeconfig, kubeconfig)
    env = {
        **lab.env,
        "ZTCTL_CATALOG": str(path),
        "ZTCTL_STATE_DIR": str(tmp_path / "state"),
        "KUBECONFIG": str(kubeconfig),
    }

    result = subprocess.run(
        [*ZTCTL, "doctor", "closed", "--timeout", "3", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    checks = {c["id"]: c for c in json.loads(result.stdout)["checks"] if c["cluster"] == "closed"}
    assert checks["cluster.dns"]["status"] == "pass"
    assert checks["cluster.tcp"]["status"] == "fail"
    assert f"127.0.0.1:{port}" in checks["cluster.tcp"]["summary"]
    assert "refused" in checks["cluster.tcp"]["summary"]
    assert checks["cluster.tcp"]["fix"]
    for later in ("cluster.tls", "cluster.api", "cluster.auth"):
        assert checks[later]["status"] == "skip"
        assert "cluster.tcp" in checks[later]["summary"]

    probe = subprocess.run(
        [*ZTCTL, "probe", "closed", "--timeout", "3", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 5, probe.stderr
    document = json.loads(probe.stdout)
    assert document["ok"] is False and document["error"]["code"] == 5


def test_probe_names_the_refused_catalog_address(lab: Any, tmp_path: Path) -> None:
    """A refused connection still says which catalog address it dialled (text and JSON)."""
    path, _port = closed_catalog(lab, tmp_path, break_glass=False)
    env = {**lab.env, "ZTCTL_CATALOG": str(path), "ZTCTL_STATE_DIR": str(tmp_path / "state")}

    def probe(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*ZTCTL, "probe", "closed", "--timeout", "3", *extra],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    as_json = probe("--json")
    assert as_json.returncode == 5, as_json.stderr
    document = json.loads(as_json.stdout)
    assert document["address"] == "127.0.0.1"
    assert "refused" in document["error"]["message"]
    text = probe()
    assert "zero-trust → 127.0.0.1 (catalog address)" in text.stdout
