"""Acceptance: the state directory and the audit log after a whole day's work.

One realistic sequence on the lab — use-cluster, login, the credential plugin, a break-glass
session that is ended and one that expires, logout — run with a permissive umask (000), so
ztctl's own modes are what is checked: every directory it creates in the state dir is 0700,
every file 0600. The audit log then holds every event kind (docs/configuration.md), one JSON
object per line with an RFC 3339 timestamp, and never a secret.
"""

from __future__ import annotations

import json
import stat
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.access import EXEC_V1, AccessEnv, access_fixture  # noqa: F401

REASON = "INC-4711 acceptance: Zero Trust tunnel down drill"
EVENTS = {
    "kubeconfig.write",
    "login",
    "logout",
    "break-glass.start",
    "break-glass.exec",
    "break-glass.end",
    "break-glass.expire",
}


def audit_lines(state: Path) -> list[dict[str, Any]]:
    path = state / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_day_of_work_leaves_private_state_and_a_complete_audit_log(
    access: AccessEnv, tmp_path: Path
) -> None:
    from ztctl.lab.cloudflared import app_token_path

    lab = access.lab
    kubeconfig = tmp_path / "kube" / "config"
    kubeconfig.parent.mkdir()
    access.extra["KUBECONFIG"] = str(kubeconfig)
    state = access.state_dir

    def ztctl(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        result: subprocess.CompletedProcess[str] = access.run(
            list(args), input="", umask=0, **kwargs
        )
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    ztctl("use-cluster", "lab", "--no-probe")
    ztctl("use-cluster", "lab-sso", "--no-probe", "--no-switch")

    # cloudflared already holds a token for the Access app: login needs nobody at a browser
    token = access.mint()
    cached = app_token_path(lab.dir, lab.server)
    cached.parent.mkdir(mode=0o700, exist_ok=True)
    cached.write_text(token)
    ztctl("login")
    exec_info = json.dumps({"apiVersion": EXEC_V1, "kind": "ExecCredential", "spec": {}})
    credential = ztctl("credential", "lab-sso", env={"KUBERNETES_EXEC_INFO": exec_info})
    assert json.loads(credential.stdout)["status"]["token"] == token

    ztctl("break-glass", "start", "lab", "--force", "--reason", REASON, "--timeout", "2")
    ztctl("break-glass", "exec", "lab", "--", "true")
    ztctl("break-glass", "end", "lab")

    ztctl("break-glass", "start", "lab", "--force", "--reason", REASON, "--ttl", "1s")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if any(e["event"] == "break-glass.expire" for e in audit_lines(state)):
            break
        time.sleep(0.2)
    ztctl("break-glass", "status")  # reaps it, should the watchdog be slow

    ztctl("logout")

    # -- modes: everything ztctl created under the state dir -----------------------------
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    created = list(state.rglob("*"))
    assert any(p.name == "audit.jsonl" for p in created)
    wrong = {
        str(p.relative_to(state)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in created
        if stat.S_IMODE(p.stat().st_mode) != (0o700 if p.is_dir() else 0o600)
    }
    assert wrong == {}
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600

    # -- the audit log ---------------------------------------------------------------------
    raw = (state / "audit.jsonl").read_text(encoding="utf-8")
    assert token not in raw
    assert token.split(".")[2] not in raw  # not even the signature
    events = audit_lines(state)
    kinds = {e["event"] for e in events}
    assert kinds >= EVENTS, f"missing: {sorted(EVENTS - kinds)}"
    for event in events:
        stamp = datetime.fromisoformat(event["ts"].replace("Z", "+00:00"))
        assert stamp.tzinfo is not None, event
        assert event["user"], event
    for event in events:
        if event["event"].startswith("break-glass."):
            assert event["cluster"] == "lab"
            assert event["reason"] == REASON
            assert event["route"] == f"proxy {lab.proxy_url}"
    execs = [e for e in events if e["event"] == "break-glass.exec"]
    assert [e.get("command") for e in execs] == ["true"]
    written = [e for e in events if e["event"] == "kubeconfig.write"]
    assert all(str(kubeconfig) in json.dumps(e) for e in written)
