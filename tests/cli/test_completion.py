"""Completion: lab set keys, break-glass sessions first, no name twice, fish descriptions whole,
and `kubectl ztctl <Tab>` through the installed kubectl_complete-ztctl."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

BIN = Path(sys.executable).parent
CATALOG = {
    "apiVersion": "ztctl/v1",
    "kind": "ClusterCatalog",
    "team": "acme",
    "clusters": [
        {
            "name": name,
            "server": f"https://k8s.{name}.acme.net:6443",
            "addresses": ["203.0.113.10"],
            "certificateAuthorityData": base64.b64encode(
                b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
            ).decode(),
            "credentials": {"accessToken": {"app": f"https://k8s.{name}.acme.net"}},
        }
        for name in ("alpha", "beta", "gamma")
    ],
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(CATALOG))
    return {
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "ZTCTL_CATALOG": str(tmp_path / "catalog.yaml"),
        "ZTCTL_CONFIG": str(tmp_path / "none.toml"),
        "ZTCTL_STATE_DIR": str(tmp_path / "state"),
    }


def complete(env: dict[str, str], words: str, shell: str = "bash") -> list[str]:
    """What the shell would be offered for ``words`` (the last word is being completed)."""
    parts = words.split(" ")
    result = subprocess.run(
        [sys.executable, "-c", "from ztctl.cli.main import main; main()"],
        env={
            **env,
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(parts) - 1),
            "_ZTCTL_COMPLETE": f"{shell}_complete",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    if shell == "bash":
        return [line.split(",", 1)[1] for line in result.stdout.splitlines()]
    return result.stdout.splitlines()


def test_lab_set_completes_keys_and_their_values(env) -> None:
    keys = complete(env, "ztctl lab set warp.")
    assert "warp.mode=" in keys and "warp.daemon=" in keys
    assert all(k.startswith("warp.") for k in keys)
    assert complete(env, "ztctl lab set zt-path=b") == ["zt-path=blackhole"]
    assert "reset" in complete(env, "ztctl lab set re")


def test_doctor_does_not_offer_a_cluster_twice(env) -> None:
    assert complete(env, "ztctl doctor ") == ["alpha", "beta", "gamma"]
    assert complete(env, "ztctl doctor beta ") == ["alpha", "gamma"]


def test_break_glass_offers_open_sessions_first(env, tmp_path: Path) -> None:
    from ztctl.core.breakglass.session import ProxyState, Session, list_sessions, session_file

    # An open session for gamma, written in break-glass's own format.
    state = tmp_path / "state"
    path = session_file(state, "gamma")
    path.parent.mkdir(parents=True)
    now = time.time()
    session = Session(
        id="s1",
        cluster="gamma",
        state="active",
        reason="INC-1",
        user="ada",
        started=now - 60,
        deadline=now + 3600,
        ttl_s=3660,
        route=ProxyState(display="proxy socks5://127.0.0.1:1080"),
    )
    path.write_text(json.dumps(session.to_dict()))
    assert [s.cluster for s in list_sessions(state)] == ["gamma"]
    for sub in ("end", "exec", "shell"):
        offered = complete(env, f"ztctl break-glass {sub} ")
        assert offered == ["gamma", "alpha", "beta"], (sub, offered)


def test_fish_descriptions_are_whole(env) -> None:
    script = subprocess.run(
        [sys.executable, "-m", "ztctl", "completion", "fish"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    # click's script split at every comma, so "https://a, b" lost everything after "a".
    assert '(string split -m 1 "," $completion)' in script
    assert '(string split "," $completion)' not in script


def test_kubectl_completes_the_plugin_through_kubectl_complete_ztctl(env) -> None:
    helper = BIN / "kubectl_complete-ztctl"
    assert helper.exists(), "kubectl_complete-ztctl is not installed with the package"
    direct = subprocess.run(
        [str(helper), "use-cluster", "b"], env=env, capture_output=True, text=True, check=False
    )
    assert direct.stdout.splitlines() == ["beta\thttps://k8s.beta.acme.net:6443", ":4"]
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    result = subprocess.run(
        [kubectl, "__complete", "ztctl", "us"], env=env, capture_output=True, text=True, check=False
    )
    assert result.stdout.splitlines()[0].startswith("use-cluster\t"), result.stdout
    assert ":4" in result.stdout.splitlines()
    assert json.dumps(result.stdout)  # plain text, one value per line
