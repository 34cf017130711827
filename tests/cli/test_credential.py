"""`ztctl credential` as kubectl runs it: real kubectl, real subprocesses, the lab's API
server checking the Access JWT, the isolated keyring."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.access import (  # noqa: F401
    EXEC_V1,
    EXEC_V1BETA1,
    AccessEnv,
    access_fixture,
    exec_kubeconfig,
    invocations,
    recording_cloudflared,
    ztctl_argv,
)

FAST = "--request-timeout=5s"


def exec_info(api: str = EXEC_V1, interactive: bool = False) -> str:
    return json.dumps(
        {"apiVersion": api, "kind": "ExecCredential", "spec": {"interactive": interactive}}
    )


def whoami(access: AccessEnv, kubectl: str, kubeconfig: Path) -> subprocess.CompletedProcess[str]:
    return access.lab.run(
        [kubectl, FAST, "--kubeconfig", kubeconfig, "auth", "whoami", "-o", "json"],
        env=access.env,
    )


@pytest.mark.kubectl
@pytest.mark.kubectl
def test_logout_stops_kubectl_until_the_next_login(
    access: AccessEnv, kubectl: str, tmp_path: Path
) -> None:
    """cloudflared keeps its own copy of the token; after `ztctl logout` the plugin must not
    quietly refresh from it, or logging out would not log anybody out."""
    from ztctl.lab.cloudflared import app_token_path

    token = access.mint()
    access.put("lab-sso", token)
    path = app_token_path(access.lab.dir, access.lab.server)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(token)  # still valid in cloudflared's own cache
    kubeconfig = exec_kubeconfig(access.lab, tmp_path / "kubeconfig")
    assert whoami(access, kubectl, kubeconfig).returncode == 0
    logout = access.run(["logout"])
    assert logout.returncode == 0
    assert "will not use it again until your next `ztctl login`" in logout.stdout
    after = whoami(access, kubectl, kubeconfig)
    assert after.returncode != 0
    assert "you logged out of ztctl" in after.stderr and "ztctl login" in after.stderr
    assert "lab-sso" not in access.items()
    login = access.run(["login"], input="")
    assert login.returncode == 0, login.stderr
    again = whoami(access, kubectl, kubeconfig)
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("api", [EXEC_V1, EXEC_V1BETA1])
def test_kubectl_authenticates_with_the_kept_token(
    access: AccessEnv, kubectl: str, tmp_path: Path, api: str
) -> None:
    access.put("lab-sso", access.mint())
    kubeconfig = exec_kubeconfig(access.lab, tmp_path / "kubeconfig", api=api)
    result = whoami(access, kubectl, kubeconfig)
    assert result.returncode == 0, result.stderr
    user = json.loads(result.stdout)["status"]["userInfo"]
    assert user["username"] == "ada@lab.example"


@pytest.mark.kubectl
def test_kubectl_after_expiry_refreshes_through_cloudflared(
    access: AccessEnv, kubectl: str, tmp_path: Path
) -> None:
    from ztctl.lab.cloudflared import app_token_path

    expired = access.mint(now=time.time() - 7200)
    access.put("lab-sso", expired)
    kubeconfig = exec_kubeconfig(access.lab, tmp_path / "kubeconfig")
    # Nothing valid anywhere: kubectl fails with our message, not a cryptic one.
    failed = whoami(access, kubectl, kubeconfig)
    assert failed.returncode != 0
    assert "ztctl login" in failed.stderr
    # cloudflared gets a fresh token (as after `cloudflared access login`): the next kubectl
    # call refreshes the keyring copy and authenticates.
    fresh = access.mint()
    path = app_token_path(access.lab.dir, access.lab.server)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(fresh)
    result = whoami(access, kubectl, kubeconfig)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"]["userInfo"]["username"] == "ada@lab.example"
    assert access.items()["lab-sso"] == fresh


@pytest.mark.kubectl
def test_kubectl_after_login(access: AccessEnv, kubectl: str, tmp_path: Path) -> None:
    login = access.run(["login"], input="")
    # stdin is not a TTY: --no-input is implied, and cloudflared has nothing cached yet.
    assert login.returncode == 4, login.stderr
    assert access.lab.server in login.stderr
    # A person logs in with cloudflared; `ztctl login` then keeps the token.
    subprocess.run(
        [str(access.lab.paths.bin / "cloudflared"), "access", "login", access.lab.server],
        env=access.env,
        capture_output=True,
        check=True,
        timeout=30,
    )
    login = access.run(["login"], input="")
    assert login.returncode == 0, login.stderr
    kubeconfig = exec_kubeconfig(access.lab, tmp_path / "kubeconfig")
    result = whoami(access, kubectl, kubeconfig)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("api", [EXEC_V1, EXEC_V1BETA1])
def test_stdout_is_one_exec_credential_echoing_the_api_version(access: AccessEnv, api: str) -> None:
    token = access.mint()
    access.put("lab-sso", token)
    result = access.run(["credential", "lab-sso"], env={"KUBERNETES_EXEC_INFO": exec_info(api)})
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["apiVersion"] == api and document["kind"] == "ExecCredential"
    assert document["status"]["token"] == token
    assert document["status"]["expirationTimestamp"].endswith("Z")
    assert result.stderr == ""


def test_missing_token_exits_4_with_only_stderr(access: AccessEnv) -> None:
    result = access.run(["credential", "lab-sso"], env={"KUBERNETES_EXEC_INFO": exec_info()})
    assert result.returncode == 4
    assert result.stdout == ""
    assert "ztctl login" in result.stderr


def test_locked_keyring_is_explained(access: AccessEnv) -> None:
    access.put("lab-sso", access.mint())
    access.fault("locked")
    result = access.run(["credential", "lab-sso"], env={"KUBERNETES_EXEC_INFO": exec_info()})
    assert result.returncode == 4
    assert result.stdout == ""
    assert "locked" in result.stderr and "unlock" in result.stderr


def test_concurrent_interactive_calls_open_one_browser(access: AccessEnv, tmp_path: Path) -> None:
    script = recording_cloudflared(access.lab, tmp_path)
    env = {
        **access.env,
        "ZTCTL_CLOUDFLARED": str(script),
        "KUBERNETES_EXEC_INFO": exec_info(interactive=True),
    }
    procs = [
        subprocess.Popen(
            [*ztctl_argv(), "credential", "lab-sso"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(5)
    ]
    outputs = [proc.communicate(timeout=60) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 5, [err for _, err in outputs]
    tokens = {json.loads(out)["status"]["token"] for out, _ in outputs}
    assert len(tokens) == 1
    logins = [c for c in invocations(tmp_path) if c.startswith("access login")]
    assert len(logins) == 1


def test_polling_without_a_tty_opens_no_browser(access: AccessEnv, tmp_path: Path) -> None:
    script = recording_cloudflared(access.lab, tmp_path)
    env = {"ZTCTL_CLOUDFLARED": str(script), "KUBERNETES_EXEC_INFO": exec_info()}
    results = [access.run(["credential", "lab-sso"], env=env) for _ in range(3)]
    assert [r.returncode for r in results] == [4, 4, 4]
    assert not [c for c in invocations(tmp_path) if c.startswith("access login")]


HEAVY = ("httpx", "kubernetes", "rich", "click", "keyring", "yaml", "cryptography", "platformdirs")

PROBE = """
import json, sys
sys.argv = ["ztctl", "credential", "lab-sso"]
from ztctl.cli.entry import main
try:
    main()
