"""`ztctl lab ...` as a user runs it: a real subprocess of ztctl, a lab of its own."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ztctl.lab import control
from ztctl.lab.demo import FAIL, OK, SKIP, STEPS, Step, StepFailed, run_demo

ZTCTL = [sys.executable, "-m", "ztctl"]


def ztctl(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ZTCTL, *map(str, args)], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def test_up_status_set_down_round_trip(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    up = ztctl("lab", "up", "--dir", lab_dir)
    try:
        assert up.returncode == 0, up.stderr
        exports = up.stdout.splitlines()
        assert f"export KUBECONFIG={lab_dir.resolve()}/kubeconfig" in exports
        assert f"export ZTCTL_CONFIG={lab_dir.resolve()}/config.toml" in exports
        assert f'export PATH={lab_dir.resolve()}/bin:"$PATH"' in exports
        again = ztctl("lab", "up", "--dir", lab_dir)
        assert again.returncode == 1
        assert "ztctl lab down --dir" in again.stderr

        bad = ztctl("lab", "set", "--dir", lab_dir, "latncy=5ms")
        assert bad.returncode == 2
        assert "did you mean 'latency'" in bad.stderr

        changed = ztctl("lab", "set", "--dir", lab_dir, "zt-path=reset", "--json")
        assert changed.returncode == 0, changed.stderr
        assert json.loads(changed.stdout)["state"]["faults"]["ztPath"] == "reset"

        status = json.loads(ztctl("lab", "status", "--dir", lab_dir, "--json").stdout)
        assert status["schemaVersion"] == 1 and status["running"] is True
        assert status["state"]["faults"]["ztPath"] == "reset"
        assert status["state"]["warp"]["tosAccepted"] is True
        assert "_" not in json.dumps(list(_keys(status)))
    finally:
        down = ztctl("lab", "down", "--dir", lab_dir, "--json")
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["stopped"] is True
    status = json.loads(ztctl("lab", "status", "--dir", lab_dir, "--json").stdout)
    assert status["running"] is False


def _keys(value: object):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


def test_eval_up_then_eval_down_leaves_the_shell_as_it_was(tmp_path: Path) -> None:
    import os

    lab_dir = tmp_path / "lab"
    ztctl_cmd = " ".join(ZTCTL)
    script = (
        f'before="$PATH"; eval "$({ztctl_cmd} lab up --dir {lab_dir})"; '
        'echo "up:$KUBECONFIG"; '
        f'eval "$({ztctl_cmd} lab down --dir {lab_dir})"; '
        'echo "down:${KUBECONFIG-unset}:${ZTCTL_CONFIG-unset}:${ZTCTL_CF_API_TOKEN-unset}"; '
        '[ "$PATH" = "$before" ] && echo "path restored"'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZTCTL_", "KUBE"))}
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    lines = result.stdout.splitlines()
    assert f"up:{lab_dir.resolve()}/kubeconfig" in lines, result.stderr
    assert "down:unset:unset:unset" in lines
    assert "path restored" in lines, result.stdout


def test_lab_dir_defaults_to_the_environment_variable(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "ZTCTL_LAB_DIR": str(tmp_path / "envlab")}
    result = ztctl("lab", "status", "--json", env=env)
    assert json.loads(result.stdout)["dir"] == str((tmp_path / "envlab").resolve())


def test_demo_passes_end_to_end(tmp_path: Path) -> None:
    """Run, as a user would, inside the shell of another running lab: the tour uses a
    directory of its own and leaves that lab alone."""
    import os

    running = tmp_path / "running"
    up = ztctl("lab", "up", "--dir", running, "--json")
    assert up.returncode == 0, up.stderr
    try:
        env = {**os.environ, **json.loads(up.stdout)["env"]}
        env["PATH"] = env["PATH"].replace("$PATH", os.environ.get("PATH", ""))
        result = ztctl("lab", "demo", "--json", env=env)
        assert control.running_lab(running) is not None  # untouched
    finally:
        ztctl("lab", "down", "--dir", running)
    document = json.loads(result.stdout)
    assert document["dir"] != str(running.resolve())
    statuses = {step["name"]: step["status"] for step in document["steps"]}
    assert result.returncode == 0, document
    assert document["ok"] is True
    assert statuses["lab-up"] == OK and statuses["lab-down"] == OK
    expected = SKIP if shutil.which("kubectl") is None else OK
    assert statuses["break-glass"] == expected
    assert statuses["use-cluster"] == expected  # it proves the merged file with kubectl
    # Every capability's step ran: the tour is the README's main job.
    for name in ("login", "probe-healthy", "doctor", "doctor-outage", "break-glass-start"):
        assert statuses[name] == OK, (name, document)
    assert control.running_lab(Path(document["dir"])) is None


def test_demo_reports_a_misbehaving_step_and_still_stops_the_lab(tmp_path: Path) -> None:
    def misbehave(_tour: object) -> str:
        raise StepFailed("the lab did something unexpected")

    steps = [STEPS[0], Step("broken", "A broken step", misbehave), STEPS[1], STEPS[-1]]
    seen: list[str] = []
    result = run_demo(tmp_path / "demo", steps=steps, on_result=lambda r: seen.append(r.status))
    assert seen == [OK, FAIL, SKIP, OK]
    assert not result.ok
    assert result.failed is not None and result.failed.name == "broken"
    assert control.running_lab(tmp_path / "demo") is None


def test_insert_step_places_a_later_capability_before_a_named_step(monkeypatch) -> None:
    from ztctl.lab import demo

    monkeypatch.setattr(demo, "STEPS", list(demo.STEPS))
    extra = Step("probe", "Probe the cluster", lambda _tour: "ok")
    demo.insert_step(extra, before="outage")
    names = [s.name for s in demo.STEPS]
    assert names.index("probe") == names.index("outage") - 1
    assert len(set(names)) == len(names)


def test_lab_up_on_a_terminal_says_to_eval_it(tmp_path: Path) -> None:
    import os
    import pty

    lab_dir = tmp_path / "tty"
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execv(sys.executable, [*ZTCTL, "lab", "up", "--dir", str(lab_dir)])  # noqa: S606
    output = b""
    try:
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        os.waitpid(pid, 0)
    finally:
        os.close(fd)
        ztctl("lab", "down", "--dir", lab_dir)
    text = output.decode(errors="replace")
    assert "export KUBECONFIG=" in text
    assert 'eval "$(ztctl lab up --dir' in text and 'eval "$(ztctl lab down --dir' in text
    # Piped (as under eval), the hint is not printed: stdout carries only shell lines, the
    # ones that save what the exports replace (for `lab down`), then the exports.
    piped = ztctl("lab", "up", "--dir", lab_dir)
    try:
        from ztctl.lab.env import save_lines

        assert "eval" not in piped.stderr
        lines, saves = piped.stdout.splitlines(), save_lines(lab_dir)
        assert lines[: len(saves)] == saves
        assert all(line.startswith("export ") for line in lines[len(saves) :])
    finally:
        ztctl("lab", "down", "--dir", lab_dir)


# -- `eval "$(ztctl lab down)"` puts the shell back (hostile-user finding 10) ----------------
# Before: `lab down` always printed `unset ZTCTL_CONFIG KUBECONFIG ZTCTL_CF_API_TOKEN …`, so a
# user's KUBECONFIG list, config and Cloudflare token were gone after the lab.

RESTORE_SCRIPT = """
export KUBECONFIG=/root/.kube/config:/root/.kube/work.yaml
export ZTCTL_CONFIG=/etc/ztctl/mine.toml
export ZTCTL_CF_API_TOKEN='my token'
KUBECACHEDIR='/shell only'
unset ZTCTL_STATE_DIR ZTCTL_LAB_DIR
before="$PATH"
eval "$({ztctl} lab up --dir {lab})"
echo "up:$KUBECONFIG:$ZTCTL_CONFIG"
eval "$({ztctl} lab up --dir {lab} 2>/dev/null)"  # a second up fails and prints nothing
# after `up`, something goes in front of the lab's bin (a venv's activate) and after it
PATH="/opt/v env*/bin:$PATH::/after"
eval "$({ztctl} lab down --dir {lab})"
echo "KUBECONFIG=$KUBECONFIG"
echo "ZTCTL_CONFIG=$ZTCTL_CONFIG"
echo "ZTCTL_CF_API_TOKEN=$ZTCTL_CF_API_TOKEN"
echo "KUBECACHEDIR=$KUBECACHEDIR"
echo "ZTCTL_STATE_DIR=${{ZTCTL_STATE_DIR-unset}}"
echo "ZTCTL_LAB_DIR=${{ZTCTL_LAB_DIR-unset}}"
echo "mark=${{_ZTCTL_LAB_SAVED-gone}}:${{_ZTCTL_LAB_OLD_KUBECONFIG-gone}}"
[ "$PATH" = "/opt/v env*/bin:$before::/after" ] && echo "PATH restored"
case ":$PATH:" in *:{lab}/bin:*) echo "the lab's bin is left on PATH";; esac
"""


def _shell(shell: str, script: str) -> subprocess.CompletedProcess[str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZTCTL_", "KUBE"))}
    return subprocess.run(
        [shell, "-c", script], capture_output=True, text=True, timeout=120, env=env, check=False
    )


@pytest.mark.parametrize("shell", ["bash", "dash", "zsh"])
def test_eval_down_restores_what_up_replaced(tmp_path: Path, shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    lab_dir = tmp_path / "lab"
    script = RESTORE_SCRIPT.format(ztctl=" ".join(ZTCTL), lab=lab_dir.resolve())
    result = _shell(shell, script)
    lines = result.stdout.splitlines()
    assert f"up:{lab_dir.resolve()}/kubeconfig:{lab_dir.resolve()}/config.toml" in lines, (
        result.stderr
    )
    assert lines[1:] == [
        "KUBECONFIG=/root/.kube/config:/root/.kube/work.yaml",
        "ZTCTL_CONFIG=/etc/ztctl/mine.toml",
        "ZTCTL_CF_API_TOKEN=my token",
        "KUBECACHEDIR=/shell only",
        "ZTCTL_STATE_DIR=unset",
        "ZTCTL_LAB_DIR=unset",
        "mark=gone:gone",
        "PATH restored",
    ], result.stderr
    assert control.running_lab(lab_dir) is None
    assert "my token" not in "".join(p.read_text(errors="replace") for p in _files(lab_dir))


def _files(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file() and not p.is_symlink()]


def test_down_for_a_directory_where_no_lab_ran_prints_nothing(tmp_path: Path) -> None:
    text = ztctl("lab", "down", "--dir", tmp_path / "never")
    assert text.returncode == 0 and text.stdout == ""
    document = json.loads(ztctl("lab", "down", "--dir", tmp_path / "never", "--json").stdout)
    assert document["unset"] == [] and document["stopped"] is False


def test_down_in_a_shell_that_did_not_run_up_keeps_the_users_values(tmp_path: Path) -> None:
    """The exports pasted by hand (no saved values): only what still points at the lab goes."""
    lab_dir = tmp_path / "lab"
    up = ztctl("lab", "up", "--dir", lab_dir, "--json")
    assert up.returncode == 0, up.stderr
    ztctl("lab", "down", "--dir", lab_dir)
    exports = "\n".join(json.loads(up.stdout)["exports"])
    script = (
        f"{exports}\nexport KUBECONFIG=/mine/config\n"
        f'eval "$({" ".join(ZTCTL)} lab down --dir {lab_dir})"\n'
        'echo "$KUBECONFIG:${ZTCTL_CONFIG-unset}:${ZTCTL_CF_API_TOKEN-unset}"\n'
        'case ":$PATH:" in *":' + str(lab_dir.resolve()) + '/bin:"*) echo "bin left";; esac\n'
    )
    result = _shell("bash", script)
    assert result.stdout.splitlines() == ["/mine/config:unset:unset"], result.stderr


PATH_CASES = [
    ("{bin}:/usr/bin", "/usr/bin"),
    ("/venv/bin:{bin}:/usr/bin", "/venv/bin:/usr/bin"),
    ("/a:/usr/bin:{bin}", "/a:/usr/bin"),
    ("{bin}:/a:{bin}:{bin}:/b", "/a:/b"),  # every copy goes
    ("/a::{bin}:b:", "/a::b:"),  # empty entries (the current directory) are kept
    ("{bin}2:{bin}/x:/lab*/bin:/b", "{bin}2:{bin}/x:/lab*/bin:/b"),  # look-alikes stay
    ("{bin}", ""),
    ("/usr/bin", "/usr/bin"),
]


@pytest.mark.parametrize("shell", ["bash", "dash"])
@pytest.mark.parametrize(("before", "after"), PATH_CASES)
def test_down_removes_the_bin_wherever_it_sits(shell: str, before: str, after: str) -> None:
    from ztctl.lab.env import path_removal_lines

    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    lab_bin = "/tmp/a lab*?[x]/bin"  # spaces and glob characters: matched literally
    script = "\n".join(
        [
            f"PATH={shlex.quote(before.format(bin=lab_bin))}",
            *path_removal_lines(Path(lab_bin)),
            'printf "%s|%s\\n" "$PATH" "${_ztctl_lab_path-unset}"',
        ]
    )
    result = subprocess.run(
        [shutil.which(shell) or shell, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.stdout == f"{after.format(bin=lab_bin)}|unset\n", result.stderr
