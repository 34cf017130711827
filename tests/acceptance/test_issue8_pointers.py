"""Acceptance, issue 8: the other commands point to break-glass, and show open sessions.

"`status` (with --json), and doctor, probe and use-cluster point to break-glass when the Zero
Trust path fails and a route exists." doctor and probe have their own tests; these cover
use-cluster's probe line and `ztctl status` during a session.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ZTCTL = [sys.executable, "-m", "ztctl"]
REASON = "INC-4711 acceptance: Zero Trust tunnel down drill"


def env_for(lab: Any, tmp_path: Path) -> dict[str, str]:
    kubeconfig = tmp_path / "kubeconfig"
    if not kubeconfig.exists():
        shutil.copyfile(lab.kubeconfig, kubeconfig)
    return {**lab.env, "ZTCTL_STATE_DIR": str(tmp_path / "state"), "KUBECONFIG": str(kubeconfig)}


def ztctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ZTCTL, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_use_cluster_probe_points_to_break_glass_during_an_outage(lab: Any, tmp_path: Path) -> None:
    env = env_for(lab, tmp_path)
    healthy = ztctl(env, "use-cluster", "lab", "--namespace", "one")
    assert healthy.returncode == 0, healthy.stderr
    assert "break-glass" not in healthy.stdout + healthy.stderr  # the control case

    lab.set(zt_path="blackhole")
    outage = ztctl(env, "use-cluster", "lab", "--namespace", "two")
    assert outage.returncode == 0, outage.stderr  # the kubeconfig was written all the same
    assert "ztctl break-glass start lab" in outage.stdout + outage.stderr

    as_json = ztctl(env, "use-cluster", "lab", "--namespace", "three", "--json")
    document = json.loads(as_json.stdout)
    assert document["schemaVersion"] == 1
    assert "break-glass" in json.dumps(document.get("probe"))


def test_status_lists_the_open_session_and_forgets_it_after_end(lab: Any, tmp_path: Path) -> None:
    env = env_for(lab, tmp_path)
    before = json.loads(ztctl(env, "status", "--json").stdout)
    assert before["breakGlass"] == []

    started = ztctl(
        env, "break-glass", "start", "lab", "--force", "--reason", REASON, "--timeout", "2"
    )
    assert started.returncode == 0, started.stderr
    try:
        during = ztctl(env, "status", "--json")
        assert during.returncode == 0, during.stderr
        sessions = json.loads(during.stdout)["breakGlass"]
        assert len(sessions) == 1
        assert sessions[0]["cluster"] == "lab"
        assert REASON in json.dumps(sessions[0])
        text = ztctl(env, "status")
        assert "lab" in text.stdout and "no active session" not in text.stdout
    finally:
        ended = ztctl(env, "break-glass", "end", "lab")
    assert ended.returncode == 0, ended.stderr
    after = json.loads(ztctl(env, "status", "--json").stdout)
    assert after["breakGlass"] == []