except SystemExit as exc:
    assert exc.code == 0, exc.code
sys.__stderr__.write("\\n" + json.dumps(sorted(sys.modules)))
"""


def test_keyring_hit_imports_nothing_heavy(access: AccessEnv) -> None:
    access.put("lab-sso", access.mint())
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**access.env, "KUBERNETES_EXEC_INFO": exec_info()},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    modules = set(json.loads(result.stderr.strip().splitlines()[-1]))
    assert "ztctl.core.credential" in modules
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith("ztctl.lab"))
    assert heavy == []
    assert json.loads(result.stdout)["kind"] == "ExecCredential"


def test_help_goes_through_click(access: AccessEnv) -> None:
    result = access.run(["credential", "--help"])
    assert result.returncode == 0
    assert "exec credential plugin" in result.stdout


@pytest.mark.kubectl
def test_kubectl_through_the_entry_use_cluster_writes(
    access: AccessEnv, kubectl: str, tmp_path: Path
) -> None:
    import os
    import shutil

    kubeconfig = tmp_path / "kubeconfig"
    shutil.copy(access.lab.kubeconfig, kubeconfig)
    script_dir = str(Path(ztctl_argv()[0]).parent)
    path = {"PATH": f"{script_dir}{os.pathsep}{access.env['PATH']}"}
    written = access.run(
        ["--kubeconfig", str(kubeconfig), "--no-input", "use-cluster", "lab-sso", "--no-probe"],
        env=path,
    )
    assert written.returncode == 0, written.stderr
    access.put("lab-sso", access.mint())
    result = access.lab.run(
        [kubectl, FAST, "--kubeconfig", kubeconfig, "auth", "whoami", "-o", "json"],
        env={**access.env, **path},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"]["userInfo"]["username"] == "ada@lab.example"
