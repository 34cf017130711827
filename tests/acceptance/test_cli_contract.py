"""Acceptance: what a user and a script see of the CLI frame.

The installed console scripts (``ztctl`` and the ``kubectl-ztctl`` plugin), the global
options' environment variables on a real terminal, and ``--json`` giving exactly one
``schemaVersion: 1`` document on stdout for error paths of every reporting command.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ZTCTL = [sys.executable, "-m", "ztctl"]
BIN = Path(sys.executable).parent
SGR = re.compile(rb"\x1b\[([0-9;]*)m")


def colour_codes(output: bytes) -> list[bytes]:
    """SGR sequences that set a foreground or background colour (bold etc. are not colour,
    and NO_COLOR allows them: https://no-color.org)."""
    found = []
    for match in SGR.finditer(output):
        params = [int(p) if p else 0 for p in match.group(1).split(b";")]
        if any(30 <= p <= 49 or 90 <= p <= 107 for p in params if p not in (39, 49)):
            found.append(match.group(0))
    return found


def isolated_env(lab: Any, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The lab's environment with a private state dir and a private kubeconfig copy."""
    kubeconfig = tmp_path / "kubeconfig"
    if not kubeconfig.exists():
        shutil.copyfile(lab.kubeconfig, kubeconfig)
    env = {
        **lab.env,
        "ZTCTL_STATE_DIR": str(tmp_path / "state"),
        "KUBECONFIG": str(kubeconfig),
        **extra,
    }
    for name in ("NO_COLOR", "ZTCTL_NO_INPUT", "ZTCTL_CATALOG"):
        if name not in extra:
            env.pop(name, None)
    return env


def run(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def run_on_a_terminal(
    args: list[str], env: dict[str, str], *, answer: tuple[bytes, bytes] | None = None
) -> tuple[int, bytes]:
    """Run with stdin, stdout and stderr on a pseudo-terminal; return (exit code, output).

    ``answer=(prompt, reply)`` types ``reply`` once ``prompt`` has appeared.
    """
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    output = b""
    answered = False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if answer and not answered and answer[0] in output:
                os.write(master, answer[1])
                answered = True
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, output


# --------------------------------------------------------------------------------------
# The console scripts


def test_console_script_version_is_name_space_version() -> None:
    # `ztctl --version` through the installed entry point (its own fast path, not click's).
    from ztctl import __version__

    script = BIN / "ztctl"
    if not script.exists():
        pytest.skip("the ztctl console script is not installed next to this Python")
    result = run([str(script), "--version"], dict(os.environ))
    assert result.returncode == 0
    assert result.stdout == f"ztctl {__version__}\n"
    assert re.fullmatch(r"ztctl \d+\.\d+\.\d+\S*\n", result.stdout)
    assert result.stderr == ""


def test_kubectl_finds_and_runs_the_plugin(lab: Any, kubectl: str, tmp_path: Path) -> None:
    if not (BIN / "kubectl-ztctl").exists():
        pytest.skip("the kubectl-ztctl console script is not installed next to this Python")
    env = isolated_env(lab, tmp_path)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    version = run([kubectl, "ztctl", "--version"], env)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("ztctl ")
    listed = run([kubectl, "ztctl", "clusters", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert document["schemaVersion"] == 1
    assert [c["name"] for c in document["clusters"]] == ["lab", "lab-sso"]
    # Exit codes pass through kubectl's plugin runner unchanged.
    usage = run([kubectl, "ztctl", "no-such-command"], env)
    assert usage.returncode == 2


# --------------------------------------------------------------------------------------
# Global options and their environment variables


def test_no_color_env_and_flag_turn_colour_off_on_a_terminal(lab: Any, tmp_path: Path) -> None:
    env = isolated_env(lab, tmp_path, TERM="xterm-256color")
    code, coloured = run_on_a_terminal([*ZTCTL, "doctor", "lab"], env)
    assert code == 0, coloured.decode(errors="replace")
    assert colour_codes(coloured), "doctor on a colour terminal should use colour"

    code, plain = run_on_a_terminal(
        [*ZTCTL, "doctor", "lab"], isolated_env(lab, tmp_path, TERM="xterm-256color", NO_COLOR="1")
    )
    assert code == 0
    assert b"warp.cli" in plain
    assert colour_codes(plain) == [], plain.decode(errors="replace")

    code, flagged = run_on_a_terminal([*ZTCTL, "--no-color", "doctor", "lab"], env)
    assert code == 0
    assert b"warp.cli" in flagged
    assert colour_codes(flagged) == [], flagged.decode(errors="replace")


def test_ztctl_no_input_env_stops_the_picker_on_a_terminal(lab: Any, tmp_path: Path) -> None:
    prompt = b"Cluster (number or name)"
    # Without it, on a terminal, use-cluster with no NAME offers the list (the control case).
    env = isolated_env(lab, tmp_path)
    code, output = run_on_a_terminal(
        [*ZTCTL, "use-cluster", "--no-probe"], env, answer=(prompt, b"lab\r")
    )
    assert prompt in output
    assert code == 0, output.decode(errors="replace")

    before = Path(env["KUBECONFIG"]).read_bytes()
    code, output = run_on_a_terminal(
        [*ZTCTL, "use-cluster", "--no-probe"], {**env, "ZTCTL_NO_INPUT": "1"}
    )
    assert code == 2, output.decode(errors="replace")
    assert prompt not in output
    assert b"ztctl use-cluster NAME" in output
    assert Path(env["KUBECONFIG"]).read_bytes() == before


def test_catalog_flag_beats_env_beats_config(lab: Any, tmp_path: Path) -> None:
    def catalog_with(name: str) -> Path:
        text = lab.paths.catalog.read_text(encoding="utf-8")
        path = tmp_path / f"{name}.yaml"
        path.write_text(text.replace("name: lab-sso", f"name: {name}"), encoding="utf-8")
        return path

    from_env, from_flag = catalog_with("from-env"), catalog_with("from-flag")

    def names(args: list[str], env: dict[str, str]) -> list[str]:
        result = run([*ZTCTL, *args, "clusters", "--json"], env)
        assert result.returncode == 0, result.stderr
        return [c["name"] for c in json.loads(result.stdout)["clusters"]]

    env = isolated_env(lab, tmp_path)
    assert names([], env) == ["lab", "lab-sso"]  # the config's catalog
    env_set = isolated_env(lab, tmp_path, ZTCTL_CATALOG=str(from_env))
    assert names([], env_set) == ["lab", "from-env"]
    assert names(["--catalog", str(from_flag)], env_set) == ["lab", "from-flag"]


def test_ztctl_config_env_and_flag_name_the_config_file(lab: Any, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-config.toml"
    env = isolated_env(lab, tmp_path)
    by_env = run([*ZTCTL, "clusters"], {**env, "ZTCTL_CONFIG": str(missing)})
    assert by_env.returncode == 3
    assert str(missing) in by_env.stderr  # the fix names the config file in use
    by_flag = run([*ZTCTL, "--config", str(missing), "clusters"], env)
    assert by_flag.returncode == 3
    assert str(missing) in by_flag.stderr
    assert run([*ZTCTL, "clusters"], env).returncode == 0


# --------------------------------------------------------------------------------------
# --json: exactly one document, also for errors, with the codes of docs/exit-codes.md

REASON = "INC-4711 acceptance check of the JSON error document"

JSON_ERRORS: dict[str, tuple[list[str], int]] = {
    "clusters-bad-option": (["clusters", "--json", "--bogus"], 2),
    "use-cluster-unknown": (["use-cluster", "nosuch", "--json"], 3),
    "use-cluster-bad-namespace": (["use-cluster", "lab", "--namespace", "Bad_NS", "--json"], 2),
    "probe-unknown": (["probe", "nosuch", "--json"], 3),
    "doctor-unknown": (["doctor", "nosuch", "--json"], 3),
    "doctor-bad-timeout": (["doctor", "--timeout", "-1", "--json"], 2),
    "break-glass-start-unknown": (
        ["break-glass", "start", "nosuch", "--reason", REASON, "--json"],
        3,
    ),
    "break-glass-start-no-reason": (["break-glass", "start", "lab", "--reason", "x", "--json"], 2),
    "break-glass-start-bad-ttl": (
        ["break-glass", "start", "lab", "--reason", REASON, "--ttl", "99x", "--json"],
        2,
    ),
    "break-glass-start-healthy": (
        ["break-glass", "start", "lab", "--reason", REASON, "--timeout", "2", "--json"],
        1,
    ),
    "login-other-team": (["login", "--team", "other", "--json"], 4),
    "lab-set-unknown-key": (["lab", "set", "bogus=1", "--json"], 2),
}


@pytest.mark.parametrize("case", sorted(JSON_ERRORS))
def test_json_errors_are_one_document_with_the_exit_code(
    lab: Any, tmp_path: Path, case: str
) -> None:
    args, code = JSON_ERRORS[case]
    env = isolated_env(lab, tmp_path)
    kubeconfig = Path(env["KUBECONFIG"]).read_bytes()
    result = run([*ZTCTL, *args], env)
    assert result.returncode == code, (result.stdout, result.stderr)
    document = json.loads(result.stdout)  # exactly one document: json.loads refuses more
    assert document["schemaVersion"] == 1
    error = document["error"]
    assert error["code"] == code
    assert isinstance(error["kind"], str) and error["kind"]
    assert isinstance(error["message"], str) and error["message"]
    assert "fix" in error
    # invalid input and refusals write nothing
    assert Path(env["KUBECONFIG"]).read_bytes() == kubeconfig


@pytest.mark.parametrize(
    "args",
    [
        ["clusters", "--json"],
        ["status", "--json"],
        ["doctor", "--json"],
        ["probe", "--json"],
        ["break-glass", "status", "--json"],
    ],
    ids=lambda a: "-".join(a[:-1]),
)
def test_invalid_catalog_under_json_is_exit_3_and_one_document(
    lab: Any, tmp_path: Path, args: list[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("apiVersion: ztctl/v1\nkind: ClusterCatalog\nteam: lab\nclusters: 5\n")
    env = isolated_env(lab, tmp_path, ZTCTL_CATALOG=str(broken))
    result = run([*ZTCTL, *args], env)
    document = json.loads(result.stdout)
    assert document["schemaVersion"] == 1
    if args[0] in ("status", "break-glass"):
        # status reports what it can (catalogError); break-glass status needs no catalog
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode == 3, result.stderr
        assert document["error"]["code"] == 3
        assert str(broken) in document["error"]["message"]
