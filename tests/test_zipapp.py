"""The single-file build (a zipapp made by shiv) lists and runs every command.

`.ci/run` builds it and runs this file with ZTCTL_ZIPAPP pointing at it; a plain test run
has no build to test and skips, saying so.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.access import AccessEnv, access_fixture  # noqa: F401
from ztctl.cli.main import COMMANDS

ZIPAPP = os.environ.get("ZTCTL_ZIPAPP")
pytestmark = pytest.mark.skipif(
    not ZIPAPP, reason="no zipapp built: `.ci/run` builds one and sets ZTCTL_ZIPAPP"
)


def run_zipapp(access: AccessEnv, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert ZIPAPP is not None
    env = {**access.env, "SHIV_ROOT": str(tmp_path / "shiv")}
    env.pop("PYTHONPATH", None)  # nothing from the checkout: only what the zipapp carries
    # ...except the isolated keyring backend the tests use, which lives in tests/support.
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    return subprocess.run(
        [str(Path(ZIPAPP).resolve()), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


def test_zipapp_lists_every_command(access: AccessEnv, tmp_path: Path) -> None:
    result = run_zipapp(access, tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    for name in COMMANDS:
        assert f"  {name} " in result.stdout, name
    for name in COMMANDS:  # and each one's own help loads
        sub = run_zipapp(access, tmp_path, name, "--help")
        assert sub.returncode == 0, (name, sub.stderr)


def test_zipapp_runs_clusters_and_credential(access: AccessEnv, tmp_path: Path) -> None:
    clusters = run_zipapp(access, tmp_path, "clusters", "--json")
    assert clusters.returncode == 0, clusters.stderr
    names = [c["name"] for c in json.loads(clusters.stdout)["clusters"]]
    assert "lab-sso" in names
    token = access.mint()
    access.put("lab-sso", token)
    credential = run_zipapp(access, tmp_path, "credential", "lab-sso")
    assert credential.returncode == 0, credential.stderr
    document = json.loads(credential.stdout)
    assert document["kind"] == "ExecCredential"
    assert document["status"]["token"] == token
