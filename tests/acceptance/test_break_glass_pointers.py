"""Acceptance: the other commands point to break-glass, and show open sessions.

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


def _session_file(state: Path) -> Path:
    return state / "break-glass" / "lab.json"


def test_any_ztctl_command_ends_a_session_whose_watchdog_was_killed(
    lab: Any, tmp_path: Path
) -> None:
    """The watchdog normally ends a session at its deadline; if it was killed, the next
    ztctl command that reaches a cluster or shows state does (issue 8: "every ztctl
    invocation reaps"; only clusters, completion, credential and lab skip it, for speed)."""
    import os
    import signal
    import time

    env = env_for(lab, tmp_path)
    started = ztctl(
        env, "break-glass", "start", "lab", "--force", "--reason", REASON, "--ttl", "2s"
    )
    assert started.returncode == 0, started.stderr
    state = tmp_path / "state"
    session = json.loads(_session_file(state).read_text())
    watchdog = session.get("watchdogPid") or session.get("watchdog_pid")
    assert watchdog, session
    os.kill(int(watchdog), signal.SIGKILL)
    time.sleep(2.5)  # past the deadline, with nobody left to enforce it
    assert _session_file(state).exists()

    status = ztctl(env, "status", "--json")
    assert status.returncode == 0, status.stderr
    assert "break-glass session for lab expired" in status.stderr
    assert json.loads(status.stdout)["breakGlass"] == []  # reaped before it was shown
    assert not _session_file(state).exists()
    events = [json.loads(line) for line in (state / "audit.jsonl").read_text().splitlines()]
    expired = [e for e in events if e["event"] == "break-glass.expire"]
    assert len(expired) == 1 and expired[0]["cluster"] == "lab"


def test_a_terminated_break_glass_exec_takes_its_child_with_it(lab: Any, tmp_path: Path) -> None:
    """SIGTERM (or SIGHUP) to `ztctl break-glass exec` reaches the child: no orphan is left
    running past the session, where nothing would stop it."""
    import os
    import signal
    import time

    env = env_for(lab, tmp_path)
    started = ztctl(env, "break-glass", "start", "lab", "--force", "--reason", REASON)
    assert started.returncode == 0, started.stderr
    marker = tmp_path / "child-started"
    try:
        proc = subprocess.Popen(
            [
                *ZTCTL,
                "break-glass",
                "exec",
                "lab",
                "--",
                "sh",
                "-c",
                f'echo $$ > "{marker}"; exec sleep 60',
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while not (marker.exists() and marker.read_text().strip()):
            assert time.monotonic() < deadline, "the child never started"
            time.sleep(0.05)
        child = int(marker.read_text())
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
        assert proc.returncode == 128 + signal.SIGTERM
        gone_by = time.monotonic() + 5  # the kernel may take a moment to tear it down
        while True:
            try:
                os.kill(child, 0)
                alive = True
            except ProcessLookupError:
                alive = False
            if not alive or time.monotonic() > gone_by:
                break
            time.sleep(0.05)
        if alive:
            os.kill(child, signal.SIGKILL)
        assert not alive, "the child outlived `ztctl break-glass exec`"
    finally:
        ztctl(env, "break-glass", "end", "lab")
