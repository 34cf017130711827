"""A break-glass proxy password is never shown outside break-glass (issue 15 item 10):
not by `clusters` (text or JSON), not by `status`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CATALOG = """\
apiVersion: ztctl/v1
kind: ClusterCatalog
team: acme
clusters:
  - name: lab
    server: https://127.0.0.1:6443
    addresses: [127.0.0.1]
    certificateAuthorityData: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
    credentials: {accessToken: {app: https://lab.example}}
    breakGlass:
      proxy: socks5://oncall:pr0xyS3cret@127.0.0.1:1080
"""


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_clusters_hides_the_proxy_password(tmp_path: Path, json_flag: list[str]) -> None:
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    env = {
        **os.environ,
        "ZTCTL_CONFIG": str(tmp_path / "none.toml"),
        "ZTCTL_STATE_DIR": str(tmp_path / "state"),
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ztctl",
            "--catalog",
            str(tmp_path / "catalog.yaml"),
            "clusters",
            *json_flag,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "pr0xyS3cret" not in run.stdout + run.stderr
    assert "socks5://oncall:***@127.0.0.1:1080" in run.stdout
    if json_flag:
        json.loads(run.stdout)


class _FakeSession:
    state = "active"

    def remaining(self, now: float) -> float:
        return 60.0

    def view(self, now: float) -> dict[str, Any]:
        return {"cluster": "lab", "route": "proxy http://u:pr0xyS3cret@10.0.0.1:3128", "left": 60}


def test_status_hides_the_proxy_password_of_a_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ztctl.core import status
    from ztctl.core.breakglass import session

    monkeypatch.setattr(session, "list_sessions", lambda _state: [_FakeSession()])
    (view,) = status._active_sessions(tmp_path)
    assert view["route"] == "proxy http://u:***@10.0.0.1:3128"
    assert view["left"] == 60
