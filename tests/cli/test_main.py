"""The root command: version, help, usage errors and the error → exit code map."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ztctl import __version__

ZTCTL = [sys.executable, "-m", "ztctl"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ZTCTL, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_version_prints_name_and_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout == f"ztctl {__version__}\n"
    assert result.stderr == ""


def test_help_lists_commands_and_global_options() -> None:
    result = run("--help")
    assert result.returncode == 0
    for option in (
        "--config",
        "--catalog",
        "--kubeconfig",
        "--verbose",
        "--quiet",
        "--no-color",
        "--no-input",
    ):
        assert option in result.stdout
    assert "clusters" in result.stdout
    assert "completion" in result.stdout


def test_unknown_command_is_a_usage_error_with_a_suggestion() -> None:
    result = run("clustrs")
    assert result.returncode == 2
    assert "did you mean 'clusters'" in result.stderr
    assert result.stdout == ""


def test_usage_error_under_json_is_a_json_document() -> None:
    result = run("clusters", "--json", "--bogus")
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["schemaVersion"] == 1
    assert document["error"]["code"] == 2
    assert document["error"]["kind"] == "usage"
    assert "--bogus" in document["error"]["message"]


def test_missing_catalog_is_invalid_input_with_a_fix(tmp_path, monkeypatch) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ZTCTL_CONFIG": str(tmp_path / "none.toml"),
    }
    result = run("clusters", env=env)
    assert result.returncode == 3
    assert "no cluster catalog is configured" in result.stderr
    assert "fix:" in result.stderr
    as_json = run("clusters", "--json", env=env)
    assert as_json.returncode == 3
    assert json.loads(as_json.stdout)["error"]["kind"] == "invalid-input"
    assert as_json.stderr == ""


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_name_the_program(shell: str) -> None:
    result = run("completion", shell)
    assert result.returncode == 0
    assert "_ZTCTL_COMPLETE" in result.stdout


def test_completion_rejects_unknown_shell() -> None:
    result = run("completion", "tcsh")
    assert result.returncode == 2
    assert "tcsh" in result.stderr


def test_shell_completion_completes_subcommands() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "COMP_WORDS": "ztctl clu",
        "COMP_CWORD": "1",
        "_ZTCTL_COMPLETE": "bash_complete",
    }
    result = subprocess.run(
        [sys.executable, "-c", "from ztctl.cli.main import main; main()"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert "clusters" in result.stdout


def _as_unprivileged() -> list[str]:
    """As root, `unshare -U` drops the permission override so mode 000 means unreadable."""
    import os
    import shutil

    if os.geteuid() != 0:
        return []
    if shutil.which("unshare") is None:
        pytest.skip("running as root and `unshare` is not installed")
    probe = subprocess.run(["unshare", "-U", "true"], capture_output=True, timeout=10, check=False)
    if probe.returncode != 0:
        pytest.skip("running as root and `unshare -U` is not permitted here")
    return ["unshare", "-U"]


@pytest.mark.parametrize("which", ["config", "catalog"])
def test_unreadable_config_and_catalog_are_invalid_input(tmp_path, which: str) -> None:
    prefix = _as_unprivileged()
    config = tmp_path / "config.toml"
    catalog = tmp_path / "catalog.yaml"
    config.write_text(f'catalog = "{catalog}"\n')
    catalog.write_text("apiVersion: ztctl/v1\nkind: ClusterCatalog\nteam: t\nclusters: []\n")
    (config if which == "config" else catalog).chmod(0)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ZTCTL_CONFIG": str(config)}
    result = subprocess.run(
        [*prefix, *ZTCTL, "clusters"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3, result.stderr
    assert f"cannot read {which}" in result.stderr
    assert "Permission denied" in result.stderr
    assert "fix:" in result.stderr


def _complete(words: str, env_extra: dict[str, str], shell: str = "bash") -> list[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", **env_extra}
    env.update(
        COMP_WORDS=words,
        COMP_CWORD=str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        _ZTCTL_COMPLETE=f"{shell}_complete",
    )
    result = subprocess.run(
        [sys.executable, "-c", "from ztctl.cli.main import main; main()"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if "," in line]


SAMPLE_CATALOG = str(Path(__file__).resolve().parents[2] / "docs" / "examples" / "catalog.yaml")


@pytest.mark.parametrize(
    "command",
    [
        "probe",
        "doctor",
        "use-cluster",
        "credential",
        "break-glass start",
        "break-glass end",
    ],
)
def test_cluster_arguments_complete_catalog_names(command: str) -> None:
    names = _complete(f"ztctl {command} ", {"ZTCTL_CATALOG": SAMPLE_CATALOG})
    assert names == ["prod-eu", "staging", "dev"]


def test_a_cluster_already_given_is_not_offered_again() -> None:
    names = _complete("ztctl doctor prod-eu ", {"ZTCTL_CATALOG": SAMPLE_CATALOG})
    assert names == ["staging", "dev"]


def test_completion_filters_by_prefix_and_reads_the_global_catalog_option() -> None:
    assert _complete(f"ztctl --catalog {SAMPLE_CATALOG} probe st", {}) == ["staging"]


@pytest.mark.parametrize(
    "catalog", ["/nonexistent/catalog.yaml", "https://127.0.0.1:9/clusters.yaml"]
)
def test_completion_is_silent_without_a_usable_catalog(tmp_path: Path, catalog: str) -> None:
    # An https catalog completes from its cached copy only: never a network call on Tab.
    env = {"ZTCTL_CATALOG": catalog, "ZTCTL_STATE_DIR": str(tmp_path / "state")}
    assert _complete("ztctl probe ", env) == []
